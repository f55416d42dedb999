package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

func testLimits(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Sized"
	lim := h.Limits.WithDefaults()

	// sized returns an event of exactly size bytes (type + data + metadata).
	sized := func(size int) eventstore.EventData {
		ev := eventstore.EventData{ID: uuid.New(), Type: typ, Metadata: []byte(`{}`)}
		pad := size - len(ev.Type) - len(ev.Metadata) - 2
		ev.Data = []byte(`"` + strings.Repeat("x", pad) + `"`)
		return ev
	}

	for _, tc := range []struct {
		name   string
		stream string
		evs    []eventstore.EventData
		want   error
	}{
		{"empty stream name", "", []eventstore.EventData{event(typ, 0)}, eventstore.ErrInvalidStreamName},
		{"stream name too long", p + strings.Repeat("n", lim.MaxStreamNameLength), []eventstore.EventData{event(typ, 0)}, eventstore.ErrInvalidStreamName},
		{"newline in stream name", p + "bad\nname", []eventstore.EventData{event(typ, 0)}, eventstore.ErrInvalidStreamName},
		{"NUL in stream name", p + "bad\x00name", []eventstore.EventData{event(typ, 0)}, eventstore.ErrInvalidStreamName},
		{"DEL in stream name", p + "bad\x7fname", []eventstore.EventData{event(typ, 0)}, eventstore.ErrInvalidStreamName},
		{"system stream name", "$" + p, []eventstore.EventData{event(typ, 0)}, eventstore.ErrInvalidStreamName},
		{"invalid UTF-8 stream name", p + "\xff\xfe", []eventstore.EventData{event(typ, 0)}, eventstore.ErrInvalidStreamName},
		{"no events", p + "none", nil, eventstore.ErrInvalidEvent},
		{"nil event id", p + "nilid", []eventstore.EventData{{Type: typ, Data: []byte(`{}`)}}, eventstore.ErrInvalidEvent},
		{"empty type", p + "notype", []eventstore.EventData{{ID: uuid.New(), Data: []byte(`{}`)}}, eventstore.ErrInvalidEvent},
		{"type too long", p + "longtype", []eventstore.EventData{{ID: uuid.New(), Type: strings.Repeat("T", lim.MaxTypeLength+1), Data: []byte(`{}`)}}, eventstore.ErrInvalidEvent},
		{"data not JSON", p + "notjson", []eventstore.EventData{{ID: uuid.New(), Type: typ, Data: []byte(`{oops}`)}}, eventstore.ErrInvalidEvent},
		{"empty data", p + "nodata", []eventstore.EventData{{ID: uuid.New(), Type: typ}}, eventstore.ErrInvalidEvent},
		{"metadata not JSON", p + "badmeta", []eventstore.EventData{{ID: uuid.New(), Type: typ, Data: []byte(`{}`), Metadata: []byte(`nope`)}}, eventstore.ErrInvalidEvent},
		{"same id twice in one append", p + "twice", func() []eventstore.EventData {
			a := event(typ, 0)
			b := event(typ, 1)
			b.ID = a.ID
			return []eventstore.EventData{a, b}
		}(), eventstore.ErrInvalidEvent},
		{"same id twice in a long append", p + "twicelong", func() []eventstore.EventData {
			evs := events(typ, 20)
			evs[17].ID = evs[3].ID
			return evs
		}(), eventstore.ErrInvalidEvent},
		{"event one byte too large, after a good one", p + "large", []eventstore.EventData{event(typ, 0), sized(lim.MaxEventSize + 1)}, eventstore.ErrEventTooLarge},
		{"too many events", p + "many", events(typ, lim.MaxEventsPerAppend+1), eventstore.ErrInvalidEvent},
	} {
		_, err := s.Append(ctx, tc.stream, eventstore.Any, tc.evs...)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		if errors.Is(tc.want, eventstore.ErrInvalidEvent) || errors.Is(tc.want, eventstore.ErrEventTooLarge) {
			wantStreamNotFound(t, ctx, s, tc.stream) // nothing half-written
		}
	}

	// At the limits exactly: accepted, and read back intact.
	longName := p + strings.Repeat("n", lim.MaxStreamNameLength-len(p))
	big := sized(lim.MaxEventSize)
	mustAppend(t, ctx, s, longName, eventstore.NoStream, big)
	got := readStream(t, ctx, s, longName)
	if len(got) != 1 || !bytes.Equal(got[0].Data, big.Data) {
		t.Fatalf("event of exactly the size limit did not read back intact")
	}
	unicodeName := p + "affaire-Calais-Coquelles-été"
	mustAppend(t, ctx, s, unicodeName, eventstore.NoStream, event(typ, 1))
	if got := readStream(t, ctx, s, unicodeName); len(got) != 1 || got[0].Stream != unicodeName {
		t.Fatal("stream with a non-ASCII name did not read back")
	}
}

