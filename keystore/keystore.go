// Package keystore keeps the data keys that seal personal data, apart from
// the event log: one key per person per case and one per case, each stored
// wrapped (encrypted) by the deployment's master key, and destroyed for
// good when the data it seals must be erased. Erasing a person is then
// destroying one key: the events, their hash chains and every figure stay,
// and the sealed fields can never be read again — not from the store, its
// backups or an export.
//
// Store is the small interface a key store implements: sqlitekeys (its own
// SQLite file beside the embedded event store, with secure_delete so that
// a destroyed key's bytes leave the file and its WAL) and streamkeys (one
// stream per key in KurrentDB, tombstoned on erasure, so that every
// casebookd node shares them). The conformance suite in keystoretest runs
// against both. Vault is what the application core uses: it creates,
// wraps, caches and destroys keys and seals and opens fields with them
// (AES-256-GCM from the standard library).
package keystore

import (
	"context"
	"errors"

	"github.com/casebook/casebook/domain"
)

// Errors of a key store. Backends wrap their own failures with %w; these
// are matched with errors.Is.
var (
	// ErrNotFound: the store holds no key by that name (never created,
	// destroyed, or lost with an older copy of the store).
	ErrNotFound = errors.New("keystore: no such key")
	// ErrDestroyed: the key was destroyed and may not be created again
	// (what it sealed stays erased).
	ErrDestroyed = errors.New("keystore: the key was destroyed")
	// ErrUndecryptable: a sealed value or a wrapped key does not open with
	// its key (the wrong key, or bytes altered).
	ErrUndecryptable = errors.New("keystore: does not decrypt with its key")
	// ErrWrongMasterKey: the master key is not the one the store's keys are
	// wrapped with.
	ErrWrongMasterKey = errors.New("keystore: the master key is not the one this key store was created with")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("keystore: closed")
)

// Store holds wrapped data keys. Implementations are safe for concurrent
// use; every call that returns without error is durable.
type Store interface {
	// Create stores wrapped as ref's key unless the store already holds
	// one, and returns the wrapped key the store holds (so that two
	// writers creating the same key at once end up using the same one).
	// It returns ErrDestroyed when ref's key was destroyed.
	Create(ctx context.Context, ref domain.KeyRef, wrapped []byte) ([]byte, error)
	// Get returns ref's wrapped key, or ErrNotFound.
	Get(ctx context.Context, ref domain.KeyRef) ([]byte, error)
	// Destroy removes the keys for good — none of their bytes stay in the
	// store's files (sqlitekeys) or readable streams (streamkeys, until a
	// scavenge reclaims the space) — and makes sure they are never created
	// again. Destroying a key that is absent is not an error.
	Destroy(ctx context.Context, refs ...domain.KeyRef) error
	// MasterCheck returns the value that proves which master key the
	// store's keys are wrapped with (nil when none was set: a new store);
	// SetMasterCheck stores it once.
	MasterCheck(ctx context.Context) ([]byte, error)
	SetMasterCheck(ctx context.Context, check []byte) error
	// ErasedThrough is the position of the event log up to which every
	// recorded erasure has been applied to this store (0: none checked);
	// SetErasedThrough records a new one. A store restored from an older
	// copy has an older mark, so the erasures since are applied again.
	ErasedThrough(ctx context.Context) (uint64, error)
	SetErasedThrough(ctx context.Context, position uint64) error
	// Close releases the store.
	Close() error
}
