// Package sqlitekeys is the key store of the embedded deployment: its own
// SQLite file (keys.db beside events.db), never the event log's, so that a
// copy of the log holds no key.
//
// Destroying a key must leave none of its bytes in the file nor in its
// write-ahead log: the database runs with PRAGMA secure_delete=ON (SQLite
// overwrites deleted content with zeros instead of leaving it in free
// space), and a destroy ends with a TRUNCATE checkpoint, which copies the
// zeroed pages into the file and empties the WAL, whose older frames still
// held the key. A destroyed key leaves a row naming it (case and key name,
// no key bytes) so that it is never created again.
package sqlitekeys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/keystore"
)

// FileName is the key store's file in a data directory.
const FileName = "keys.db"

const schema = `
CREATE TABLE IF NOT EXISTS data_keys (
	case_id    TEXT NOT NULL,
	name       TEXT NOT NULL,
	wrapped    BLOB NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (case_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS destroyed_keys (
	case_id      TEXT NOT NULL,
	name         TEXT NOT NULL,
	destroyed_at TEXT NOT NULL,
	PRIMARY KEY (case_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
`

// Store is a key store in one SQLite file.
type Store struct {
	db       *sql.DB
	path     string
	readOnly bool
	now      func() time.Time

	// Creates go through one committer goroutine that writes every create
	// waiting for it in one transaction (one fsync). A key is created for
	// each new person, before their identification is appended; committed
	// one by one, the fsyncs capped POST SuspectIdentified (a new person
	// each) at 0.18x the rate before encryption. This group commit makes it
	// 1.9x faster (583 → 1111 req/s, median of 3 alternated rounds:
	// POST_SCRIPT=scripts/load/personal.lua BODY=suspect scripts/load/ab.sh,
	// 2-core shared machine, 2026-12-02).
	creates   chan *createRequest
	closing   chan struct{}
	committer sync.WaitGroup
	closeOnce sync.Once
}

type createRequest struct {
	ref     domain.KeyRef
	wrapped []byte
	done    chan createOutcome // buffered: the committer never waits on it
}

type createOutcome struct {
	stored []byte
	err    error
}

// maxCreateBatch bounds the creates of one transaction.
const maxCreateBatch = 512

var _ keystore.Store = (*Store)(nil)

// Options configure Open.
type Options struct {
	// ReadOnly opens an existing file without writing to it (the CLI's
	// reading commands, beside a running casebookd).
	ReadOnly bool
	// Now stamps created_at and destroyed_at; nil means time.Now.
	Now func() time.Time
}

// Exists reports whether a key store file is at path.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Open opens (creating it unless read-only) the key store at path.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("sqlitekeys: %w", err)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlitekeys: %w", err)
	}
	v := url.Values{}
	v.Add("_pragma", "busy_timeout(10000)")
	v.Add("_pragma", "secure_delete(ON)")
	if opts.ReadOnly {
		v.Add("mode", "ro")
	} else {
		v.Add("_pragma", "journal_mode(WAL)")
		// A key must be durable before the event sealed with it is
		// appended: a crash must never leave ciphertext without its key.
		v.Add("_pragma", "synchronous(FULL)")
		v.Add("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+v.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitekeys: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	s := &Store{db: db, path: path, readOnly: opts.ReadOnly, now: opts.Now,
		creates: make(chan *createRequest, maxCreateBatch), closing: make(chan struct{})}
	if !opts.ReadOnly {
		if _, err := db.ExecContext(ctx, schema); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlitekeys: create the schema in %s: %w", path, err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlitekeys: %w", err)
		}
		s.committer.Add(1)
		go s.commitCreates()
	} else if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitekeys: open %s: %w", path, err)
	}
	return s, nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Close stops the committer (creates waiting for it fail with
// keystore.ErrClosed) and closes the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.committer.Wait()
	return s.db.Close()
}

