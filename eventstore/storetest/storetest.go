// Package storetest is the conformance suite every eventstore.Store backend
// must pass. A backend's test file is a few lines:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			Open: func(t *testing.T) eventstore.Store { ... },
//		})
//	}
//
// The suite never assumes it owns the store: every subtest uses stream
// names and event types unique to that subtest, and reads the global log
// from a position it took before writing, so a shared server (KurrentDB)
// works as well as a fresh file. It assumes nothing about positions beyond
// the contract: strictly increasing, not necessarily dense.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

// Harness tells the suite how to get stores of one backend.
type Harness struct {
	// Open returns an open store. It may be shared with other tests but
	// must not be written by anything else that could use the suite's
	// names. Open should arrange (t.Cleanup) for the store to be closed;
	// Close must tolerate being called twice, since some subtests close
	// the store themselves.
	Open func(t *testing.T) eventstore.Store

	// Reopen closes s and opens the same underlying store again, as a
	// restart would. Nil skips the subtests that need a restart.
	Reopen func(t *testing.T, s eventstore.Store) eventstore.Store

	// NoAppendBoundariesAfterReopen says the backend cannot tell, after a
	// restart, a retry of part of an earlier append (say its last two
	// events) from a retry of a whole append: KurrentDB keeps no append
	// boundaries. The suite then accepts either answer for that one check;
	// every other idempotency check still applies.
	NoAppendBoundariesAfterReopen bool

	// Limits are those the store was opened with (zero fields: defaults).
	Limits eventstore.Limits

	// SubscriberBuffer is how many live events the backend queues for a
	// subscriber before dropping it. The slow-subscriber subtest stalls a
	// live subscriber while it appends several times that many events and
	// expects a *SubscriptionDroppedError. Zero skips that subtest. Keep it
	// modest in the harness (hundreds, not thousands) so the subtest stays
	// fast, but large enough that the other subtests' subscribers, which
	// keep up, are never dropped.
	SubscriberBuffer int

	// Timeout bounds each subtest; default 20s.
	Timeout time.Duration
}

// Run runs the whole suite as subtests of t.
func Run(t *testing.T, h Harness) {
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is required")
	}
	if h.Timeout <= 0 {
		h.Timeout = 20 * time.Second
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"ExpectedRevision", testExpectedRevision},
		{"AtomicAppend", testAtomicAppend},
		{"ConcurrentExpectedRevision", testConcurrentExpectedRevision},
		{"Idempotency", testIdempotency},
		{"IdempotencyAfterReopen", testIdempotencyAfterReopen},
		{"Reopen", testReopen},
		{"GlobalOrder", testGlobalOrder},
		{"ReadStream", testReadStream},
		{"ReadAll", testReadAll},
		{"Filters", testFilters},
		{"FindEvent", testFindEvent},
		{"SubscribeFromStart", testSubscribeFromStart},
		{"SubscribeFromMiddle", testSubscribeFromMiddle},
		{"SubscribeFromEnd", testSubscribeFromEnd},
		{"SubscribeFiltered", testSubscribeFiltered},
		{"SubscribeHandOver", testSubscribeHandOver},
		{"SlowSubscriber", testSlowSubscriber},
		{"Limits", testLimits},
		{"ContextCancellation", testContextCancellation},
		{"HeadAndPing", testHeadAndPing},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// ---- helpers ----

// prefix returns a stream-name prefix unique to this subtest run.
func prefix(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "st" + hex.EncodeToString(b[:]) + "-"
}

func testContext(t *testing.T, h Harness) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// event builds an event whose data names its id, so content is unique.
func event(typ string, n int) eventstore.EventData {
	id := uuid.New()
	return eventstore.EventData{
		ID:       id,
		Type:     typ,
		Data:     fmt.Appendf(nil, `{"id":%q,"n":%d,"text":"événement № %d"}`, id, n, n),
		Metadata: fmt.Appendf(nil, `{"n":%d}`, n),
	}
}

func events(typ string, n int) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = event(typ, i)
	}
	return out
}

func mustAppend(t *testing.T, ctx context.Context, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(ctx, stream, exp, evs...)
	if err != nil {
		t.Fatalf("Append(%q, %s, %d events): %v", stream, exp, len(evs), err)
	}
	if res.Duplicate {
		t.Fatalf("Append(%q, %s): unexpected Duplicate on a first append", stream, exp)
	}
	return res
}

// collect drains a sequence, failing the test on an error.
func collect(t *testing.T, seq iter.Seq2[eventstore.RecordedEvent, error]) []eventstore.RecordedEvent {
	t.Helper()
	got, err := collectErr(seq)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return got
}

// collectErr drains a sequence and returns the events before the first
// error, and that error. It also checks that the sequence ends after an error.
func collectErr(seq iter.Seq2[eventstore.RecordedEvent, error]) ([]eventstore.RecordedEvent, error) {
	var got []eventstore.RecordedEvent
	var firstErr error
	for ev, err := range seq {
		if firstErr != nil {
			return got, fmt.Errorf("sequence went on after error %v", firstErr)
		}
		if err != nil {
			firstErr = err
			continue
		}
		got = append(got, ev)
	}
	return got, firstErr
}

func readStream(t *testing.T, ctx context.Context, s eventstore.Store, stream string) []eventstore.RecordedEvent {
	t.Helper()
	return collect(t, s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}))
}

// readFrom reads the global log forward from position from, keeping only
// the events of streams starting with p.
func readFrom(t *testing.T, ctx context.Context, s eventstore.Store, from eventstore.Position, p string) []eventstore.RecordedEvent {
	t.Helper()
	return collect(t, s.ReadAll(ctx, eventstore.ReadAllOptions{From: from, Filter: eventstore.Filter{StreamPrefixes: []string{p}}}))
}

