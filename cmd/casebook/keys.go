package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/keystore/sqlitekeys"
	"github.com/casebook/casebook/keystore/streamkeys"
)

// The CLI reaches a store's keys as casebookd does: keys.db beside
// events.db for the embedded store, the key streams of KurrentDB, and the
// master key in --master-key-file (default: master.key in the store's data
// directory; a KurrentDB store has none, so its master key must be named).

// masterKeyPath is the master key file for ref ("" when none is known).
func (a *app) masterKeyPath(ref storeRef) string {
	if a.masterKeyFile != "" {
		return a.masterKeyFile
	}
	if env := a.getenv("CASEBOOK_MASTER_KEY_FILE"); env != "" {
		return env
	}
	if ref.embedded() {
		return filepath.Join(ref.dir, "master.key")
	}
	return ""
}

// keysPath is the embedded key store's file for ref.
func keysPath(ref storeRef) string { return filepath.Join(ref.dir, sqlitekeys.FileName) }

// keyStoreOf opens ref's key store (st is ref's event store, opened);
// readOnly opens an embedded one without writing, nil when there is none.
func keyStoreOf(a *app, ref storeRef, st eventstore.Store, readOnly bool) (keystore.Store, error) {
	if !ref.embedded() {
		k, ok := st.(*kurrentdb.Store)
		if !ok {
			return nil, fmt.Errorf("the store %s keeps no key streams", ref)
		}
		return streamkeys.New(k), nil
	}
	if readOnly && !sqlitekeys.Exists(keysPath(ref)) {
		return nil, nil
	}
	ks, err := sqlitekeys.Open(a.ctx, keysPath(ref), sqlitekeys.Options{ReadOnly: readOnly})
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	return ks, nil
}

// readVault opens ref's keys for a reading command: nil (sealed fields then
// read as unreadable) when the store has no key store, or no master key is
// at hand. close releases it.
func (a *app) readVault(ref storeRef, st eventstore.Store) (v *keystore.Vault, close func(), err error) {
	if a.masterKeyPath(ref) == "" {
		return nil, func() {}, nil
	}
	ks, err := keyStoreOf(a, ref, st, true)
	if err != nil || ks == nil {
		return nil, func() {}, err
	}
	v, err = keystore.OpenExisting(a.ctx, ks, a.masterKeyPath(ref))
	if err != nil {
		ks.Close()
		if errors.Is(err, keystore.ErrWrongMasterKey) {
			return nil, func() {}, fmt.Errorf("%s: %w", a.masterKeyPath(ref), err)
		}
		return nil, func() {}, err
	}
	if v == nil {
		ks.Close()
		return nil, func() {}, nil
	}
	return v, func() { ks.Close() }, nil
}

// writeVault opens (creating them when new) ref's key store and master key
// for a writing command.
func (a *app) writeVault(ref storeRef, st eventstore.Store) (*keystore.Vault, func(), error) {
	if a.masterKeyPath(ref) == "" {
		return nil, func() {}, usagef("the keys of %s need a master key: give --master-key-file (or CASEBOOK_MASTER_KEY_FILE)", ref)
	}
	ks, err := keyStoreOf(a, ref, st, false)
	if err != nil {
		return nil, func() {}, err
	}
	path := a.masterKeyPath(ref)
	v, created, err := keystore.Provision(a.ctx, ks, path, keystore.VaultOptions{})
	if err != nil {
		ks.Close()
		return nil, func() {}, err
	}
	if created {
		fmt.Fprintf(a.stdio.Err, "Created a new master key in %s: keep a copy of it apart from the data (losing it loses the personal data).\n", path)
	}
	return v, func() { ks.Close() }, nil
}
