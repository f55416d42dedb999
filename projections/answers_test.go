package projections

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// answersTest is an engine on a real store with one case, and a clock the
// test moves.
type answersTest struct {
	t      *testing.T
	store  eventstore.Store
	w      *logWriter
	e      *Engine
	now    atomic.Pointer[time.Time]
	caseID uuid.UUID
}

func newAnswersTest(t *testing.T) *answersTest {
	dir := t.TempDir()
	a := &answersTest{t: t, store: openTestStore(t, dir), caseID: id("answers-case")}
	a.setNow(fixedNow)
	a.w = newLogWriter(t, a.store)
	a.e = openTestEngine(t, dir, a.store, Options{Now: func() time.Time { return *a.now.Load() }})
	a.w.one(a.caseID, domain.CaseOpened{Reference: "A", Title: "T", LeadAgency: ukba, CrimeTypes: []string{domain.CrimeCash}, Location: "Dover"},
		at("2011-01-01T00:00:00Z"), ukba)
	return a
}

func (a *answersTest) setNow(t time.Time) { a.now.Store(&t) }

// arrest appends an arrest that occurred at occurred and waits until every
// read model reflects it.
func (a *answersTest) arrest(occurred time.Time) eventstore.Position {
	a.t.Helper()
	wr := a.w.one(a.caseID, domain.ArrestMade{PersonID: uuid.New(), Location: "Dover", Offence: "facilitation"}, occurred, ukba)
	a.waitFor(wr.Position)
	return wr.Position
}

func (a *answersTest) waitFor(pos eventstore.Position) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.e.WaitFor(ctx, pos); err != nil {
		a.t.Fatalf("wait for %d: %v", pos, err)
	}
}

// summary asks for the default summary and checks its position is at least
// minPos.
func (a *answersTest) summary(minPos eventstore.Position) SummaryReport {
	a.t.Helper()
	r, err := a.e.Summary(context.Background(), ReportQuery{})
	if err != nil {
		a.t.Fatal(err)
	}
	if r.Position < uint64(minPos) {
		a.t.Fatalf("summary at position %d, want ≥ %d", r.Position, minPos)
	}
	return r
}

func (a *answersTest) computed() int64 { return a.e.answers.computed.Load() }

