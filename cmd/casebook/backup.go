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

func runRestore(a *app, args []string) error {
	fs := a.flagSet("restore")
	from := fs.String("from", "", "backup file to restore")
	force := fs.Bool("force", false, "replace the store (and read models, and key store when one is restored) in a non-empty data directory")
	keysFrom := fs.String("keys", "", "key store copy to restore (default: FILE.keys when it exists); casebookd destroys again, before serving, every key erased since the copy")
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
	rep, err := checkBackupFile(a, *from)
	if err != nil {
		return fmt.Errorf("%s is not a sound Casebook backup: %w", *from, err)
	}
	keys := *keysFrom
	if keys == "" && sqlitekeys.Exists(keysBackupOf(*from)) {
		keys = keysBackupOf(*from)
	}
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
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(entries) > 0 {
		if !*force {
			return fmt.Errorf("data directory %s is not empty: refusing to overwrite it (use --force to replace its store and read models)", dir)
		}
		if err := clearDataDir(a, dir, keys != ""); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	target := filepath.Join(dir, eventsFile)
	if err := copyFile(*from, target+".restoring"); err != nil {
		return err
	}
	if err := os.Rename(target+".restoring", target); err != nil {
		return err
	}
	if keys != "" {
		keysTarget := filepath.Join(dir, sqlitekeys.FileName)
		if err := copyFile(keys, keysTarget+".restoring"); err != nil {
			return err
		}
		if err := os.Rename(keysTarget+".restoring", keysTarget); err != nil {
			return err
		}
	}
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

// clearDataDir removes the event store and the read models (and the key
// store, with keys) from a data directory, after making sure no casebookd
// has it open.
func clearDataDir(a *app, dir string, keys bool) error {
	target := filepath.Join(dir, eventsFile)
	if _, err := os.Stat(target); err == nil {
		st, err := sqlitestore.Open(a.ctx, target, sqlitestore.Options{Logger: a.logger()})
		if err != nil {
			if errors.Is(err, sqlitestore.ErrLocked) {
				return fmt.Errorf("%s is in use (is casebookd running?): stop it before restoring", target)
			}
			// A damaged store is what one restores over; go on.
		} else if err := st.Close(); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, eventsFile) || strings.HasPrefix(name, readModelsFile) || (keys && strings.HasPrefix(name, sqlitekeys.FileName)) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("clear data directory: %w", err)
			}
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
