package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/casebook/casebook/eventstore/sqlitestore"
)

type backupReport struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Position uint64 `json:"position"` // last event in the copy
	Bytes    int64  `json:"bytes"`
}

// backuper is the embedded store's online backup.
type backuper interface {
	BackupTo(ctx context.Context, file string) error
}

func runBackup(a *app, args []string) error {
	fs := a.flagSet("backup")
	to := fs.String("to", "", "file to write the copy to (must not exist)")
	if _, err := a.parse(fs, args, "--to FILE [--data DIR]", 0); err != nil {
		return err
	}
	if *to == "" {
		return usagef("--to FILE is required")
	}
	ref, err := a.storeRef()
	if err != nil {
		return usagef("%v", err)
	}
	if !ref.embedded() {
		return usagef("backup copies the embedded store; back up a KurrentDB cluster with its own tools (or casebook export)")
	}
	if _, err := os.Stat(*to); err == nil {
		return fmt.Errorf("%s already exists: refusing to overwrite it", *to)
	}
	// Read-only: the copy is taken from a read snapshot (VACUUM INTO), so a
	// running casebookd keeps appending undisturbed; the copy holds every
	// event committed when the snapshot began.
	st, err := a.openStore(ref, true)
	if err != nil {
		return err
	}
	defer st.Close()
	b, ok := st.(backuper)
	if !ok {
		return errors.New("this store cannot make backups")
	}
	tmp := *to + ".partial"
	_ = os.Remove(tmp)
	if err := b.BackupTo(a.ctx, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	rep, err := checkBackupFile(a, tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("the copy does not check out: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, *to); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	syncDir(filepath.Dir(*to))
	rep.From, rep.To = ref.file, *to
	if a.json {
		return a.printJSON(rep)
	}
	a.printf("Backed up %s to %s: %d events, %d bytes.\n", rep.From, rep.To, rep.Position, rep.Bytes)
	return nil
}

// checkBackupFile opens a backup read-only, runs the integrity check and
// reads its head.
func checkBackupFile(a *app, file string) (backupReport, error) {
	st, err := sqlitestore.Open(a.ctx, file, sqlitestore.Options{ReadOnly: true, Logger: a.logger()})
	if err != nil {
		return backupReport{}, err
	}
	defer st.Close()
	if err := st.IntegrityCheck(a.ctx); err != nil {
		return backupReport{}, err
	}
	head, err := st.Head(a.ctx)
	if err != nil {
		return backupReport{}, err
	}
	info, err := os.Stat(file)
	if err != nil {
		return backupReport{}, err
	}
	return backupReport{Position: uint64(head), Bytes: info.Size()}, nil
}

type restoreReport struct {
	From     string `json:"from"`
	Data     string `json:"data"`
	Position uint64 `json:"position"`
}

// storeFiles are the files of a data directory that restore replaces: the
// event store and the read models, with SQLite's journals. Nothing else in
// the directory is touched (a backup kept there, notes, the lock file).
var storeFiles = []string{
	eventsFile, eventsFile + "-wal", eventsFile + "-shm", eventsFile + "-journal",
	readModelsFile, readModelsFile + "-wal", readModelsFile + "-shm", readModelsFile + "-journal",
}

// runRestore puts a backup in place as a data directory's event store. It
// never opens, changes, moves or deletes its source: it copies the source
// into the data directory under a temporary name, checks the copy (schema
// exactly as sqlitestore creates it, SQLite's integrity, the log's
// invariants), and only then replaces the store with it.
func runRestore(a *app, args []string) error {
	fs := a.flagSet("restore")
	from := fs.String("from", "", "backup file to restore")
	force := fs.Bool("force", false, "replace the store (and read models) in a non-empty data directory")
	if _, err := a.parse(fs, args, "--from FILE --data DIR [--force]", 0); err != nil {
		return err
	}
	if *from == "" {
		return usagef("--from FILE is required")
	}
	if a.storeURL != "" && isStoreURL(a.storeURL) {
		return usagef("restore writes an embedded store: give --data DIR")
	}
	dir := a.data
	if a.storeURL != "" {
		dir = a.storeURL
	}
	src, err := os.Stat(*from)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if !src.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", *from)
	}
	// A write-ahead log beside the source means a live store (its latest
	// commits are in the log, not the file): back it up first.
	if wal, err := os.Stat(*from + "-wal"); err == nil && wal.Size() > 0 {
		return fmt.Errorf("%s has a write-ahead log beside it: it is a live store, not a backup; make one with casebook backup", *from)
	}

	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(entries) > 0 && !*force {
		return fmt.Errorf("data directory %s is not empty: refusing to overwrite it (use --force to replace its store and read models)", dir)
	}
	// The files about to be replaced must not be the source.
	for _, name := range storeFiles {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && os.SameFile(fi, src) {
			return fmt.Errorf("%s is the data directory's own %s: restoring would destroy it; restore from a copy (casebook backup --to FILE)", *from, name)
		}
	}
	if err := ensureNotInUse(a, dir); err != nil {
		return err
	}

	created := false
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	copyPath, err := copyIntoDir(*from, dir)
	if err != nil {
		return err
	}
	placed := false
	defer func() {
		if !placed {
			removeSQLiteFile(copyPath)
			if created {
				_ = os.Remove(dir) // only if still empty
			}
		}
	}()
	rep, err := checkRestoreCandidate(a, copyPath)
	if err != nil {
		return fmt.Errorf("%s is not a sound Casebook backup: %w", *from, err)
	}
	if err := clearDataDir(dir); err != nil {
		return err
	}
	target := filepath.Join(dir, eventsFile)
	if err := os.Rename(copyPath, target); err != nil {
		return err
	}
	placed = true
	syncDir(dir)
	// Open it read-write once: this takes the lock (so a casebookd started
	// meanwhile is noticed) and sets the store's journal mode.
	st, err := sqlitestore.Open(a.ctx, target, sqlitestore.Options{Logger: a.logger()})
	if err != nil {
		return fmt.Errorf("open the restored store: %w", err)
	}
	if err := st.Close(); err != nil {
		return err
	}
	rep2 := restoreReport{From: *from, Data: dir, Position: rep.Position}
	if a.json {
		return a.printJSON(rep2)
	}
	a.printf("Restored %s into %s: %d events. Read models will be rebuilt when casebookd starts.\nRun \"casebook verify --data %s\" to check every hash chain.\n", *from, dir, rep.Position, dir)
	return nil
}

// copyIntoDir copies a backup into dir under a temporary name (mode 0600)
// that no Casebook file has, for checking and then renaming into place.
func copyIntoDir(from, dir string) (string, error) {
	tmp, err := os.CreateTemp(dir, ".restore-*.db")
	if err != nil {
		return "", err
	}
	name := tmp.Name()
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := copyFile(from, name); err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}

// checkRestoreCandidate checks the private copy of a backup: its schema
// against the product's, then SQLite's integrity and the log's invariants.
func checkRestoreCandidate(a *app, file string) (backupReport, error) {
	want, err := productSchema(a.ctx)
	if err != nil {
		return backupReport{}, err
	}
	got, err := readSchema(a.ctx, file)
	if err != nil {
		return backupReport{}, fmt.Errorf("not a readable SQLite database: %w", err)
	}
	if diffs := schemaDifferences(got, want); len(diffs) > 0 {
		return backupReport{}, fmt.Errorf("its schema is not the one Casebook creates:\n  %s", strings.Join(diffs, "\n  "))
	}
	return checkBackupFile(a, file)
}

// removeSQLiteFile removes a database file and any journal SQLite left
// beside it.
func removeSQLiteFile(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		_ = os.Remove(path + suffix)
	}
}

// ensureNotInUse refuses a data directory whose store a casebookd (or
// another casebook) holds open.
func ensureNotInUse(a *app, dir string) error {
	target := filepath.Join(dir, eventsFile)
	if _, err := os.Stat(target); err != nil {
		return nil
	}
	st, err := sqlitestore.Open(a.ctx, target, sqlitestore.Options{Logger: a.logger()})
	if err != nil {
		if errors.Is(err, sqlitestore.ErrLocked) {
			return fmt.Errorf("%s is in use (is casebookd running?): stop it before restoring", target)
		}
		return nil // a damaged store is what one restores over; go on
	}
	return st.Close()
}

// clearDataDir removes the event store and the read models (storeFiles)
// from a data directory, and nothing else.
func clearDataDir(dir string) error {
	for _, name := range storeFiles {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clear data directory: %w", err)
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncDir makes a rename durable (best effort: not every OS allows it).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
