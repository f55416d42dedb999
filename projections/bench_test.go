package projections

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

// The benchmarks share one generated log: CASEBOOK_BENCH_EVENTS events
// (default 20,000, to keep CI fast; the figures in the report are for
// 1,000,000). CASEBOOK_BENCH_DIR keeps the generated store there and reuses
// it in later runs.
var benchLog struct {
	once  sync.Once
	dir   string
	n     int
	store *sqlitestore.Store
	err   error
}

func benchEvents() int {
	if s := os.Getenv("CASEBOOK_BENCH_EVENTS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 20_000
}

func benchStore(b *testing.B) (*sqlitestore.Store, string, int) {
	b.Helper()
	benchLog.once.Do(func() {
		n := benchEvents()
		dir := os.Getenv("CASEBOOK_BENCH_DIR")
		if dir == "" {
			d, err := os.MkdirTemp("", "casebook-bench-")
			if err != nil {
				benchLog.err = err
				return
			}
			dir = d
		} else {
			dir = filepath.Join(dir, fmt.Sprintf("log-%d", n))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				benchLog.err = err
				return
			}
		}
		ctx := context.Background()
		store, err := sqlitestore.Open(ctx, filepath.Join(dir, "events.db"), sqlitestore.Options{SubscriberBuffer: 1 << 16})
		if err != nil {
			benchLog.err = err
			return
		}
		head, err := store.Head(ctx)
		if err != nil {
			benchLog.err = err
			return
		}
		if head == 0 {
			start := time.Now()
			if err := generateLog(ctx, store, n, 1); err != nil {
				benchLog.err = err
				return
			}
			fmt.Fprintf(os.Stderr, "generated %d events in %s in %s\n", n, dir, time.Since(start).Round(time.Millisecond))
		}
		benchLog.dir, benchLog.n, benchLog.store = dir, n, store
	})
	if benchLog.err != nil {
		b.Fatalf("benchmark log: %v", benchLog.err)
	}
	return benchLog.store, benchLog.dir, benchLog.n
}

// BenchmarkRebuild compares, in one run, a rebuild of every read model from
// the whole log with a bare scan of the log through database/sql (the
// baseline) and with a scan through the store's own ReadAll.
func BenchmarkRebuild(b *testing.B) {
	store, dir, _ := benchStore(b)
	ctx := context.Background()
	head, err := store.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bare_scan", func(b *testing.B) {
		db, err := sql.Open("sqlite", filepath.Join(dir, "events.db")+"?_pragma=query_only(1)&_pragma=cache_size(-65536)")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		rowsRead := 0
		for b.Loop() {
			rows, err := db.QueryContext(ctx, `SELECT position, stream, revision, event_id, type, data, metadata, recorded_at FROM events ORDER BY position`)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var pos, rev int64
				var stream, evID, typ, recorded string
				var data, meta []byte
				if err := rows.Scan(&pos, &stream, &rev, &evID, &typ, &data, &meta, &recorded); err != nil {
					b.Fatal(err)
				}
				rowsRead++
			}
			if err := rows.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rowsRead)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("store_read_all", func(b *testing.B) {
		read := 0
		for b.Loop() {
			for _, err := range store.ReadAll(ctx, eventstore.ReadAllOptions{From: 1, Filter: caseFilter}) {
				if err != nil {
					b.Fatal(err)
				}
				read++
			}
		}
		b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("all_read_models", func(b *testing.B) {
		applied := 0
		for b.Loop() {
			rmDir := b.TempDir()
			e, err := Open(ctx, rmDir, store, Options{})
			if err != nil {
				b.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			err = e.WaitFor(wctx, head)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			applied += int(head)
			b.StopTimer()
			if err := e.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(applied)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkApply measures each read model's apply alone (events already in
// memory, one fresh database per round), to see where a rebuild's time goes.
func BenchmarkApply(b *testing.B) {
	store, _, _ := benchStore(b)
	ctx := context.Background()
	var events []eventstore.RecordedEvent
	for ev, err := range store.ReadAll(ctx, eventstore.ReadAllOptions{From: 1, Filter: caseFilter}) {
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, ev)
	}
	const batch = 8192
	for _, m := range newModels(nil) {
		b.Run(m.name(), func(b *testing.B) {
			applied := 0
			for b.Loop() {
				b.StopTimer()
				w, r, err := openFileDB(ctx, filepath.Join(b.TempDir(), FileName), 1)
				if err != nil {
					b.Fatal(err)
				}
				wr, err := newWriter(ctx, w)
				if err != nil {
					b.Fatal(err)
				}
				if err := createGenerationIn(ctx, wr, m, 1, nil); err != nil {
					b.Fatal(err)
				}
				ts := newTableSet(m, 1)
				b.StartTimer()
				for i := 0; i < len(events); i += batch {
					tx, err := wr.begin(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if err := m.apply(tx.on(ctx, ts), events[i:min(i+batch, len(events))]); err != nil {
						b.Fatal(err)
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				applied += len(events)
				b.StopTimer()
				wr.close()
				w.Close()
				r.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(applied), "ns/event")
		})
	}
}
