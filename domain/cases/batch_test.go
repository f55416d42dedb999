package cases_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/domain/cases"
	"github.com/casebook/casebook/eventstore"
)

// hookStore is a test double around the real store: it records how many
// events every append carries, can hold an append back (gate) or run
// something before it (before), and, with sparse set, reports global
// positions ten times the real ones — positions that are not dense, as
// KurrentDB's are not.
type hookStore struct {
	eventstore.Store
	sparse bool
	// commitAnyway makes appends ignore cancellation, as a store does once
	// it has taken an append into a commit.
	commitAnyway bool

	mu     sync.Mutex
	sizes  []int
	ctxs   []context.Context
	before func(n int) // called before the n-th append (1-based)
}

func (h *hookStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	h.mu.Lock()
	h.sizes = append(h.sizes, len(events))
	h.ctxs = append(h.ctxs, ctx)
	n, before := len(h.sizes), h.before
	h.mu.Unlock()
	if before != nil {
		before(n)
	}
	if h.commitAnyway {
		ctx = context.WithoutCancel(ctx)
	}
	res, err := h.Store.Append(ctx, stream, expected, events...)
	if h.sparse {
		res.Position *= 10
	}
	return res, err
}

func (h *hookStore) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		for rec, err := range h.Store.ReadStream(ctx, stream, opts) {
			if h.sparse {
				rec.Position *= 10
			}
			if !yield(rec, err) {
				return
			}
		}
	}
}

// appendsSince returns the sizes of the appends after the first n.
func (h *hookStore) appendsSince(n int) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sizes[n:])
}

// appendContext returns the context the n-th append was called with.
func (h *hookStore) appendContext(n int) context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ctxs[n-1]
}

func (h *hookStore) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sizes)
}

// gate holds the next append back: it returns a channel closed once that
// append has been reached, and a function letting it go on.
func (h *hookStore) gate() (entered <-chan struct{}, release func()) {
	in, out := make(chan struct{}), make(chan struct{})
	h.mu.Lock()
	target := len(h.sizes) + 1
	prev := h.before
	h.before = func(n int) {
		if prev != nil {
			prev(n)
		}
		if n == target {
			close(in)
			<-out
		}
	}
	h.mu.Unlock()
	return in, sync.OnceFunc(func() { close(out) })
}

// pendingCall is a Record running in its own goroutine.
type pendingCall struct {
	res  cases.Result
	err  error
	done chan struct{}
}

func (p *pendingCall) wait(t *testing.T) (cases.Result, error) {
	t.Helper()
	select {
	case <-p.done:
		return p.res, p.err
	case <-time.After(10 * time.Second):
		t.Fatal("a Record call never returned")
		return cases.Result{}, nil
	}
}

// wantVersion waits for the call and fails the test unless it recorded
// version v; name says which call in the message.
func (p *pendingCall) wantVersion(t *testing.T, name string, v uint64) cases.Result {
	t.Helper()
	r, err := p.wait(t)
	if err != nil || r.Version != v {
		t.Fatalf("%s: %+v %v", name, r, err)
	}
	return r
}

func startRecord(ctx context.Context, svc *cases.Service, id uuid.UUID, cmd cases.Command) *pendingCall {
	p := &pendingCall{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.res, p.err = svc.Record(ctx, ukba, id, cmd)
	}()
	return p
}

// enqueue starts a Record and returns once it waits in the case's queue,
// so that commands line up in a known order behind a held leader.
func enqueue(t *testing.T, ctx context.Context, svc *cases.Service, id uuid.UUID, cmd cases.Command) *pendingCall {
	t.Helper()
	before := cases.QueuedForTest(svc, id)
	p := startRecord(ctx, svc, id, cmd)
	deadline := time.Now().Add(10 * time.Second)
	for cases.QueuedForTest(svc, id) != before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("the command never queued (%d queued)", cases.QueuedForTest(svc, id))
		}
		time.Sleep(100 * time.Microsecond)
	}
	return p
}

