//go:build !unix

package sqlitestore

import (
	"fmt"
	"os"
)

// lockFile creates the lock file but cannot lock it on this platform: the
// single-writer rule is then the operator's responsibility.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	return f, nil
}

func unlockFile(f *os.File) error { return f.Close() }
