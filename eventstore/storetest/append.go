package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

func testExpectedRevision(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Happened"

	wantWrong := func(stream string, exp eventstore.ExpectedRevision, exists bool, actual uint64) {
		t.Helper()
		_, err := s.Append(ctx, stream, exp, event(typ, 0))
		if !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			t.Fatalf("Append(%q, %s) err = %v, want ErrWrongExpectedRevision", stream, exp, err)
		}
		var wrong *eventstore.WrongExpectedRevisionError
		if !errors.As(err, &wrong) {
			t.Fatalf("Append(%q, %s) err %T is not a *WrongExpectedRevisionError", stream, exp, err)
		}
		if wrong.Stream != stream || wrong.Expected != exp || wrong.ActualExists != exists || (exists && wrong.ActualRevision != actual) {
			t.Fatalf("Append(%q, %s): got %+v, want actual exists=%v revision %d", stream, exp, *wrong, exists, actual)
		}
	}

	missing := p + "missing"
	wantWrong(missing, eventstore.StreamExists, false, 0)
	wantWrong(missing, eventstore.Exact(0), false, 0)
	wantWrong(missing, eventstore.Exact(3), false, 0)
	wantStreamNotFound(t, ctx, s, missing)

	a := p + "a"
	var last eventstore.Position
	step := func(exp eventstore.ExpectedRevision, n int, wantRev uint64) {
		t.Helper()
		res := mustAppend(t, ctx, s, a, exp, events(typ, n)...)
		if res.Revision != wantRev {
			t.Fatalf("Append(%s, %d events): revision %d, want %d", exp, n, res.Revision, wantRev)
		}
		if res.Position <= last {
			t.Fatalf("Append(%s): position %d not after the previous append's %d", exp, res.Position, last)
		}
		last = res.Position
	}
	step(eventstore.NoStream, 1, 0)
	wantWrong(a, eventstore.NoStream, true, 0)
	wantWrong(a, eventstore.Exact(1), true, 0)
	step(eventstore.Exact(0), 2, 2)
	step(eventstore.StreamExists, 1, 3)
	step(eventstore.Any, 1, 4)
	wantWrong(a, eventstore.Exact(3), true, 4)
	wantWrong(a, eventstore.Exact(5), true, 4)
	wantWrong(a, eventstore.NoStream, true, 4)
	step(eventstore.Exact(4), 1, 5)

	b := p + "b"
	if res := mustAppend(t, ctx, s, b, eventstore.Any, event(typ, 0)); res.Revision != 0 {
		t.Fatalf("Any on a new stream: revision %d, want 0", res.Revision)
	}

	got := readStream(t, ctx, s, a)
	if want := []uint64{0, 1, 2, 3, 4, 5}; !equalRevs(revisions(got), want) {
		t.Fatalf("stream revisions %v, want %v (a failed append must write nothing)", revisions(got), want)
	}
	if got[len(got)-1].Position != last {
		t.Fatalf("last event position %d, Append reported %d", got[len(got)-1].Position, last)
	}
}

