package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// TestReadYourWrites appends events one by one and reads each back with
// WaitFor(its position): the answer always includes the write.
func TestReadYourWrites(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	w := newLogWriter(t, store)
	e := openTestEngine(t, dir, store, Options{})
	caseID := id("ryw-case")
	w.one(caseID, domain.CaseOpened{Reference: "R", Title: "T", LeadAgency: ukba, CrimeTypes: []string{domain.CrimeCash}, Location: "Dover"},
		at("2011-01-01T00:00:00Z"), ukba)
	ctx := context.Background()
	for i := 1; i <= 60; i++ {
		wr := w.one(caseID, domain.ArrestMade{PersonID: uuid.New(), Location: "Dover", Offence: "facilitation"},
			at("2011-01-02T00:00:00Z").Add(time.Duration(i)*time.Minute), ukba)
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := e.WaitFor(wctx, wr.Position, Arrests, CaseList)
		cancel()
		if err != nil {
			t.Fatalf("write %d at %d: wait: %v", i, wr.Position, err)
		}
		r, err := e.Arrests(ctx, ReportQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Total != int64(i) || r.Position < uint64(wr.Position) {
			t.Fatalf("after write %d at position %d: total %d at position %d", i, wr.Position, r.Total, r.Position)
		}
		page, err := e.ListCases(ctx, CaseQuery{AllAgencies: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Cases) != 1 || page.Cases[0].Version != uint64(i) || page.Position < uint64(wr.Position) {
			t.Fatalf("after write %d: case list %+v", i, page)
		}
	}

	// A position of another stream (an access log, which no projection
	// reads) is reached as soon as the case events before it are applied.
	res, err := store.Append(ctx, "access-"+caseID.String(), eventstore.Any,
		eventstore.EventData{ID: uuid.New(), Type: "CaseRead", Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := e.WaitFor(wctx, res.Position); err != nil {
		t.Fatalf("wait for an access-log position: %v", err)
	}
	if r, _ := e.Arrests(ctx, ReportQuery{}); r.Position < uint64(res.Position) {
		t.Errorf("position %d after waiting for %d", r.Position, res.Position)
	}

	// A position beyond the head is not reached: the wait ends with its
	// context.
	wctx2, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if err := e.WaitFor(wctx2, res.Position+10); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait beyond the head: %v, want deadline exceeded", err)
	}
	st, err := e.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != StateLive || s.Position != uint64(res.Position) || s.LagEvents != 0 || s.LagSeconds != 0 {
			t.Errorf("status %+v, want live at %d", s, res.Position)
		}
	}
}

// TestPoisonedEventStopsOneProjection: a seizure whose data cannot be read
// stops the seizures projection at that event (keeping what came before
// it); every other projection goes on, and later writes still reach them.
func TestPoisonedEventStopsOneProjection(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	w := newLogWriter(t, store)
	caseID := id("poison-case")
	w.write(caseID,
		pending{ev: domain.CaseOpened{Reference: "P", Title: "T", LeadAgency: ukba, CrimeTypes: []string{domain.CrimeCash}, Location: "Dover"}, occurred: at("2011-01-01T00:00:00Z"), agency: ukba},
		pending{ev: domain.SeizureRecorded{Commodity: domain.CommodityCash, Unit: domain.UnitGBP, Quantity: domain.QuantityFromMicros(5_000_000), Location: "Dover"}, occurred: at("2011-01-02T00:00:00Z"), agency: ukba},
	)
	poison := w.write(caseID, pending{rawType: domain.TypeSeizureRecorded, rawData: []byte(`{"commodity":"cash","quantity":"lots","unit":"gbp","location":"Dover"}`),
		occurred: at("2011-01-03T00:00:00Z"), agency: ukba})[0]
	w.one(caseID, domain.SeizureRecorded{Commodity: domain.CommodityCash, Unit: domain.UnitGBP, Quantity: domain.QuantityFromMicros(7_000_000), Location: "Dover"},
		at("2011-01-04T00:00:00Z"), ukba)
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store, Arrests, GangsDismantled, Detections, CaseList)
	after := w.one(caseID, domain.ArrestMade{PersonID: uuid.New(), Location: "Dover", Offence: "x"}, at("2011-01-05T00:00:00Z"), ukba)
	syncTo(t, e, store, Arrests, GangsDismantled, Detections, CaseList)

	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := e.WaitFor(wctx, after.Position, Seizures); !errors.Is(err, ErrProjectionFailed) {
		t.Fatalf("waiting for the failed projection: %v, want ErrProjectionFailed", err)
	}
	st, err := e.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Name == Seizures {
			if s.State != StateFailed || s.Position != uint64(poison.Position-1) ||
				!strings.Contains(s.Error, poison.ID.String()) || !strings.Contains(s.Error, fmt.Sprintf("position %d", poison.Position)) ||
				!strings.Contains(s.Error, "quantity") {
				t.Errorf("seizures status %+v: want failed at position %d (event %s), keeping the event before", s, poison.Position, poison.ID)
			}
			continue
		}
		if s.State != StateLive || s.Position != uint64(after.Position) {
			t.Errorf("%s status %+v: want live at %d", s.Name, s, after.Position)
		}
	}
	// The seizure before the poisoned one counts; the failed model still
	// answers (from where it stopped).
	sr, err := e.Seizures(ctx, ReportQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Totals) != 1 || sr.Totals[0].Quantity.String() != "5" || sr.Position != uint64(poison.Position-1) {
		t.Errorf("seizures %+v, want the 5 GBP before the poisoned event", sr)
	}
	if ar, _ := e.Arrests(ctx, ReportQuery{}); ar.Total != 1 {
		t.Errorf("arrests %d, want 1: the others go on", ar.Total)
	}
}

