package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
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
	PRIMARY KEY (name, gen)
) WITHOUT ROWID;
`

// openFileDB opens the read-model database file: one writer connection
// (BEGIN IMMEDIATE, so a write transaction never has to upgrade its lock)
// and a pool of read-only connections. WAL lets readers work on a snapshot
// while the writer commits.
func openFileDB(ctx context.Context, path string, readers int) (w, r *sql.DB, err error) {
	if strings.ContainsAny(path, "?#") {
		return nil, nil, fmt.Errorf("projections: database path %q must not contain ? or #", path)
	}
	common := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"
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

// openMemoryDB opens a private in-memory database on a single connection
// (an as_of replay's temporary projection): the connection is the database,
// so the pool must never open a second one.
func openMemoryDB(ctx context.Context) (*sql.DB, error) {
	db, err := sql.Open("sqlite", ":memory:?_pragma=temp_store(MEMORY)")
	if err != nil {
		return nil, fmt.Errorf("projections: open in-memory database: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if _, err := db.ExecContext(ctx, metaSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("projections: in-memory database: %w", err)
	}
	return db, nil
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

// dbtx is one transaction's view of one generation's tables. Statements are
// prepared once per database and generation (tableSet.prepared) and bound
// to the transaction on first use: preparing costs more than most of the
// statements themselves.
type dbtx struct {
	ctx   context.Context
	tx    *sql.Tx
	db    *sql.DB // the database tx belongs to
	ts    *tableSet
	stmts map[string]*sql.Stmt
}

func newDBTx(ctx context.Context, db *sql.DB, tx *sql.Tx, ts *tableSet) *dbtx {
	return &dbtx{ctx: ctx, tx: tx, db: db, ts: ts, stmts: map[string]*sql.Stmt{}}
}

func (d *dbtx) stmt(tmpl string) (*sql.Stmt, error) {
	if st, ok := d.stmts[tmpl]; ok {
		return st, nil
	}
	prepared, err := d.ts.prepared(d.ctx, d.db, tmpl)
	if err != nil {
		return nil, err
	}
	st := d.tx.StmtContext(d.ctx, prepared)
	d.stmts[tmpl] = st
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
