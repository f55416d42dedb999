package storetest

import (
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

const waitEvents = 10 * time.Second

func testSubscribeFromStart(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Seen"
	var history []uuid.UUID
	for i := range 3 {
		evs := events(typ, i+1)
		mustAppend(t, ctx, s, fmt.Sprintf("%s%d", p, i%2), eventstore.Any, evs...)
		history = append(history, dataIDs(evs)...)
	}
	sub := subscribe(t, ctx, s, eventstore.SubscribeOptions{After: eventstore.Start, Filter: eventstore.Filter{StreamPrefixes: []string{p}}})
	got := sub.take(len(history), waitEvents)
	if !equalIDs(ids(got), history) {
		t.Fatalf("catch-up delivered %v, want %v", ids(got), history)
	}
	live := events(typ, 2)
	mustAppend(t, ctx, s, p+"0", eventstore.Any, live[0])
	mustAppend(t, ctx, s, p+"1", eventstore.Any, live[1])
	gotLive := sub.take(2, waitEvents)
	if !equalIDs(ids(gotLive), dataIDs(live)) {
		t.Fatalf("live delivered %v, want %v", ids(gotLive), dataIDs(live))
	}
	checkIncreasing(t, append(got, gotLive...))
	sub.expectQuiet(50 * time.Millisecond)
}

func testSubscribeFromMiddle(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Seen"
	mustAppend(t, ctx, s, p+"a", eventstore.Any, events(typ, 4)...)
	mustAppend(t, ctx, s, p+"b", eventstore.Any, events(typ, 2)...)
	all := readFrom(t, ctx, s, eventstore.Start, p)
	sub := subscribe(t, ctx, s, eventstore.SubscribeOptions{After: all[2].Position, Filter: eventstore.Filter{StreamPrefixes: []string{p}}})
	got := sub.take(3, waitEvents)
	if !equalIDs(ids(got), ids(all[3:])) {
		t.Fatalf("subscription after position %d delivered %v, want %v", all[2].Position, ids(got), ids(all[3:]))
	}
	live := event(typ, 9)
	mustAppend(t, ctx, s, p+"a", eventstore.Any, live)
	if got := sub.take(1, waitEvents); got[0].ID != live.ID || got[0].Revision != 4 {
		t.Fatalf("live delivered %s/%d, want the new event at revision 4", got[0].Stream, got[0].Revision)
	}
	sub.expectQuiet(50 * time.Millisecond)
}

func testSubscribeFromEnd(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Seen"
	mustAppend(t, ctx, s, p+"old", eventstore.NoStream, events(typ, 3)...)
	sub := subscribeLive(t, ctx, s, p+"marker", p+"Marker", eventstore.Filter{StreamPrefixes: []string{p}})
	live := events(typ, 3)
	var want []string
	for _, ev := range live {
		want = append(want, string(ev.Data)+" "+string(ev.Metadata))
		mustAppend(t, ctx, s, p+"new", eventstore.Any, ev)
		// The caller's buffers are its own again once Append returns:
		// reusing them must not change what subscribers receive.
		overwrite(ev.Data)
		overwrite(ev.Metadata)
	}
	got := sub.take(3, waitEvents)
	if !equalIDs(ids(got), dataIDs(live)) {
		t.Fatalf("subscription from end delivered %v, want only the new %v", ids(got), dataIDs(live))
	}
	for i, ev := range got {
		if have := string(ev.Data) + " " + string(ev.Metadata); have != want[i] {
			t.Errorf("live event %d carries %q, want %q as appended (the store kept the caller's buffer)", i, have, want[i])
		}
	}
	sub.expectQuiet(50 * time.Millisecond)
}

// overwrite fills b with a byte no JSON document is made of.
func overwrite(b []byte) {
	for i := range b {
		b[i] = '#'
	}
}

func testSubscribeFiltered(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	tX, tY := p+"X", p+"Y"
	from := head(t, ctx, s)
	x1, y1, x2 := event(tX, 1), event(tY, 2), event(tX, 3)
	mustAppend(t, ctx, s, p+"a", eventstore.Any, x1, y1)
	mustAppend(t, ctx, s, p+"b", eventstore.Any, x2)
	mustAppend(t, ctx, s, p+"zzz", eventstore.Any, event(tY, 4))

	sub := subscribe(t, ctx, s, eventstore.SubscribeOptions{After: from,
		Filter: eventstore.Filter{StreamPrefixes: []string{p + "a", p + "b", p + "c"}, EventTypes: []string{tX}}})
	if got := sub.take(2, waitEvents); !equalIDs(ids(got), []uuid.UUID{x1.ID, x2.ID}) {
		t.Fatalf("filtered catch-up delivered %v", ids(got))
	}
	y3, x3, x4 := event(tY, 5), event(tX, 6), event(tX, 7)
	mustAppend(t, ctx, s, p+"c", eventstore.Any, y3, x3)
	mustAppend(t, ctx, s, p+"d", eventstore.Any, x4) // stream not selected
	if got := sub.take(1, waitEvents); got[0].ID != x3.ID {
		t.Fatalf("filtered live delivered %s %s, want %s", got[0].Stream, got[0].Type, x3.ID)
	}
	sub.expectQuiet(50 * time.Millisecond)
}

// testSubscribeHandOver subscribes while writers are writing: the
// subscriptions must move from history to live events without losing or
// repeating one.
func testSubscribeHandOver(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Flow"
	from := head(t, ctx, s)
	f := eventstore.Filter{StreamPrefixes: []string{p}}

	total := 0
	for i := range 20 {
		mustAppend(t, ctx, s, fmt.Sprintf("%sh%d", p, i%4), eventstore.Any, events(typ, 10)...)
		total += 10
	}

	const writers, appendsEach, subscribers = 4, 40, 6
	var (
		wg       sync.WaitGroup
		written  atomic.Int64
		progress = make(chan struct{}, appendsEach)
		errs     = make(chan error, writers)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range appendsEach {
				evs := events(typ, 1+(i+w)%3)
				if _, err := s.Append(ctx, fmt.Sprintf("%sw%d", p, w), eventstore.Any, evs...); err != nil {
					errs <- err
					return
				}
				written.Add(int64(len(evs)))
				if w == 0 && i%(appendsEach/subscribers) == 0 {
					progress <- struct{}{}
				}
			}
		}()
	}
	// Subscriptions start at different moments of the writing, each
	// handing over from history to live while appends commit.
	var subs []*subscription
	for range subscribers {
		<-progress
		subs = append(subs, subscribe(t, ctx, s, eventstore.SubscribeOptions{After: from, Filter: f}))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total += int(written.Load())

	want := readFrom(t, ctx, s, from+1, p)
	if len(want) != total {
		t.Fatalf("log holds %d events, %d were written", len(want), total)
	}
	for n, sub := range subs {
		got := sub.take(total, 2*waitEvents)
		if !equalIDs(ids(got), ids(want)) {
			for i := range got {
				if got[i].ID != want[i].ID {
					t.Fatalf("subscription %d: event %d is %s/%d at position %d, want %s/%d at %d (gap or duplicate)",
						n, i, got[i].Stream, got[i].Revision, got[i].Position, want[i].Stream, want[i].Revision, want[i].Position)
				}
			}
		}
		sub.expectQuiet(50 * time.Millisecond)
	}
}

// testSlowSubscriber stalls a live subscriber while far more events than
// its buffer are appended: it must be dropped, not block the writers, and
// resuming from the position the error gives must deliver the rest exactly.
func testSlowSubscriber(t *testing.T, h Harness) {
	if h.SubscriberBuffer <= 0 {
		t.Skip("Harness.SubscriberBuffer not set")
	}
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	f := eventstore.Filter{StreamPrefixes: []string{p}}
	markerType := p + "Marker"

	next, stop := iter.Pull2(s.Subscribe(ctx, eventstore.SubscribeOptions{FromEnd: true, Filter: f}))
	defer stop()

	// Become live: markers are appended until the first one arrives.
	var stopMarkers atomic.Bool
	markersDone := make(chan error, 1)
	go func() {
		for i := 0; !stopMarkers.Load(); i++ {
			if _, err := s.Append(ctx, p+"marker", eventstore.Any, event(markerType, i)); err != nil {
				markersDone <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		markersDone <- nil
	}()
	first, err, ok := next()
	stopMarkers.Store(true)
	if mErr := <-markersDone; mErr != nil {
		t.Fatal(mErr)
	}
	if !ok || err != nil || first.Type != markerType {
		t.Fatalf("first element: %+v, err %v, ok %v; want a marker", first, err, ok)
	}

	// Stall (do not pull) while the flood is appended.
	n := 4*h.SubscriberBuffer + 64
	var flood []uuid.UUID
	start := time.Now()
	for len(flood) < n {
		evs := events(p+"Flood", 32)
		mustAppend(t, ctx, s, p+"flood", eventstore.Any, evs...)
		flood = append(flood, dataIDs(evs)...)
	}
	t.Logf("appended %d events past a stalled subscriber in %v", len(flood), time.Since(start))

	// Resume pulling: some events may still come, then the drop.
	last := first.Position
	var before []uuid.UUID
	var dropped *eventstore.SubscriptionDroppedError
	for {
		ev, err, ok := next()
		if !ok {
			t.Fatal("subscription ended without an error")
		}
		if err != nil {
			if !errors.As(err, &dropped) || !errors.Is(err, eventstore.ErrSubscriptionDropped) {
				t.Fatalf("stalled subscriber ended with %v, want *SubscriptionDroppedError", err)
			}
			break
		}
		if ev.Position <= last {
			t.Fatalf("position %d delivered after %d", ev.Position, last)
		}
		last = ev.Position
		if ev.Type != markerType {
			before = append(before, ev.ID)
		}
		if len(before) == len(flood) {
			t.Fatalf("stalled subscriber received all %d events without being dropped (buffer %d)", len(flood), h.SubscriberBuffer)
		}
	}
	if _, _, ok := next(); ok {
		t.Fatal("subscription went on after the drop")
	}
	if dropped.ResumeAfter != last {
		t.Fatalf("ResumeAfter = %d, but the last event delivered was at %d", dropped.ResumeAfter, last)
	}

	resumed := subscribe(t, ctx, s, eventstore.SubscribeOptions{After: dropped.ResumeAfter, Filter: f})
	resumed.skip = markerType
	rest := resumed.take(len(flood)-len(before), waitEvents)
	got := append(before, ids(rest)...)
	if !equalIDs(got, flood) {
		t.Fatalf("events before the drop plus after resuming (%d) differ from the %d appended: gap or duplicate", len(got), len(flood))
	}
	resumed.expectQuiet(50 * time.Millisecond)
}
