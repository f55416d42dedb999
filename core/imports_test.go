package core_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

// forged is one event of a hand-built stream.
type forged struct {
	typ   string
	data  string
	actor domain.Actor
}

// forgeStream builds a stream as an attacker would: every event sealed
// into a consistent hash chain, whatever it says.
func forgeStream(t *testing.T, stream string, first uint64, events []forged) []eventstore.RecordedEvent {
	t.Helper()
	return forgeAfter(t, stream, first, "", events)
}

// forgeAfter continues a stream whose last event's hash is prev.
func forgeAfter(t *testing.T, stream string, first uint64, prev string, events []forged) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	at := time.Date(2011, 6, 6, 9, 0, 0, 0, time.UTC)
	for i, ev := range events {
		id := uuid.New()
		schema := domain.SchemaVersion(ev.typ)
		if ev.typ == domain.TypeCaseAccessed {
			schema = domain.AccessSchemaVersion
		}
		m := domain.Metadata{SchemaVersion: schema, OccurredAt: at, RecordedAt: at.Add(time.Duration(i) * time.Second),
			Actor: ev.actor, CorrelationID: id, CausationID: id, PrevHash: prev}
		se, m, err := domain.Seal(id, stream, first+uint64(i), ev.typ, []byte(ev.data), m)
		if err != nil {
			t.Fatal(err)
		}
		prev = m.Hash
		out = append(out, eventstore.RecordedEvent{ID: id, Type: ev.typ, Data: se.Data, Metadata: se.Metadata,
			Stream: stream, Revision: se.Version, Position: eventstore.Position(len(out) + 1)})
	}
	return out
}

var (
	officer = domain.Actor{Subject: "officer.smith", Role: domain.RoleInvestigator, Agency: "UKBA"}
	auditor = domain.Actor{Subject: "auditor.bea", Role: domain.RoleAuditor, Agency: "HMIC"}
)

const forgedOpen = `{"reference":"UKBA/2011/0001","title":"Operation Lumiere","lead_agency":"UKBA","crime_types":["people_smuggling"],"location":"DOVER"}`

func openStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "events.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Every way of breaking a case's rules that a chain-consistent stream can
// carry is refused by import, naming the stream and version, and nothing at
// all is written — not even the valid case before it.
func TestImportRefusesStreamsThatBreakTheRules(t *testing.T) {
	person := uuid.New()
	good := forgeStream(t, domain.StreamName(uuid.New()), 0, []forged{{domain.TypeCaseOpened, forgedOpen, officer}})
	for name, tc := range map[string]struct {
		stream  string
		events  []forged
		version uint64
		reason  string
	}{
		"negative stowaways": {"", []forged{
			{domain.TypeCaseOpened, strings.Replace(forgedOpen, "0001", "0002", 1), officer},
			{domain.TypeStowawaysDetected, `{"location":"COQUELLES","method":"co2_probe","people":-500000}`, officer},
		}, 1, "people: must be from 1 to 10000"},
		"arrest of a person never identified": {"", []forged{
			{domain.TypeCaseOpened, strings.Replace(forgedOpen, "0001", "0003", 1), officer},
			{domain.TypeArrestMade, fmt.Sprintf(`{"person_id":"%s","location":"DOVER","offence":"facilitation","agency":"UKBA"}`, person), officer},
		}, 1, "suspect_not_identified"},
		"an auditor joins an agency": {"", []forged{
			{domain.TypeCaseOpened, strings.Replace(forgedOpen, "0001", "0004", 1), officer},
			{domain.TypeAgencyJoined, `{"agency":"PAF"}`, auditor},
		}, 1, "could not have logged it"},
		"an unknown field": {"", []forged{
			{domain.TypeCaseOpened, strings.Replace(forgedOpen, `"location":"DOVER"`, `"location":"DOVER","priority":"high"`, 1), officer},
		}, 0, "priority: unknown field"},
		"escape codes in the title": {"", []forged{
			{domain.TypeCaseOpened, strings.Replace(forgedOpen, "Operation Lumiere", `\u001b[31mOperation\u001b[0m`, 1), officer},
		}, 0, "control characters"},
		"not a case stream": {"case-not-a-uuid", []forged{
			{domain.TypeCaseOpened, forgedOpen, officer},
		}, 0, "is not a case stream"},
		"an unknown agency": {"", []forged{
			{domain.TypeCaseOpened, strings.Replace(forgedOpen, "0001", "0005", 1), officer},
			{domain.TypeAgencyJoined, `{"agency":"NCAA"}`, officer},
		}, 1, "not a known agency"},
		"a reference used twice": {"", []forged{
			{domain.TypeCaseOpened, forgedOpen, officer}, // the good case has it already
		}, 0, "already has a case with the reference"},
		"opened for another agency": {"", []forged{
			{domain.TypeCaseOpened, strings.Replace(strings.Replace(forgedOpen, `"lead_agency":"UKBA"`, `"lead_agency":"SOCA"`, 1), "0001", "0006", 1), officer},
		}, 0, "for another agency"},
		"untrimmed data": {"", []forged{
			{domain.TypeCaseOpened, strings.Replace(forgedOpen, `"DOVER"`, `" DOVER "`, 1), officer},
		}, 0, "not in the form Casebook records"},
	} {
		t.Run(name, func(t *testing.T) {
			stream := tc.stream
			if stream == "" {
				stream = domain.StreamName(uuid.New())
			}
			src := append(append([]eventstore.RecordedEvent{}, good...), forgeStream(t, stream, 0, tc.events)...)
			st := openStore(t)
			c := newCore(t, st, core.Config{})
			_, err := c.Import(t.Context(), adminOlu, sourceOf(src), core.ImportOptions{})
			de := wantCode(t, err, domain.CodeRefused)
			wantWhere := fmt.Sprintf("stream %s version %d", stream, tc.version)
			if !strings.Contains(de.Message, wantWhere) || !strings.Contains(de.Message, tc.reason) {
				t.Fatalf("refusal %q does not name %q and %q", de.Message, wantWhere, tc.reason)
			}
			if head, err := st.Head(t.Context()); err != nil || head != eventstore.Start {
				t.Fatalf("something was written: head %d, %v", head, err)
			}
		})
	}
}

