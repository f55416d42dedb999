package sqlitestore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

// The hand-written recorded_at parser must accept and reject what
// time.Parse does and agree with it on the value.
func TestParseRecordedAtMatchesTimeParse(t *testing.T) {
	cases := []string{
		"2011-07-14T09:30:00.000000000Z",
		"2024-02-29T23:59:59.999999999Z", // leap day
		"2023-02-29T12:00:00.000000000Z", // not a leap year
		"2100-02-29T12:00:00.000000000Z", // century, not a leap year
		"2000-02-29T12:00:00.000000000Z", // 400-year leap
		"2026-04-31T12:00:00.000000000Z", // April has 30 days
		"2026-12-31T24:00:00.000000000Z",
		"2026-12-31T23:60:00.000000000Z",
		"2026-12-31T23:59:60.000000000Z",
		"2026-13-01T00:00:00.000000000Z",
		"2026-00-01T00:00:00.000000000Z",
		"2026-01-00T00:00:00.000000000Z",
		"2026-01-01T00:00:00.00000000xZ",
		"2026-01-01 00:00:00.000000000Z",
		"2011-07-14T09:30:00.5+01:00",
		"2011-07-14T09:30:00Z",
		"0000-01-01T00:00:00.000000000Z",
		"9999-12-31T23:59:59.999999999Z",
		"",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		tm := time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9)).UTC()
		cases = append(cases, formatRecordedAt(tm))
	}
	for _, text := range cases {
		want, wantErr := time.Parse(time.RFC3339Nano, text)
		got, err := parseRecordedAt(text)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: parseRecordedAt error %v, time.Parse error %v", text, err, wantErr)
		}
		if err == nil && (!got.Equal(want) || got.Location() != time.UTC) {
			t.Fatalf("%q: parseRecordedAt %v, time.Parse %v", text, got, want)
		}
	}
}

func TestParseEventIDMatchesUUIDParse(t *testing.T) {
	cases := []string{
		"6f1c2a9e-55b1-4c1e-9a57-0d2f3c4b5a69",
		"6F1C2A9E-55B1-4C1E-9A57-0D2F3C4B5A69",
		"{6f1c2a9e-55b1-4c1e-9a57-0d2f3c4b5a69}",
		"urn:uuid:6f1c2a9e-55b1-4c1e-9a57-0d2f3c4b5a69",
		"6f1c2a9e55b14c1e9a570d2f3c4b5a69",
		"6f1c2a9e-55b1-4c1e-9a57-0d2f3c4b5a6g",
		"6f1c2a9e-55b1-4c1e-9a57_0d2f3c4b5a69",
		"6f1c2a9e-55b1-4c1e-9a57-0d2f3c4b5a6",
		"zf1c2a9e-55b1-4c1e-9a57-0d2f3c4b5a69",
		"",
	}
	for range 1000 {
		cases = append(cases, uuid.NewString())
	}
	for _, text := range cases {
		want, wantErr := uuid.Parse(text)
		got, err := parseEventID(text)
		if (err != nil) != (wantErr != nil) || got != want {
			t.Fatalf("%q: parseEventID %v, %v; uuid.Parse %v, %v", text, got, err, want, wantErr)
		}
	}
}

func TestArenaCopies(t *testing.T) {
	var a arena
	if b := a.copy(""); b == nil || len(b) != 0 {
		t.Fatalf("empty copy: %#v", b)
	}
	first := a.copy("abc")
	second := a.copy("def")
	if string(first) != "abc" || cap(first) != 3 || string(second) != "def" {
		t.Fatalf("copies %q (cap %d), %q", first, cap(first), second)
	}
	// Appending to a handed-out slice must not write over its neighbour.
	_ = append(first, 'X')
	if string(second) != "def" {
		t.Fatalf("neighbour overwritten: %q", second)
	}
	big := strings.Repeat("x", arenaMaxShared+1)
	if b := a.copy(big); string(b) != big {
		t.Fatal("big copy differs")
	}
	// Filling more than a chunk keeps every earlier copy intact.
	var kept [][]byte
	for i := range 3 * arenaChunk / 100 {
		kept = append(kept, a.copy(fmt.Sprintf("%099d", i)))
	}
	for i, b := range kept {
		if string(b) != fmt.Sprintf("%099d", i) {
			t.Fatalf("copy %d changed: %q", i, b)
		}
	}
}

