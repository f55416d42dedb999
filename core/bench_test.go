package core_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// BenchmarkRecord: durable ArrestMade commands spread over 64 cases from
// parallel goroutines (the HTTP load test's shape), through the service —
// cache, decide, hash, append. BenchmarkRawAppend beside it appends
// pre-built events of the same size straight to the store, the ceiling the
// service can reach. BenchmarkRecord8Cases puts the same 64 goroutines on
// 8 cases, about 8 commands of a case in flight at once: one case's lock
// contended.
func BenchmarkRecord(b *testing.B) { benchmarkRecord(b, 64) }

func BenchmarkRecord8Cases(b *testing.B) { benchmarkRecord(b, 8) }

func benchmarkRecord(b *testing.B, nCases int) {
	f := newFixture(b, core.Config{})
	ids := make([]uuid.UUID, nCases)
	for i := range ids {
		res, _, err := f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(openData)})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = res.CaseID
		if _, err := f.svc.Record(f.ctx, ukba, ids[i], core.Command{Type: domain.TypeSuspectIdentified, Data: json.RawMessage(identify(personA))}); err != nil {
			b.Fatal(err)
		}
	}
	data := json.RawMessage(arrest(personA))
	var next atomic.Int64
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)%int64(len(ids))]
			if _, err := f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: data}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkRawAppend(b *testing.B) {
	f := newFixture(b, core.Config{})
	res, _, err := f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(openData)})
	if err != nil {
		b.Fatal(err)
	}
	hist, _ := history(f.svc, f.ctx, res.CaseID, 0, 1)
	meta := hist[0].Stored.Metadata
	data := []byte(`{"person_id":"a0000000-0000-4000-8000-00000000000a","location":"Dover","offence":"facilitation","agency":"UKBA"}`)
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			stream := "bench-" + strconv.FormatInt(next.Add(1)%64, 10)
			if _, err := f.store.Append(f.ctx, stream, eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: domain.TypeArrestMade, Data: data, Metadata: meta}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecide is the pure part of a command: decode, validate, rules,
// canonical encoding and hash.
func BenchmarkDecide(b *testing.B) {
	c, err := domainCaseWithSuspect()
	if err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(arrest(personA))
	for b.Loop() {
		if _, err := domain.Decide(c, domain.Command{EventID: uuid.New(), Type: domain.TypeArrestMade, Data: data, Actor: ukba.Actor(), Now: start}); err != nil {
			b.Fatal(err)
		}
	}
}

func domainCaseWithSuspect() (domain.Case, error) {
	c := domain.NewCase(uuid.New())
	for i, k := range []struct{ typ, data string }{
		{domain.TypeCaseOpened, openData},
		{domain.TypeSuspectIdentified, identify(personA)},
	} {
		e, err := domain.Decide(c, domain.Command{EventID: uuid.New(), Type: k.typ, Data: json.RawMessage(k.data), Actor: ukba.Actor(), Now: start})
		if err != nil {
			return c, err
		}
		e.Position = uint64(i + 1)
		if err := c.Apply(e); err != nil {
			return c, err
		}
	}
	return c, nil
}

// BenchmarkErasePerson is one erasure: PersonErased decided and appended
// durably, then the person's key destroyed in the key store (delete with
// secure_delete, then a TRUNCATE checkpoint of its WAL). The identification
// it erases is recorded outside the timer. BenchmarkRecordOneEvent beside
// it is one durable append of an ordinary command from one goroutine, the
// yardstick.
func BenchmarkErasePerson(b *testing.B) {
	f := newFixture(b, core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	res, _, err := f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(openData)})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		person := uuid.New()
		if _, err := f.svc.Record(f.ctx, ukba, res.CaseID, core.Command{Type: domain.TypeSuspectIdentified, Data: json.RawMessage(identify(person))}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := f.svc.ErasePerson(f.ctx, dpoUKBA, res.CaseID, person, "retention period over"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordOneEvent(b *testing.B) {
	f := newFixture(b, core.Config{})
	res, _, err := f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(openData)})
	if err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"summary":"seen at Calais","grading":"2B2"}`)
	for b.Loop() {
		if _, err := f.svc.Record(f.ctx, ukba, res.CaseID, core.Command{Type: domain.TypeIntelligenceLogged, Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispose is one disposal after a retention review: RetentionReviewed
// dispose decided and appended durably by a dpo, then the case's key and
// its two people's keys destroyed (one delete with secure_delete, then a
// TRUNCATE checkpoint of the key store's WAL). The closed case it disposes
// of — two people, an intelligence report — is built outside the timer.
// Compare with BenchmarkErasePerson (one key) and BenchmarkRecordOneEvent.
func BenchmarkDispose(b *testing.B) {
	f := newFixture(b, core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	dispose := json.RawMessage(`{"decision":"dispose","reason":"no policing purpose remains"}`)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		open := fmt.Sprintf(`{"reference":"OP-DISPOSE-%d","title":"T","crime_types":["people_smuggling"],"location":"CALAIS"}`, i)
		res, _, err := f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(open)})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []core.Command{
			{Type: domain.TypeSuspectIdentified, Data: json.RawMessage(identify(uuid.New()))},
			{Type: domain.TypeSuspectIdentified, Data: json.RawMessage(identify(uuid.New()))},
			{Type: domain.TypeIntelligenceLogged, Data: json.RawMessage(`{"summary":"seen at Calais","grading":"2B2"}`)},
			{Type: domain.TypeCaseClosed, Data: json.RawMessage(`{"outcome":"No further action"}`)},
		} {
			if _, err := f.svc.Record(f.ctx, ukba, res.CaseID, c); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if _, err := f.svc.Record(f.ctx, dpoUKBA, res.CaseID, core.Command{Type: domain.TypeRetentionReviewed, Data: dispose}); err != nil {
			b.Fatal(err)
		}
	}
}