func equalRevs(a, b []uint64) bool {
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

func testAtomicAppend(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	stream := p + "case"
	evs := events(p+"Logged", 3)
	evs[1].Metadata = nil
	evs[2].Data = []byte(`{"nested":{"list":[1,2,3],"unicode":"Calais – Coquelles"},"n":2}`)

	before := time.Now()
	res := mustAppend(t, ctx, s, stream, eventstore.NoStream, evs...)
	after := time.Now()
	if res.Revision != 2 {
		t.Fatalf("revision %d, want 2", res.Revision)
	}

	got := readStream(t, ctx, s, stream)
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	checkIncreasing(t, got)
	for i, ev := range got {
		want := evs[i]
		if ev.ID != want.ID || ev.Type != want.Type || ev.Stream != stream || ev.Revision != uint64(i) {
			t.Fatalf("event %d: got id %s type %q stream %q revision %d", i, ev.ID, ev.Type, ev.Stream, ev.Revision)
		}
		if !bytes.Equal(ev.Data, want.Data) {
			t.Fatalf("event %d data %s, want %s", i, ev.Data, want.Data)
		}
		if !bytes.Equal(ev.Metadata, want.Metadata) {
			t.Fatalf("event %d metadata %q, want %q", i, ev.Metadata, want.Metadata)
		}
		if ev.RecordedAt.Location() != time.UTC {
			t.Fatalf("event %d RecordedAt %v is not UTC", i, ev.RecordedAt)
		}
		if ev.RecordedAt.Before(before.Add(-time.Minute)) || ev.RecordedAt.After(after.Add(time.Minute)) {
			t.Fatalf("event %d RecordedAt %v not near the append (%v .. %v)", i, ev.RecordedAt, before, after)
		}
	}
	if got[2].Position != res.Position {
		t.Fatalf("last event at position %d, Append reported %d", got[2].Position, res.Position)
	}

	// The global log holds the same three events, in the same order.
	all := readFrom(t, ctx, s, eventstore.Start, p)
	if !equalIDs(ids(all), dataIDs(evs)) {
		t.Fatalf("global log has %v, want %v", ids(all), dataIDs(evs))
	}
	for i := range all {
		if all[i].Position != got[i].Position || all[i].Revision != got[i].Revision || !all[i].RecordedAt.Equal(got[i].RecordedAt) {
			t.Fatalf("event %d differs between ReadAll and ReadStream: %+v vs %+v", i, all[i], got[i])
		}
	}

	// An append with one bad event writes none of them.
	bad := events(p+"Logged", 3)
	bad[2].Data = []byte(`{"unterminated":`)
	if _, err := s.Append(ctx, p+"other", eventstore.Any, bad...); !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Fatalf("append with invalid JSON: err %v, want ErrInvalidEvent", err)
	}
	wantStreamNotFound(t, ctx, s, p+"other")
}