func head(t *testing.T, ctx context.Context, s eventstore.Store) eventstore.Position {
	t.Helper()
	h, err := s.Head(ctx)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	return h
}

func ids(evs []eventstore.RecordedEvent) []uuid.UUID {
	out := make([]uuid.UUID, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func dataIDs(evs []eventstore.EventData) []uuid.UUID {
	out := make([]uuid.UUID, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func revisions(evs []eventstore.RecordedEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Revision
	}
	return out
}

func equalIDs(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkIncreasing fails unless positions strictly increase.
func checkIncreasing(t *testing.T, evs []eventstore.RecordedEvent) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		if evs[i].Position <= evs[i-1].Position {
			t.Fatalf("positions not strictly increasing at %d: %d then %d", i, evs[i-1].Position, evs[i].Position)
		}
	}
}

func wantStreamNotFound(t *testing.T, ctx context.Context, s eventstore.Store, stream string) {
	t.Helper()
	got, err := collectErr(s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}))
	if len(got) != 0 || !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("ReadStream(%q) = %d events, err %v; want ErrStreamNotFound (nothing written)", stream, len(got), err)
	}
}

// item is one element of a subscription, moved to another goroutine.
type item struct {
	ev  eventstore.RecordedEvent
	err error
}

// subscription runs a Subscribe sequence in its own goroutine so the test
// can wait for elements with a timeout.
type subscription struct {
	t      *testing.T
	ch     chan item
	cancel context.CancelFunc
	ended  chan struct{}
	skip   string // event type to skip (markers)
}

func subscribe(t *testing.T, ctx context.Context, s eventstore.Store, opts eventstore.SubscribeOptions) *subscription {
	ctx, cancel := context.WithCancel(ctx)
	sub := &subscription{t: t, ch: make(chan item, 100_000), cancel: cancel, ended: make(chan struct{})}
	go func() {
		defer close(sub.ended)
		defer close(sub.ch)
		// A consumer that is dropped for falling behind (this goroutine can
		// be starved on a loaded machine) resumes where the error says, as
		// any real consumer would; the tests then check that the events
		// still come without gap or duplicate across the resumption.
		var last eventstore.Position
		delivered := false
		for {
			resumed := false
			for ev, err := range s.Subscribe(ctx, opts) {
				var dropped *eventstore.SubscriptionDroppedError
				if errors.As(err, &dropped) {
					if delivered && dropped.ResumeAfter != last {
						sub.ch <- item{err: fmt.Errorf("dropped with ResumeAfter %d, but the last event delivered was at %d", dropped.ResumeAfter, last)}
						return
					}
					t.Logf("subscription dropped (%v); resuming", err)
					opts.After, opts.FromEnd, resumed = dropped.ResumeAfter, false, true
					break
				}
				sub.ch <- item{ev, err}
				if err != nil {
					return
				}
				last, delivered = ev.Position, true
			}
			if !resumed {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-sub.ended:
		case <-time.After(10 * time.Second):
			t.Error("subscription did not end within 10s of its context being cancelled")
		}
	})
	return sub
}

// next returns the next element that is not a skipped marker.
// ok is false on a timeout or when the sequence ended.
func (sub *subscription) next(timeout time.Duration) (ev eventstore.RecordedEvent, ok bool, err error) {
	deadline := time.After(timeout)
	for {
		select {
		case it, ok := <-sub.ch:
			if !ok {
				return eventstore.RecordedEvent{}, false, nil
			}
			if it.err == nil && sub.skip != "" && it.ev.Type == sub.skip {
				continue
			}
			return it.ev, true, it.err
		case <-deadline:
			return eventstore.RecordedEvent{}, false, nil
		}
	}
}

// take returns the next n events, failing on an error, an end or a timeout.
func (sub *subscription) take(n int, timeout time.Duration) []eventstore.RecordedEvent {
	sub.t.Helper()
	out := make([]eventstore.RecordedEvent, 0, n)
	deadline := time.Now().Add(timeout)
	for len(out) < n {
		ev, ok, err := sub.next(time.Until(deadline))
		if !ok {
			sub.t.Fatalf("subscription: got %d of %d events before timeout or end", len(out), n)
		}
		if err != nil {
			sub.t.Fatalf("subscription: error after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, ev)
	}
	return out
}

// expectQuiet fails if an event arrives within d.
func (sub *subscription) expectQuiet(d time.Duration) {
	sub.t.Helper()
	ev, ok, err := sub.next(d)
	if ok {
		sub.t.Fatalf("subscription: unexpected element %s/%d %s (err %v)", ev.Stream, ev.Revision, ev.Type, err)
	}
}

// subscribeLive subscribes from the end and returns once the subscription
// is demonstrably live: it appends markers (type markerType, to
// markerStream) until one arrives. Later markers may still arrive; they are
// skipped by next and take.
func subscribeLive(t *testing.T, ctx context.Context, s eventstore.Store, markerStream, markerType string, f eventstore.Filter) *subscription {
	t.Helper()
	sub := subscribe(t, ctx, s, eventstore.SubscribeOptions{FromEnd: true, Filter: f})
	for i := 0; i < 500; i++ {
		if _, err := s.Append(ctx, markerStream, eventstore.Any, event(markerType, i)); err != nil {
			t.Fatalf("append marker: %v", err)
		}
		ev, ok, err := sub.next(20 * time.Millisecond)
		if err != nil {
			t.Fatalf("subscription: %v", err)
		}
		if ok {
			if ev.Type != markerType {
				t.Fatalf("subscription from end delivered %s/%d %s before any marker", ev.Stream, ev.Revision, ev.Type)
			}
			sub.skip = markerType
			return sub
		}
	}
	t.Fatal("subscription from end never delivered a marker appended after it started")
	return nil
}
