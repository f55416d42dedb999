package kurrentdb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
	"github.com/google/uuid"
)

func newEvent(typ string, n int) eventstore.EventData {
	id := uuid.New()
	return eventstore.EventData{
		ID:       id,
		Type:     typ,
		Data:     fmt.Appendf(nil, `{"id":%q,"n":%d}`, id, n),
		Metadata: fmt.Appendf(nil, `{"actor":"test","n":%d}`, n),
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually retries fn until it succeeds or d passes.
func eventually(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func streamIDs(t *testing.T, ctx context.Context, s eventstore.Store, stream string) []uuid.UUID {
	t.Helper()
	var out []uuid.UUID
	for ev, err := range s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}) {
		if err != nil {
			t.Fatalf("read %s: %v", stream, err)
		}
		out = append(out, ev.ID)
	}
	return out
}

// TestStoreDownAtStart: the Store opens against a node that is not
// running; calls fail fast with ErrUnavailable; once the node is up, Ping
// and appends work without reopening the Store.
func TestStoreDownAtStart(t *testing.T) {
	srv, err := kurrentdbtest.New(kurrentdbtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 20*time.Second)

	start := time.Now()
	if err := s.Ping(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Ping with the node down: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Ping took %v to report the node down", d)
	}
	if _, err := s.Append(ctx, "case-down", eventstore.NoStream, newEvent("Opened", 0)); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Append with the node down: %v, want ErrUnavailable", err)
	}
	for _, err := range s.ReadStream(ctx, "case-down", eventstore.ReadStreamOptions{}) {
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("ReadStream with the node down: %v, want ErrUnavailable", err)
		}
	}
	if _, err := s.Head(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Head with the node down: %v, want ErrUnavailable", err)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ping after the node came up", func() error { return s.Ping(ctx) })
	ev := newEvent("Opened", 1)
	res, err := s.Append(ctx, "case-down", eventstore.NoStream, ev)
	if err != nil || res.Revision != 0 || res.Duplicate {
		t.Fatalf("Append after the node came up: %+v, %v", res, err)
	}
	if got := streamIDs(t, ctx, s, "case-down"); len(got) != 1 || got[0] != ev.ID {
		t.Fatalf("stream holds %v", got)
	}
}

// TestNodeRestartWithoutReopening: a node that goes away and comes back is
// used again by the same Store, and Ping reports both states.
func TestNodeRestartWithoutReopening(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 20*time.Second)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		srv.Stop()
		if err := s.Ping(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("round %d: Ping with the node stopped: %v", round, err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "Ping after restart", func() error { return s.Ping(ctx) })
		if _, err := s.Append(ctx, "case-restart", eventstore.Any, newEvent("Noted", round)); err != nil {
			t.Fatalf("round %d: append after restart: %v", round, err)
		}
	}
	if got := streamIDs(t, ctx, s, "case-restart"); len(got) != 3 {
		t.Fatalf("stream holds %d events, want 3", len(got))
	}
}

// collectSub runs a subscription in a goroutine.
type collectSub struct {
	ch     chan subResult
	cancel context.CancelFunc
}

type subResult struct {
	ev  eventstore.RecordedEvent
	err error
}

func startSub(t *testing.T, ctx context.Context, s eventstore.Store, opts eventstore.SubscribeOptions) *collectSub {
	ctx, cancel := context.WithCancel(ctx)
	c := &collectSub{ch: make(chan subResult, 10_000), cancel: cancel}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.ch)
		for ev, err := range s.Subscribe(ctx, opts) {
			c.ch <- subResult{ev, err}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("subscription did not end after cancel")
		}
	})
	return c
}

func (c *collectSub) take(t *testing.T, n int, timeout time.Duration) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case r, ok := <-c.ch:
			if !ok {
				t.Fatalf("subscription ended after %d of %d events", len(out), n)
			}
			if r.err != nil {
				t.Fatalf("subscription failed after %d of %d events: %v", len(out), n, r.err)
			}
			out = append(out, r.ev)
		case <-deadline:
			t.Fatalf("got %d of %d events in %s", len(out), n, timeout)
		}
	}
	return out
}