func testConcurrentExpectedRevision(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	stream := p + "contended"
	typ := p + "Won"
	const writers, winsEach = 32, 3

	mustAppend(t, ctx, s, stream, eventstore.NoStream, event(typ, 0))

	type win struct {
		rev uint64
		id  uuid.UUID
	}
	var (
		mu       sync.Mutex
		wins     []win
		conflict int
		wg       sync.WaitGroup
		errs     = make(chan error, writers)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			known := uint64(0)
			for won := 0; won < winsEach; {
				ev := event(typ, w)
				res, err := s.Append(ctx, stream, eventstore.Exact(known), ev)
				var wrong *eventstore.WrongExpectedRevisionError
				switch {
				case err == nil:
					if res.Duplicate || res.Revision != known+1 {
						errs <- errors.New("append won with a wrong revision or as a duplicate")
						return
					}
					mu.Lock()
					wins = append(wins, win{res.Revision, ev.ID})
					mu.Unlock()
					known = res.Revision
					won++
				case errors.As(err, &wrong) && wrong.ActualExists:
					if wrong.ActualRevision < known {
						errs <- errors.New("actual revision went backwards")
						return
					}
					mu.Lock()
					conflict++
					mu.Unlock()
					known = wrong.ActualRevision
				default:
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	got := readStream(t, ctx, s, stream)
	if len(got) != 1+writers*winsEach || len(wins) != writers*winsEach {
		t.Fatalf("stream has %d events and %d appends won, want %d and %d", len(got), len(wins), 1+writers*winsEach, writers*winsEach)
	}
	byRev := make(map[uint64]uuid.UUID)
	for _, w := range wins {
		if _, dup := byRev[w.rev]; dup {
			t.Fatalf("two appends won revision %d", w.rev)
		}
		byRev[w.rev] = w.id
	}
	for i, ev := range got {
		if ev.Revision != uint64(i) {
			t.Fatalf("event %d has revision %d", i, ev.Revision)
		}
		if i > 0 && byRev[ev.Revision] != ev.ID {
			t.Fatalf("revision %d holds %s, but %s won it", ev.Revision, ev.ID, byRev[ev.Revision])
		}
	}
	checkIncreasing(t, got)
	t.Logf("%d appends won, %d lost a race", len(wins), conflict)
}

func testIdempotency(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	stream := p + "idem"
	typ := p + "Retried"

	first := events(typ, 2)
	r1 := mustAppend(t, ctx, s, stream, eventstore.NoStream, first...)

	wantDuplicate := func(stream string, exp eventstore.ExpectedRevision, want eventstore.AppendResult, evs ...eventstore.EventData) {
		t.Helper()
		res, err := s.Append(ctx, stream, exp, evs...)
		if err != nil {
			t.Fatalf("retry with %s: %v", exp, err)
		}
		if !res.Duplicate || res.Revision != want.Revision || res.Position != want.Position {
			t.Fatalf("retry with %s: got %+v, want the original %+v with Duplicate", exp, res, want)
		}
	}
	// A retry succeeds whatever its expected revision says.
	for _, exp := range []eventstore.ExpectedRevision{eventstore.NoStream, eventstore.Any, eventstore.StreamExists, eventstore.Exact(1), eventstore.Exact(0), eventstore.Exact(9)} {
		wantDuplicate(stream, exp, r1, first...)
	}

	second := event(typ, 2)
	r2 := mustAppend(t, ctx, s, stream, eventstore.Exact(1), second)
	wantDuplicate(stream, eventstore.Exact(1), r2, second)
	mustAppend(t, ctx, s, stream, eventstore.Exact(2), event(typ, 3))
	// Still recognised after later appends.
	wantDuplicate(stream, eventstore.NoStream, r1, first...)
	wantDuplicate(stream, eventstore.Exact(1), r2, second)

	wantReused := func(what, stream string, evs ...eventstore.EventData) {
		t.Helper()
		_, err := s.Append(ctx, stream, eventstore.Any, evs...)
		if !errors.Is(err, eventstore.ErrEventIDReused) {
			t.Fatalf("%s: err %v, want ErrEventIDReused", what, err)
		}
		var reused *eventstore.EventIDReusedError
		if !errors.As(err, &reused) {
			t.Fatalf("%s: err %T is not a *EventIDReusedError", what, err)
		}
		known := false
		for _, ev := range evs {
			known = known || ev.ID == reused.EventID
		}
		if !known {
			t.Fatalf("%s: error names event id %s, not one of the append's", what, reused.EventID)
		}
	}
	changedData := append([]eventstore.EventData(nil), first...)
	changedData[1].Data = []byte(`{"changed":true}`)
	wantReused("same ids, different data", stream, changedData...)
	changedType := append([]eventstore.EventData(nil), first...)
	changedType[0].Type = typ + "Other"
	wantReused("same ids, different type", stream, changedType...)
	changedMeta := append([]eventstore.EventData(nil), first...)
	changedMeta[0].Metadata = []byte(`{"other":1}`)
	wantReused("same ids, different metadata", stream, changedMeta...)
	wantReused("same ids, another stream", p+"elsewhere", first...)
	wantStreamNotFound(t, ctx, s, p+"elsewhere")

	// Partial overlaps with an earlier append are errors, and write nothing.
	fresh := event(typ, 9)
	for _, tc := range []struct {
		name string
		evs  []eventstore.EventData
	}{
		{"prefix of an earlier append", first[:1]},
		{"suffix of an earlier append", first[1:]},
		{"earlier append plus a new event", []eventstore.EventData{first[0], first[1], fresh}},
		{"new event then an old one", []eventstore.EventData{fresh, first[0]}},
	} {
		_, err := s.Append(ctx, stream, eventstore.Any, tc.evs...)
		if !errors.Is(err, eventstore.ErrEventIDReused) && !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			t.Fatalf("%s: err %v, want ErrEventIDReused", tc.name, err)
		}
	}
	got := readStream(t, ctx, s, stream)
	if len(got) != 4 {
		t.Fatalf("stream has %d events after retries, want 4", len(got))
	}
	for _, ev := range got {
		if ev.ID == fresh.ID {
			t.Fatal("an append that partly overlapped an earlier one was written")
		}
	}
}

func testIdempotencyAfterReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("backend cannot be reopened")
	}
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	stream := p + "idem"
	typ := p + "Retried"

	first := events(typ, 3)
	r1 := mustAppend(t, ctx, s, stream, eventstore.NoStream, first...)
	single := event(typ, 3)
	r2 := mustAppend(t, ctx, s, stream, eventstore.Exact(2), single)

	s = h.Reopen(t, s)

	for _, tc := range []struct {
		evs  []eventstore.EventData
		want eventstore.AppendResult
	}{{first, r1}, {[]eventstore.EventData{single}, r2}} {
		res, err := s.Append(ctx, stream, eventstore.NoStream, tc.evs...)
		if err != nil {
			t.Fatalf("retry after reopen: %v", err)
		}
		if !res.Duplicate || res.Revision != tc.want.Revision || res.Position != tc.want.Position {
			t.Fatalf("retry after reopen: %+v, want the original %+v with Duplicate", res, tc.want)
		}
	}
	changed := append([]eventstore.EventData(nil), first...)
	changed[2].Data = []byte(`{"changed":true}`)
	if _, err := s.Append(ctx, stream, eventstore.Any, changed...); !errors.Is(err, eventstore.ErrEventIDReused) {
		t.Fatalf("reused id after reopen: err %v, want ErrEventIDReused", err)
	}
	res, err := s.Append(ctx, stream, eventstore.Any, first[1:]...)
	switch {
	case errors.Is(err, eventstore.ErrEventIDReused), errors.Is(err, eventstore.ErrWrongExpectedRevision):
	case err == nil && res.Duplicate && h.NoAppendBoundariesAfterReopen:
		// Answered as a retry: acceptable where the backend keeps no
		// append boundaries, as long as nothing was written (checked
		// below by the stream's length).
	default:
		t.Fatalf("partial retry after reopen: %+v, err %v, want ErrEventIDReused", res, err)
	}
	r3 := mustAppend(t, ctx, s, stream, eventstore.Exact(3), event(typ, 4))
	if r3.Revision != 4 || r3.Position <= r2.Position {
		t.Fatalf("append after reopen: %+v, want revision 4 after position %d", r3, r2.Position)
	}
	if got := readStream(t, ctx, s, stream); len(got) != 5 {
		t.Fatalf("stream has %d events, want 5", len(got))
	}
}

func testReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("backend cannot be reopened")
	}
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Kept"
	for i := range 5 {
		mustAppend(t, ctx, s, p+"a", eventstore.Any, events(typ, i+1)...)
		mustAppend(t, ctx, s, p+"b", eventstore.Any, event(typ, i))
	}
	before := readFrom(t, ctx, s, eventstore.Start, p)
	headBefore := head(t, ctx, s)

	s = h.Reopen(t, s)

	after := readFrom(t, ctx, s, eventstore.Start, p)
	if len(after) != len(before) {
		t.Fatalf("after reopen %d events, before %d", len(after), len(before))
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.ID != b.ID || a.Position != b.Position || a.Revision != b.Revision || a.Stream != b.Stream ||
			a.Type != b.Type || !bytes.Equal(a.Data, b.Data) || !bytes.Equal(a.Metadata, b.Metadata) || !a.RecordedAt.Equal(b.RecordedAt) {
			t.Fatalf("event %d changed across reopen:\n before %+v\n after  %+v", i, b, a)
		}
	}
	if h := head(t, ctx, s); h < headBefore {
		t.Fatalf("head %d after reopen, %d before", h, headBefore)
	}
	res := mustAppend(t, ctx, s, p+"b", eventstore.Exact(4), event(typ, 9))
	if res.Revision != 5 || res.Position <= headBefore {
		t.Fatalf("append after reopen: %+v, want revision 5 after position %d", res, headBefore)
	}
	// A subscription from the start finds history and the new event.
	sub := subscribe(t, ctx, s, eventstore.SubscribeOptions{Filter: eventstore.Filter{StreamPrefixes: []string{p}}})
	got := sub.take(len(before)+1, 10*time.Second)
	if got[len(got)-1].Position != res.Position {
		t.Fatalf("subscription ended its catch-up at %d, want %d", got[len(got)-1].Position, res.Position)
	}
}
