// Package sqlitestore is Casebook's embedded event store: one SQLite file in
// WAL mode, written through modernc.org/sqlite (pure Go, no cgo).
//
// Durability: every acknowledged Append has been committed with
// synchronous=FULL, so the write-ahead log was synced to disk before the call
// returned. Throughput comes from group commit: one writer goroutine takes
// every append waiting in its queue, checks each one's expected revision
// inside a single transaction and commits them together with one sync.
//
// Reads use a separate pool of read-only connections, page through the log
// (never holding a read transaction while the caller works) and so never
// block the writer. Subscriptions catch up from the file and then receive
// live events from the writer after each commit.
//
// The schema (schema.sql, SCHEMA.md) is meant to be read by auditors with
// the sqlite3 tool. Only one process may open the file read-write at a time
// (a lock file beside it enforces this); any number may open it with
// Options.ReadOnly, which never writes and never checkpoints.
package sqlitestore

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"

	"github.com/casebook/casebook/eventstore"
)

//go:embed schema.sql
var schemaSQL string

// SchemaSQL returns the SQL that creates the store's schema (version 1), for
// documentation and for auditors who want to compare a file against it.
func SchemaSQL() string { return schemaSQL }

// schemaVersion is recorded in PRAGMA user_version.
const schemaVersion = 1

// ErrReadOnly is returned by Append on a store opened with Options.ReadOnly.
var ErrReadOnly = errors.New("sqlitestore: store opened read-only")

// ErrLocked is returned by Open when another process (or another Store in
// this process) already has the file open read-write.
var ErrLocked = errors.New("sqlitestore: store is open read-write elsewhere")

// Options configure a Store. The zero value is usable.
type Options struct {
	// Limits bound what Append accepts; zero fields take eventstore defaults.
	Limits eventstore.Limits
	// SubscriberBuffer is how many live events may wait for one subscriber
	// before it is dropped with a *eventstore.SubscriptionDroppedError.
	// Default 4096.
	SubscriberBuffer int
	// ReadOnly opens an existing file without writing to it, e.g. a CLI
	// reading beside a running server. Append returns ErrReadOnly and
	// subscriptions poll the file for events written by the other process.
	ReadOnly bool
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now stamps RecordedAt; nil means time.Now. Tests inject a fixed clock.
	Now func() time.Time
	// PollInterval is how often a read-only store's live subscriptions look
	// for new events. Default 200ms.
	PollInterval time.Duration
}

const (
	defaultSubscriberBuffer = 4096
	defaultPollInterval     = 200 * time.Millisecond
	busyTimeoutMillis       = 10_000
)