// batchFixture: a case with suspect A identified (version 1), served by a
// service over a hookStore.
func batchFixture(t *testing.T, sparse bool, opts cases.Options) (*fixture, *hookStore, *cases.Service, uuid.UUID) {
	f := newFixture(t, cases.Options{})
	hs := &hookStore{Store: f.store, sparse: sparse}
	opts.Now = f.clock.Now
	svc := cases.NewService(hs, opts)
	res, err := svc.Open(f.ctx, ukba, cases.OpenCase{Data: json.RawMessage(openData)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Record(f.ctx, ukba, res.CaseID, cases.Command{Type: domain.TypeSuspectIdentified, Data: json.RawMessage(identify(personA))}); err != nil {
		t.Fatal(err)
	}
	return f, hs, svc, res.CaseID
}

// checkStored asserts that each result names the event the store holds at
// its version, at its position.
func checkStored(t *testing.T, hs *hookStore, id uuid.UUID, results ...cases.Result) {
	t.Helper()
	stored := map[uint64]eventstore.RecordedEvent{}
	for rec, err := range hs.ReadStream(context.Background(), domain.StreamName(id), eventstore.ReadStreamOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		stored[rec.Revision] = rec
	}
	for _, r := range results {
		rec, ok := stored[r.Version]
		if !ok || rec.ID != r.EventID || rec.Position != r.Position || r.CaseID != id {
			t.Errorf("result %+v; the store holds %s at position %d", r, rec.ID, rec.Position)
		}
	}
}

// Commands that queue up behind a busy case are decided one after another
// on the state each leaves, and the accepted ones are appended together;
// every caller gets its own answer.
func TestQueuedCommandsAreDecidedInOrderAndAppendedTogether(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sparse      bool
		consecutive bool
	}{
		{"positions read back", false, false},
		{"consecutive positions declared", false, true},
		{"sparse positions", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, hs, svc, id := batchFixture(t, tc.sparse, cases.Options{ConsecutivePositions: tc.consecutive})
			ctx := f.ctx
			entered, release := hs.gate()
			defer release()
			leader := startRecord(ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
			<-entered
			setup := hs.count()

			eA := uuid.New()
			arrestA := cases.Command{EventID: eA, Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))}
			stale, three := uint64(1), uint64(3)
			retryA := arrestA
			retryA.Data = json.RawMessage(`{"offence":"facilitation","location":"Dover","person_id":"` + personA.String() + `"}`)
			otherA := arrestA
			otherA.Data = json.RawMessage(`{"person_id":"` + personA.String() + `","location":"Calais","offence":"facilitation"}`)
			intel := json.RawMessage(`{"summary":"s","grading":"1A1"}`)

			a := enqueue(t, ctx, svc, id, arrestA)                                                                                      // v3
			b := enqueue(t, ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(uuid.New()))})        // not a suspect
			c := enqueue(t, ctx, svc, id, cases.Command{Type: domain.TypeIntelligenceLogged, Data: intel, ExpectedVersion: &stale})     // stale If-Match
			d := enqueue(t, ctx, svc, id, cases.Command{Type: domain.TypeIntelligenceLogged, Data: intel, ExpectedVersion: &three})     // v4: If-Match on a's version
			e := enqueue(t, ctx, svc, id, retryA)                                                                                       // a's retry: a's answer
			g := enqueue(t, ctx, svc, id, otherA)                                                                                       // a's id, other content
			h := enqueue(t, ctx, svc, id, cases.Command{Type: domain.TypeCaseClosed, Data: json.RawMessage(`{"outcome":"convicted"}`)}) // v5
			k := enqueue(t, ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})           // closed
			release()

			rl := leader.wantVersion(t, "leader", 2)
			ra, err := a.wait(t)
			if err != nil || ra.Version != 3 || ra.EventID != eA || ra.Duplicate {
				t.Fatalf("a: %+v %v", ra, err)
			}
			_, err = b.wait(t)
			wantCode(t, err, domain.CodeSuspectNotIdentified)
			_, err = c.wait(t)
			if de := wantCode(t, err, domain.CodeVersionConflict); *de.CurrentVersion != 3 {
				t.Fatalf("c: %+v", de)
			}
			rd := d.wantVersion(t, "d", 4)
			re, err := e.wait(t)
			if err != nil || !re.Duplicate || re.Version != 3 || re.Position != ra.Position || re.EventID != eA {
				t.Fatalf("e: %+v %v (a: %+v)", re, err, ra)
			}
			_, err = g.wait(t)
			wantCode(t, err, domain.CodeDuplicateEventID)
			rh := h.wantVersion(t, "h", 5)
			_, err = k.wait(t)
			wantCode(t, err, domain.CodeCaseClosed)

			if got := hs.appendsSince(setup); !reflect.DeepEqual(got, []int{3}) {
				t.Fatalf("appends after the leader's: %v, want one of 3 events", got)
			}
			checkStored(t, hs, id, rl, ra, rd, rh)
			if ra.Position >= rd.Position || rd.Position >= rh.Position {
				t.Fatalf("positions out of order: %d %d %d", ra.Position, rd.Position, rh.Position)
			}
			// The state the service kept while deciding is the state a
			// fresh service replays, and the chain holds.
			live, err := svc.Load(ctx, id, cases.At{})
			if err != nil {
				t.Fatal(err)
			}
			replayed, err := cases.NewService(hs, cases.Options{CacheSize: -1}).Load(ctx, id, cases.At{})
			if err != nil || !reflect.DeepEqual(live, replayed) {
				t.Fatalf("live and replayed states differ: %v\n%+v\n%+v", err, live, replayed)
			}
			if live.Version != 5 || live.Counts.Arrests != 2 || live.Position != uint64(rh.Position) {
				t.Fatalf("state %+v", live)
			}
			if v, err := svc.Verify(ctx, id); err != nil || !v.Valid || v.Checked != 6 {
				t.Fatalf("verify %+v %v", v, err)
			}
		})
	}
}

