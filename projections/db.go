package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casebook/casebook/eventstore"
)

// FileName is the read-model database's name in the data directory.
const FileName = "readmodels.db"

// metaSchema holds what is not a read model: which generation of each
// projection answers, which one is being built, and each generation's
// checkpoint. It lives in the same database as the read models so that a
// batch and its checkpoint commit together.
const metaSchema = `
CREATE TABLE IF NOT EXISTS projection_meta (
	name             TEXT PRIMARY KEY,
	active_gen       INTEGER NOT NULL,
	active_version   INTEGER NOT NULL,
	building_gen     INTEGER,
	building_version INTEGER
);
CREATE TABLE IF NOT EXISTS projection_checkpoint (
	name     TEXT NOT NULL,
	gen      INTEGER NOT NULL,
	position INTEGER NOT NULL,
	event_id TEXT, -- the id of the event at position (NULL before any)
	PRIMARY KEY (name, gen)
) WITHOUT ROWID;
`

// upgradeMeta adds what later versions keep in the meta tables to a
// database an earlier version created (event_id: see Engine.mismatch).
func upgradeMeta(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('projection_checkpoint')`)
	if err != nil {
		return err
	}
	has := false
	for rows.Next() {
		var col string
		if err := rows.Scan(&col); err != nil {
			rows.Close()
			return err
		}
		has = has || col == "event_id"
	}
	rows.Close()
	if err := rows.Err(); err != nil || has {
		return err
	}
	_, err = db.ExecContext(ctx, `ALTER TABLE projection_checkpoint ADD COLUMN event_id TEXT`)
	return err
}

// openFileDB opens the read-model database file: one writer connection
// (BEGIN IMMEDIATE, so a write transaction never has to upgrade its lock)
// and a pool of read-only connections. WAL lets readers work on a snapshot
// while the writer commits.
func openFileDB(ctx context.Context, path string, readers int) (w, r *sql.DB, err error) {
	if strings.ContainsAny(path, "?#") {
		return nil, nil, fmt.Errorf("projections: database path %q must not contain ? or #", path)
	}
	// The writer checkpoints as it commits (writer.setCheckpointPages
	// tunes how often).
	// Made here first, the file is private (0600) rather than SQLite's
	// 0644; SQLite gives its -wal and -shm files the file's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		_ = f.Close()
	}
	common := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=cache_size(-131072)&_pragma=temp_store(MEMORY)&_pragma=journal_size_limit(67108864)"
	w, err = sql.Open("sqlite", path+common+"&_txlock=immediate")
	if err != nil {
		return nil, nil, fmt.Errorf("projections: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if _, err := w.ExecContext(ctx, metaSchema); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("projections: create meta tables in %s: %w", path, err)
	}
	if err := upgradeMeta(ctx, w); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("projections: upgrade meta tables in %s: %w", path, err)
	}
	r, err = sql.Open("sqlite", path+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("projections: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, nil, fmt.Errorf("projections: open %s for reading: %w", path, err)
	}
	return w, r, nil
}

// sqlPos converts a log position to SQLite's INTEGER. Positions beyond
// int64 do not occur (SQLite rowids and KurrentDB commit positions are both
// below 2^63); refuse rather than wrap.
func sqlPos(p eventstore.Position) (int64, error) {
	if uint64(p) > math.MaxInt64 {
		return 0, fmt.Errorf("position %d does not fit the read-model database", p)
	}
	return int64(p), nil
}

// isPoison reports whether err, raised while applying events, is the events'
// fault (it will happen again however often we retry) rather than the
// database's or the context's. Poison stops the projection; anything else is
// retried with backoff.
func isPoison(err error) bool {
	var ee *EventError
	if errors.As(err, &ee) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE, sqlite3.SQLITE_ERROR:
			return true
		}
	}
	return false
}

// writer is the read-model database's one writing connection, pinned:
// transactions are begun and ended by statement, so that prepared
// statements outlive them (preparing costs more than most statements
// do). Callers serialise its use (Engine.writeMu).
type writer struct {
	conn            *sql.Conn
	stmts           map[prepKey]*sql.Stmt
	checkpointPages int
}

// Checkpoint thresholds, in pages of the write-ahead log. A commit that
// passes the threshold copies the log into the database file before it
// returns. Large batches (catching up) checkpoint rarely, so that a page
// written by many batches is copied once; small ones (live) often, so that
// each copy is short and no commit stalls a live projection for long.
const (
	checkpointPagesLive    = 1000
	checkpointPagesCatchUp = 16384
	catchUpBatchThreshold  = 4096
)

// setCheckpointPages sets the writer's checkpoint threshold.
func (w *writer) setCheckpointPages(ctx context.Context, pages int) error {
	if pages == w.checkpointPages {
		return nil
	}
	if _, err := w.conn.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", pages)); err != nil {
		return err
	}
	w.checkpointPages = pages
	return nil
}

type prepKey struct {
	ts   *tableSet
	tmpl string
}

func newWriter(ctx context.Context, db *sql.DB) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections: writer connection: %w", err)
	}
	return &writer{conn: conn, stmts: map[prepKey]*sql.Stmt{}}, nil
}

func (w *writer) close() error {
	w.forget(nil)
	return w.conn.Close()
}

// forget closes the statements prepared for a generation (all when ts is
// nil): it is being dropped.
func (w *writer) forget(ts *tableSet) {
	for k, st := range w.stmts {
		if ts == nil || k.ts == ts {
			_ = st.Close()
			delete(w.stmts, k)
		}
	}
}

// wtx is a write transaction on the writer's connection.
type wtx struct {
	w    *writer
	done bool
}

// execFixed runs one of the writer's own fixed statements (transaction
// control, checkpoints), prepared on first use and kept like the
// read models' statements, under no generation's tables: live batches run
// several of them each, and parsing them anew every time cost more than
// running them. Only constant query texts belong here, so the cache stays
// small; it is closed with the writer (forget(nil)).
func (w *writer) execFixed(ctx context.Context, query string, args ...any) (sql.Result, error) {
	d := dbtx{ctx: ctx, p: w.conn, cache: w.stmts}
	return d.exec(query, args...)
}

func (w *writer) begin(ctx context.Context) (*wtx, error) {
	if _, err := w.execFixed(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &wtx{w: w}, nil
}

func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.w.conn.ExecContext(ctx, query, args...)
}

// execFixed runs a constant statement prepared once (see writer.execFixed).
func (t *wtx) execFixed(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.w.execFixed(ctx, query, args...)
}

func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.w.conn.QueryContext(ctx, query, args...)
}

func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.w.conn.QueryRowContext(ctx, query, args...)
}

// Commit commits, or rolls back if the commit fails.
func (t *wtx) Commit() error {
	if t.done {
		return errors.New("transaction already ended")
	}
	t.done = true
	if _, err := t.w.execFixed(context.Background(), "COMMIT"); err != nil {
		_, _ = t.w.execFixed(context.Background(), "ROLLBACK")
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback ends the transaction unless it already ended (so it can be
// deferred).
func (t *wtx) Rollback() error {
	if t.done {
		return nil
	}
	t.done = true
	_, err := t.w.execFixed(context.Background(), "ROLLBACK")
	return err
}

// preparer prepares statements: a read transaction or the writer's
// connection.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// dbtx is one transaction's view of one generation's tables, with its
// statements prepared once (per read transaction, or once and for all on
// the writer's connection).
type dbtx struct {
	ctx   context.Context
	p     preparer
	ts    *tableSet
	cache map[prepKey]*sql.Stmt
	// shared, for a live read, holds the statements prepared once on the
	// read pool; readTx is the transaction they are bound to.
	shared *readStmts
	readTx *sql.Tx
}

// writeTx is the view of a generation from a write transaction.
func (t *wtx) on(ctx context.Context, ts *tableSet) *dbtx {
	return &dbtx{ctx: ctx, p: t.w.conn, ts: ts, cache: t.w.stmts}
}

func (d *dbtx) stmt(tmpl string) (*sql.Stmt, error) {
	k := prepKey{d.ts, tmpl}
	if st, ok := d.cache[k]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if d.shared != nil {
		parent, err := d.shared.get(d.ctx, d.ts, tmpl)
		if err != nil {
			return nil, err
		}
		st = d.readTx.StmtContext(d.ctx, parent)
	} else {
		var err error
		if st, err = d.p.PrepareContext(d.ctx, d.ts.sql(tmpl)); err != nil {
			return nil, err
		}
	}
	d.cache[k] = st
	return st, nil
}

func (d *dbtx) exec(tmpl string, args ...any) (sql.Result, error) {
	st, err := d.stmt(tmpl)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(d.ctx, args...)
}

func (d *dbtx) query(tmpl string, args ...any) (*sql.Rows, error) {
	st, err := d.stmt(tmpl)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(d.ctx, args...)
}

// scanRow runs a query of one row into dest; sql.ErrNoRows when none.
func (d *dbtx) scanRow(tmpl string, args []any, dest ...any) error {
	st, err := d.stmt(tmpl)
	if err != nil {
		return err
	}
	return st.QueryRowContext(d.ctx, args...).Scan(dest...)
}