// Store is the SQLite event store. It implements eventstore.Store.
type Store struct {
	path     string
	opts     Options
	limits   eventstore.Limits
	log      *slog.Logger
	now      func() time.Time
	readOnly bool

	readDB  *sql.DB // read-only connections, any number of readers
	writeDB *sql.DB // nil when read-only; one connection, owned by the writer
	w       *writer // nil when read-only
	hub     *hub
	lock    *os.File // exclusive lock file; nil when read-only

	readStmts readStatements

	closing   chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ eventstore.Store = (*Store)(nil)

// fdatasyncOnce switches the driver to fdatasync(2): SQLite's own Linux
// builds do the same. It syncs the data and the size a reader needs, skips
// file timestamps, and keeps a commit just as durable.
var fdatasyncOnce sync.Once

// Open opens (creating it unless ReadOnly) the store in the SQLite file at
// path, conventionally <data>/events.db.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if opts.SubscriberBuffer <= 0 {
		opts.SubscriberBuffer = defaultSubscriberBuffer
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval
	}
	s := &Store{
		path:     abs,
		opts:     opts,
		limits:   opts.Limits.WithDefaults(),
		log:      opts.Logger,
		now:      opts.Now,
		readOnly: opts.ReadOnly,
		closing:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.hub = newHub(opts.SubscriberBuffer)
	fdatasyncOnce.Do(func() { _, _ = sqlite.Fdatasync(true) })

	if err := s.open(ctx); err != nil {
		s.releaseResources()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	s.log.Info("event store open", "path", abs, "read_only", s.readOnly)
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	if s.readOnly {
		if _, err := os.Stat(s.path); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
			return err
		}
		lock, err := lockFile(s.path + ".lock")
		if err != nil {
			return err
		}
		s.lock = lock
		if err := createPrivate(s.path); err != nil {
			return err
		}

		// Exactly one connection: the writer's. Its page cache holds the hot
		// parts of the indexes that every append touches.
		s.writeDB, err = sql.Open("sqlite", dsn(s.path, false))
		if err != nil {
			return err
		}
		s.writeDB.SetMaxOpenConns(1)
		s.writeDB.SetMaxIdleConns(1)
		s.writeDB.SetConnMaxLifetime(0)
		s.writeDB.SetConnMaxIdleTime(0)
		if err := migrate(ctx, s.writeDB); err != nil {
			return err
		}
	}

	var err error
	s.readDB, err = sql.Open("sqlite", dsn(s.path, true))
	if err != nil {
		return err
	}
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	s.readDB.SetMaxOpenConns(readers)
	s.readDB.SetMaxIdleConns(readers)
	if err := checkSchema(ctx, s.readDB); err != nil {
		return err
	}
	if err := s.readStmts.prepare(ctx, s.readDB); err != nil {
		return err
	}

	if !s.readOnly {
		w, err := newWriter(ctx, s)
		if err != nil {
			return err
		}
		s.w = w
		go w.run()
	}
	return nil
}

// dsn builds the driver's connection string. Writers run WAL with
// synchronous=FULL: the WAL is synced at every commit, so an acknowledged
// append survives power loss. Readers open the file read-only (mode=ro), so
// they can neither write nor checkpoint.
func dsn(path string, readOnly bool) string {
	u := url.URL{Path: path}
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	if readOnly {
		v.Add("mode", "ro")
		v.Add("_pragma", "cache_size(-4096)") // KiB: 4 MiB per reader
		// Reading the log through a memory map skips a pread and a copy per
		// page: scans run ~15% faster. The map is address space backed by
		// the OS page cache, capped at 256 MiB; pages beyond it are read
		// normally. The file never shrinks (nothing is deleted), so a
		// mapped page cannot vanish under a reader.
		v.Add("_pragma", "mmap_size(268435456)")
	} else {
		v.Add("_pragma", "journal_mode(WAL)")
		v.Add("_pragma", "synchronous(FULL)")
		v.Add("_pragma", "cache_size(-8192)") // KiB: 8 MiB for the writer
		v.Add("_pragma", "journal_size_limit(67108864)")
		v.Add("_pragma", "temp_store(MEMORY)") // statement journals of careful inserts
	}
	return "file:" + u.EscapedPath() + "?" + v.Encode()
}

func migrate(ctx context.Context, db *sql.DB) error {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case version == schemaVersion:
		return nil
	case version > schemaVersion:
		return fmt.Errorf("schema version %d is newer than this build understands (%d)", version, schemaVersion)
	}
	var objects int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
		return fmt.Errorf("inspect database: %w", err)
	}
	if objects > 0 {
		return errors.New("the file holds a database that is not a Casebook event store (schema version 0, not empty)")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	return tx.Commit()
}

func checkSchema(ctx context.Context, db *sql.DB) error {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version != schemaVersion {
		return fmt.Errorf("schema version %d, this build reads version %d (is this a Casebook event store?)", version, schemaVersion)
	}
	return nil
}

// Head returns the position of the newest event in the log.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if s.w != nil {
		return eventstore.Position(s.w.committed.Load()), nil
	}
	var head int64
	if err := s.readDB.QueryRowContext(ctx, "SELECT coalesce(max(position), 0) FROM events").Scan(&head); err != nil {
		return 0, s.wrapErr(ctx, "head", err)
	}
	return eventstore.Position(head), nil
}