func appendN(t *testing.T, ctx context.Context, s eventstore.Store, stream string, from, n int) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for i := from; i < from+n; i++ {
		ev := newEvent("Logged", i)
		eventually(t, 10*time.Second, "append", func() error {
			_, err := s.Append(ctx, stream, eventstore.Exact(uint64(i)-1), ev)
			if i == 0 {
				_, err = s.Append(ctx, stream, eventstore.NoStream, ev)
			}
			return err
		})
		ids = append(ids, ev.ID)
	}
	return ids
}

func checkSame(t *testing.T, what string, got []eventstore.RecordedEvent, want []uuid.UUID) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i] {
			t.Fatalf("%s: event %d is %s, want %s (gap or duplicate)", what, i, got[i].ID, want[i])
		}
		if i > 0 && got[i].Position <= got[i-1].Position {
			t.Fatalf("%s: positions not increasing at %d", what, i)
		}
	}
}

// TestSubscriptionSurvivesNodeLoss: the node stops mid-subscription and
// comes back; the subscription resubscribes by itself and delivers the
// events written afterwards with no gap and no duplicate.
func TestSubscriptionSurvivesNodeLoss(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 30*time.Second)
	stream := "case-sub-" + uuid.NewString()
	f := eventstore.Filter{StreamPrefixes: []string{stream}}

	first := appendN(t, ctx, s, stream, 0, 5)
	sub := startSub(t, ctx, s, eventstore.SubscribeOptions{Filter: f})
	checkSame(t, "catch-up", sub.take(t, 5, 10*time.Second), first)

	srv.Stop()
	time.Sleep(150 * time.Millisecond) // let the subscription notice and retry a few times
	srv.WriteSystemEvent("$stats-test", "$statsCollected")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	second := appendN(t, ctx, s, stream, 5, 5)
	checkSame(t, "after the node came back", sub.take(t, 5, 10*time.Second), second)

	// The node drops its subscriptions while staying up.
	srv.DropSubscriptions()
	third := appendN(t, ctx, s, stream, 10, 3)
	checkSame(t, "after the node dropped the subscription", sub.take(t, 3, 10*time.Second), third)
	select {
	case r := <-sub.ch:
		t.Fatalf("unexpected element %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestSubscriptionGivesUpWithResumableError: when the node stays away
// longer than ResubscribeFor, the subscription ends with a
// SubscriptionDroppedError (also ErrUnavailable) whose ResumeAfter lets a
// new subscription continue exactly.
func TestSubscriptionGivesUpWithResumableError(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	opts := fastOptions()
	opts.ResubscribeFor = 300 * time.Millisecond
	s := openStore(t, srv.URL(), opts)
	ctx := ctxTimeout(t, 30*time.Second)
	stream := "case-giveup-" + uuid.NewString()
	f := eventstore.Filter{StreamPrefixes: []string{stream}}

	first := appendN(t, ctx, s, stream, 0, 3)
	sub := startSub(t, ctx, s, eventstore.SubscribeOptions{Filter: f})
	got := sub.take(t, 3, 10*time.Second)
	checkSame(t, "catch-up", got, first)

	srv.Stop()
	var dropped *eventstore.SubscriptionDroppedError
	select {
	case r, ok := <-sub.ch:
		if !ok || !errors.As(r.err, &dropped) || !errors.Is(r.err, eventstore.ErrUnavailable) {
			t.Fatalf("subscription ended with %+v (ok %v), want SubscriptionDroppedError and ErrUnavailable", r, ok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription did not give up while the node was down")
	}
	if dropped.ResumeAfter != got[2].Position {
		t.Fatalf("ResumeAfter %d, last delivered %d", dropped.ResumeAfter, got[2].Position)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	second := appendN(t, ctx, s, stream, 3, 2)
	resumed := startSub(t, ctx, s, eventstore.SubscribeOptions{After: dropped.ResumeAfter, Filter: f})
	checkSame(t, "resumed", resumed.take(t, 2, 10*time.Second), second)
}

// TestSlowStore: a node slower than the caller's deadline gives a clear
// context error promptly, never a hang; an append whose answer was lost is
// recognised when retried, so the write is neither lost nor doubled.
func TestSlowStore(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 30*time.Second)
	stream := "case-slow-" + uuid.NewString()
	first := newEvent("Opened", 0)
	if _, err := s.Append(ctx, stream, eventstore.NoStream, first); err != nil {
		t.Fatal(err)
	}

	// Slow before deciding: nothing is written.
	srv.SetSlow(3*time.Second, 0)
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, 200*time.Millisecond)
	}
	lost := newEvent("Noted", 1)
	c, cancel := short()
	start := time.Now()
	_, err := s.Append(c, stream, eventstore.Exact(0), lost)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow append: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("slow append took %v to give up", d)
	}
	c, cancel = short()
	start = time.Now()
	for _, err := range s.ReadStream(c, stream, eventstore.ReadStreamOptions{}) {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("slow read: %v, want context.DeadlineExceeded", err)
		}
	}
	if err := s.Ping(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow ping: %v, want context.DeadlineExceeded", err)
	}
	cancel()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("slow reads took %v to give up", d)
	}

	// Slow after writing: the append is stored but its answer is lost.
	srv.SetSlow(0, 3*time.Second)
	unacked := newEvent("Noted", 2)
	c, cancel = short()
	_, err = s.Append(c, stream, eventstore.Exact(0), unacked)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("append with a lost answer: %v, want context.DeadlineExceeded", err)
	}
	srv.SetSlow(0, 0)
	res, err := s.Append(ctx, stream, eventstore.Exact(0), unacked)
	if err != nil || !res.Duplicate || res.Revision != 1 {
		t.Fatalf("retry of the unanswered append: %+v, %v; want Duplicate at revision 1", res, err)
	}
	got := streamIDs(t, ctx, s, stream)
	if len(got) != 2 || got[0] != first.ID || got[1] != unacked.ID {
		t.Fatalf("stream holds %v, want the first and the unanswered event once each", got)
	}
}