// droppingStore is a test double around a real store whose subscriptions
// are dropped (SubscriptionDroppedError) or fail (ErrUnavailable) after a
// few events, the first times they are opened.
type droppingStore struct {
	eventstore.Store
	after         int   // events delivered before the subscription ends
	drops, errors int32 // how many subscriptions to drop, then to fail
	subscriptions atomic.Int32
}

func (s *droppingStore) Subscribe(ctx context.Context, opts eventstore.SubscribeOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	n := s.subscriptions.Add(1)
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		delivered := 0
		last := opts.After
		for ev, err := range s.Store.Subscribe(ctx, opts) {
			if err != nil {
				yield(ev, err)
				return
			}
			if delivered == s.after {
				switch {
				case n <= s.drops:
					yield(eventstore.RecordedEvent{}, &eventstore.SubscriptionDroppedError{ResumeAfter: last, Reason: "test double"})
					return
				case n <= s.drops+s.errors:
					yield(eventstore.RecordedEvent{}, fmt.Errorf("test double: %w", eventstore.ErrUnavailable))
					return
				}
			}
			if !yield(ev, nil) {
				return
			}
			delivered++
			last = ev.Position
		}
	}
}

// TestResubscribesAfterDropsAndErrors: dropped and failing subscriptions
// are resumed (from ResumeAfter, or after a backoff from the checkpoints)
// and the read models end up exactly as a rebuild from scratch.
func TestResubscribesAfterDropsAndErrors(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	writeFixture(newLogWriter(t, store))
	ds := &droppingStore{Store: store, after: 7, drops: 3, errors: 2}
	e := openTestEngine(t, dir, ds, Options{BatchSize: 4})
	syncTo(t, e, store)
	if n := ds.subscriptions.Load(); n < 6 {
		t.Errorf("%d subscriptions, want at least 6 (3 drops, 2 failures, then one that lasts)", n)
	}
	ref := openTestEngine(t, t.TempDir(), store, Options{})
	syncTo(t, ref, store)
	if d := diffDumps(dumpTables(t, e), dumpTables(t, ref)); d != "" {
		t.Errorf("read models after drops differ from a clean build:\n%s", d)
	}
}