func testContextCancellation(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	typ := p + "Cancelled"
	mustAppend(t, ctx, s, p+"exists", eventstore.NoStream, event(typ, 0))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Append(cancelled, p+"never", eventstore.Any, event(typ, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context: err %v, want context.Canceled", err)
	}
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := s.Append(expired, p+"never", eventstore.Any, event(typ, 2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append with an expired deadline: err %v, want context.DeadlineExceeded", err)
	}
	wantStreamNotFound(t, ctx, s, p+"never")

	seqs := map[string]func(context.Context) ([]eventstore.RecordedEvent, error){
		"ReadStream": func(c context.Context) ([]eventstore.RecordedEvent, error) {
			return collectErr(s.ReadStream(c, p+"exists", eventstore.ReadStreamOptions{}))
		},
		"ReadAll": func(c context.Context) ([]eventstore.RecordedEvent, error) {
			return collectErr(s.ReadAll(c, eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefixes: []string{p}}}))
		},
		"Subscribe": func(c context.Context) ([]eventstore.RecordedEvent, error) {
			return collectErr(s.Subscribe(c, eventstore.SubscribeOptions{Filter: eventstore.Filter{StreamPrefixes: []string{p}}}))
		},
	}
	for name, read := range seqs {
		got, err := read(cancelled)
		if len(got) != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("%s with a cancelled context: %d events, err %v; want context.Canceled", name, len(got), err)
		}
	}
	if _, err := s.Head(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Head with a cancelled context: err %v, want context.Canceled", err)
	}

	// A live subscription ends with the context's error when it is cancelled.
	sub := subscribeLive(t, ctx, s, p+"marker", p+"Marker", eventstore.Filter{StreamPrefixes: []string{p}})
	sub.cancel()
	deadline := time.Now().Add(waitEvents)
	for {
		ev, ok, err := sub.next(time.Until(deadline))
		if !ok {
			t.Fatal("cancelled subscription did not end with an error in time")
		}
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled subscription ended with %v, want context.Canceled", err)
			}
			break
		}
		_ = ev
	}
	select {
	case <-sub.ended:
	case <-time.After(waitEvents):
		t.Fatal("cancelled subscription's sequence did not end after its error")
	}
}

func testHeadAndPing(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	before := head(t, ctx, s)
	res := mustAppend(t, ctx, s, p+"h", eventstore.NoStream, events(p+"Headed", 2)...)
	after := head(t, ctx, s)
	if before >= res.Position || after < res.Position {
		t.Fatalf("Head %d before and %d after an append at position %d", before, after, res.Position)
	}
	newest := collect(t, s.ReadAll(ctx, eventstore.ReadAllOptions{Direction: eventstore.Backward, FromEnd: true, Limit: 1}))
	if len(newest) != 1 || newest[0].Position < res.Position {
		t.Fatalf("newest event of the log %v, want at or after %d", newest, res.Position)
	}
}

func testClose(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := testContext(t, h)
	p := prefix(t)
	sub := subscribeLive(t, ctx, s, p+"marker", p+"Marker", eventstore.Filter{StreamPrefixes: []string{p}})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	deadline := time.Now().Add(waitEvents)
	for {
		_, ok, err := sub.next(time.Until(deadline))
		if !ok {
			t.Fatal("live subscription did not end with an error when the store closed")
		}
		if err != nil {
			if !errors.Is(err, eventstore.ErrClosed) {
				t.Fatalf("subscription ended with %v on Close, want ErrClosed", err)
			}
			break
		}
	}
	if _, err := s.Append(ctx, p+"late", eventstore.Any, event(p+"Late", 0)); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Append after Close: err %v, want ErrClosed", err)
	}
	if _, err := collectErr(s.ReadStream(ctx, p+"marker", eventstore.ReadStreamOptions{})); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("ReadStream after Close: err %v, want ErrClosed", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
	_ = s.Close() // a second Close must not panic
}
