package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

func testEvent(n int) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: "Tested", Data: fmt.Appendf(nil, `{"n":%d}`, n)}
}

// handOver subscribes from the start while hook appends n events exactly
// where the file and the live queue overlap, then appends one more event
// once those arrived, and checks that every event arrives once, in order.
func handOver(t *testing.T, buffer, n int, hook func(s *Store)) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), Options{SubscriberBuffer: buffer})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if _, err := s.Append(ctx, "history", eventstore.Any, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	testHookHandOver = func() { hook(s) }
	defer func() { testHookHandOver = nil }()

	var got []eventstore.RecordedEvent
	for ev, err := range s.Subscribe(ctx, eventstore.SubscribeOptions{}) {
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		got = append(got, ev)
		if ev.Stream == "last" {
			break
		}
		if len(got) == 3+n {
			// One more, certainly live.
			go func() {
				if _, err := s.Append(ctx, "last", eventstore.Any, testEvent(99)); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	want := collectAll(t, s)
	if len(got) != len(want) {
		t.Fatalf("subscription delivered %d events, the log holds %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Position != want[i].Position {
			t.Fatalf("event %d: got position %d, want %d (gap or duplicate)", i, got[i].Position, want[i].Position)
		}
	}
}

func collectAll(t *testing.T, s *Store) []eventstore.RecordedEvent {
	var out []eventstore.RecordedEvent
	for ev, err := range s.ReadAll(context.Background(), eventstore.ReadAllOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// Events committed after registration but before the last file read come
// from both sources; the live copies must be skipped.
func TestHandOverSkipsEventsReadFromFile(t *testing.T) {
	handOver(t, 64, 5, func(s *Store) {
		for i := range 5 {
			if _, err := s.Append(context.Background(), "overlap", eventstore.Any, testEvent(i)); err != nil {
				t.Error(err)
			}
		}
		// Let the writer publish them to the (already registered) queue
		// before the subscription reads the file.
		time.Sleep(20 * time.Millisecond)
	})
}

// A queue that overflows during the hand-over makes the subscriber read the
// file again rather than lose events or be dropped.
func TestHandOverOverflowRereads(t *testing.T) {
	calls := 0
	handOver(t, 4, 20, func(s *Store) {
		calls++
		for i := range 20 {
			if _, err := s.Append(context.Background(), "flood", eventstore.Any, testEvent(i)); err != nil {
				t.Error(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	})
	if calls != 1 {
		t.Fatalf("hook ran %d times", calls)
	}
}

func TestHeadCacheBounded(t *testing.T) {
	c := newHeadCache(4)
	for i := range 100 {
		c.put(fmt.Sprint(i), streamHead{exists: true, last: uint64(i)})
		if len(c.cur)+len(c.old) > 8 {
			t.Fatalf("cache holds %d entries, bound is 8", len(c.cur)+len(c.old))
		}
	}
	if h, ok := c.get("99"); !ok || h.last != 99 {
		t.Fatalf("recent entry lost: %+v %v", h, ok)
	}
	if _, ok := c.get("0"); ok {
		t.Fatal("old entry still cached")
	}
}

func TestRecordedAtFormat(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2011, 7, 14, 9, 30, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 1, time.FixedZone("CET", 3600)),
	} {
		text := formatRecordedAt(tm)
		back, err := parseRecordedAt(text)
		if err != nil || !back.Equal(tm) || back.Location() != time.UTC {
			t.Fatalf("%v -> %q -> %v, %v", tm, text, back, err)
		}
	}
	if back, err := parseRecordedAt("2011-07-14T09:30:00.5+01:00"); err != nil || back.Hour() != 8 {
		t.Fatalf("RFC 3339 fallback: %v %v", back, err)
	}
	if _, err := parseRecordedAt("yesterday"); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestPrefixEnd(t *testing.T) {
	for p, want := range map[string]string{"case-": "case.", "a": "b", "é": "\xc3\xaa", "a\xff": "b"} {
		if got := prefixEnd(p); got != want {
			t.Fatalf("prefixEnd(%q) = %q, want %q", p, got, want)
		}
	}
}

// Streams evicted from the head cache get their heads from the file.
func TestEvictedStreamHeads(t *testing.T) {
	defer func(n int) { headCacheSize = n }(headCacheSize)
	headCacheSize = 4
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	for i := range 50 {
		if _, err := s.Append(ctx, fmt.Sprintf("case-%d", i), eventstore.NoStream, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.w.heads.cur) + len(s.w.heads.old); n > 8 {
		t.Fatalf("head cache holds %d streams, bound is 8", n)
	}
	res, err := s.Append(ctx, "case-0", eventstore.Exact(0), testEvent(1))
	if err != nil || res.Revision != 1 {
		t.Fatalf("append to an evicted stream: %+v %v", res, err)
	}
	var wrong *eventstore.WrongExpectedRevisionError
	if _, err := s.Append(ctx, "case-1", eventstore.NoStream, testEvent(1)); !errors.As(err, &wrong) || !wrong.ActualExists || wrong.ActualRevision != 0 {
		t.Fatalf("NoStream on an existing, evicted stream: %v", err)
	}
}
