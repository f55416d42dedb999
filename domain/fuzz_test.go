package domain

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// seedCommands are valid (and a few invalid) commands of every type.
var seedCommands = []cmd{openCase, identifyA, identifyB, linkG, arrestA, chargeA, dismantle, seizeCoke, seizeMore,
	detect, intel, joinFR, closeCase, reopen, retract(5),
	{typ: TypeSeizureRecorded, data: `{"commodity":"cash","quantity":"4250000.5","unit":"gbp","location":"Dover"}`},
	{typ: TypeStowawaysDetected, data: `{"location":"Calais","method":"scanner","people":1e2}`},
	{typ: TypeCaseOpened, data: `{"reference":"R","title":"T","crime_types":["cash"],"location":"L","x":1}`},
}

// FuzzDecode: no input makes the decoders panic; what decodes re-encodes to
// data that decodes to the same thing (so stored data is a fixed point, and
// a retried command compares equal to what was stored).
func FuzzDecode(f *testing.F) {
	for _, c := range seedCommands {
		f.Add(c.typ, 1, []byte(c.data))
		f.Add(c.typ, 2, []byte(c.data))
	}
	f.Add(TypeStowawaysDetected, 1, []byte(`{"location":"Calais","method":"scanner","count":3}`))
	f.Add(TypeSeizureRecorded, 1, []byte(`{"commodity":"cannabis","quantity":"1.50","unit":"kg","location":"Dover"}`))
	f.Add("metadata", 0, []byte(`{"schema_version":1,"occurred_at":"2011-06-06T12:00:00Z","recorded_at":"2011-06-06T12:00:00Z","actor":{"subject":"a","role":"b","agency":"c"},"correlation_id":"e0000000-0000-4000-8000-000000000000","causation_id":"e0000000-0000-4000-8000-000000000000","prev_hash":"","hash":"00"}`))
	f.Fuzz(func(t *testing.T, typ string, schema int, data []byte) {
		if typ == "metadata" {
			m, err := DecodeMetadata(data)
			if err == nil {
				b, err := EncodeMetadata(m)
				if err != nil {
					return // e.g. a year beyond 9999: readable, but never written by us
				}
				// What we write is a fixed point: it reads back and
				// re-encodes to the same bytes.
				m2, err := DecodeMetadata(b)
				if err != nil {
					t.Fatalf("encoded metadata %s does not decode: %v", b, err)
				}
				if b2, _ := EncodeMetadata(m2); !bytes.Equal(b, b2) {
					t.Fatalf("metadata encoding not stable: %s then %s", b, b2)
				}
			}
			return
		}
		ev, err := DecodeEventData(typ, schema, data)
		if err == nil {
			roundTrip(t, typ, ev)
		} else if _, ok := AsError(err); !ok {
			t.Fatalf("DecodeEventData returned a non-domain error: %v", err)
		}
		ev, err = DecodeCommand(typ, data, officerUKBA, testNow)
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("DecodeCommand returned a non-domain error: %v", err)
			}
			return
		}
		b := roundTrip(t, typ, ev)
		// Normalisation is idempotent: the stored form of a command is
		// accepted as a command and stored identically.
		again, err := DecodeCommand(typ, b, officerUKBA, testNow)
		if err != nil {
			t.Fatalf("stored form %s of an accepted command is refused: %v", b, err)
		}
		if b2, _ := EncodeEventData(again); !bytes.Equal(b, b2) {
			t.Fatalf("normalisation not idempotent: %s then %s", b, b2)
		}
	})
}

func roundTrip(t *testing.T, typ string, ev Event) []byte {
	t.Helper()
	if ev.EventType() != typ {
		t.Fatalf("decoded %T for %s", ev, typ)
	}
	b, err := EncodeEventData(ev)
	if err != nil {
		t.Fatal(err)
	}
	ev2, err := DecodeEventData(typ, SchemaVersion(typ), b)
	if err != nil {
		t.Fatalf("re-encoded data %s does not decode: %v", b, err)
	}
	if b2, _ := EncodeEventData(ev2); !bytes.Equal(b, b2) {
		t.Fatalf("encoding not stable: %s then %s", b, b2)
	}
	return b
}

// FuzzDecide: whatever the command, Decide does not panic, refuses with a
// domain error or returns an event that extends the chain, survives the
// store's round trip and folds into the same state live and replayed.
func FuzzDecide(f *testing.F) {
	for i, c := range seedCommands {
		f.Add(c.typ, []byte(c.data), int64(-i)*3600, i%2 == 0, uint8(i))
	}
	f.Add(TypeEntryRetracted, []byte(`{"event_id":"e0000000-0000-4000-8000-000000000005","reason":"x"}`), int64(0), false, uint8(3))
	f.Add(TypeArrestMade, []byte(`{"person_id":"a0000000-0000-4000-8000-00000000000a","location":"Dover","offence":"x"}`), int64(1<<62), true, uint8(0))
	f.Fuzz(func(t *testing.T, typ string, data []byte, offsetSeconds int64, useOccurred bool, stateIndex uint8) {
		// Three starting states: a new case, a busy one, a closed one.
		var given []cmd
		switch stateIndex % 3 {
		case 1:
			given = []cmd{openCase, identifyA, linkG, joinFR, intel, arrestA, chargeA, seizeCoke, detect, dismantle}
		case 2:
			given = []cmd{openCase, identifyA, arrestA, closeCase}
		}
		c, entries := run(t, given...)
		k := Command{EventID: eventID(len(given)), Type: typ, Data: data, Actor: officerFrench,
			Now: testNow.Add(time.Hour)}
		if useOccurred {
			o := testNow.Add(time.Duration(offsetSeconds % (1 << 33) * int64(time.Second)))
			k.OccurredAt = &o
		}
		before := mustJSON(t, c)
		e, err := Decide(c, k)
		if !bytes.Equal(before, mustJSON(t, c)) {
			t.Fatal("Decide changed its input state")
		}
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("non-domain error: %v", err)
			}
			return
		}
		if !json.Valid(e.Stored.Data) || !json.Valid(e.Stored.Metadata) {
			t.Fatalf("stored bytes not JSON: %s %s", e.Stored.Data, e.Stored.Metadata)
		}
		stored := append(storedOf(entries), storeRoundTrip(t, e.Stored))
		if v := Verify(stored); !v.Valid {
			t.Fatalf("chain: %+v", v)
		}
		if err := c.Apply(e); err != nil {
			t.Fatalf("apply: %v", err)
		}
		decoded, err := DecodeStoredAll(stored)
		if err != nil {
			t.Fatalf("stored events do not decode: %v", err)
		}
		replayed, err := Replay(decoded)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if !reflect.DeepEqual(c, replayed) {
			t.Fatalf("live and replayed differ:\n%s\n%s", mustJSON(t, c), mustJSON(t, replayed))
		}
	})
}
