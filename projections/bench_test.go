package projections

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

// The benchmarks share one generated log: CASEBOOK_BENCH_EVENTS events
// (default 20,000, to keep CI fast; the figures in the report are for
// 1,000,000). CASEBOOK_BENCH_DIR keeps the generated store there and reuses
// it in later runs. BenchmarkReports and BenchmarkLiveLag append to the log
// (their write load), so BenchmarkRebuild runs first in a run of all three.
var benchLog struct {
	once  sync.Once
	dir   string
	temp  bool // remove dir at the end
	n     int
	store *sqlitestore.Store
	err   error
}

// TestMain closes and (unless kept) removes the benchmark log.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchLog.store != nil {
		_ = benchLog.store.Close()
		if benchLog.temp {
			_ = os.RemoveAll(benchLog.dir)
		}
	}
	os.Exit(code)
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
			dir, benchLog.temp = d, true
		} else {
			dir = filepath.Join(dir, fmt.Sprintf("log-v2-%d", n))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				benchLog.err = err
				return
			}
		}
		benchLog.dir = dir
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
		benchLog.n, benchLog.store = n, store
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
	var events []entry
	for ev, err := range store.ReadAll(ctx, eventstore.ReadAllOptions{From: 1, Filter: caseFilter}) {
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, decodeEntry(ev))
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

