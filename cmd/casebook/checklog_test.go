package main

import (
	"context"
	"errors"
	"iter"
	"reflect"
	"slices"
	"testing"

	"github.com/casebook/casebook/eventstore"
)

// sequentialCheck is the reference checkLog must agree with: the log's
// events added one at a time.
func sequentialCheck(evs []eventstore.RecordedEvent) chainSummary {
	c := newChainChecker()
	for _, ev := range evs {
		c.add(ev)
	}
	return c.summary()
}

func logIter(evs []eventstore.RecordedEvent, failAfter int) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		for i, ev := range evs {
			if i == failAfter {
				yield(eventstore.RecordedEvent{}, errors.New("disk gone"))
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

func never(string) bool { return false }

// TestCheckLogAgreesWithOneEventAtATime: the parallel check of a log of
// several batches finds what adding its events one at a time finds, visits
// every event in log order, and names a changed event at its version
// whichever batch (and worker) checked it.
func TestCheckLogAgreesWithOneEventAtATime(t *testing.T) {
	evs := logOf(t, demoData(t))
	if len(evs) < 3*linkBatchSize {
		t.Fatalf("the demo log has %d events: too few to span several batches", len(evs))
	}
	head := evs[len(evs)-1].Position
	ctx := context.Background()

	var visited []eventstore.Position
	c, err := checkLog(ctx, logIter(evs, -1), head, never, func(ev eventstore.RecordedEvent) { visited = append(visited, ev.Position) })
	if err != nil {
		t.Fatal(err)
	}
	want := sequentialCheck(evs)
	if got := c.summary(); !reflect.DeepEqual(got, want) || len(got.Broken) != 0 || got.Events != int64(len(evs)) {
		t.Fatalf("parallel %+v\nsequential %+v", got, want)
	}
	if len(visited) != len(evs) || !slices.IsSorted(visited) {
		t.Fatalf("visited %d events (sorted: %v), the log has %d", len(visited), slices.IsSorted(visited), len(evs))
	}

	for _, k := range []int{0, linkBatchSize - 1, linkBatchSize, 2*linkBatchSize + 7, len(evs) - 1} {
		changed := slices.Clone(evs)
		changed[k].Data = slices.Clone(changed[k].Data)
		changed[k].Data[len(changed[k].Data)/2] ^= 1
		c, err := checkLog(ctx, logIter(changed, -1), head, never, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, want := c.summary(), sequentialCheck(changed)
		if len(got.Broken) != 1 || !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d changed: parallel %+v\nsequential %+v", k, got.Broken, want.Broken)
		}
		if b := got.Broken[0]; b.Stream != evs[k].Stream || b.Version != evs[k].Revision {
			t.Fatalf("event %d (%s v%d) changed, found %s v%d", k, evs[k].Stream, evs[k].Revision, b.Stream, b.Version)
		}
	}

	// Up to a head before the end: the events after it are not checked.
	c, err = checkLog(ctx, logIter(evs, -1), evs[linkBatchSize+3].Position, never, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.summary().Events; got != linkBatchSize+4 {
		t.Fatalf("up to the %dth event: %d checked", linkBatchSize+4, got)
	}
	// A read error mid-log is the answer, not a partial verdict.
	if _, err := checkLog(ctx, logIter(evs, linkBatchSize+10), head, never, nil); err == nil || err.Error() != "disk gone" {
		t.Fatalf("read error mid-log: %v", err)
	}
	// And so is a cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := checkLog(cctx, logIter(evs, -1), head, never, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