// Ping reports whether the store is open and its file answers a query.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var one int
	if err := s.readDB.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM events)").Scan(&one); err != nil {
		return s.wrapErr(ctx, "ping", err)
	}
	return nil
}

// IntegrityCheck runs SQLite's integrity check over the whole file and then
// checks the log's own invariants cheaply: positions dense from 1 (nothing
// deleted). It returns nil when both pass.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	rows, err := s.readDB.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return s.wrapErr(ctx, "integrity check", err)
	}
	var problems []string
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			_ = rows.Close()
			return s.wrapErr(ctx, "integrity check", err)
		}
		if msg != "ok" {
			problems = append(problems, msg)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return s.wrapErr(ctx, "integrity check", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("sqlitestore: integrity check failed: %q", problems)
	}
	var count, maxPos int64
	if err := s.readDB.QueryRowContext(ctx, "SELECT count(*), coalesce(max(position), 0) FROM events").Scan(&count, &maxPos); err != nil {
		return s.wrapErr(ctx, "integrity check", err)
	}
	if count != maxPos {
		return fmt.Errorf("sqlitestore: integrity check failed: %d events but last position is %d (events missing)", count, maxPos)
	}
	return nil
}

// BackupTo writes a consistent copy of the store to a new file (it must not
// exist), using VACUUM INTO. It reads a snapshot and never blocks appends.
func (s *Store) BackupTo(ctx context.Context, file string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	// VACUUM INTO writes into an empty file as into a new one; made here,
	// the copy is private from its first byte (SQLite would make it 0644).
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("sqlitestore: backup: %s already exists", file)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlitestore: backup: %w", err)
	}
	if _, err := s.readDB.ExecContext(ctx, "VACUUM INTO ?", file); err != nil {
		return s.wrapErr(ctx, "backup", err)
	}
	return nil
}

// Stats are counters of the writer since Open.
type Stats struct {
	Commits uint64 // transactions committed (group commits)
	Appends uint64 // appends written (not counting duplicates and failures)
	Events  uint64 // events written
}

// Stats returns the writer's counters; zero for a read-only store.
// Events/Commits is the average group-commit size.
func (s *Store) Stats() Stats {
	if s.w == nil {
		return Stats{}
	}
	return Stats{
		Commits: s.w.stats.commits.Load(),
		Appends: s.w.stats.appends.Load(),
		Events:  s.w.stats.events.Load(),
	}
}

// Path is the database file's absolute path.
func (s *Store) Path() string { return s.path }

// Close stops accepting calls, lets the writer commit what it has already
// taken from its queue, ends subscriptions with ErrClosed and releases the
// file. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.closing)
		if s.w != nil {
			<-s.w.done
		}
		s.hub.close()
		s.closeErr = s.releaseResources()
		s.log.Info("event store closed", "path", s.path)
	})
	return s.closeErr
}

func (s *Store) releaseResources() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.close())
	}
	errs = append(errs, s.readStmts.close())
	if s.readDB != nil {
		errs = append(errs, s.readDB.Close())
	}
	if s.writeDB != nil {
		errs = append(errs, s.writeDB.Close())
	}
	if s.lock != nil {
		errs = append(errs, unlockFile(s.lock))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// check fails fast on a closed store or a finished context.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	return ctx.Err()
}

// wrapErr turns a database error into the error a caller should see: the
// context's error when the context ended, ErrClosed after Close, otherwise
// ErrUnavailable wrapping the cause.
func (s *Store) wrapErr(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	return fmt.Errorf("%w: sqlitestore: %s: %w", eventstore.ErrUnavailable, op, err)
}

// toSQLPosition clamps a Position to SQLite's signed 64-bit integers.
func toSQLPosition(p eventstore.Position) int64 {
	if uint64(p) > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(p)
}
