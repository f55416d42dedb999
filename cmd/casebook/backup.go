package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/casebook/casebook/eventstore/sqlitestore"
	"github.com/casebook/casebook/keystore/sqlitekeys"
)

type backupReport struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Position uint64 `json:"position"` // last event in the copy
	Bytes    int64  `json:"bytes"`
	// Keys is the copy of the key store (FILE.keys), when the data
	// directory has one. The master key is never copied: keep it apart.
	Keys string `json:"keys,omitempty"`
}

// keysBackupOf is the key store's copy beside a backup file.
func keysBackupOf(file string) string { return file + ".keys" }

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
	// The key store, taken after the log: every key an event of the copy
	// needs was created before that event, so it is in this copy too
	// (unless erased meanwhile, which the log then records as well).
	if sqlitekeys.Exists(keysPath(ref)) {
		keysTo := keysBackupOf(*to)
		if err := backupKeys(a, ref, keysTo); err != nil {
			_ = os.Remove(tmp)
			return err
		}
		rep.Keys = keysTo
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
	if rep.Keys != "" {
		a.printf("Backed up its key store to %s (the master key is not in either: keep it apart).\n", rep.Keys)
	}
	return nil
}

// backupKeys copies the key store (no destroyed key is in the copy) to
// file, which must not exist.
func backupKeys(a *app, ref storeRef, file string) error {
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("%s already exists: refusing to overwrite it", file)
	}
	ks, err := sqlitekeys.Open(a.ctx, keysPath(ref), sqlitekeys.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	defer ks.Close()
	tmp := file + ".partial"
	_ = os.Remove(tmp)
	if err := ks.BackupTo(a.ctx, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("back up the key store: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("back up the key store: %w", err)
	}
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
	Keys     string `json:"keys,omitempty"` // the key store copy restored
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
	keysFrom := fs.String("keys", "", "key store copy to restore (default: FILE.keys when it exists); casebookd destroys again, before serving, every key erased since the copy")
	force := fs.Bool("force", false, "replace the store (and read models, and key store when one is restored) in a non-empty data directory")
	if _, err := a.parse(fs, args, "--from FILE --data DIR [--keys FILE] [--force]", 0); err != nil {
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
	keys := *keysFrom
	if keys == "" && sqlitekeys.Exists(keysBackupOf(*from)) {
		keys = keysBackupOf(*from)
	}
	replaced := storeFiles
	if keys != "" {
		ks, err := sqlitekeys.Open(a.ctx, keys, sqlitekeys.Options{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("%s is not a key store: %w", keys, err)
		}
		_, err = ks.MasterCheck(a.ctx)
		ks.Close()
		if err != nil {
			return fmt.Errorf("%s is not a key store: %w", keys, err)
		}
		replaced = append(slices.Clone(storeFiles), keyStoreFiles...)
	}
	// The files about to be replaced must not be a source.
	for _, name := range replaced {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if os.SameFile(fi, src) {
			return fmt.Errorf("%s is the data directory's own %s: restoring would destroy it; restore from a copy (casebook backup --to FILE)", *from, name)
		}
		if ksrc, err := os.Stat(keys); keys != "" && err == nil && os.SameFile(fi, ksrc) {
			return fmt.Errorf("%s is the data directory's own %s: restoring would destroy it; restore from a copy", keys, name)
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
	keysCopy := ""
	if keys != "" {
		if keysCopy, err = copyIntoDir(keys, dir); err != nil {
			return err
		}
		defer func() {
			if !placed {
				removeSQLiteFile(keysCopy)
			}
		}()
	}
	if err := clearDataDir(dir, replaced); err != nil {
		return err
	}
	target := filepath.Join(dir, eventsFile)
	if err := os.Rename(copyPath, target); err != nil {
		return err
	}
	if keysCopy != "" {
		if err := os.Rename(keysCopy, filepath.Join(dir, sqlitekeys.FileName)); err != nil {
			return err
		}
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
	rep2 := restoreReport{From: *from, Data: dir, Position: rep.Position, Keys: keys}
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

// keyStoreFiles are the key store's files, replaced when a restore brings
// a key store copy.
var keyStoreFiles = []string{sqlitekeys.FileName, sqlitekeys.FileName + "-wal", sqlitekeys.FileName + "-shm", sqlitekeys.FileName + "-journal"}

// clearDataDir removes the named files (storeFiles, and keyStoreFiles when
// a key store is restored) from a data directory, and nothing else.
func clearDataDir(dir string, names []string) error {
	for _, name := range names {
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