func (s *Store) Create(ctx context.Context, ref domain.KeyRef, wrapped []byte) ([]byte, error) {
	if s.readOnly {
		return nil, fmt.Errorf("sqlitekeys: create %s: the store is open read-only", ref)
	}
	r := &createRequest{ref: ref, wrapped: wrapped, done: make(chan createOutcome, 1)}
	select {
	case s.creates <- r:
	case <-s.closing:
		return nil, fmt.Errorf("sqlitekeys: create %s: %w", ref, keystore.ErrClosed)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once queued the create is written or refused as one; a caller that
	// stops waiting leaves a key that a later create of the same name
	// returns.
	select {
	case out := <-r.done:
		return out.stored, out.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// commitCreates writes the creates waiting, as many as are there (up to
// maxCreateBatch), in one transaction, until the store closes.
func (s *Store) commitCreates() {
	defer s.committer.Done()
	batch := make([]*createRequest, 0, maxCreateBatch)
	for {
		select {
		case <-s.closing:
			for {
				select {
				case r := <-s.creates:
					r.done <- createOutcome{err: fmt.Errorf("sqlitekeys: create %s: %w", r.ref, keystore.ErrClosed)}
				default:
					return
				}
			}
		case r := <-s.creates:
			batch = append(batch[:0], r)
		gather:
			for len(batch) < maxCreateBatch {
				select {
				case r := <-s.creates:
					batch = append(batch, r)
				default:
					break gather
				}
			}
			s.createBatch(batch)
		}
	}
}

// createBatch creates the keys of batch in one transaction and answers
// each request: its stored key, ErrDestroyed for a destroyed name, or the
// transaction's failure.
func (s *Store) createBatch(batch []*createRequest) {
	outs := make([]createOutcome, len(batch))
	err := func() error {
		ctx := context.Background() // the callers' contexts end their wait, not a shared commit
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit: a no-op
		at := s.now().UTC().Format(time.RFC3339Nano)
		for i, r := range batch {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM destroyed_keys WHERE case_id = ? AND name = ?`,
				r.ref.Case.String(), r.ref.Name()).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				outs[i].err = fmt.Errorf("sqlitekeys: create %s: %w", r.ref, keystore.ErrDestroyed)
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO data_keys (case_id, name, wrapped, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (case_id, name) DO NOTHING`, r.ref.Case.String(), r.ref.Name(), r.wrapped, at); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, `SELECT wrapped FROM data_keys WHERE case_id = ? AND name = ?`,
				r.ref.Case.String(), r.ref.Name()).Scan(&outs[i].stored); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	for i, r := range batch {
		if err != nil {
			outs[i] = createOutcome{err: fmt.Errorf("sqlitekeys: create %s: %w", r.ref, err)}
		}
		r.done <- outs[i]
	}
}

func (s *Store) Get(ctx context.Context, ref domain.KeyRef) ([]byte, error) {
	var wrapped []byte
	err := s.db.QueryRowContext(ctx, `SELECT wrapped FROM data_keys WHERE case_id = ? AND name = ?`,
		ref.Case.String(), ref.Name()).Scan(&wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitekeys: %s: %w", ref, keystore.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitekeys: read %s: %w", ref, err)
	}
	return wrapped, nil
}

func (s *Store) Destroy(ctx context.Context, refs ...domain.KeyRef) error {
	if len(refs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitekeys: destroy: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit: a no-op
	at := s.now().UTC().Format(time.RFC3339Nano)
	for _, ref := range refs {
		if _, err := tx.ExecContext(ctx, `DELETE FROM data_keys WHERE case_id = ? AND name = ?`, ref.Case.String(), ref.Name()); err != nil {
			return fmt.Errorf("sqlitekeys: destroy %s: %w", ref, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO destroyed_keys (case_id, name, destroyed_at) VALUES (?, ?, ?)
			ON CONFLICT (case_id, name) DO NOTHING`, ref.Case.String(), ref.Name(), at); err != nil {
			return fmt.Errorf("sqlitekeys: destroy %s: %w", ref, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitekeys: destroy: %w", err)
	}
	return s.truncateWAL(ctx)
}

// truncateWAL checkpoints the WAL into the file and empties it: the WAL's
// frames are copies of pages as they were, and older ones still hold a
// destroyed key until the WAL is reset. A reader holding an old snapshot
// (a CLI read beside casebookd) can keep the checkpoint from finishing for
// a moment; it is retried for up to two seconds.
func (s *Store) truncateWAL(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		var busy, logFrames, done int
		err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done)
		if err != nil {
			return fmt.Errorf("sqlitekeys: checkpoint after destroy: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sqlitekeys: checkpoint after destroy: a reader kept the WAL busy; the destroyed keys' old pages stay in %s-wal until the next checkpoint", s.path)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

const (
	metaMasterCheck   = "master_check"
	metaErasedThrough = "erased_through"
)

func (s *Store) meta(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitekeys: read %s: %w", name, err)
	}
	return v, nil
}

func (s *Store) setMeta(ctx context.Context, name string, v []byte) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, v); err != nil {
		return fmt.Errorf("sqlitekeys: write %s: %w", name, err)
	}
	return nil
}

func (s *Store) MasterCheck(ctx context.Context) ([]byte, error) { return s.meta(ctx, metaMasterCheck) }

func (s *Store) SetMasterCheck(ctx context.Context, check []byte) error {
	return s.setMeta(ctx, metaMasterCheck, check)
}

func (s *Store) ErasedThrough(ctx context.Context) (uint64, error) {
	v, err := s.meta(ctx, metaErasedThrough)
	if err != nil || v == nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("sqlitekeys: %s holds %q: %w", metaErasedThrough, v, err)
	}
	return n, nil
}

func (s *Store) SetErasedThrough(ctx context.Context, position uint64) error {
	return s.setMeta(ctx, metaErasedThrough, []byte(strconv.FormatUint(position, 10)))
}

// BackupTo writes a consistent copy of the key store to file (VACUUM
// INTO: from a read snapshot, without blocking writers). The copy holds
// no destroyed key: VACUUM writes live rows only.
func (s *Store) BackupTo(ctx context.Context, file string) error {
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, file); err != nil {
		return fmt.Errorf("sqlitekeys: back up to %s: %w", file, err)
	}
	return os.Chmod(file, 0o600)
}
