package sqlitestore

import "os"

// createPrivate creates the database file, if it does not exist yet, with
// mode 0600. SQLite would create it 0644 (less the umask); it creates the
// -wal and -shm files with the database file's mode, so they are private
// too. Case data is for its owner's eyes only.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}
