package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

func testGlobalOrder(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Ordered"
	from := head(t, ctx, s)

	// Sequential appends across streams: the log holds them in append order,
	// each append's events together.
	var want []uuid.UUID
	var results []eventstore.AppendResult
	for i := range 12 {
		evs := events(typ, 1+i%3)
		results = append(results, mustAppend(t, ctx, s, fmt.Sprintf("%ss%d", p, i%4), eventstore.Any, evs...))
		want = append(want, dataIDs(evs)...)
	}
	got := readFrom(t, ctx, s, from+1, p)
	if !equalIDs(ids(got), want) {
		t.Fatalf("global log order %v, want %v", ids(got), want)
	}
	checkIncreasing(t, got)
	byPos := make(map[eventstore.Position]bool)
	for _, ev := range got {
		byPos[ev.Position] = true
	}
	for i, r := range results {
		if !byPos[r.Position] {
			t.Fatalf("append %d reported position %d, which holds none of its events", i, r.Position)
		}
	}

	// Concurrent appenders: each one's appends stay in its order, and every
	// stream's revisions are dense and ascending along the log.
	const goroutines, appendsEach = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	written := make([][]uuid.UUID, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range appendsEach {
				evs := events(typ, 1+i%2)
				if _, err := s.Append(ctx, fmt.Sprintf("%sc%d", p, (g+i)%3), eventstore.Any, evs...); err != nil {
					errs <- err
					return
				}
				written[g] = append(written[g], dataIDs(evs)...)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := readFrom(t, ctx, s, from+1, p+"c")
	checkIncreasing(t, all)
	index := make(map[uuid.UUID]int, len(all))
	nextRev := make(map[string]uint64)
	for i, ev := range all {
		index[ev.ID] = i
		if ev.Revision != nextRev[ev.Stream] {
			t.Fatalf("stream %s: revision %d at log index %d, want %d", ev.Stream, ev.Revision, i, nextRev[ev.Stream])
		}
		nextRev[ev.Stream]++
	}
	total := 0
	for g, w := range written {
		total += len(w)
		prev := -1
		for _, id := range w {
			i, ok := index[id]
			if !ok || i <= prev {
				t.Fatalf("appender %d: event %s missing or out of order in the log", g, id)
			}
			prev = i
		}
	}
	if len(all) != total {
		t.Fatalf("log holds %d events of the concurrent appenders, they wrote %d", len(all), total)
	}

	// Backward from the end: the same events, reversed.
	back := collect(t, s.ReadAll(ctx, eventstore.ReadAllOptions{Direction: eventstore.Backward, FromEnd: true,
		Filter: eventstore.Filter{StreamPrefixes: []string{p + "c"}}}))
	slices.Reverse(back)
	if !equalIDs(ids(back), ids(all)) {
		t.Fatal("reading the log backward does not give the forward order reversed")
	}
}

func testReadStream(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	stream := p + "ten"
	typ := p + "Counted"
	for _, n := range []int{1, 2, 3, 4} {
		mustAppend(t, ctx, s, stream, eventstore.Any, events(typ, n)...)
	}

	revs := func(from uint64, n int, step int) []uint64 {
		out := []uint64{}
		for i := 0; i < n; i++ {
			out = append(out, uint64(int(from)+i*step))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		opts eventstore.ReadStreamOptions
		want []uint64
	}{
		{"forward all", eventstore.ReadStreamOptions{}, revs(0, 10, 1)},
		{"forward from 3 limit 4", eventstore.ReadStreamOptions{From: 3, Limit: 4}, revs(3, 4, 1)},
		{"forward from 8", eventstore.ReadStreamOptions{From: 8}, revs(8, 2, 1)},
		{"forward limit 1", eventstore.ReadStreamOptions{Limit: 1}, revs(0, 1, 1)},
		{"forward past the end", eventstore.ReadStreamOptions{From: 10}, revs(0, 0, 1)},
		{"backward from end", eventstore.ReadStreamOptions{Direction: eventstore.Backward, FromEnd: true}, revs(9, 10, -1)},
		{"backward from end limit 3", eventstore.ReadStreamOptions{Direction: eventstore.Backward, FromEnd: true, Limit: 3}, revs(9, 3, -1)},
		{"backward from 5 limit 2", eventstore.ReadStreamOptions{Direction: eventstore.Backward, From: 5, Limit: 2}, revs(5, 2, -1)},
		{"backward from 0", eventstore.ReadStreamOptions{Direction: eventstore.Backward, From: 0}, revs(0, 1, 1)},
	} {
		got := collect(t, s.ReadStream(ctx, stream, tc.opts))
		if !equalRevs(revisions(got), tc.want) {
			t.Fatalf("%s: revisions %v, want %v", tc.name, revisions(got), tc.want)
		}
		for _, ev := range got {
			if ev.Stream != stream {
				t.Fatalf("%s: event of stream %q", tc.name, ev.Stream)
			}
		}
	}

	for _, dir := range []eventstore.Direction{eventstore.Forward, eventstore.Backward} {
		got, err := collectErr(s.ReadStream(ctx, p+"nothing", eventstore.ReadStreamOptions{Direction: dir, FromEnd: dir == eventstore.Backward}))
		if len(got) != 0 || !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("missing stream (direction %d): %d events, err %v; want one ErrStreamNotFound", dir, len(got), err)
		}
	}

	// Breaking out of the loop early is fine.
	n := 0
	for _, err := range s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 2 {
			break
		}
	}
}

func testReadAll(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Listed"
	from := head(t, ctx, s)
	var want []uuid.UUID
	for i := range 10 {
		evs := events(typ, 1+i%2)
		mustAppend(t, ctx, s, fmt.Sprintf("%s%d", p, i%3), eventstore.Any, evs...)
		want = append(want, dataIDs(evs)...)
	}
	f := eventstore.Filter{StreamPrefixes: []string{p}}
	all := readFrom(t, ctx, s, from+1, p)
	if !equalIDs(ids(all), want) {
		t.Fatalf("log %v, want %v", ids(all), want)
	}
	read := func(opts eventstore.ReadAllOptions) []uuid.UUID {
		opts.Filter = f
		return ids(collect(t, s.ReadAll(ctx, opts)))
	}
	rev := func(x []uuid.UUID) []uuid.UUID { y := slices.Clone(x); slices.Reverse(y); return y }
	mid := all[5].Position
	for _, tc := range []struct {
		name string
		opts eventstore.ReadAllOptions
		want []uuid.UUID
	}{
		{"forward limit 4", eventstore.ReadAllOptions{From: from + 1, Limit: 4}, want[:4]},
		{"forward from a middle position (inclusive)", eventstore.ReadAllOptions{From: mid}, want[5:]},
		{"forward from a middle position limit 2", eventstore.ReadAllOptions{From: mid, Limit: 2}, want[5:7]},
		{"forward past the end", eventstore.ReadAllOptions{From: all[len(all)-1].Position + 1}, nil},
		{"backward from end", eventstore.ReadAllOptions{Direction: eventstore.Backward, FromEnd: true}, rev(want)},
		{"backward from end limit 3", eventstore.ReadAllOptions{Direction: eventstore.Backward, FromEnd: true, Limit: 3}, rev(want)[:3]},
		{"backward from a middle position (inclusive)", eventstore.ReadAllOptions{Direction: eventstore.Backward, From: mid}, rev(want[:6])},
		{"backward from a middle position limit 2", eventstore.ReadAllOptions{Direction: eventstore.Backward, From: mid, Limit: 2}, rev(want[4:6])},
	} {
		if got := read(tc.opts); !equalIDs(got, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testFilters(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	tX, tY, tZ := p+"X", p+"Y", p+"Z"
	from := head(t, ctx, s) + 1

	type ev struct{ stream, typ string }
	layout := []ev{
		{"a-1", tX}, {"a-1", tY}, {"a-2", tZ}, {"b-1", tX}, {"bb-1", tY},
		{"é-1", tX}, {"éa", tZ}, {"f", tX}, {"a-2", tX},
	}
	ids := make(map[uuid.UUID]ev)
	for i, e := range layout {
		d := event(e.typ, i)
		mustAppend(t, ctx, s, p+e.stream, eventstore.Any, d)
		ids[d.ID] = e
	}
	pick := func(keep func(ev) bool) []ev {
		var out []ev
		for _, e := range layout {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	has := func(list ...string) func(string) bool {
		return func(x string) bool { return slices.Contains(list, x) }
	}
	for _, tc := range []struct {
		name string
		f    eventstore.Filter
		want []ev
	}{
		{"one prefix", eventstore.Filter{StreamPrefixes: []string{p + "a-"}},
			pick(func(e ev) bool { return strings.HasPrefix(e.stream, "a-") })},
		{"two prefixes", eventstore.Filter{StreamPrefixes: []string{p + "a-", p + "b-"}},
			pick(func(e ev) bool { return has("a-1", "a-2", "b-1")(e.stream) })},
		{"non-ASCII prefix", eventstore.Filter{StreamPrefixes: []string{p + "é"}},
			pick(func(e ev) bool { return has("é-1", "éa")(e.stream) })},
		{"whole stream name as prefix", eventstore.Filter{StreamPrefixes: []string{p + "f"}},
			pick(func(e ev) bool { return e.stream == "f" })},
		{"one type", eventstore.Filter{EventTypes: []string{tX}},
			pick(func(e ev) bool { return e.typ == tX })},
		{"two types", eventstore.Filter{EventTypes: []string{tX, tZ}},
			pick(func(e ev) bool { return e.typ != tY })},
		{"prefix and type", eventstore.Filter{StreamPrefixes: []string{p + "a-"}, EventTypes: []string{tX}},
			pick(func(e ev) bool { return strings.HasPrefix(e.stream, "a-") && e.typ == tX })},
		{"prefixes and types", eventstore.Filter{StreamPrefixes: []string{p + "a-", p + "bb"}, EventTypes: []string{tY, tZ}},
			pick(func(e ev) bool { return has("a-1", "a-2", "bb-1")(e.stream) && e.typ != tX })},
		{"matching nothing", eventstore.Filter{StreamPrefixes: []string{p + "zzz"}}, nil},
	} {
		got := collect(t, s.ReadAll(ctx, eventstore.ReadAllOptions{From: from, Filter: tc.f}))
		checkIncreasing(t, got)
		var gotEv []ev
		for _, g := range got {
			e, ok := ids[g.ID]
			if !ok {
				t.Fatalf("%s: foreign event %s/%d %s", tc.name, g.Stream, g.Revision, g.Type)
			}
			gotEv = append(gotEv, e)
		}
		if !slices.Equal(gotEv, tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.name, gotEv, tc.want)
		}
		back := collect(t, s.ReadAll(ctx, eventstore.ReadAllOptions{Direction: eventstore.Backward, FromEnd: true, Limit: 1, Filter: tc.f}))
		if len(tc.want) > 0 && (len(back) != 1 || back[0].ID != got[len(got)-1].ID) {
			t.Fatalf("%s: backward limit 1 did not give the last matching event", tc.name)
		}
	}
}

// testFindEvent checks the optional EventFinder: every event is found by
// its id with the content, stream, revision and position that reading the
// log gives; an unknown id is ErrEventNotFound. Backends without it skip.
func testFindEvent(t *testing.T, h Harness) {
	s := h.Open(t)
	if _, ok := s.(eventstore.EventFinder); !ok {
		t.Skip("this backend is not an eventstore.EventFinder")
	}
	ctx := testContext(t, h)
	p := prefix(t)
	from := head(t, ctx, s)
	mustAppend(t, ctx, s, p+"a", eventstore.NoStream, events(p+"Found", 3)...)
	mustAppend(t, ctx, s, p+"b", eventstore.NoStream, events(p+"Found", 2)...)
	for _, want := range readFrom(t, ctx, s, from+1, p) {
		got, err := eventstore.FindEvent(ctx, s, want.ID)
		if err != nil {
			t.Fatalf("FindEvent(%s): %v", want.ID, err)
		}
		if got.ID != want.ID || got.Stream != want.Stream || got.Revision != want.Revision || got.Position != want.Position ||
			got.Type != want.Type || !bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Metadata, want.Metadata) ||
			!got.RecordedAt.Equal(want.RecordedAt) {
			t.Fatalf("FindEvent(%s) = %+v, want %+v as the log reads it", want.ID, got, want)
		}
	}
	if _, err := eventstore.FindEvent(ctx, s, uuid.New()); !errors.Is(err, eventstore.ErrEventNotFound) {
		t.Fatalf("FindEvent(unknown id): %v, want ErrEventNotFound", err)
	}
}