// TestAcknowledgedWritesSurviveFaults: writers append (retrying with the
// same event IDs) while the node restarts and turns slow; afterwards every
// acknowledged event is stored exactly once, in order.
func TestAcknowledgedWritesSurviveFaults(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 40*time.Second)
	prefix := "case-chaos-" + uuid.NewString()[:8] + "-"

	const writers, perWriter = 3, 15
	var wg sync.WaitGroup
	acked := make([][]uuid.UUID, writers)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("%s%d", prefix, w)
			for i := range perWriter {
				ev := newEvent("Logged", i)
				exp := eventstore.Exact(uint64(i) - 1)
				if i == 0 {
					exp = eventstore.NoStream
				}
				for attempt := 0; ; attempt++ {
					c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
					res, err := s.Append(c, stream, exp, ev)
					cancel()
					if err == nil {
						if res.Revision != uint64(i) {
							errs <- fmt.Errorf("writer %d: event %d acknowledged at revision %d", w, i, res.Revision)
							return
						}
						acked[w] = append(acked[w], ev.ID)
						break
					}
					if !errors.Is(err, eventstore.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
						errs <- fmt.Errorf("writer %d: event %d: %w", w, i, err)
						return
					}
					if attempt > 400 {
						errs <- fmt.Errorf("writer %d: event %d never written: %w", w, i, err)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	// Faults while they write.
	for round := range 3 {
		time.Sleep(60 * time.Millisecond)
		srv.Stop()
		time.Sleep(60 * time.Millisecond)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
		srv.SetSlow(0, 400*time.Millisecond) // written, answer lost
		time.Sleep(time.Duration(100+50*round) * time.Millisecond)
		srv.SetSlow(0, 0)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range writers {
		got := streamIDs(t, ctx, s, fmt.Sprintf("%s%d", prefix, w))
		if len(got) != perWriter || len(acked[w]) != perWriter {
			t.Fatalf("writer %d: stream holds %d events, %d acknowledged, want %d", w, len(got), len(acked[w]), perWriter)
		}
		for i := range got {
			if got[i] != acked[w][i] {
				t.Fatalf("writer %d: revision %d holds %s, acknowledged %s", w, i, got[i], acked[w][i])
			}
		}
	}
}
