package domain

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// The benchmarks measure the fast paths against the implementations they
// replaced (legacy_test.go), in the same run:
//
//	go test ./domain/ -run '^$' -bench 'DecodeCommand|Seal' -benchmem -count 6

var benchCommands = []struct {
	typ    string
	data   []byte
	legacy func(string, []byte, Actor, time.Time) (Event, error)
}{
	{TypeIntelligenceLogged, []byte(`{"summary":"Lorry with concealed compartment seen at Coquelles","grading":"2B1"}`),
		legacyDecodeCommand[IntelligenceLogged]},
	{TypeArrestMade, []byte(`{"person_id":"a0000000-0000-4000-8000-00000000000a","location":"Dover Eastern Docks","offence":"Facilitating illegal entry"}`),
		legacyDecodeCommand[ArrestMade]},
}

func BenchmarkDecodeCommand(b *testing.B) {
	for _, c := range benchCommands {
		b.Run(c.typ+"/old", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.legacy(c.typ, c.data, officerUKBA, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.typ+"/new", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeCommand(c.typ, c.data, officerUKBA, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	data := benchCommands[0].data
	id := uuid.MustParse("e0000000-0000-4000-8000-000000000007")
	stream := StreamName(testCaseID)
	m := Metadata{
		SchemaVersion: 1, OccurredAt: testNow.Add(-time.Hour), RecordedAt: testNow.Add(123456 * time.Microsecond),
		Actor: officerUKBA, CorrelationID: id, CausationID: id,
		PrevHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	}
	seals := []struct {
		name string
		seal func(uuid.UUID, string, uint64, string, []byte, Metadata) (StoredEvent, Metadata, error)
	}{{"old", legacySeal}, {"new", Seal}}
	for _, s := range seals {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.seal(id, stream, 7, TypeIntelligenceLogged, data, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecide is the whole of a command's domain work, as under the
// POST load: an IntelligenceLogged on a busy case.
func BenchmarkDecide(b *testing.B) {
	c, _ := run(b, openCase, identifyA, linkG, joinFR, intel, arrestA)
	k := Command{EventID: eventID(99), Type: TypeIntelligenceLogged, Data: benchCommands[0].data,
		Actor: officerUKBA, Now: testNow.Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decide(c, k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is casebook verify's work per event: a chain of every
// event type checked from its stored bytes.
func BenchmarkVerify(b *testing.B) {
	stored := storedOf(chainOfEveryType(b))
	b.ReportAllocs()
	for b.Loop() {
		if res := Verify(stored); !res.Valid {
			b.Fatal(res.Reason)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(stored)), "ns/event")
}
