package keystore

import (
	"container/list"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
)

// KeySize is the size of the master key and of every data key: AES-256.
const KeySize = 32

// wrapAAD binds a wrapped data key to its name, so that one key's wrapped
// bytes cannot be passed off as another's.
func wrapAAD(ref domain.KeyRef) []byte { return []byte("casebook/data-key/v1\x00" + ref.String()) }

// masterCheckAAD is the associated data of the master key check.
var masterCheckAAD = []byte("casebook/master-key-check/v1")

// FieldAAD is the associated data a personal field is sealed with: the
// event's id and the field's name. A sealed value copied into another
// event or field does not open.
func FieldAAD(eventID uuid.UUID, field string) []byte {
	return []byte(eventID.String() + "\x00" + field)
}

// Vault seals and opens personal fields with data keys kept in a Store,
// wrapped by the master key. Unwrapped keys are cached in memory (the
// most recently used CacheSize of them). It is safe for concurrent use.
type Vault struct {
	store  Store
	master cipher.AEAD

	mu        sync.Mutex
	cache     map[domain.KeyRef]*list.Element // of *cachedKey
	lru       *list.List                      // most recent first
	max       int
	destroyed map[domain.KeyRef]bool // destroyed by this process: never cached again
}

type cachedKey struct {
	ref  domain.KeyRef
	aead cipher.AEAD
}

// VaultOptions tune a Vault.
type VaultOptions struct {
	// CacheSize is how many unwrapped keys are kept in memory (default
	// 4096; negative: none).
	CacheSize int
}

// OpenVault checks masterKey against the store — a new store records a
// check value for it; an existing one must have been created with it, or
// ErrWrongMasterKey is returned and nothing is written — and returns the
// vault.
func OpenVault(ctx context.Context, store Store, masterKey []byte, opts VaultOptions) (*Vault, error) {
	master, err := newAEAD(masterKey)
	if err != nil {
		return nil, fmt.Errorf("keystore: master key: %w", err)
	}
	check, err := store.MasterCheck(ctx)
	if err != nil {
		return nil, fmt.Errorf("keystore: read the master key check: %w", err)
	}
	if check == nil {
		if err := store.SetMasterCheck(ctx, seal(master, make([]byte, KeySize), masterCheckAAD)); err != nil {
			return nil, fmt.Errorf("keystore: record the master key check: %w", err)
		}
	} else if _, err := open(master, check, masterCheckAAD); err != nil {
		return nil, ErrWrongMasterKey
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 4096
	}
	return &Vault{store: store, master: master, cache: map[domain.KeyRef]*list.Element{}, lru: list.New(),
		max: opts.CacheSize, destroyed: map[domain.KeyRef]bool{}}, nil
}

// Store is the vault's key store.
func (v *Vault) Store() Store { return v.store }

// SealField encrypts one personal field's plaintext under ref's key
// (created on first use), bound to the event id and field name, with a
// fresh random nonce: nonce ‖ ciphertext ‖ tag.
func (v *Vault) SealField(ctx context.Context, ref domain.KeyRef, eventID uuid.UUID, field string, plaintext []byte) ([]byte, error) {
	key, err := v.key(ctx, ref, true)
	if err != nil {
		return nil, err
	}
	return seal(key, plaintext, FieldAAD(eventID, field)), nil
}

// OpenField decrypts a sealed field. ErrNotFound: the store has no such
// key (erased, or lost); ErrUndecryptable: the value does not open with it.
func (v *Vault) OpenField(ctx context.Context, ref domain.KeyRef, eventID uuid.UUID, field string, blob []byte) ([]byte, error) {
	key, err := v.key(ctx, ref, false)
	if err != nil {
		return nil, err
	}
	return open(key, blob, FieldAAD(eventID, field))
}

// Destroy destroys keys for good, in the store and in this process's
// memory.
func (v *Vault) Destroy(ctx context.Context, refs ...domain.KeyRef) error {
	v.mu.Lock()
	for _, ref := range refs {
		v.destroyed[ref] = true
		if el, ok := v.cache[ref]; ok {
			v.lru.Remove(el)
			delete(v.cache, ref)
		}
	}
	v.mu.Unlock()
	return v.store.Destroy(ctx, refs...)
}

