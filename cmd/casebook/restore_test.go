package main

import (
	"crypto/sha256"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fileDigest is the SHA-256 of a file's bytes.
func fileDigest(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// alterBackup runs SQL on a backup file behind Casebook's back, as someone
// preparing a hostile backup with the sqlite3 tool would.
func alterBackup(t *testing.T, file string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range statements {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestRestoreRefusesABackupWhoseSchemaIsNotCasebooks(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	clean := filepath.Join(t.TempDir(), "clean.db")
	must(t, "backup", "--data", dir, "--to", clean)

	for name, tc := range map[string]struct {
		sql  []string
		want string // in the refusal
	}{
		"append-only triggers dropped": {
			[]string{"DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete"},
			"missing trigger events_no_delete"},
		"an AFTER INSERT trigger added": {
			// What the issue saw: a recorded people: 7 stored as 17.
			[]string{`CREATE TRIGGER events_bump AFTER INSERT ON events WHEN new.type = 'StowawaysDetected'
				BEGIN SELECT 1; END`},
			"unexpected trigger events_bump"},
		"events replaced by a view": {
			[]string{"ALTER TABLE events RENAME TO events_kept", "CREATE VIEW events AS SELECT * FROM events_kept"},
			"unexpected view events"},
		"a trigger rewritten": {
			[]string{"DROP TRIGGER events_no_delete",
				"CREATE TRIGGER events_no_delete BEFORE DELETE ON events WHEN old.type = 'x' BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"},
			"changed trigger events_no_delete"},
		"an extra table": {
			[]string{"CREATE TABLE notes (x TEXT)"},
			"unexpected table notes"},
		"another schema version": {
			[]string{"PRAGMA user_version = 7"},
			"schema version (user_version) 7, want 1"},
	} {
		t.Run(name, func(t *testing.T) {
			backup := filepath.Join(t.TempDir(), "hostile.db")
			copyTestFile(t, clean, backup)
			alterBackup(t, backup, tc.sql...)
			before := fileDigest(t, backup)

			target := filepath.Join(t.TempDir(), "restored")
			r := run(t, "restore", "--from", backup, "--data", target)
			if r.code != exitProblems || !strings.Contains(r.stderr, "schema is not the one Casebook creates") || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("restore of a hostile backup: exit %d, want 1 naming %q\n%s", r.code, tc.want, r.stderr)
			}
			// Nothing was written, and the source is as it was.
			if entries, err := os.ReadDir(target); err == nil && len(entries) > 0 {
				t.Errorf("the refused restore left %d files in %s", len(entries), target)
			}
			if fileDigest(t, backup) != before {
				t.Error("the refused restore changed its source")
			}
		})
	}

	// The untouched backup restores.
	must(t, "restore", "--from", clean, "--data", filepath.Join(t.TempDir(), "restored"))
}

func TestRestoreFromABackupInsideTheDataDirectoryKeepsTheBackup(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	backup := filepath.Join(dir, "events.db.bak") // a name the old restore's clean-up matched
	must(t, "backup", "--data", dir, "--to", backup)
	want := fileDigest(t, backup)

	must(t, "restore", "--from", backup, "--data", dir, "--force")
	if fileDigest(t, backup) != want {
		t.Fatal("restore changed or removed its source")
	}
	if r := must(t, "verify", "--data", dir); !strings.Contains(r.stdout, "OK, nothing was altered") {
		t.Fatalf("verify after restore:\n%s", r.stdout)
	}
	// Restoring a data directory's own store onto itself would destroy
	// the source: refused, and both copies stay.
	r := run(t, "restore", "--from", filepath.Join(dir, eventsFile), "--data", dir, "--force")
	if r.code != exitProblems || !strings.Contains(r.stderr, "own events.db") {
		t.Fatalf("restore of the store onto itself: exit %d\n%s", r.code, r.stderr)
	}
	must(t, "verify", "--data", dir)
	if fileDigest(t, backup) != want {
		t.Fatal("the refused restore changed the backup")
	}
	// So would a link to it under another name.
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Link(filepath.Join(dir, eventsFile), link); err == nil {
		r = run(t, "restore", "--from", link, "--data", dir, "--force")
		if r.code != exitProblems || !strings.Contains(r.stderr, "own events.db") {
			t.Fatalf("restore from a hard link to the store: exit %d\n%s", r.code, r.stderr)
		}
	}
}

func TestFilesCasebookWritesArePrivate(t *testing.T) {
	t.Parallel()
	// An existing data directory open to everyone, as the issue found it.
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, "demo", "--data", dir)
	backup := filepath.Join(root, "backup.db")
	must(t, "backup", "--data", dir, "--to", backup)
	export := filepath.Join(root, "export.ndjson")
	must(t, "export", "--data", dir, "--out", export)
	anchor := filepath.Join(root, "anchor.json")
	must(t, "anchor", "--data", dir, "--out", anchor)
	restored := filepath.Join(root, "restored")
	must(t, "restore", "--from", backup, "--data", restored)

	st := openTestStore(t, dir, false) // with its WAL and shared memory open
	defer st.Close()
	files := []string{backup, export, anchor, filepath.Join(restored, eventsFile)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		files = append(files, filepath.Join(dir, e.Name()))
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	for _, want := range []string{eventsFile + "-wal", readModelsFile} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("no %s to check: %v", want, err)
		}
	}
	// A data directory Casebook creates is its owner's only.
	if fi, err := os.Stat(restored); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("restored data directory: %v %v, want 0700", fi.Mode().Perm(), err)
	}
}