// benchEngine opens the read models of the benchmark log (built on first
// use, and kept beside the log when CASEBOOK_BENCH_DIR is set), caught up.
func benchEngine(b *testing.B) (*Engine, *sqlitestore.Store) {
	b.Helper()
	store, dir, _ := benchStore(b)
	e, err := Open(context.Background(), dir, store, Options{Now: func() time.Time { return benchNow }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	head, _ := store.Head(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := e.WaitFor(ctx, head); err != nil {
		b.Fatal(err)
	}
	// One write and its wait: the runner has warmed up (loaded the fact
	// ids, about half a second for a million events) as a running server's
	// has long since.
	w := newLogWriter(b, store)
	w.recordedAt, w.randomIDs = time.Now().UTC(), true
	wr := w.one(uuid.New(), domain.CaseOpened{Reference: "WARM", Title: "Warm-up", LeadAgency: ukba,
		CrimeTypes: []string{domain.CrimeCash}, Location: "Dover"}, benchNow, ukba)
	if err := e.WaitFor(ctx, wr.Position); err != nil {
		b.Fatal(err)
	}
	return e, store
}

// benchNow is "now" for the benchmark log, which ends in mid-2011.
var benchNow = time.Date(2011, 6, 6, 12, 0, 0, 0, time.UTC)

// steadyWriter appends case events at about rate per second until stop is
// closed, as a server taking investigators' writes would.
func steadyWriter(b *testing.B, store eventstore.Store, rate int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := newLogWriter(b, store)
		w.recordedAt, w.randomIDs = time.Now().UTC(), true
		caseID := uuid.New()
		w.one(caseID, domain.CaseOpened{Reference: "LOAD-" + caseID.String()[:8], Title: "Load", LeadAgency: ukba,
			CrimeTypes: []string{domain.CrimeCash}, Location: "Dover"}, benchNow, ukba)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		per := max(1, rate/100)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			evs := make([]pending, per)
			for i := range evs {
				// Spread over the last year, like the log itself (a burst
				// on one day would only measure that day's facts).
				evs[i] = pending{ev: domain.ArrestMade{PersonID: uuid.New(), Location: "Dover", Offence: "facilitation"},
					occurred: benchNow.Add(-time.Duration(rand.Int64N(int64(365 * 24 * time.Hour)))), agency: ukba}
			}
			w.write(caseID, evs...)
		}
	}()
	return &wg
}

// BenchmarkReports measures each report's latency on the benchmark log's
// read models while a writer adds 500 events/s (which the projections
// apply meanwhile). p50 and p99 are reported per query.
func BenchmarkReports(b *testing.B) {
	e, store := benchEngine(b)
	ctx := context.Background()
	year := ReportQuery{From: ptr(benchNow.AddDate(-1, 0, 0)), To: &benchNow}
	odd := ReportQuery{From: ptr(time.Date(2010, 3, 17, 13, 20, 0, 0, time.UTC)), To: ptr(time.Date(2011, 2, 9, 7, 45, 0, 0, time.UTC))}
	with := func(q ReportQuery, groupBy string) ReportQuery { q.GroupBy = groupBy; return q }
	queries := []struct {
		name string
		run  func() error
	}{
		{"summary_default", func() error { _, err := e.Summary(ctx, ReportQuery{}); return err }},
		// The uncached variants forget every cached answer first: what a
		// query costs when its read models have just moved.
		{"summary_default_uncached", func() error {
			e.answers.reset()
			_, err := e.Summary(ctx, ReportQuery{})
			return err
		}},
		{"arrests_by_month_uncached", func() error {
			e.answers.reset()
			_, err := e.Arrests(ctx, with(year, "month"))
			return err
		}},
		// Filtered (uncached): one filter by month comes from the buckets
		// like arrests_by_month_uncached; an agency's arrests by location
		// and both filters at once count the period's facts.
		{"arrests_by_month_agency_uncached", func() error {
			e.answers.reset()
			q := with(year, "month")
			q.Agency = "SOCA"
			_, err := e.Arrests(ctx, q)
			return err
		}},
		{"arrests_by_location_agency_uncached", func() error {
			e.answers.reset()
			q := with(year, "location")
			q.Agency = "SOCA"
			_, err := e.Arrests(ctx, q)
			return err
		}},
		{"summary_agency_location_uncached", func() error {
			e.answers.reset()
			_, err := e.Summary(ctx, ReportQuery{From: year.From, To: year.To, Agency: "SOCA", Location: "Dover"})
			return err
		}},
		{"summary_all_time", func() error {
			_, err := e.Summary(ctx, ReportQuery{From: ptr(beginningOfTime), To: ptr(endOfTime)})
			return err
		}},
		{"arrests_by_month", func() error { _, err := e.Arrests(ctx, with(year, "month")); return err }},
		{"arrests_by_day", func() error { _, err := e.Arrests(ctx, with(year, "day")); return err }},
		{"arrests_by_location_odd_period", func() error { _, err := e.Arrests(ctx, with(odd, "location")); return err }},
		{"gangs_by_agency", func() error { _, err := e.GangsDismantled(ctx, with(year, "agency")); return err }},
		{"gangs_by_month_odd_period", func() error { _, err := e.GangsDismantled(ctx, with(odd, "month")); return err }},
		{"seizures_by_location", func() error { _, err := e.Seizures(ctx, with(year, "location")); return err }},
		{"seizures_by_year_all_time", func() error { _, err := e.Seizures(ctx, ReportQuery{GroupBy: "year"}); return err }},
		{"detections_by_method_odd_period", func() error { _, err := e.Detections(ctx, with(odd, "method")); return err }},
		{"case_list_agency_first_page", func() error {
			_, err := e.ListCases(ctx, CaseQuery{VisibleTo: "SOCA", Limit: 50})
			return err
		}},
	}
	stop := make(chan struct{})
	wg := steadyWriter(b, store, 500, stop)
	defer func() { close(stop); wg.Wait() }()
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := q.run(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			reportLatencies(b, lat)
		})
	}
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkLiveLag appends 5,000 events/s for a few seconds (five writers
// on five cases; seizures that occurred in the last three days) and
// measures how long after each append returned the
// read models reflect it; it reports the p50 and p99 of that lag.
func BenchmarkLiveLag(b *testing.B) {
	e, store := benchEngine(b)
	ctx := context.Background()
	const rate, writers, perAppend = 5000, 5, 5
	duration := 3 * time.Second
	type appended struct {
		pos eventstore.Position
		at  time.Time
	}
	for b.Loop() {
		var mu sync.Mutex
		var log []appended
		var wg sync.WaitGroup
		start := time.Now()
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := newLogWriter(b, store)
				w.recordedAt, w.randomIDs = time.Now().UTC(), true
				caseID := uuid.New()
				w.one(caseID, domain.CaseOpened{Reference: "LAG-" + caseID.String()[:8], Title: "Lag", LeadAgency: ukba,
					CrimeTypes: []string{domain.CrimeCash}, Location: "Dover"}, benchNow, ukba)
				interval := time.Duration(float64(time.Second) * perAppend * writers / rate)
				next := time.Now()
				for time.Since(start) < duration {
					next = next.Add(interval)
					time.Sleep(time.Until(next))
					evs := make([]pending, perAppend)
					for i := range evs {
						evs[i] = pending{ev: domain.SeizureRecorded{Commodity: domain.CommodityCash, Unit: domain.UnitGBP,
							Quantity: domain.QuantityFromMicros(1_000_000), Location: "Calais"},
							occurred: benchNow.Add(-time.Duration(rand.Int64N(int64(72 * time.Hour)))), agency: ukba}
					}
					res := w.write(caseID, evs...)
					now := time.Now()
					mu.Lock()
					for _, r := range res {
						log = append(log, appended{r.Position, now})
					}
					mu.Unlock()
				}
			}()
		}
		// Watch the projections' progress: the moment the slowest of them
		// passes each appended position.
		reached := map[eventstore.Position]time.Time{}
		watchDone := make(chan struct{})
		go func() {
			defer close(watchDone)
			for {
				pos, _ := e.Position()
				now := time.Now()
				mu.Lock()
				for _, a := range log {
					if _, ok := reached[a.pos]; !ok && a.pos <= pos {
						reached[a.pos] = now
					}
				}
				n := len(log)
				mu.Unlock()
				if time.Since(start) > duration+5*time.Second || (time.Since(start) > duration && len(reached) == n) {
					return
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
		wg.Wait()
		<-watchDone
		var lags []time.Duration
		for _, a := range log {
			if t, ok := reached[a.pos]; ok {
				lags = append(lags, max(0, t.Sub(a.at)))
			} else {
				lags = append(lags, 5*time.Second)
			}
		}
		b.ReportMetric(float64(len(log))/duration.Seconds(), "events/s")
		reportLatencies(b, lags)
		_ = ctx
	}
}

// reset forgets every cached answer (benchmarks of the uncached path).
func (c *answerCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.lru.Init()
}