// Events handed out by every read path keep their bytes after the reader
// moved on to later pages, do not alias each other, and read metadata
// back as written (none as nil).
func TestReadEventsOutliveTheirPage(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	const n = 3*pageSize + 17
	want := make([]eventstore.EventData, n)
	batch := make([]eventstore.EventData, 0, 100)
	for i := range want {
		ev := eventstore.EventData{
			ID:   uuid.New(),
			Type: fmt.Sprintf("Type With Spaces %d", i%3),
			Data: fmt.Appendf(nil, `{"n":%d,"pad":%q}`, i, strings.Repeat("p", i%700)),
		}
		switch i % 3 {
		case 1:
			ev.Metadata = fmt.Appendf(nil, `{"m":%d}`, i)
		case 2:
			ev.Metadata = []byte{}
		}
		if i == 5 {
			ev.Data = fmt.Appendf(nil, "%q", strings.Repeat("d", 2*arenaMaxShared)) // its own array
		}
		want[i] = ev
		if batch = append(batch, ev); len(batch) == cap(batch) || i == n-1 {
			if _, err := s.Append(ctx, "case-outlive", eventstore.Any, batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	check := func(name string, got []eventstore.RecordedEvent) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("%s: %d events, want %d", name, len(got), n)
		}
		// Scribble past every event's end: it must not reach a neighbour.
		for i := range got {
			_ = append(got[i].Data, '!')
			_ = append(got[i].Metadata, '!')
		}
		for i, ev := range got {
			w := want[i]
			if ev.ID != w.ID || ev.Type != w.Type || !bytes.Equal(ev.Data, w.Data) || ev.Revision != uint64(i) || ev.Position != eventstore.Position(i+1) {
				t.Fatalf("%s: event %d = %s %q %q, want %s %q %q", name, i, ev.ID, ev.Type, ev.Data, w.ID, w.Type, w.Data)
			}
			// Empty metadata is stored as NULL and read back as nil.
			if (ev.Metadata == nil) != (len(w.Metadata) == 0) || !bytes.Equal(ev.Metadata, w.Metadata) {
				t.Fatalf("%s: event %d metadata %#v, want %#v", name, i, ev.Metadata, w.Metadata)
			}
			if ev.RecordedAt.IsZero() || ev.RecordedAt.Location() != time.UTC {
				t.Fatalf("%s: event %d recorded at %v", name, i, ev.RecordedAt)
			}
		}
	}
	collect := func(seq func(func(eventstore.RecordedEvent, error) bool), stopAt int) []eventstore.RecordedEvent {
		var got []eventstore.RecordedEvent
		for ev, err := range seq {
			if err != nil {
				t.Fatal(err)
			}
			if got = append(got, ev); len(got) == stopAt {
				break
			}
		}
		return got
	}
	check("ReadAll", collect(s.ReadAll(ctx, eventstore.ReadAllOptions{}), 0))
	check("ReadAll filtered", collect(s.ReadAll(ctx, eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefixes: []string{"case-"}}}), 0))
	check("ReadStream", collect(s.ReadStream(ctx, "case-outlive", eventstore.ReadStreamOptions{}), 0))
	check("Subscribe", collect(s.Subscribe(ctx, eventstore.SubscribeOptions{}), n))
	back := collect(s.ReadAll(ctx, eventstore.ReadAllOptions{Direction: eventstore.Backward, FromEnd: true}), 0)
	for i, j := 0, len(back)-1; i < j; i, j = i+1, j-1 {
		back[i], back[j] = back[j], back[i]
	}
	check("ReadAll backward", back)
}