// TestRebuildWhileServing rebuilds every projection while readers keep
// asking: every answer succeeds, is the same as before the rebuild (the
// log does not change meanwhile) and positions never go back; afterwards
// new generations answer the same.
func TestRebuildWhileServing(t *testing.T) {
	dir := t.TempDir()
	store := openGeneratedStore(t, dir, 1000, 7)
	e := openTestEngine(t, dir, store, Options{BatchSize: 24})
	syncTo(t, e, store)
	ctx := context.Background()
	q := ReportQuery{From: ptr(at("2010-06-06")), To: ptr(at("2011-06-06")), GroupBy: "month"}
	want, err := e.Summary(ctx, ReportQuery{From: q.From, To: q.To})
	if err != nil {
		t.Fatal(err)
	}
	wantArrests, _ := e.Arrests(ctx, q)
	wantCases, _ := e.ListCases(ctx, CaseQuery{AllAgencies: true})
	before := dumpTables(t, e)
	gens := map[string]int64{}
	for _, p := range e.projections {
		gens[p.model.name()] = p.current().gen
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var answers atomic.Int64
	errs := make(chan error, 100)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := e.Summary(ctx, ReportQuery{From: q.From, To: q.To})
				if err != nil {
					errs <- err
					return
				}
				a, err := e.Arrests(ctx, q)
				if err != nil {
					errs <- err
					return
				}
				c, err := e.ListCases(ctx, CaseQuery{AllAgencies: true})
				if err != nil {
					errs <- err
					return
				}
				// (As JSON: the summary's gangs figure is a pointer.)
				if asJSON(s) != asJSON(want) || fmt.Sprint(a) != fmt.Sprint(wantArrests) || fmt.Sprint(c) != fmt.Sprint(wantCases) {
					errs <- fmt.Errorf("answer changed during the rebuild:\n%s\n%s", asJSON(s), asJSON(want))
					return
				}
				if s.Position < last {
					errs <- fmt.Errorf("position went back from %d to %d", last, s.Position)
					return
				}
				last = s.Position
				answers.Add(1)
			}
		}()
	}
	for _, name := range Names() {
		if err := e.Rebuild(ctx, name); err != nil {
			t.Fatalf("rebuild %s: %v", name, err)
		}
	}
	if err := e.Rebuild(ctx, Arrests); err != nil { // already under way: fine
		t.Fatalf("second rebuild: %v", err)
	}
	if err := e.Rebuild(ctx, "nonsense"); !errors.Is(err, ErrUnknownProjection) {
		t.Errorf("rebuild of an unknown projection: %v", err)
	}
	sawRebuilding := false
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := e.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, s := range st {
			if s.State == StateRebuilding {
				sawRebuilding = true
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rebuild did not finish: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !sawRebuilding {
		t.Error("status never showed a rebuild")
	}
	if answers.Load() == 0 {
		t.Error("no answer during the rebuild")
	}
	for _, p := range e.projections {
		if g := p.current().gen; g == gens[p.model.name()] {
			t.Errorf("%s still answers from generation %d", p.model.name(), g)
		}
	}
	if d := diffDumps(dumpTables(t, e), before); d != "" {
		t.Errorf("rebuilt read models differ:\n%s", d)
	}
	// The old generations' tables are gone.
	var n int
	if err := e.rdb.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE '%\_g1' ESCAPE '\'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d tables of generation 1 left (%v)", n, err)
	}
}

// TestNewVersionRebuildsInBackground: opening with a new code version of a
// projection keeps answering from the old read model while the new one is
// built, then swaps; a restart in the middle resumes the build.
func TestNewVersionRebuildsInBackground(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	writeFixture(newLogWriter(t, store))
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store)
	ctx := context.Background()
	want, _ := e.Arrests(ctx, ReportQuery{GroupBy: "month"})
	before := dumpTables(t, e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	v1 := newArrestsModel().version()
	v2 := v1 + 1
	e2 := openTestEngine(t, dir, store, Options{Versions: map[string]int{Arrests: v2}, NoStart: true})
	st, _ := e2.Status(ctx)
	for _, s := range st {
		if s.Name == Arrests && (s.State != StateRebuilding || s.Version != v1) {
			t.Errorf("arrests before start: %+v, want version %d answering while version %d is built", s, v1, v2)
		}
	}
	if got, _ := e2.Arrests(ctx, ReportQuery{GroupBy: "month"}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("during the build: %+v, want %+v", got, want)
	}
	e2.Start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := e2.Status(ctx)
		if st[0].Name == Arrests && st[0].Version == v2 && st[0].State == StateLive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version 2 never took over: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, _ := e2.Arrests(ctx, ReportQuery{GroupBy: "month"}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the swap: %+v, want %+v", got, want)
	}
	if d := diffDumps(dumpTables(t, e2), before); d != "" {
		t.Errorf("version 2 differs:\n%s", d)
	}
	_ = e2.Close()
	// Reopened with the new version, nothing is rebuilt.
	e3 := openTestEngine(t, dir, store, Options{Versions: map[string]int{Arrests: v2}})
	if p := e3.byName[Arrests]; p.building != nil || p.active.version != v2 {
		t.Errorf("reopened: building %v, active version %d", p.building, p.active.version)
	}
}

// asJSON is v as JSON, to compare answers holding pointers.
func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
