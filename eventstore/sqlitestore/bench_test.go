package sqlitestore_test

// Benchmarks of the store beside the machine's ceilings, measured in the
// same run so that ratios hold however fast the disk is today:
//
//	go test ./eventstore/sqlitestore -run '^$' -bench . -benchmem -count 3 -benchtime 2s
//
// Goals: Append1Writer ≥ 0.5× RawFdatasync; Append64Writers ≥ 0.8×
// AppendBatch100; AppendBatch100 ≥ 0.8× RawEngineInsert; ReadAll ≥ 0.8×
// RawEngineScan. Every benchmark reports events/s; appends also report
// events/commit, the average group-commit size. The UUIDv7 variants show
// what time-ordered event ids (which a server generating ids can use) save
// over random ones: a random id dirties a random page of the event_id index
// in every commit.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

const fixtureEvents = 100_000

var fixture struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		_ = os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// benchEvent is a realistic case event: ~230 bytes of data, ~90 of
// metadata, with a random (version 4) id.
func benchEvent(n int) eventstore.EventData { return benchEventWithID(uuid.New(), n) }

// newV7 makes time-ordered (version 7) ids, as a server generating its own
// event ids can: they land at the end of the event_id index instead of on a
// random page of it.
func newV7() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func benchEventWithID(id uuid.UUID, n int) eventstore.EventData {
	data := make([]byte, 0, 256)
	data = append(data, `{"case_id":"`...)
	data = append(data, id.String()...)
	data = append(data, `","agency":"UKBA","location":"Coquelles, juxtaposed controls","kind":"clandestine entry","persons":`...)
	data = strconv.AppendInt(data, int64(n%7), 10)
	data = append(data, `,"note":"detected in lorry trailer by heartbeat monitor, referred to the joint centre"}`...)
	meta := []byte(`{"actor":"officer-1127","agency":"UKBA","correlation_id":"6f1c2a9e-55b1-4c1e-9a57-0d2f3c4b5a69"}`)
	return eventstore.EventData{ID: id, Type: "DetectionRecorded", Data: data, Metadata: meta}
}

