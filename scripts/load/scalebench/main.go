// Command scalebench measures what scripts/load/scale.sh reports that a
// shell cannot: a bare scan of a store's log (the yardstick of rebuild and
// verify), the store's append rate alone for the generator's append shape
// (the yardstick of casebook demo --events), and the latency of varied
// report, case and history requests against a running casebookd (beside
// GET /healthz, the HTTP floor, measured in the same run).
//
//	scalebench scan DB
//	scalebench append -n N -dir DIR
//	scalebench restart -addr HOST:PORT -token TOKEN -head N [-runs 3] -- CASEBOOKD [ARGS...]
//	scalebench wait -addr HOST:PORT [-path /healthz] [-token TOKEN]
//	scalebench latency -addr HOST:PORT -db DB -analyst TOKEN -auditor TOKEN [-n 200]
//
// Each prints one JSON object per figure on stdout.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	"github.com/casebook/casebook/projections"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: scalebench scan | append | restart | wait | latency (see the source)")
	}
	var err error
	switch os.Args[1] {
	case "scan":
		if len(os.Args) != 3 {
			fail("usage: scalebench scan DB")
		}
		err = scan(os.Args[2])
	case "append":
		err = appendRate(os.Args[2:])
	case "latency":
		err = latency(os.Args[2:])
	case "restart":
		err = restart(os.Args[2:])
	case "wait":
		err = waitCmd(os.Args[2:])
	default:
		fail("unknown command " + os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "scalebench:", msg)
	os.Exit(1)
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// scan reads every row of the log with database/sql, as
// projections.BenchmarkRebuild's bare_scan does: the floor of any pass over
// the log.
func scan(file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro&_pragma=cache_size(-65536)")
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	rows, err := db.Query(`SELECT position, stream, revision, event_id, type, data, metadata, recorded_at FROM events ORDER BY position`)
	if err != nil {
		return err
	}
	n := 0
	for rows.Next() {
		var pos, rev int64
		var stream, id, typ, recorded string
		var data, meta []byte
		if err := rows.Scan(&pos, &stream, &rev, &id, &typ, &data, &meta, &recorded); err != nil {
			return err
		}
		n++
	}
	if err := rows.Close(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	emit(map[string]any{"figure": "bare_scan", "events": n, "seconds": secs, "events_per_second": float64(n) / secs})
	return nil
}

// appendRate appends n events to a fresh store in the generator's shape
// (64 appends in flight, 8 events each, one stream per append, time-ordered
// ids) with data and metadata of a typical size but no domain work: what
// the store's append path allows alone.
func appendRate(args []string) error {
	fs := flag.NewFlagSet("append", flag.ExitOnError)
	n := fs.Int("n", 100_000, "events")
	dir := fs.String("dir", "", "directory for the temporary store")
	_ = fs.Parse(args)
	st, err := sqlitestore.Open(context.Background(), filepath.Join(*dir, "append-baseline.db"), sqlitestore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	data := []byte(`{"location":"Dover","method":"co2_probe","people":4,"vehicle":"lorry"}`)
	meta := []byte(`{"schema_version":2,"occurred_at":"2020-01-01T10:00:00Z","recorded_at":"2020-01-01T10:05:00.123456Z","actor":{"subject":"ukba.officer042","role":"investigator","agency":"UKBA"},"correlation_id":"0190f0b2-4e5c-7a8b-9c0d-1e2f3a4b5c6d","causation_id":"0190f0b2-4e5c-7a8b-9c0d-1e2f3a4b5c6d","prev_hash":"9f3c1b2a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a","hash":"0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f"}`)
	const perAppend, inFlight = 8, 64
	var next int64
	var mu sync.Mutex
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, inFlight)
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				first := next
				next += perAppend
				mu.Unlock()
				if first >= int64(*n) {
					return
				}
				k := min(perAppend, int64(*n)-first)
				evs := make([]eventstore.EventData, k)
				for i := range evs {
					id, _ := uuid.NewV7()
					evs[i] = eventstore.EventData{ID: id, Type: "StowawaysDetected", Data: data, Metadata: meta}
				}
				if _, err := st.Append(context.Background(), "case-"+uuid.NewString(), eventstore.NoStream, evs...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	emit(map[string]any{"figure": "store_append", "events": *n, "seconds": secs, "events_per_second": float64(*n) / secs})
	return nil
}

// latency sends varied requests one at a time and reports p50 and p99 per
// kind: reports with as_of, without, a case, a 100-event history page, and
// GET /healthz (the floor). Report periods, groupings and as_of times are
// drawn at random over the log's recorded span, so no two report queries
// are alike (none is answered from the report cache); day-by-day
// groupings only over periods of a year at most. The largest answer
// (seizures day by day over the whole log) is measured once, apart.
func latency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	addr := fs.String("addr", "", "casebookd's address")
	dbFile := fs.String("db", "", "the store's events.db (read-only: the span and some case ids)")
	analyst := fs.String("analyst", "", "an analyst's token (reports)")
	auditor := fs.String("auditor", "", "an auditor's token (cases and histories)")
	n := fs.Int("n", 200, "requests of each kind")
	seed := fs.Uint64("seed", 1, "random seed")
	slow := fs.Int("slow", 0, "list the slowest requests of each kind on stderr")
	warm := fs.Int("warm", 50, "requests of each kind sent first and not measured (other periods and cases)")
	_ = fs.Parse(args)
	db, err := sql.Open("sqlite", "file:"+*dbFile+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	span, err := recordedSpan(db)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, 15))
	cases, err := someCases(db, rng, *n)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 60 * time.Second}
	get := func(path, token string) (time.Duration, error) {
		req, err := http.NewRequest("GET", "http://"+*addr+path, nil)
		if err != nil {
			return 0, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return d, nil
	}
	reports := []string{"arrests", "gangs-dismantled", "seizures", "detections", "summary"}
	between := func(from, to time.Time) time.Time {
		return from.Add(time.Duration(rng.Int64N(int64(to.Sub(from))))).UTC()
	}
	reportPath := func(asOf bool) string {
		report := reports[rng.IntN(len(reports))]
		v := url.Values{}
		from := between(span[0].AddDate(-1, 0, 0), span[1])
		to := between(from, span[1].AddDate(1, 0, 0))
		long := true // the period is longer than a year
		switch rng.IntN(4) {
		case 0: // everything
		case 1: // whole months
			v.Set("from", from.Format("2006-01")+"-01")
			v.Set("to", to.AddDate(0, 1, 0).Format("2006-01")+"-01")
			long = to.Sub(from) > 365*24*time.Hour
		default:
			v.Set("from", from.Format(time.RFC3339Nano))
			v.Set("to", to.Format(time.RFC3339Nano))
			long = to.Sub(from) > 365*24*time.Hour
		}
		if keys := projections.GroupByKeys[report]; len(keys) > 0 && rng.IntN(4) > 0 {
			// Day by day over more than a year is an answer of thousands
			// of groups (measured apart: largest_answer); over such a
			// period the mix groups by anything else.
			if long {
				keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "day" })
			}
			v.Set("group_by", keys[rng.IntN(len(keys))])
		}
		if rng.IntN(8) == 0 {
			v.Set("explain", "true")
		}
		if asOf {
			v.Set("as_of", between(span[0], span[1]).Format(time.RFC3339Nano))
		}
		return "/v1/reports/" + report + "?" + v.Encode()
	}
	kinds := []struct {
		name  string
		path  func() string
		token string
	}{
		{"healthz", func() string { return "/healthz" }, ""},
		{"report", func() string { return reportPath(false) }, *analyst},
		{"report_as_of", func() string { return reportPath(true) }, *analyst},
		{"case", func() string { return "/v1/cases/" + cases[rng.IntN(len(cases))].id }, *auditor},
		{"history_page", func() string {
			c := cases[rng.IntN(len(cases))]
			return fmt.Sprintf("/v1/cases/%s/events?from_version=%d&limit=100", c.id, rng.Int64N(c.last+1))
		}, *auditor},
	}
	// Warm the connection, the read pool and the page cache first (with
	// other queries: the measured ones stay unseen, uncached), then
	// measure the kinds interleaved, so that the machine's swings hit them
	// alike.
	for range *warm {
		for _, k := range kinds {
			if _, err := get(k.path(), k.token); err != nil {
				return err
			}
		}
	}
	type timed struct {
		path string
		d    time.Duration
	}
	lat := make([][]time.Duration, len(kinds))
	all := make([][]timed, len(kinds))
	for range *n {
		for i, k := range kinds {
			path := k.path()
			d, err := get(path, k.token)
			if err != nil {
				return err
			}
			lat[i] = append(lat[i], d)
			all[i] = append(all[i], timed{path, d})
		}
	}
	for i := range all {
		slices.SortFunc(all[i], func(a, b timed) int { return int(b.d - a.d) })
		for _, t := range all[i][:min(*slow, len(all[i]))] {
			fmt.Fprintf(os.Stderr, "slow %s %.1f ms %s\n", kinds[i].name, float64(t.d.Microseconds())/1000, t.path)
		}
	}
	// The largest answer of the mix's kind, apart: seizures (per
	// commodity) day by day over the whole log.
	big := "/v1/reports/seizures?group_by=day"
	var bigBytes int64
	bigTime, err := func() (time.Duration, error) {
		req, err := http.NewRequest("GET", "http://"+*addr+big, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+*analyst)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		bigBytes, _ = io.Copy(io.Discard, resp.Body)
		return time.Since(start), nil
	}()
	if err != nil {
		return err
	}
	emit(map[string]any{"figure": "largest_answer", "path": big, "ms": ms(bigTime), "bytes": bigBytes})
	floor := percentile(lat[0], 99)
	for i, k := range kinds {
		p50, p99 := percentile(lat[i], 50), percentile(lat[i], 99)
		emit(map[string]any{"figure": k.name, "requests": len(lat[i]), "p50_ms": ms(p50), "p99_ms": ms(p99),
			"max_ms": ms(slices.Max(lat[i])), "p99_vs_healthz_p99": float64(p99) / float64(floor)})
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

// recordedSpan is the recorded_at of the log's first and last events.
func recordedSpan(db *sql.DB) ([2]time.Time, error) {
	var span [2]time.Time
	for i, q := range []string{
		`SELECT json_extract(metadata, '$.recorded_at') FROM events WHERE stream LIKE 'case-%' ORDER BY position LIMIT 1`,
		`SELECT json_extract(metadata, '$.recorded_at') FROM events WHERE stream LIKE 'case-%' ORDER BY position DESC LIMIT 1`,
	} {
		var s string
		if err := db.QueryRow(q).Scan(&s); err != nil {
			return span, fmt.Errorf("recorded span: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return span, err
		}
		span[i] = t
	}
	if !span[0].Before(span[1]) {
		span[1] = span[0].Add(time.Hour)
	}
	return span, nil
}

type caseRef struct {
	id   string
	last int64
}

// someCases picks up to n cases at random positions of the log, with their
// last version.
func someCases(db *sql.DB, rng *rand.Rand, n int) ([]caseRef, error) {
	var head int64
	if err := db.QueryRow(`SELECT coalesce(max(position), 0) FROM events`).Scan(&head); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []caseRef
	for try := 0; len(out) < n && try < 20*n && head > 0; try++ {
		var stream string
		err := db.QueryRow(`SELECT stream FROM events WHERE position >= ? AND stream LIKE 'case-%' ORDER BY position LIMIT 1`, 1+rng.Int64N(head)).Scan(&stream)
		if err != nil || seen[stream] {
			continue
		}
		seen[stream] = true
		var last int64
		if err := db.QueryRow(`SELECT max(revision) FROM events WHERE stream = ?`, stream).Scan(&last); err != nil {
			return nil, err
		}
		out = append(out, caseRef{id: stream[len("case-"):], last: last})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no case in the log")
	}
	return out, nil
}

// waitFor polls GET path until it answers 200 (or timeout passes).
func waitFor(client *http.Client, addr, path, token string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequest("GET", "http://"+addr+path, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s did not answer 200 within %s", path, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitCmd(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	addr := fs.String("addr", "", "casebookd's address")
	path := fs.String("path", "/healthz", "the path to wait for")
	token := fs.String("token", "", "a bearer token")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	_ = fs.Parse(args)
	return waitFor(&http.Client{Timeout: 10 * time.Second}, *addr, *path, *token, *timeout)
}

// restart starts casebookd (the command after --) runs times on a data
// directory whose read models are built, and measures how long until the
// process listens (/healthz: the baseline), is ready (/readyz) and answers
// the summary at the log's head (min_position=head); each run ends with
// SIGTERM.
func restart(args []string) error {
	fs := flag.NewFlagSet("restart", flag.ExitOnError)
	addr := fs.String("addr", "", "the address casebookd listens on")
	token := fs.String("token", "", "an analyst's token")
	head := fs.Uint64("head", 0, "the log's head position")
	runs := fs.Int("runs", 3, "restarts")
	_ = fs.Parse(args)
	cmdline := fs.Args()
	if len(cmdline) == 0 {
		return fmt.Errorf("restart: no casebookd command after --")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var live, ready, summary []time.Duration
	for range *runs {
		cmd := exec.Command(cmdline[0], cmdline[1:]...)
		cmd.Stderr = os.Stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		err := func() error {
			if err := waitFor(client, *addr, "/healthz", "", time.Minute); err != nil {
				return err
			}
			live = append(live, time.Since(start))
			if err := waitFor(client, *addr, "/readyz", "", time.Minute); err != nil {
				return err
			}
			ready = append(ready, time.Since(start))
			if err := waitFor(client, *addr, fmt.Sprintf("/v1/reports/summary?min_position=%d", *head), *token, 10*time.Minute); err != nil {
				return err
			}
			summary = append(summary, time.Since(start))
			return nil
		}()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if err != nil {
			return err
		}
	}
	median := func(ds []time.Duration) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2].Seconds()
	}
	emit(map[string]any{"figure": "restart", "runs": *runs, "healthz_seconds": median(live),
		"ready_seconds": median(ready), "summary_at_head_seconds": median(summary)})
	return nil
}
