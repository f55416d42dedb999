package keystore

import (
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