func TestImportOfAValidSourceIsResumable(t *testing.T) {
	// A real case, written through the core, with its access log.
	f := newFixture(t, core.Config{})
	id := f.jointCase()
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	f.record(id, domain.TypeArrestMade, arrest(personA))
	if _, err := f.svc.Case(f.ctx, pafOfficer, id, core.At{}, core.Consultation{RequestID: "r1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Case(f.ctx, socaOfficer, id, core.At{}, core.Consultation{}); err == nil {
		t.Fatal("an outsider read the case")
	}
	var src []eventstore.RecordedEvent
	for rec, err := range f.store.ReadAll(f.ctx, eventstore.ReadAllOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, rec)
	}
	st := openStore(t)
	c := newCore(t, st, core.Config{})
	// Half of it first (an interrupted run), then all of it.
	half := src[:len(src)/2]
	if _, err := c.Import(t.Context(), adminOlu, sourceOf(half), core.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Import(t.Context(), adminOlu, sourceOf(src), core.ImportOptions{})
	if err != nil || rep.Skipped != int64(len(half)) || rep.Imported != int64(len(src)-len(half)) || rep.Cases != 1 || rep.Streams != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	v, err := c.Verify(t.Context(), auditorBea, id, core.Consultation{})
	if err != nil || !v.Valid() || v.Access.Checked != 2 { // the verify's own entry comes after
		t.Fatalf("%+v %v", v, err)
	}
	// A forged entry in the access log is refused like a case event.
	page, err := c.AccessLog(t.Context(), auditorBea, core.AccessQuery{CaseID: id, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	last := page.Entries[len(page.Entries)-1]
	entries := forgeAfter(t, domain.AccessStreamName(id), last.Version+1, last.Hash, []forged{{domain.TypeCaseAccessed,
		fmt.Sprintf(`{"operation":"read_case","case_id":"%s","outcome":"served","version_read":1,"count":1,"last_at":"2011-06-06T09:00:00Z"}`, id), analystDan.Actor()}})
	_, err = c.Import(t.Context(), adminOlu, sourceOf(entries), core.ImportOptions{})
	if de := wantCode(t, err, domain.CodeRefused); !strings.Contains(de.Message, "could not have consulted") {
		t.Fatalf("%v", de)
	}
}

var _ = json.Valid
