package domain

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Fixed people, groups and clock of the tests.
var (
	testCaseID = uuid.MustParse("6d1e2f3a-0000-4000-8000-0000000000ca")
	personA    = uuid.MustParse("a0000000-0000-4000-8000-00000000000a")
	personB    = uuid.MustParse("b0000000-0000-4000-8000-00000000000b")
	groupG     = uuid.MustParse("90000000-0000-4000-8000-000000000001")
	groupH     = uuid.MustParse("90000000-0000-4000-8000-000000000002")
	testNow    = time.Date(2011, 6, 6, 12, 0, 0, 0, time.UTC)

	officerUKBA   = Actor{Subject: "officer.smith", Role: RoleInvestigator, Agency: "UKBA"}
	officerFrench = Actor{Subject: "lieutenant.martin", Role: RoleInvestigator, Agency: "Police aux Frontières"}
)

// eventID is the id the tests give the n-th command of a sequence (0-based).
func eventID(n int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("e0000000-0000-4000-8000-%012d", n))
}

// cmd is one command of a test, written compactly.
type cmd struct {
	typ      string
	data     string // JSON
	occurred *time.Time
	actor    *Actor
}

func at(t time.Time) *time.Time { return &t }

// toCommand builds the n-th command of a sequence; the clock advances one
// minute per command.
func (c cmd) toCommand(n int) Command {
	actor := officerUKBA
	if c.actor != nil {
		actor = *c.actor
	}
	return Command{
		EventID: eventID(n), Type: c.typ, Data: json.RawMessage(c.data), OccurredAt: c.occurred,
		Actor: actor, Now: testNow.Add(time.Duration(n) * time.Minute),
	}
}

// run decides and applies the commands in order, failing the test on any
// error. It returns the state and the entries (positions 1, 2, …).
func run(t testing.TB, cmds ...cmd) (Case, []Entry) {
	t.Helper()
	c := NewCase(testCaseID)
	var entries []Entry
	for i, k := range cmds {
		e, err := Decide(c, k.toCommand(i))
		if err != nil {
			t.Fatalf("given command %d (%s %s): %v", i, k.typ, k.data, err)
		}
		e.Position = uint64(100 + i)
		e.Stored.Position = e.Position
		if err := c.Apply(e); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		entries = append(entries, e)
	}
	return c, entries
}

// Commands used across tests.
var (
	openCase  = cmd{typ: TypeCaseOpened, data: `{"reference":"OP-TRIDENT-2011","title":"Lorry smuggling through Coquelles","lead_agency":"UKBA","crime_types":["people_smuggling","class_a_drugs"],"location":"Coquelles"}`}
	identifyA = cmd{typ: TypeSuspectIdentified, data: `{"person_id":"` + personA.String() + `","name":"John Doe","date_of_birth":"1975-03-14","nationality":"British"}`}
	identifyB = cmd{typ: TypeSuspectIdentified, data: `{"person_id":"` + personB.String() + `","name":"Richard Roe"}`}
	linkG     = cmd{typ: TypeOrganisedCrimeGroupLinked, data: `{"group_id":"` + groupG.String() + `","name":"Calais Network"}`}
	arrestA   = cmd{typ: TypeArrestMade, data: `{"person_id":"` + personA.String() + `","location":"Dover","offence":"facilitating illegal entry"}`}
	chargeA   = cmd{typ: TypeSuspectCharged, data: `{"person_id":"` + personA.String() + `","charges":["facilitation","conspiracy"]}`}
	dismantle = cmd{typ: TypeGangDismantled, data: `{"group_id":"` + groupG.String() + `"}`}
	seizeCoke = cmd{typ: TypeSeizureRecorded, data: `{"commodity":"class_a_drugs","quantity":0.1,"unit":"kg","location":"Dover","exhibit_ref":"EX-1"}`}
	seizeMore = cmd{typ: TypeSeizureRecorded, data: `{"commodity":"class_a_drugs","quantity":"0.2","unit":"kg","location":"Dover"}`}
	detect    = cmd{typ: TypeStowawaysDetected, data: `{"location":"calais","location_detail":"ferry port, lane 4","method":"co2_probe","people":7,"vehicle":"curtain-sided lorry"}`}
	intel     = cmd{typ: TypeIntelligenceLogged, data: `{"summary":"Driver paid to carry migrants","grading":"2B1"}`}
	joinFR    = cmd{typ: TypeAgencyJoined, data: `{"agency":"Police aux Frontières"}`}
	closeCase = cmd{typ: TypeCaseClosed, data: `{"outcome":"Gang dismantled; suspects convicted"}`}
	reopen    = cmd{typ: TypeCaseReopened, data: `{"reason":"New intelligence"}`}
)

func retract(n int) cmd {
	return cmd{typ: TypeEntryRetracted, data: `{"event_id":"` + eventID(n).String() + `","reason":"logged in error"}`}
}

func storedOf(entries []Entry) []StoredEvent {
	out := make([]StoredEvent, len(entries))
	for i, e := range entries {
		out[i] = e.Stored
	}
	return out
}
