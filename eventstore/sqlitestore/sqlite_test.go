package sqlitestore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

func ev(typ string, n int) eventstore.EventData {
	id := uuid.New()
	return eventstore.EventData{ID: id, Type: typ, Data: fmt.Appendf(nil, `{"n":%d,"place":"Calais"}`, n), Metadata: []byte(`{"actor":"officer-7"}`)}
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), stream, eventstore.Any, evs...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func readAll(t *testing.T, s eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	for e, err := range s.ReadAll(context.Background(), eventstore.ReadAllOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "absent"
	}
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// An auditor reads the file with plain SQL: JSON stays text, positions are
// dense, and the triggers refuse to change history.
func TestSchemaReadableWithPlainSQL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := openStore(t, path)
	mustAppend(t, s, "case-1", ev("CaseOpened", 1), ev("ArrestMade", 2))
	mustAppend(t, s, "case-2", ev("CaseOpened", 3))

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	rows, err := db.Query(`SELECT position, stream, revision, type, typeof(data), json_extract(data, '$.place'),
		json_extract(metadata, '$.actor'), recorded_at, append_first FROM events ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		pos, rev, first          int64
		stream, typ, kind, place string
		actor, recorded          string
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.pos, &r.stream, &r.rev, &r.typ, &r.kind, &r.place, &r.actor, &r.recorded, &r.first); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []row{
		{1, 0, 1, "case-1", "CaseOpened", "text", "Calais", "officer-7", ""},
		{2, 1, 1, "case-1", "ArrestMade", "text", "Calais", "officer-7", ""},
		{3, 0, 3, "case-2", "CaseOpened", "text", "Calais", "officer-7", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g := got[i]
		if _, err := time.Parse(time.RFC3339Nano, g.recorded); err != nil {
			t.Fatalf("recorded_at %q is not RFC 3339: %v", g.recorded, err)
		}
		g.recorded = ""
		if g != want[i] {
			t.Fatalf("row %d = %+v, want %+v", i, g, want[i])
		}
	}
	var name string
	var last, count int64
	if err := db.QueryRow(`SELECT name, last_revision, event_count FROM streams WHERE name = 'case-1'`).Scan(&name, &last, &count); err != nil || last != 1 || count != 2 {
		t.Fatalf("streams view: %s %d %d %v", name, last, count, err)
	}

	// History cannot be edited, even by a writer that bypasses the store.
	_ = s.Close()
	rw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rw.Close() }()
	for _, stmt := range []string{`UPDATE events SET data = '{}' WHERE position = 1`, `DELETE FROM events WHERE position = 3`} {
		if _, err := rw.Exec(stmt); err == nil {
			t.Fatalf("%s succeeded", stmt)
		}
	}
	if sqlitestore.SchemaSQL() == "" {
		t.Fatal("schema text missing")
	}
}

func TestSecondWriterRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	openStore(t, path)
	_, err := sqlitestore.Open(context.Background(), path, sqlitestore.Options{})
	if !errors.Is(err, sqlitestore.ErrLocked) {
		t.Fatalf("second read-write open: %v, want ErrLocked", err)
	}
}

// A read-only store (the CLI) beside a running writer: it reads, follows
// new events by polling, refuses to write, and leaves the files alone.
func TestReadOnlyBesideWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	w := openStore(t, path)
	mustAppend(t, w, "case-1", ev("CaseOpened", 1), ev("ArrestMade", 2))
	dbHash, walHash := fileHash(t, path), fileHash(t, path+"-wal")

	ro, err := sqlitestore.Open(ctx, path, sqlitestore.Options{ReadOnly: true, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ro.Close() }()
	if got := readAll(t, ro); len(got) != 2 {
		t.Fatalf("read-only store reads %d events, want 2", len(got))
	}
	if _, err := ro.Append(ctx, "case-1", eventstore.Any, ev("Nope", 0)); !errors.Is(err, sqlitestore.ErrReadOnly) {
		t.Fatalf("Append on a read-only store: %v, want ErrReadOnly", err)
	}
	if err := ro.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	if fileHash(t, path) != dbHash || fileHash(t, path+"-wal") != walHash {
		t.Fatal("reading through a read-only store changed the database files")
	}

	// Its subscriptions see what the writer appends.
	subCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got := 0
	for e, err := range ro.Subscribe(subCtx, eventstore.SubscribeOptions{}) {
		if err != nil {
			t.Fatalf("after %d events: %v", got, err)
		}
		got++
		if got == 2 {
			mustAppend(t, w, "case-2", ev("CaseOpened", 3))
		}
		if got == 3 {
			if e.Stream != "case-2" {
				t.Fatalf("third event from %s", e.Stream)
			}
			break
		}
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	// The writer is undisturbed.
	mustAppend(t, w, "case-3", ev("CaseOpened", 4))
	if n := len(readAll(t, w)); n != 4 {
		t.Fatalf("writer reads %d events, want 4", n)
	}
}

func TestReadOnlyWithoutWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "events.db")
	w := openStore(t, path)
	mustAppend(t, w, "case-1", ev("CaseOpened", 1))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dbHash := fileHash(t, path)
	ro, err := sqlitestore.Open(ctx, path, sqlitestore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, ro)); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if fileHash(t, path) != dbHash {
		t.Fatal("read-only open changed the database file")
	}
	if _, err := sqlitestore.Open(ctx, filepath.Join(dir, "missing.db"), sqlitestore.Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("read-only open created a file")
	}
}

func TestBackupAndIntegrity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "events.db"))
	for i := range 10 {
		mustAppend(t, s, fmt.Sprintf("case-%d", i%3), ev("Logged", i), ev("Logged", i+100))
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := s.BackupTo(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if err := s.BackupTo(ctx, backup); err == nil {
		t.Fatal("backup over an existing file succeeded")
	}
	b := openStore(t, backup)
	orig, copied := readAll(t, s), readAll(t, b)
	if len(copied) != len(orig) || len(orig) != 20 {
		t.Fatalf("backup has %d events, original %d", len(copied), len(orig))
	}
	for i := range orig {
		if orig[i].ID != copied[i].ID || orig[i].Position != copied[i].Position || !orig[i].RecordedAt.Equal(copied[i].RecordedAt) {
			t.Fatalf("event %d differs in the backup", i)
		}
	}
}

func TestInjectedClock(t *testing.T) {
	fixed := time.Date(2011, 7, 14, 9, 30, 0, 123456789, time.FixedZone("BST", 3600))
	s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), sqlitestore.Options{Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	mustAppend(t, s, "case-1", ev("CaseOpened", 1))
	got := readAll(t, s)
	if !got[0].RecordedAt.Equal(fixed) || got[0].RecordedAt.Location() != time.UTC {
		t.Fatalf("RecordedAt %v, want %v in UTC", got[0].RecordedAt, fixed)
	}
}

// An Append whose context ends either fails with the context's error and
// wrote nothing, or returns its real outcome: never an error for an append
// that was in fact written.
func TestCancelledAppendsAreNeverHalfReported(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "events.db"))
	const n = 200
	type outcome struct {
		id  uuid.UUID
		err error
	}
	results := make(chan outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%20)*100*time.Microsecond)
			defer cancel()
			e := ev("Raced", i)
			_, err := s.Append(ctx, fmt.Sprintf("race-%d", i%8), eventstore.Any, e)
			results <- outcome{e.ID, err}
		}()
	}
	wg.Wait()
	close(results)
	stored := make(map[uuid.UUID]bool)
	for _, e := range readAll(t, s) {
		stored[e.ID] = true
	}
	var ok, cancelled int
	for r := range results {
		switch {
		case r.err == nil:
			ok++
			if !stored[r.id] {
				t.Fatalf("append %s reported success but is not stored", r.id)
			}
		case errors.Is(r.err, context.DeadlineExceeded):
			cancelled++
			if stored[r.id] {
				t.Fatalf("append %s reported %v but was written", r.id, r.err)
			}
		default:
			t.Fatalf("unexpected error: %v", r.err)
		}
	}
	t.Logf("%d appended, %d gave up before the writer took them", ok, cancelled)
}

func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data dir?x=1#frag%20")
	path := filepath.Join(dir, "events.db")
	s := openStore(t, path)
	mustAppend(t, s, "case-1", ev("CaseOpened", 1))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("store file not where asked: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := sqlitestore.Open(context.Background(), path, sqlitestore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ro.Close() }()
	if n := len(readAll(t, ro)); n != 1 {
		t.Fatalf("%d events", n)
	}
}

func TestRefusesForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if _, err := sqlitestore.Open(context.Background(), path, sqlitestore.Options{}); err == nil {
		t.Fatal("opened a database that is not an event store")
	}
	if _, err := sqlitestore.Open(context.Background(), path, sqlitestore.Options{ReadOnly: true}); err == nil {
		t.Fatal("opened a database that is not an event store, read-only")
	}
}