func reportRate(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func benchStore(b *testing.B) *sqlitestore.Store {
	b.Helper()
	s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "events.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkRawFdatasync is the disk's ceiling for durable single appends:
// append 256 bytes to a file and fdatasync, in a loop.
func BenchmarkRawFdatasync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	buf := make([]byte, 256)
	fd := int(f.Fd())
	for b.Loop() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(fd); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

// rawDB opens a database/sql pool on path with the store's write settings.
func rawDB(b *testing.B, path string, readOnly bool) *sql.DB {
	b.Helper()
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
	if readOnly {
		dsn = "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// BenchmarkRawEngineInsert is the engine's ceiling for writes: the same
// driver inserting rows of the store's shape, into the store's table and
// indexes, through one prepared statement in one transaction.
func BenchmarkRawEngineInsert(b *testing.B) {
	db := rawDB(b, filepath.Join(b.TempDir(), "raw.db"), false)
	if _, err := db.Exec(sqlitestore.SchemaSQL()); err != nil {
		b.Fatal(err)
	}
	recordedAt := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.Prepare(`INSERT INTO events (position, stream, revision, event_id, type, data, metadata, recorded_at, append_first) VALUES (?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		b.Fatal(err)
	}
	streams := make([]string, 100)
	for i := range streams {
		streams[i] = "case-" + uuid.NewString()
	}
	i := 0
	for b.Loop() {
		ev := benchEvent(i)
		pos := int64(i + 1)
		if _, err := st.Exec(pos, streams[i%100], int64(i/100), ev.ID.String(), ev.Type, string(ev.Data), string(ev.Metadata), recordedAt, pos); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	reportRate(b, b.N)
}

// BenchmarkRawEngineScan is the engine's ceiling for reading the log: the
// same driver scanning the fixture's rows in position order into Go values.
func BenchmarkRawEngineScan(b *testing.B) {
	db := rawDB(b, fixturePath(b), true)
	b.ResetTimer()
	n := 0
	for n < b.N {
		rows, err := db.Query(`SELECT position, stream, revision, event_id, type, data, metadata, recorded_at FROM events ORDER BY position`)
		if err != nil {
			b.Fatal(err)
		}
		var pos, rev int64
		var stream, id, typ, recordedAt string
		var data, meta []byte
		for n < b.N && rows.Next() {
			if err := rows.Scan(&pos, &stream, &rev, &id, &typ, &data, &meta, &recordedAt); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Close(); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

// BenchmarkAppend1Writer: durable single-event appends, one at a time.
func BenchmarkAppend1Writer(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.Append(ctx, "case-"+strconv.Itoa(i%16), eventstore.Any, benchEvent(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRate(b, b.N)
}

// BenchmarkAppend64Writers: durable single-event appends from 64
// goroutines, each to its own stream with an exact expected revision.
func BenchmarkAppend64Writers(b *testing.B) { append64(b, uuid.New) }

// BenchmarkAppend64WritersUUIDv7 is Append64Writers with time-ordered ids.
func BenchmarkAppend64WritersUUIDv7(b *testing.B) { append64(b, newV7) }

func append64(b *testing.B, newID func() uuid.UUID) {
	s := benchStore(b)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		stream := fmt.Sprintf("case-%d", next.Add(1))
		expected := eventstore.NoStream
		i := 0
		for pb.Next() {
			res, err := s.Append(ctx, stream, expected, benchEventWithID(newID(), i))
			if err != nil {
				b.Error(err)
				return
			}
			expected = eventstore.Exact(res.Revision)
			i++
		}
	})
	reportRate(b, b.N)
	reportBatching(b, s)
}

func reportBatching(b *testing.B, s *sqlitestore.Store) {
	if st := s.Stats(); st.Commits > 0 {
		b.ReportMetric(float64(st.Events)/float64(st.Commits), "events/commit")
	}
}

// BenchmarkAppendBatch100: appends of 100 events each, one at a time.
func BenchmarkAppendBatch100(b *testing.B) { appendBatch100(b, uuid.New) }

// BenchmarkAppendBatch100UUIDv7 is AppendBatch100 with time-ordered ids.
func BenchmarkAppendBatch100UUIDv7(b *testing.B) { appendBatch100(b, newV7) }

func appendBatch100(b *testing.B, newID func() uuid.UUID) {
	s := benchStore(b)
	ctx := context.Background()
	batch := make([]eventstore.EventData, 100)
	i := 0
	for b.Loop() {
		for j := range batch {
			batch[j] = benchEventWithID(newID(), i*100+j)
		}
		if _, err := s.Append(ctx, "case-"+strconv.Itoa(i%16), eventstore.Any, batch...); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRate(b, 100*b.N)
	reportBatching(b, s)
}

// BenchmarkReadAll: reading the global log from the start.
func BenchmarkReadAll(b *testing.B) {
	s := fixtureStore(b)
	ctx := context.Background()
	b.ResetTimer()
	n := 0
	for n < b.N {
		for _, err := range s.ReadAll(ctx, eventstore.ReadAllOptions{}) {
			if err != nil {
				b.Fatal(err)
			}
			if n++; n == b.N {
				break
			}
		}
	}
	reportRate(b, b.N)
}

// BenchmarkSubscribeCatchUp: a subscription catching up from the start.
func BenchmarkSubscribeCatchUp(b *testing.B) {
	s := fixtureStore(b)
	ctx := context.Background()
	b.ResetTimer()
	n := 0
	for n < b.N {
		seen := 0
		for _, err := range s.Subscribe(ctx, eventstore.SubscribeOptions{}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
			if seen++; n == b.N || seen == fixtureEvents {
				break
			}
		}
	}
	reportRate(b, b.N)
}

// fixturePath builds, once per process, a store of fixtureEvents events
// spread over 1,000 streams, and returns its file.
func fixturePath(b *testing.B) string {
	fixture.once.Do(func() {
		fixture.dir, fixture.err = os.MkdirTemp("", "casebook-bench-")
		if fixture.err != nil {
			return
		}
		fixture.path = filepath.Join(fixture.dir, "events.db")
		s, err := sqlitestore.Open(context.Background(), fixture.path, sqlitestore.Options{})
		if err != nil {
			fixture.err = err
			return
		}
		defer func() { _ = s.Close() }()
		batch := make([]eventstore.EventData, 100)
		for i := 0; i < fixtureEvents/len(batch); i++ {
			for j := range batch {
				batch[j] = benchEvent(i*len(batch) + j)
			}
			if _, err := s.Append(context.Background(), "case-"+strconv.Itoa(i%1000), eventstore.Any, batch...); err != nil {
				fixture.err = err
				return
			}
		}
	})
	if fixture.err != nil {
		b.Fatal(fixture.err)
	}
	return fixture.path
}

// fixtureStore opens the fixture read-only (as the CLI would).
func fixtureStore(b *testing.B) *sqlitestore.Store {
	path := fixturePath(b)
	s, err := sqlitestore.Open(context.Background(), path, sqlitestore.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}