// TestCachedAnswerFollowsTheReadModel: an answer is computed once while
// the read models stay where they are, and again as soon as one moves;
// the position it states is the one it reflects.
func TestCachedAnswerFollowsTheReadModel(t *testing.T) {
	a := newAnswersTest(t)
	ctx := context.Background()
	pos := a.arrest(at("2011-01-02T10:00:00Z"))

	r := a.summary(pos)
	n := a.computed()
	if r.Arrests != 1 {
		t.Fatalf("arrests %d, want 1", r.Arrests)
	}
	for range 5 {
		if r2 := a.summary(pos); r2.Arrests != 1 || r2.Position != r.Position {
			t.Fatalf("again: %+v, want %+v", r2, r)
		}
	}
	if got := a.computed(); got != n {
		t.Errorf("unchanged read models: computed %d more answers, want 0", got-n)
	}

	// The read model moves: the next answer reflects the new arrest.
	for i := 2; i <= 4; i++ {
		pos = a.arrest(at("2011-01-03T10:00:00Z").Add(time.Duration(i) * time.Hour))
		if r = a.summary(pos); r.Arrests != int64(i) {
			t.Fatalf("after arrest %d at %d: summary %d arrests at %d", i, pos, r.Arrests, r.Position)
		}
		ar, err := a.e.Arrests(ctx, ReportQuery{GroupBy: "day"})
		if err != nil {
			t.Fatal(err)
		}
		if ar.Total != int64(i) || ar.Position < uint64(pos) {
			t.Fatalf("after arrest %d at %d: arrests %d at %d", i, pos, ar.Total, ar.Position)
		}
	}

	// A retraction changes the figure without a new fact.
	wr := a.w.one(a.caseID, domain.EntryRetracted{EventID: id("event-2"), Reason: "wrong person"}, at("2011-01-05T00:00:00Z"), ukba)
	a.waitFor(wr.Position)
	if r = a.summary(wr.Position); r.Arrests != 3 {
		t.Fatalf("after a retraction: %d arrests, want 3", r.Arrests)
	}

	// An event of another stream moves the position the read models
	// reflect but not their tables: the cached answer serves, stating the
	// new position.
	res, err := a.store.Append(ctx, "access-"+a.caseID.String(), eventstore.Any,
		eventstore.EventData{ID: uuid.New(), Type: "CaseRead", Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	n = a.computed()
	a.waitFor(res.Position)
	if r = a.summary(res.Position); r.Arrests != 3 {
		t.Fatalf("after an access log event: %d arrests, want 3", r.Arrests)
	}
	if got := a.computed(); got != n {
		t.Errorf("an access log event recomputed %d answers, want 0", got-n)
	}

	// as_of answers are never cached.
	before := len(a.e.answers.entries)
	if _, err := a.e.Summary(ctx, ReportQuery{AsOf: ptr(at("2011-06-02T00:00:00Z"))}); err != nil {
		t.Fatal(err)
	}
	if got := len(a.e.answers.entries); got != before {
		t.Errorf("an as_of summary was cached (%d entries, were %d)", got, before)
	}
}

// TestCachedRollingPeriodFollowsTheClock: the default summary's period
// moves with the clock; its cached answer serves while no fact crosses an
// end of the period, and not once one does.
func TestCachedRollingPeriodFollowsTheClock(t *testing.T) {
	a := newAnswersTest(t)
	occurred := at("2011-01-02T10:00:00Z")
	pos := a.arrest(occurred)
	future := at("2011-06-10T00:00:00Z") // recorded before it occurs
	pos = max(pos, a.arrest(future))

	r := a.summary(pos)
	if r.Arrests != 1 {
		t.Fatalf("arrests %d, want 1", r.Arrests)
	}
	n := a.computed()
	// A day later nothing has crossed: served from the cache, with the new period.
	now := fixedNow.Add(24 * time.Hour)
	a.setNow(now)
	r = a.summary(pos)
	if r.Arrests != 1 || !r.To.Equal(now) || !r.From.Equal(now.AddDate(0, -12, 0)) {
		t.Fatalf("a day later: %d arrests over %v – %v", r.Arrests, r.From, r.To)
	}
	if got := a.computed(); got != n {
		t.Errorf("a day later: computed %d answers, want 0", got-n)
	}
	// The future arrest enters the period.
	a.setNow(future.Add(time.Nanosecond))
	if r = a.summary(pos); r.Arrests != 2 {
		t.Fatalf("once the second arrest occurred: %d arrests, want 2", r.Arrests)
	}
	// The first leaves it.
	a.setNow(occurred.AddDate(1, 0, 0).Add(time.Nanosecond))
	if r = a.summary(pos); r.Arrests != 1 {
		t.Fatalf("a year after the first arrest: %d arrests, want 1", r.Arrests)
	}
	// Back to exactly its edge: still out ([from, to) with from = occurred + 1ns).
	a.setNow(occurred.AddDate(1, 0, 0))
	if r = a.summary(pos); r.Arrests != 2 {
		t.Fatalf("exactly a year after the first arrest: %d arrests, want 2", r.Arrests)
	}
}

// TestCachedAnswerAcrossRebuild: a swapped-in generation never answers with
// the old one's cached answer, and the old one's answers and statements go.
func TestCachedAnswerAcrossRebuild(t *testing.T) {
	a := newAnswersTest(t)
	ctx := context.Background()
	pos := a.arrest(at("2011-01-02T10:00:00Z"))
	r := a.summary(pos)
	old := a.e.byName[Arrests].current()
	oldGen := old.gen
	if err := a.e.Rebuild(ctx, Arrests); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for a.e.byName[Arrests].current().gen == oldGen {
		if time.Now().After(deadline) {
			t.Fatal("the rebuild did not swap")
		}
		// Readers keep being answered meanwhile.
		if r2 := a.summary(pos); r2.Arrests != r.Arrests {
			t.Fatalf("during the rebuild: %d arrests, want %d", r2.Arrests, r.Arrests)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// The new generation answers as soon as it is active; the old one's
	// statements and answers are dropped a moment later, once the swap has
	// retired it. Give that moment, then nothing of it may stay.
	var stale []string
	for end := time.Now().Add(2 * time.Second); ; {
		stale = stale[:0]
		a.e.answers.mu.Lock()
		for _, ans := range a.e.answers.entries {
			if ans.state.uses(old) {
				stale = append(stale, fmt.Sprintf("an answer of the swapped-out generation stayed: %+v", ans.key))
			}
		}
		a.e.answers.mu.Unlock()
		a.e.rstmts.mu.Lock()
		for k := range a.e.rstmts.m {
			if k.ts == old.tables {
				stale = append(stale, "a statement of the swapped-out generation stayed: "+k.tmpl)
			}
		}
		a.e.rstmts.mu.Unlock()
		if len(stale) == 0 || time.Now().After(end) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, msg := range stale {
		t.Error(msg)
	}

	n := a.computed()
	if r2 := a.summary(pos); r2.Arrests != 1 {
		t.Fatalf("after the swap: %d arrests, want 1", r2.Arrests)
	}
	if a.computed() == n {
		t.Error("after the swap the answer was not computed on the new generation")
	}
	// And the new generation moves on as before.
	pos = a.arrest(at("2011-01-03T10:00:00Z"))
	if r2 := a.summary(pos); r2.Arrests != 2 {
		t.Fatalf("after the swap and a new arrest: %d arrests, want 2", r2.Arrests)
	}
}

// TestConcurrentIdenticalQueriesComputeOnce: callers asking the same
// question at once share one computation.
func TestConcurrentIdenticalQueriesComputeOnce(t *testing.T) {
	a := newAnswersTest(t)
	pos := a.arrest(at("2011-01-02T10:00:00Z"))
	n := a.computed()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := a.e.Summary(context.Background(), ReportQuery{})
			if err != nil || r.Arrests != 1 || r.Position < uint64(pos) {
				t.Errorf("summary: %+v, %v", r, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := a.computed() - n; got != 1 {
		t.Errorf("16 identical queries computed %d answers, want 1", got)
	}
}