// key returns ref's unwrapped key, from memory or the store; create makes
// it when the store has none.
func (v *Vault) key(ctx context.Context, ref domain.KeyRef, create bool) (cipher.AEAD, error) {
	if k := v.cached(ref); k != nil {
		return k, nil
	}
	wrapped, err := v.store.Get(ctx, ref)
	if errors.Is(err, ErrNotFound) && create {
		dk := make([]byte, KeySize)
		if _, err := rand.Read(dk); err != nil {
			return nil, fmt.Errorf("keystore: new data key: %w", err)
		}
		wrapped, err = v.store.Create(ctx, ref, seal(v.master, dk, wrapAAD(ref)))
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	raw, err := open(v.master, wrapped, wrapAAD(ref))
	if err != nil {
		return nil, fmt.Errorf("keystore: key %s does not unwrap with the master key: %w", ref, ErrUndecryptable)
	}
	k, err := newAEAD(raw)
	if err != nil {
		return nil, fmt.Errorf("keystore: key %s: %w", ref, err)
	}
	v.put(ref, k)
	return k, nil
}

func (v *Vault) cached(ref domain.KeyRef) cipher.AEAD {
	v.mu.Lock()
	defer v.mu.Unlock()
	if el, ok := v.cache[ref]; ok {
		v.lru.MoveToFront(el)
		return el.Value.(*cachedKey).aead
	}
	return nil
}

func (v *Vault) put(ref domain.KeyRef, k cipher.AEAD) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.max <= 0 || v.destroyed[ref] {
		return
	}
	if el, ok := v.cache[ref]; ok {
		v.lru.MoveToFront(el)
		return
	}
	v.cache[ref] = v.lru.PushFront(&cachedKey{ref: ref, aead: k})
	for v.lru.Len() > v.max {
		last := v.lru.Back()
		v.lru.Remove(last)
		delete(v.cache, last.Value.(*cachedKey).ref)
	}
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("a key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts with a fresh random nonce: nonce ‖ ciphertext ‖ tag.
func seal(k cipher.AEAD, plaintext, aad []byte) []byte {
	out := make([]byte, k.NonceSize(), k.NonceSize()+len(plaintext)+k.Overhead())
	if _, err := rand.Read(out); err != nil {
		// crypto/rand does not fail on the platforms Go supports (it
		// panics itself rather than return short); never reuse a nonce.
		panic(fmt.Sprintf("keystore: random nonce: %v", err))
	}
	return k.Seal(out, out, plaintext, aad)
}

func open(k cipher.AEAD, blob, aad []byte) ([]byte, error) {
	if len(blob) < k.NonceSize()+k.Overhead() {
		return nil, ErrUndecryptable
	}
	plain, err := k.Open(nil, blob[:k.NonceSize()], blob[k.NonceSize():], aad)
	if err != nil {
		return nil, ErrUndecryptable
	}
	return plain, nil
}

// CopyKey copies ref's key from one vault's store into another's,
// re-wrapped under the destination's master key (casebook migrate moves
// keys with the events they seal). It returns ErrNotFound when the source
// holds no such key (erased there, or lost); a key the destination
// destroyed stays destroyed.
func CopyKey(ctx context.Context, from, to *Vault, ref domain.KeyRef) error {
	wrapped, err := from.store.Get(ctx, ref)
	if err != nil {
		return err
	}
	raw, err := open(from.master, wrapped, wrapAAD(ref))
	if err != nil {
		return fmt.Errorf("keystore: key %s does not unwrap with the source's master key: %w", ref, ErrUndecryptable)
	}
	if _, err := to.store.Create(ctx, ref, seal(to.master, raw, wrapAAD(ref))); err != nil && !errors.Is(err, ErrDestroyed) {
		return err
	}
	return nil
}
