package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/keystore/sqlitekeys"
	"github.com/casebook/casebook/keystore/streamkeys"
)

// masterKeyPath is the master key file: --master-key-file, or
// <data>/master.key.
func (m *Main) masterKeyPath() string {
	if m.Config.MasterKeyFile != "" {
		return m.Config.MasterKeyFile
	}
	return filepath.Join(m.Config.DataDir, "master.key")
}

// openVault opens the key store — keys.db in the data directory for the
// embedded store (kurrent nil), the key streams of KurrentDB otherwise —
// and checks the master key against it before anything is written, so
// that a wrong or missing master key stops casebookd having written
// nothing: no event store, read models, keys or new master key. The
// master key file is created (0600, 32 random bytes) only when the key
// store holds no keys yet.
func (m *Main) openVault(ctx context.Context, kurrent eventstore.Store) (*keystore.Vault, error) {
	path := m.masterKeyPath()
	var ks keystore.Store
	if kurrent == nil {
		// Opening an existing key store changes none of its bytes (the
		// schema is there; its WAL and index files go when it closes).
		keysPath := filepath.Join(m.Config.DataDir, sqlitekeys.FileName)
		s, err := sqlitekeys.Open(ctx, keysPath, sqlitekeys.Options{})
		if err != nil {
			return nil, fmt.Errorf("key store: %w", err)
		}
		m.closers = append(m.closers, s.Close)
		ks = s
	} else {
		k, ok := kurrent.(*kurrentdb.Store)
		if !ok {
			return nil, fmt.Errorf("key store: the store %T keeps no key streams", kurrent)
		}
		ks = streamkeys.New(k)
	}
	v, created, err := keystore.Provision(ctx, ks, path, keystore.VaultOptions{})
	if err != nil {
		return nil, fmt.Errorf("casebookd will not start: %w", err)
	}
	if created {
		m.Logger.Warn("created a new master key: keep a copy of it apart from the data (losing it loses the personal data)", "path", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		m.Logger.Warn("the master key file is readable by other users; chmod 600 it", "path", path)
	}
	return v, nil
}
