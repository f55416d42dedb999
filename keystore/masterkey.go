package keystore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The master key file holds the deployment's master key: exactly 32 random
// bytes (not text), readable by its owner only. Keep it apart from the
// data (another disk, a secrets manager mounted as a file): a copy of the
// data without it reveals no personal data, and losing it loses the
// personal data for good.

// ErrNoMasterKey: the master key file does not exist.
var ErrNoMasterKey = errors.New("keystore: no master key file")

// ReadMasterKey reads a master key file. exposed is true when users other
// than its owner may read it.
func ReadMasterKey(path string) (key []byte, exposed bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("%w: %s", ErrNoMasterKey, path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("master key file: %w", err)
	}
	if len(b) != KeySize {
		return nil, false, fmt.Errorf("master key file %s holds %d bytes: a master key is exactly %d random bytes", path, len(b), KeySize)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		exposed = true
	}
	return b, exposed, nil
}

// CreateMasterKey writes a new master key file (0600, 32 random bytes),
// failing if one exists. The file and its directory are synced before it
// returns: a key that sealed data must not be lost to a crash.
func CreateMasterKey(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return key, nil
}

// Provision opens a vault over store with the master key in path, creating
// the master key file when it is absent and the store holds no keys yet
// (a new deployment). A store that holds keys with no master key file, or
// with another key, is refused and nothing is written. created tells
// whether a new master key was made.
func Provision(ctx context.Context, store Store, path string, opts VaultOptions) (v *Vault, created bool, err error) {
	if err := CheckMasterKey(ctx, store, path); err != nil {
		return nil, false, err
	}
	master, _, err := ReadMasterKey(path)
	if errors.Is(err, ErrNoMasterKey) {
		if master, err = CreateMasterKey(path); err != nil {
			return nil, false, err
		}
		created = true
	} else if err != nil {
		return nil, false, err
	}
	v, err = OpenVault(ctx, store, master, opts)
	return v, created, err
}

// CheckMasterKey refuses, writing nothing, a store that holds keys when the
// master key file is missing or holds another key. A store with no keys
// passes whatever the file.
func CheckMasterKey(ctx context.Context, store Store, path string) error {
	check, err := store.MasterCheck(ctx)
	if err != nil {
		return fmt.Errorf("keystore: read the master key check: %w", err)
	}
	if check == nil {
		return nil
	}
	master, _, err := ReadMasterKey(path)
	if errors.Is(err, ErrNoMasterKey) {
		return fmt.Errorf("the key store holds keys but the master key file %s does not exist: restore it (a new key could open none of them); nothing was written: %w", path, err)
	}
	if err != nil {
		return err
	}
	k, err := newAEAD(master)
	if err != nil {
		return err
	}
	if _, err := open(k, check, masterCheckAAD); err != nil {
		return fmt.Errorf("the master key in %s is not the one the key store's keys are wrapped with (give the right one with --master-key-file); nothing was written: %w", path, ErrWrongMasterKey)
	}
	return nil
}

// OpenExisting opens a vault over a store that may not exist or hold keys
// (read-only commands): nil, with no error, when the store holds no keys
// or the master key file is absent.
func OpenExisting(ctx context.Context, store Store, path string) (*Vault, error) {
	check, err := store.MasterCheck(ctx)
	if err != nil {
		return nil, fmt.Errorf("keystore: read the master key check: %w", err)
	}
	if check == nil {
		return nil, nil
	}
	master, _, err := ReadMasterKey(path)
	if errors.Is(err, ErrNoMasterKey) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return OpenVault(ctx, store, master, VaultOptions{})
}