// A caller that gives up while its command waits in the queue is told so,
// and its command is never appended. One whose command a leader has taken
// gets the command's true outcome, even if it gave up meanwhile; the batch's
// append is cancelled only when all its callers have given up.
func TestCancellationOfQueuedAndTakenCommands(t *testing.T) {
	f, hs, svc, id := batchFixture(t, false, cases.Options{})
	entered, release := hs.gate()
	defer release()
	leader := startRecord(f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	<-entered

	// Queued, then given up: never appended.
	ctxX, cancelX := context.WithCancel(f.ctx)
	eX := uuid.New()
	x := enqueue(t, ctxX, svc, id, cases.Command{EventID: eX, Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	// Taken into the next batch, then given up: gets its result.
	ctxY, cancelY := context.WithCancel(f.ctx)
	defer cancelY()
	y := enqueue(t, ctxY, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	z := enqueue(t, f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	cancelX()
	if _, err := x.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("x: %v", err)
	}
	if n := cases.QueuedForTest(svc, id); n != 2 {
		t.Fatalf("%d queued after x gave up", n)
	}
	entered2, release2 := hs.gate()
	defer release2()
	release()
	<-entered2 // y leads the batch {y, z}
	cancelY()
	release2()
	if _, err := leader.wait(t); err != nil {
		t.Fatal(err)
	}
	ry := y.wantVersion(t, "y (gave up once taken)", 3)
	rz := z.wantVersion(t, "z", 4)
	checkStored(t, hs, id, ry, rz)
	for rec, err := range f.store.ReadAll(f.ctx, eventstore.ReadAllOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID == eX {
			t.Fatal("the command of a caller told it failed was appended")
		}
	}

	// Every caller of a batch gives up while its append is held: the
	// append is cancelled and each gets its own context's error.
	entered3, release3 := hs.gate()
	defer release3()
	leader3 := startRecord(f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	<-entered3
	ctxP, cancelP := context.WithCancel(f.ctx)
	ctxQ, cancelQ := context.WithTimeout(f.ctx, time.Hour)
	p := enqueue(t, ctxP, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	q := enqueue(t, ctxQ, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	entered4, release4 := hs.gate()
	defer release4()
	release3()
	<-entered4
	cancelP()
	cancelQ()
	select { // the append's context ends once both have given up
	case <-hs.appendContext(hs.count()).Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the batch's append was not cancelled")
	}
	release4()
	if _, err := leader3.wait(t); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]*pendingCall{"p": p, "q": q} {
		if _, err := call.wait(t); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Whatever the store made of the cancelled append, the service's state
	// is the store's.
	r, err := svc.Record(f.ctx, ukba, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, hs, id, r)
	live, _ := svc.Load(f.ctx, id, cases.At{})
	replayed, err := cases.NewService(hs, cases.Options{CacheSize: -1}).Load(f.ctx, id, cases.At{})
	if err != nil || !reflect.DeepEqual(live, replayed) {
		t.Fatalf("live and replayed states differ: %v", err)
	}
}

// Callers that all gave up while their batch's append was already being
// committed get its true outcome, positions included.
func TestGivingUpDuringACommitGetsTheOutcome(t *testing.T) {
	f, hs, svc, id := batchFixture(t, false, cases.Options{})
	hs.commitAnyway = true
	entered, release := hs.gate()
	defer release()
	leader := startRecord(f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	<-entered
	ctxP, cancelP := context.WithCancel(f.ctx)
	ctxQ, cancelQ := context.WithCancel(f.ctx)
	p := enqueue(t, ctxP, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	q := enqueue(t, ctxQ, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	entered2, release2 := hs.gate()
	defer release2()
	release()
	<-entered2
	cancelP()
	cancelQ()
	<-hs.appendContext(hs.count()).Done()
	release2()
	if _, err := leader.wait(t); err != nil {
		t.Fatal(err)
	}
	rp := p.wantVersion(t, "p", 3)
	rq := q.wantVersion(t, "q", 4)
	checkStored(t, hs, id, rp, rq)
}

// A batch's append that loses a race to another node: on a state that was
// only cached, everything is judged again on the fresh one; on a fresh
// state (a true race), If-Match commands whose version is gone are refused
// and the others are decided again after a pause.
func TestBatchAppendRaceWithAnotherNode(t *testing.T) {
	var retries []int
	f, hs, svc, id := batchFixture(t, false, cases.Options{OnConflictRetry: func(_ uuid.UUID, attempt int) { retries = append(retries, attempt) }})
	competitor := cases.NewService(f.store, cases.Options{Now: f.clock.Now})
	entered, release := hs.gate()
	defer release()
	leader := startRecord(f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))}) // v2
	<-entered
	setup := hs.count()
	intel := json.RawMessage(`{"summary":"s","grading":"1A1"}`)
	four, two := uint64(4), uint64(2)
	a := enqueue(t, f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	b := enqueue(t, f.ctx, svc, id, cases.Command{Type: domain.TypeIntelligenceLogged, Data: intel, ExpectedVersion: &four})
	c := enqueue(t, f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	d := enqueue(t, f.ctx, svc, id, cases.Command{Type: domain.TypeIntelligenceLogged, Data: intel, ExpectedVersion: &two})
	// The other node writes the case just before the batch's first two
	// appends.
	hs.mu.Lock()
	prev := hs.before
	hs.before = func(n int) {
		prev(n)
		if n == setup+1 || n == setup+2 {
			if _, err := competitor.Record(f.ctx, french, id, cases.Command{Type: domain.TypeIntelligenceLogged, Data: intel}); err != nil {
				t.Error(err)
			}
		}
	}
	hs.mu.Unlock()
	release()

	leader.wantVersion(t, "leader", 2)
	// 1st batch append, on the cached v2: a v3, c v4 (b, d refused on an
	// unverified state) — the other node wrote v3 first.
	// 2nd, on the fresh v3: a v4, b v5 (its If-Match 4 holds now), c v6
	// — the other node wrote v4 first: a true race. d (If-Match 2 < 4)
	// is refused at once; b (4, not passed) is judged again.
	// 3rd, on the fresh v4 after a pause: a v5, b refused (case at v5),
	// c v6.
	ra := a.wantVersion(t, "a", 5)
	_, err := b.wait(t)
	if de := wantCode(t, err, domain.CodeVersionConflict); *de.CurrentVersion != 5 {
		t.Fatalf("b: %+v", de)
	}
	rc := c.wantVersion(t, "c", 6)
	_, err = d.wait(t)
	if de := wantCode(t, err, domain.CodeVersionConflict); *de.CurrentVersion != 4 {
		t.Fatalf("d: %+v", de)
	}
	if got := hs.appendsSince(setup); !reflect.DeepEqual(got, []int{2, 3, 2}) {
		t.Fatalf("appends %v", got)
	}
	if !reflect.DeepEqual(retries, []int{1}) {
		t.Fatalf("retries %v", retries)
	}
	checkStored(t, hs, id, ra, rc)
	live, _ := svc.Load(f.ctx, id, cases.At{})
	replayed, err := cases.NewService(hs, cases.Options{CacheSize: -1}).Load(f.ctx, id, cases.At{})
	if err != nil || !reflect.DeepEqual(live, replayed) || live.Version != 6 {
		t.Fatalf("live and replayed states differ: %v\n%+v\n%+v", err, live, replayed)
	}
}

// MaxBatch caps the events of one append.
func TestMaxBatch(t *testing.T) {
	f, hs, svc, id := batchFixture(t, false, cases.Options{MaxBatch: 2})
	entered, release := hs.gate()
	defer release()
	leader := startRecord(f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	<-entered
	setup := hs.count()
	var calls []*pendingCall
	for range 5 {
		calls = append(calls, enqueue(t, f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))}))
	}
	release()
	if _, err := leader.wait(t); err != nil {
		t.Fatal(err)
	}
	for i, call := range calls {
		r, err := call.wait(t)
		if err != nil || r.Version != uint64(3+i) {
			t.Fatalf("call %d: %+v %v", i, r, err)
		}
		checkStored(t, hs, id, r)
	}
	if got := hs.appendsSince(setup); !reflect.DeepEqual(got, []int{2, 2, 1}) {
		t.Fatalf("appends %v", got)
	}
}

// Open and Load wait for a case's turn like commands do, and a load while
// commands queue sees a state the store holds.
func TestLoadWaitsForTheBatch(t *testing.T) {
	f, hs, svc, id := batchFixture(t, false, cases.Options{})
	entered, release := hs.gate()
	defer release()
	leader := startRecord(f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	<-entered
	a := enqueue(t, f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	loaded := make(chan domain.Case, 1)
	go func() {
		c, err := svc.Load(f.ctx, id, cases.At{})
		if err != nil {
			t.Error(err)
		}
		loaded <- c
	}()
	deadline := time.Now().Add(10 * time.Second)
	for cases.QueuedForTest(svc, id) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the load never queued")
		}
		time.Sleep(100 * time.Microsecond)
	}
	b := enqueue(t, f.ctx, svc, id, cases.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	release()
	for _, call := range []*pendingCall{leader, a, b} {
		if _, err := call.wait(t); err != nil {
			t.Fatal(err)
		}
	}
	// First come first served: the load ran after a's batch and before b.
	if c := <-loaded; c.Version != 3 || c.Counts.Arrests != 2 {
		t.Fatalf("loaded version %d, %d arrests", c.Version, c.Counts.Arrests)
	}
}
