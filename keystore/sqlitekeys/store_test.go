package sqlitekeys_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/keystore/keystoretest"
	"github.com/casebook/casebook/keystore/sqlitekeys"
)

func TestConformance(t *testing.T) {
	keystoretest.Run(t, keystoretest.Harness{
		Open: func(t *testing.T) keystore.Store {
			return open(t, filepath.Join(t.TempDir(), sqlitekeys.FileName))
		},
		Reopen: func(t *testing.T, s keystore.Store) keystore.Store {
			path := s.(*sqlitekeys.Store).Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, path)
		},
	})
}

func open(t *testing.T, path string) *sqlitekeys.Store {
	t.Helper()
	s, err := sqlitekeys.Open(context.Background(), path, sqlitekeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fileBytes is every file of the store: the database, its WAL and its
// shared-memory index.
func fileBytes(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(path + suffix)
		if err == nil {
			out[filepath.Base(path+suffix)] = b
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return out
}

func holding(files map[string][]byte, needle []byte) []string {
	var names []string
	for name, b := range files {
		if bytes.Contains(b, needle) {
			names = append(names, name)
		}
	}
	return names
}

// A destroyed key's bytes leave the file and its WAL: found there before
// the destroy (while the store is open, in the WAL), nowhere after — not
// even with the store still open and other keys written around it.
func TestDestroyedKeyLeavesNoBytes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), sqlitekeys.FileName)
	s := open(t, path)
	defer s.Close()
	caseID := uuid.New()
	victim := domain.PersonKey(caseID, uuid.New())
	secret := make([]byte, 60)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ { // neighbours on the same pages
		other := make([]byte, 60)
		_, _ = rand.Read(other)
		if _, err := s.Create(ctx, domain.PersonKey(caseID, uuid.New()), other); err != nil {
			t.Fatal(err)
		}
		if i == 25 {
			if _, err := s.Create(ctx, victim, secret); err != nil {
				t.Fatal(err)
			}
		}
	}
	if where := holding(fileBytes(t, path), secret); len(where) == 0 {
		t.Fatal("the key is in none of the store's files before it is destroyed: the search finds nothing")
	}
	if err := s.Destroy(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if where := holding(fileBytes(t, path), secret); len(where) > 0 {
		t.Fatalf("the destroyed key's bytes are still in %v", where)
	}
	// Still there after more writes and a reopen.
	for i := 0; i < 10; i++ {
		other := make([]byte, 60)
		_, _ = rand.Read(other)
		if _, err := s.Create(ctx, domain.PersonKey(caseID, uuid.New()), other); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if where := holding(fileBytes(t, path), secret); len(where) > 0 {
		t.Fatalf("after close, the destroyed key's bytes are in %v", where)
	}
}

// A backup holds live keys only.
func TestBackupHoldsNoDestroyedKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, sqlitekeys.FileName))
	defer s.Close()
	gone, kept := domain.PersonKey(uuid.New(), uuid.New()), domain.CaseKey(uuid.New())
	gw, kw := []byte("GONE-KEY-BYTES-0123456789abcdef-GONE-KEY-BYTES-0123456789abcd"), []byte("KEPT-KEY-BYTES-0123456789abcdef-KEPT-KEY-BYTES-0123456789abcd")
	_, _ = s.Create(ctx, gone, gw)
	_, _ = s.Create(ctx, kept, kw)
	if err := s.Destroy(ctx, gone); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "keys-backup.db")
	if err := s.BackupTo(ctx, backup); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, gw) || !bytes.Contains(b, kw) {
		t.Fatalf("backup: destroyed key present %v, kept key present %v", bytes.Contains(b, gw), bytes.Contains(b, kw))
	}
	if fi, _ := os.Stat(backup); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v", fi.Mode().Perm())
	}
}
