package projections

import (
	"context"
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

// BenchmarkAccessLogSubject measures what an auditor's question costs on a
// large access log: one subject's entries, a page of 100 from the access
// log's read model, over a month or over all time, p50 and p99. The
// baseline, in the same run, is the index-free answer: one scan of every
// access-log entry in the store for that subject (casebook access-report
// --scan).
//
// The log: CASEBOOK_BENCH_ACCESS_ENTRIES access-log entries (default
// 100,000; the figures in the README are for 2,000,000) over 40,000 cases
// and 2,000 people, kept in CASEBOOK_BENCH_DIR and reused when set. Or
// CASEBOOK_BENCH_ACCESS_DATA names an existing data directory (events.db;
// a readmodels.db is built or brought up to date there): the scale data
// set, as it is.
//
//	CASEBOOK_BENCH_ACCESS_ENTRIES=2000000 CASEBOOK_BENCH_DIR=/tmp/cbbench \
//	  go test -run '^$' -bench AccessLogSubject -benchtime 2000x ./projections/
func BenchmarkAccessLogSubject(b *testing.B) {
	ctx := context.Background()
	dir, store := accessBenchStore(b)
	start := time.Now()
	e, err := Open(ctx, dir, store, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	head, err := store.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	if err := e.WaitFor(wctx, head, AccessLog); err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "access-log read model at position %d after %s\n", head, time.Since(start).Round(time.Millisecond))

	// Who is in the log, and over which period.
	var subjects []string
	var first, last int64
	if _, err := e.readLive(ctx, []string{AccessLog}, func(src *source) error {
		tx := src.tx(AccessLog)
		rows, err := tx.query(`SELECT DISTINCT subject FROM {access_entries}`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return err
			}
			subjects = append(subjects, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return tx.scanRow(`SELECT min(occurred_at), max(occurred_at) FROM {access_entries}`, nil, &first, &last)
	}); err != nil {
		b.Fatal(err)
	}
	if len(subjects) == 0 {
		b.Fatal("no access-log entries")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	month := 30 * 24 * time.Hour

	// The baseline: the index-free scan, for a handful of subjects.
	var scans []time.Duration
	for range 3 {
		q := AccessQuery{Subject: subjects[rng.IntN(len(subjects))]}
		t0 := time.Now()
		n := 0
		for rec, err := range store.ReadAll(ctx, eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefixes: []string{domain.AccessStreamPrefix}}}) {
			if err != nil {
				b.Fatal(err)
			}
			if r, err := DecodeAccessEntry(rec); err == nil && q.Matches(r) {
				n++
			}
		}
		scans = append(scans, time.Since(t0))
	}

	for _, period := range []string{"month", "all_time"} {
		b.Run(period, func(b *testing.B) {
			var lat []time.Duration
			found := 0
			for b.Loop() {
				q := AccessQuery{Subject: subjects[rng.IntN(len(subjects))], Limit: 100}
				if period == "month" {
					from := time.Unix(0, first+rng.Int64N(max(1, last-first))).UTC()
					to := from.Add(month)
					q.From, q.To = &from, &to
				}
				t0 := time.Now()
				page, err := e.AccessEntries(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				found += len(page.Entries)
			}
			reportLatencies(b, lat)
			b.ReportMetric(float64(found)/float64(len(lat)), "entries/query")
			slices.Sort(scans)
			b.ReportMetric(float64(scans[len(scans)/2].Milliseconds()), "scan-baseline-ms")
		})
	}
}

// accessBenchStore opens the benchmark's store: the named data directory,
// or a generated access log (kept in CASEBOOK_BENCH_DIR when set).
func accessBenchStore(b *testing.B) (string, *sqlitestore.Store) {
	b.Helper()
	ctx := context.Background()
	if dir := os.Getenv("CASEBOOK_BENCH_ACCESS_DATA"); dir != "" {
		st, err := sqlitestore.Open(ctx, filepath.Join(dir, "events.db"), sqlitestore.Options{SubscriberBuffer: 1 << 16})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		return dir, st
	}
	n := 100_000
	if s := os.Getenv("CASEBOOK_BENCH_ACCESS_ENTRIES"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	dir := os.Getenv("CASEBOOK_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		dir = filepath.Join(dir, fmt.Sprintf("access-v1-%d", n))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "events.db"), sqlitestore.Options{SubscriberBuffer: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	head, err := st.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if head == 0 {
		t0 := time.Now()
		if err := generateAccessLog(ctx, st, n); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "generated %d access-log entries in %s in %s\n", n, dir, time.Since(t0).Round(time.Millisecond))
	}
	return dir, st
}

// generateAccessLog writes n access-log entries, sealed in their cases'
// chains as the core seals them: 2,000 people (a few read far more than
// most), each mostly reading their own agency's cases, over three years,
// in runs of consultations of one case, from four writers at once.
func generateAccessLog(ctx context.Context, store eventstore.Store, n int) error {
	const (
		writers  = 4
		people   = 2000
		auditors = 40
	)
	cases := max(1, min(40_000, n/50))
	start := time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)
	span := 3 * 365 * 24 * time.Hour
	agencies := []string{"UKBA", "SOCA", "PAF", "KENT", "BF", "NCA"}
	purposes := []string{domain.PurposeInvestigation, domain.PurposeInvestigation, domain.PurposeInvestigation, domain.PurposeSupervision,
		domain.PurposeDisclosure, domain.PurposeLegal, domain.PurposeSubjectAccess}
	type chain struct {
		version uint64
		hash    string
		exists  bool
	}
	var mu sync.Mutex
	written := 0
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			chains := map[int]*chain{} // this writer's cases: c % writers == w
			for {
				mu.Lock()
				if written >= n {
					mu.Unlock()
					return
				}
				k := min(5+rng.IntN(40), n-written)
				at := written
				written += k
				mu.Unlock()
				c := w + writers*rng.IntN(max(1, cases/writers))
				caseID := uuid.NewSHA1(idSpace, fmt.Appendf(nil, "bench-access-case-%d", c))
				ch := chains[c]
				if ch == nil {
					ch = &chain{}
					chains[c] = ch
				}
				now := start.Add(time.Duration(float64(span) * float64(at) / float64(n)))
				data := make([]eventstore.EventData, 0, k)
				expected := eventstore.NoStream
				if ch.exists {
					expected = eventstore.Exact(ch.version)
				}
				for i := range k {
					// Skewed: person p with probability falling with p.
					p := int(float64(people) * rng.Float64() * rng.Float64())
					who := domain.Actor{Subject: fmt.Sprintf("officer.%04d", p), Role: domain.RoleInvestigator, Agency: agencies[p%len(agencies)]}
					purpose := purposes[rng.IntN(len(purposes))]
					if p < auditors {
						who.Role, who.Subject, who.Agency, purpose = domain.RoleAuditor, fmt.Sprintf("auditor.%02d", p), "HMIC", domain.PurposeAudit
					}
					occurred := now.Add(time.Duration(i) * time.Minute)
					v := uint64(rng.IntN(60))
					a := domain.CaseAccessed{Operation: domain.AccessReadCase, CaseID: caseID, Outcome: domain.AccessServed, VersionRead: &v,
						Purpose: purpose, PurposeDefaulted: rng.IntN(4) == 0, Count: 1 + rng.IntN(2), LastAt: occurred, RequestID: uuid.NewString()}
					if rng.IntN(50) == 0 {
						a.Outcome, a.VersionRead = domain.AccessDenied, nil
					}
					version := uint64(0)
					if ch.exists {
						version = ch.version + 1
					}
					e, err := domain.SealAccess(uuid.New(), version, ch.hash, who, occurred, occurred.Add(time.Millisecond), a)
					if err != nil {
						errs <- err
						return
					}
					data = append(data, eventstore.EventData{ID: e.Stored.ID, Type: e.Stored.Type, Data: e.Stored.Data, Metadata: e.Stored.Metadata})
					ch.version, ch.hash, ch.exists = version, e.Metadata.Hash, true
				}
				if _, err := store.Append(ctx, domain.AccessStreamName(caseID), expected, data...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
