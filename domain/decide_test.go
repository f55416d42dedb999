package domain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestDecide is the given/when/then table of every event and rule: given
// the commands already accepted, when one more is decided, then it is
// accepted (and the state checked) or refused with a stable code naming the
// field.
func TestDecide(t *testing.T) {
	base := []cmd{openCase, identifyA, linkG} // events 0, 1, 2
	with := func(more ...cmd) []cmd { return append(append([]cmd{}, base...), more...) }
	type then struct {
		code  string // "" = accepted
		kind  Kind
		field string
		check func(t *testing.T, c Case)
	}
	ok := func(check func(t *testing.T, c Case)) then { return then{check: check} }
	fails := func(code string, kind Kind, field string) then { return then{code: code, kind: kind, field: field} }
	bad := func(field string) then { return fails(CodeValidation, KindInvalid, field) }

	tests := []struct {
		name  string
		given []cmd
		when  cmd
		then  then
	}{
		// CaseOpened
		{"open a case", nil, openCase, ok(func(t *testing.T, c Case) {
			if c.Status != StatusOpen || c.Reference != "OP-TRIDENT-2011" || c.LeadAgency != "UKBA" || c.Version != 0 ||
				len(c.Agencies) != 1 || c.ID != testCaseID || !c.VisibleTo("UKBA") || c.VisibleTo("SOCA") {
				t.Errorf("state after opening: %+v", c)
			}
		})},
		{"lead agency defaults to the actor's", nil,
			cmd{typ: TypeCaseOpened, data: `{"reference":"R1","title":"T","crime_types":["cash"],"location":"Dover"}`, actor: &officerFrench},
			ok(func(t *testing.T, c Case) {
				if c.LeadAgency != officerFrench.Agency {
					t.Errorf("lead agency %q", c.LeadAgency)
				}
			})},
		{"whitespace around free text is trimmed", nil,
			cmd{typ: TypeCaseOpened, data: `{"reference":"  R1 ","title":"T","crime_types":["cash"],"location":" Dover\t"}`},
			ok(func(t *testing.T, c Case) {
				if c.Reference != "R1" || c.Location != "DOVER" {
					t.Errorf("not trimmed: %q %q", c.Reference, c.Location)
				}
			})},
		{"open twice", []cmd{openCase}, openCase, fails(CodeCaseExists, KindConflict, "")},
		{"event on a case never opened", nil, arrestA, fails(CodeCaseNotFound, KindNotFound, "")},
		{"crime type unknown", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"T","crime_types":["jaywalking"],"location":"OTHER"}`}, bad("crime_types")},
		{"crime types empty", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"T","crime_types":[],"location":"OTHER"}`}, bad("crime_types")},
		{"crime type twice", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"T","crime_types":["cash","cash"],"location":"OTHER"}`}, bad("crime_types")},
		{"reference missing", nil, cmd{typ: TypeCaseOpened, data: `{"title":"T","crime_types":["cash"],"location":"OTHER"}`}, bad("reference")},
		{"reference null", nil, cmd{typ: TypeCaseOpened, data: `{"reference":null,"title":"T","crime_types":["cash"],"location":"OTHER"}`}, bad("reference")},
		{"title blank", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"   ","crime_types":["cash"],"location":"OTHER"}`}, bad("title")},
		{"title too long", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"` + strings.Repeat("é", MaxNameLength+1) + `","crime_types":["cash"],"location":"OTHER"}`}, bad("title")},
		{"title at the bound", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"` + strings.Repeat("é", MaxNameLength) + `","crime_types":["cash"],"location":"OTHER"}`}, ok(nil)},
		{"control character in a name", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"T\u0007","crime_types":["cash"],"location":"OTHER"}`}, bad("title")},
		{"lead agency too long", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"T","lead_agency":"` + strings.Repeat("A", 201) + `","crime_types":["cash"],"location":"OTHER"}`}, bad("lead_agency")},
		{"unknown field", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"T","crime_types":["cash"],"location":"OTHER","priority":1}`}, bad("priority")},
		{"field name in the wrong case", nil, cmd{typ: TypeCaseOpened, data: `{"Reference":"R","title":"T","crime_types":["cash"],"location":"OTHER"}`}, bad("Reference")},
		{"wrong JSON type", nil, cmd{typ: TypeCaseOpened, data: `{"reference":7,"title":"T","crime_types":["cash"],"location":"OTHER"}`}, bad("reference")},
		{"wrong JSON type in an array", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","title":"T","crime_types":["cash",3],"location":"OTHER"}`}, bad("crime_types")},
		{"duplicate key", nil, cmd{typ: TypeCaseOpened, data: `{"reference":"R","reference":"S","title":"T","crime_types":["cash"],"location":"OTHER"}`}, bad("reference")},
		{"data not an object", nil, cmd{typ: TypeCaseOpened, data: `["reference"]`}, fails(CodeMalformedJSON, KindMalformed, "")},
		{"data not JSON", nil, cmd{typ: TypeCaseOpened, data: `{"reference":`}, fails(CodeMalformedJSON, KindMalformed, "")},
		{"trailing data", nil, cmd{typ: TypeCaseOpened, data: `{} {}`}, fails(CodeMalformedJSON, KindMalformed, "")},
		{"unknown event type", base, cmd{typ: "CaseDeleted", data: `{}`}, fails(CodeUnknownEventType, KindInvalid, "type")},
		{"access-log type is not a case event", base, cmd{typ: "CaseRead", data: `{}`}, fails(CodeUnknownEventType, KindInvalid, "type")},

		// AgencyJoined
		{"agency joins", base, joinFR, ok(func(t *testing.T, c Case) {
			if !c.VisibleTo("Police aux Frontières") || len(c.Agencies) != 2 || c.Agencies[0] != "UKBA" {
				t.Errorf("agencies %v", c.Agencies)
			}
		})},
		{"agency joins twice", with(joinFR), joinFR, fails(CodeAgencyAlreadyJoined, KindInvalid, "agency")},
		{"lead agency joins its own case", base, cmd{typ: TypeAgencyJoined, data: `{"agency":"UKBA"}`}, fails(CodeAgencyAlreadyJoined, KindInvalid, "agency")},
		{"agency empty", base, cmd{typ: TypeAgencyJoined, data: `{"agency":""}`}, bad("agency")},

		// OrganisedCrimeGroupLinked
		{"group linked", []cmd{openCase}, linkG, ok(func(t *testing.T, c Case) {
			if g, ok := c.Group(groupG); !ok || g.Name != "Calais Network" || g.Dismantled || c.Counts.GroupsLinked != 1 {
				t.Errorf("group %+v %v", g, ok)
			}
		})},
		{"group linked twice", base, linkG, fails(CodeGroupAlreadyLinked, KindInvalid, "group_id")},
		{"group id not a UUID", base, cmd{typ: TypeOrganisedCrimeGroupLinked, data: `{"group_id":"gang-1","name":"X"}`}, bad("group_id")},
		{"group id a number", base, cmd{typ: TypeOrganisedCrimeGroupLinked, data: `{"group_id":12,"name":"X"}`}, bad("group_id")},
		{"group id nil", base, cmd{typ: TypeOrganisedCrimeGroupLinked, data: `{"group_id":"00000000-0000-0000-0000-000000000000","name":"X"}`}, bad("group_id")},
		{"group name missing", base, cmd{typ: TypeOrganisedCrimeGroupLinked, data: `{"group_id":"` + groupH.String() + `"}`}, bad("name")},

		// SuspectIdentified
		{"suspect identified", []cmd{openCase}, identifyA, ok(func(t *testing.T, c Case) {
			s, ok := c.Suspect(personA)
			if !ok || s.Name != "John Doe" || s.DateOfBirth != "1975-03-14" || c.Counts.Suspects != 1 {
				t.Errorf("suspect %+v %v", s, ok)
			}
		})},
		{"suspect identified twice", base, identifyA, fails(CodeSuspectAlreadyIdentified, KindInvalid, "person_id")},
		{"date of birth in the future", base, cmd{typ: TypeSuspectIdentified, data: `{"person_id":"` + personB.String() + `","name":"X","date_of_birth":"2030-01-01"}`}, bad("date_of_birth")},
		{"date of birth today", base, cmd{typ: TypeSuspectIdentified, data: `{"person_id":"` + personB.String() + `","name":"X","date_of_birth":"2011-06-06"}`}, bad("date_of_birth")},
		{"date of birth badly written", base, cmd{typ: TypeSuspectIdentified, data: `{"person_id":"` + personB.String() + `","name":"X","date_of_birth":"14/03/1975"}`}, bad("date_of_birth")},
		{"date of birth impossible", base, cmd{typ: TypeSuspectIdentified, data: `{"person_id":"` + personB.String() + `","name":"X","date_of_birth":"1975-02-30"}`}, bad("date_of_birth")},
		{"date of birth absurdly early", base, cmd{typ: TypeSuspectIdentified, data: `{"person_id":"` + personB.String() + `","name":"X","date_of_birth":"1850-01-01"}`}, bad("date_of_birth")},
		{"suspect name missing", base, cmd{typ: TypeSuspectIdentified, data: `{"person_id":"` + personB.String() + `"}`}, bad("name")},

		// IntelligenceLogged
		{"intelligence logged", base, intel, ok(func(t *testing.T, c Case) {
			if c.Counts.IntelligenceReports != 1 {
				t.Errorf("counts %+v", c.Counts)
			}
		})},
		{"grading lower case is normalised", base, cmd{typ: TypeIntelligenceLogged, data: `{"summary":"s","grading":"1a2"}`}, ok(nil)},
		{"grading out of range", base, cmd{typ: TypeIntelligenceLogged, data: `{"summary":"s","grading":"4A1"}`}, bad("grading")},
		{"grading assessment out of range", base, cmd{typ: TypeIntelligenceLogged, data: `{"summary":"s","grading":"1F1"}`}, bad("grading")},
		{"grading handling out of range", base, cmd{typ: TypeIntelligenceLogged, data: `{"summary":"s","grading":"1A3"}`}, bad("grading")},
		{"grading too long", base, cmd{typ: TypeIntelligenceLogged, data: `{"summary":"s","grading":"1A11"}`}, bad("grading")},
		{"summary may span lines", base, cmd{typ: TypeIntelligenceLogged, data: `{"summary":"line one\nline two","grading":"3E2"}`}, ok(nil)},
		{"summary too long", base, cmd{typ: TypeIntelligenceLogged, data: `{"summary":"` + strings.Repeat("x", MaxTextLength+1) + `","grading":"1A1"}`}, bad("summary")},

		// ArrestMade
		{"arrest of an identified suspect", base, arrestA, ok(func(t *testing.T, c Case) {
			s, _ := c.Suspect(personA)
			if c.Counts.Arrests != 1 || s.Arrests != 1 {
				t.Errorf("counts %+v suspect %+v", c.Counts, s)
			}
		})},
		{"arrest of someone not identified", base, cmd{typ: TypeArrestMade, data: `{"person_id":"` + personB.String() + `","location":"Dover","offence":"x"}`}, fails(CodeSuspectNotIdentified, KindInvalid, "person_id")},
		{"arrest of a suspect whose identification was retracted", with(retract(1)), arrestA, fails(CodeSuspectNotIdentified, KindInvalid, "person_id")},
		{"arrest location empty", base, cmd{typ: TypeArrestMade, data: `{"person_id":"` + personA.String() + `","location":"","offence":"x"}`}, bad("location")},
		{"arrest offence missing", base, cmd{typ: TypeArrestMade, data: `{"person_id":"` + personA.String() + `","location":"Dover"}`}, bad("offence")},

		// SuspectCharged
		{"suspect charged", base, chargeA, ok(func(t *testing.T, c Case) {
			s, _ := c.Suspect(personA)
			if len(s.Charges) != 2 || c.Counts.Charges != 2 || c.Counts.SuspectsCharged != 1 {
				t.Errorf("suspect %+v counts %+v", s, c.Counts)
			}
		})},
		{"charging someone not identified", base, cmd{typ: TypeSuspectCharged, data: `{"person_id":"` + personB.String() + `","charges":["x"]}`}, fails(CodeSuspectNotIdentified, KindInvalid, "person_id")},
		{"no charges", base, cmd{typ: TypeSuspectCharged, data: `{"person_id":"` + personA.String() + `","charges":[]}`}, bad("charges")},
		{"blank charge", base, cmd{typ: TypeSuspectCharged, data: `{"person_id":"` + personA.String() + `","charges":["x"," "]}`}, bad("charges")},
		{"charges not an array", base, cmd{typ: TypeSuspectCharged, data: `{"person_id":"` + personA.String() + `","charges":"x"}`}, bad("charges")},

		// SeizureRecorded
		{"seizure recorded", base, seizeCoke, ok(func(t *testing.T, c Case) {
			if c.Counts.Seizures != 1 || len(c.Seizures) != 1 || c.Seizures[0].Quantity.String() != "0.1" {
				t.Errorf("seizures %+v", c.Seizures)
			}
		})},
		{"seizures add up exactly", with(seizeCoke), seizeMore, ok(func(t *testing.T, c Case) {
			if len(c.Seizures) != 1 || c.Seizures[0].Quantity.String() != "0.3" || c.Seizures[0].Count != 2 {
				t.Errorf("seizures %+v", c.Seizures)
			}
		})},
		{"cash in pounds", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cash","quantity":"4250000.50","unit":"gbp","location":"Dover"}`}, ok(nil)},
		{"cash in fractions of a penny", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cash","quantity":0.001,"unit":"gbp","location":"Dover"}`}, bad("quantity")},
		{"cash in kg", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cash","quantity":1,"unit":"kg","location":"Dover"}`}, bad("unit")},
		{"cigarettes in sticks", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cigarettes","quantity":245000000,"unit":"sticks","location":"Coquelles"}`}, ok(nil)},
		{"cigarettes in kg", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cigarettes","quantity":5,"unit":"kg","location":"Coquelles"}`}, bad("unit")},
		{"half a cigarette", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cigarettes","quantity":0.5,"unit":"sticks","location":"Coquelles"}`}, bad("quantity")},
		{"firearms in items", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"firearms","quantity":3,"unit":"items","location":"Dover"}`}, ok(nil)},
		{"firearms in kg", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"firearms","quantity":3,"unit":"kg","location":"Dover"}`}, bad("unit")},
		{"cannabis in kg", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cannabis","quantity":15000,"unit":"kg","location":"Dover"}`}, ok(nil)},
		{"cannabis in items", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cannabis","quantity":1,"unit":"items","location":"Dover"}`}, bad("unit")},
		{"hand rolling tobacco in kg", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"hand_rolling_tobacco","quantity":100000,"unit":"kg","location":"Dover"}`}, ok(nil)},
		{"hand rolling tobacco in gbp", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"hand_rolling_tobacco","quantity":1,"unit":"gbp","location":"Dover"}`}, bad("unit")},
		{"other in any unit", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"other","quantity":2,"unit":"items","location":"Dover"}`}, ok(nil)},
		{"unknown commodity", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"gold","quantity":2,"unit":"kg","location":"Dover"}`}, bad("commodity")},
		{"unknown unit", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"other","quantity":2,"unit":"tonnes","location":"Dover"}`}, bad("unit")},
		{"zero quantity", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cannabis","quantity":0,"unit":"kg","location":"Dover"}`}, bad("quantity")},
		{"negative quantity", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cannabis","quantity":-1,"unit":"kg","location":"Dover"}`}, bad("quantity")},
		{"quantity too precise", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cannabis","quantity":0.0000001,"unit":"kg","location":"Dover"}`}, bad("quantity")},
		{"quantity too large", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cannabis","quantity":1000000000001,"unit":"kg","location":"Dover"}`}, bad("quantity")},
		{"quantity a boolean", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cannabis","quantity":true,"unit":"kg","location":"Dover"}`}, bad("quantity")},
		{"quantity missing", base, cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cannabis","unit":"kg","location":"Dover"}`}, bad("quantity")},

		// StowawaysDetected
		{"stowaways detected", base, detect, ok(func(t *testing.T, c Case) {
			if c.Counts.Detections != 1 || c.Counts.PeopleDetected != 7 {
				t.Errorf("counts %+v", c.Counts)
			}
		})},
		{"no people", base, cmd{typ: TypeStowawaysDetected, data: `{"location":"Calais","method":"scanner","people":0}`}, bad("people")},
		{"people not an integer", base, cmd{typ: TypeStowawaysDetected, data: `{"location":"Calais","method":"scanner","people":2.5}`}, bad("people")},
		{"people a string", base, cmd{typ: TypeStowawaysDetected, data: `{"location":"Calais","method":"scanner","people":"3"}`}, bad("people")},
		{"people missing", base, cmd{typ: TypeStowawaysDetected, data: `{"location":"Calais","method":"scanner"}`}, bad("people")},
		{"unknown method", base, cmd{typ: TypeStowawaysDetected, data: `{"location":"Calais","method":"x_ray","people":1}`}, bad("method")},
		{"every method", base, cmd{typ: TypeStowawaysDetected, data: `{"location":"Calais","method":"heartbeat_monitor","people":1}`}, ok(nil)},

		// GangDismantled
		{"gang dismantled", base, dismantle, ok(func(t *testing.T, c Case) {
			g, _ := c.Group(groupG)
			if !g.Dismantled || g.DismantledEventID == nil || *g.DismantledEventID != eventID(3) || c.Counts.GangsDismantled != 1 || g.DismantledByAgency != "UKBA" {
				t.Errorf("group %+v counts %+v", g, c.Counts)
			}
		})},
		{"gang not linked", []cmd{openCase}, dismantle, fails(CodeGroupNotLinked, KindInvalid, "group_id")},
		{"gang already dismantled", with(dismantle), dismantle, fails(CodeGroupAlreadyDismantled, KindInvalid, "group_id")},
		{"gang dismantled again after a retraction", with(dismantle, retract(3)), dismantle, ok(func(t *testing.T, c Case) {
			if c.Counts.GangsDismantled != 1 {
				t.Errorf("counts %+v", c.Counts)
			}
		})},

		// CaseClosed / CaseReopened
		{"case closed", base, closeCase, ok(func(t *testing.T, c Case) {
			if c.Status != StatusClosed || c.Outcome == "" || c.ClosedAt == nil {
				t.Errorf("state %+v", c)
			}
		})},
		{"close a closed case", with(closeCase), closeCase, fails(CodeCaseClosed, KindInvalid, "")},
		{"arrest on a closed case", with(closeCase), arrestA, fails(CodeCaseClosed, KindInvalid, "")},
		{"agency joins a closed case", with(closeCase), joinFR, fails(CodeCaseClosed, KindInvalid, "")},
		{"seizure on a closed case", with(closeCase), seizeCoke, fails(CodeCaseClosed, KindInvalid, "")},
		{"retraction on a closed case", with(arrestA, closeCase), retract(3), ok(func(t *testing.T, c Case) {
			if c.Counts.Arrests != 0 || c.Status != StatusClosed {
				t.Errorf("state %+v", c)
			}
		})},
		{"reopen a closed case", with(closeCase), reopen, ok(func(t *testing.T, c Case) {
			if c.Status != StatusOpen || c.ClosedAt != nil || c.Outcome != "" {
				t.Errorf("state %+v", c)
			}
		})},
		{"arrest after reopening", with(closeCase, reopen), arrestA, ok(nil)},
		{"reopen an open case", base, reopen, fails(CodeCaseNotClosed, KindInvalid, "")},
		{"outcome empty", base, cmd{typ: TypeCaseClosed, data: `{"outcome":""}`}, bad("outcome")},

		// EntryRetracted
		{"retract an arrest", with(arrestA), retract(3), ok(func(t *testing.T, c Case) {
			s, _ := c.Suspect(personA)
			if c.Counts.Arrests != 0 || s.Arrests != 0 || c.Counts.Retractions != 1 || len(c.Retractions) != 1 ||
				c.Retractions[0].EventID != eventID(3) || c.Retractions[0].Type != TypeArrestMade || c.Retractions[0].RetractedVersion != 4 {
				t.Errorf("counts %+v retractions %+v", c.Counts, c.Retractions)
			}
			if _, _, retracted, _ := c.Entry(eventID(3)); !retracted {
				t.Error("entry not marked retracted")
			}
		})},
		{"retract a seizure", with(seizeCoke, seizeMore), retract(3), ok(func(t *testing.T, c Case) {
			if c.Counts.Seizures != 1 || c.Seizures[0].Quantity.String() != "0.2" {
				t.Errorf("seizures %+v", c.Seizures)
			}
		})},
		{"retract the only seizure", with(seizeCoke), retract(3), ok(func(t *testing.T, c Case) {
			if c.Counts.Seizures != 0 || len(c.Seizures) != 0 {
				t.Errorf("seizures %+v", c.Seizures)
			}
		})},
		{"retract a detection", with(detect), retract(3), ok(func(t *testing.T, c Case) {
			if c.Counts.Detections != 0 || c.Counts.PeopleDetected != 0 {
				t.Errorf("counts %+v", c.Counts)
			}
		})},
		{"retract an identification", base, retract(1), ok(func(t *testing.T, c Case) {
			if _, ok := c.Suspect(personA); ok || c.Counts.Suspects != 0 {
				t.Errorf("suspects %+v", c.Suspects)
			}
		})},
		{"re-identify after retraction", with(retract(1)), identifyA, ok(nil)},
		{"retract a charge", with(chargeA), retract(3), ok(func(t *testing.T, c Case) {
			s, _ := c.Suspect(personA)
			if c.Counts.Charges != 0 || len(s.Charges) != 0 || c.Counts.SuspectsCharged != 0 {
				t.Errorf("counts %+v suspect %+v", c.Counts, s)
			}
		})},
		{"retract intelligence", with(intel), retract(3), ok(func(t *testing.T, c Case) {
			if c.Counts.IntelligenceReports != 0 {
				t.Errorf("counts %+v", c.Counts)
			}
		})},
		{"retract a dismantling", with(dismantle), retract(3), ok(func(t *testing.T, c Case) {
			g, _ := c.Group(groupG)
			if g.Dismantled || c.Counts.GangsDismantled != 0 {
				t.Errorf("group %+v", g)
			}
		})},
		{"retract twice", with(arrestA, retract(3)), retract(3), fails(CodeEntryAlreadyRetracted, KindInvalid, "event_id")},
		{"retract CaseOpened", base, retract(0), fails(CodeEntryNotRetractable, KindInvalid, "event_id")},
		{"retract a group link", base, retract(2), fails(CodeEntryNotRetractable, KindInvalid, "event_id")},
		{"retract a retraction", with(arrestA, retract(3)), retract(4), fails(CodeEntryNotRetractable, KindInvalid, "event_id")},
		{"retract an event of no case", base, cmd{typ: TypeEntryRetracted, data: `{"event_id":"` + uuid.NewString() + `","reason":"x"}`}, fails(CodeEntryNotFound, KindInvalid, "event_id")},
		{"retraction without a reason", with(arrestA), cmd{typ: TypeEntryRetracted, data: `{"event_id":"` + eventID(3).String() + `"}`}, bad("reason")},

		// occurred_at
		{"occurred in the past", base, cmd{typ: arrestA.typ, data: arrestA.data, occurred: at(time.Date(2010, 6, 7, 10, 0, 0, 0, time.UTC))}, ok(nil)},
		{"occurred within the clock-skew allowance", base, cmd{typ: arrestA.typ, data: arrestA.data, occurred: at(testNow.Add(3*time.Minute + ClockSkewAllowance - time.Second))}, ok(nil)},
		{"occurred in the future", base, cmd{typ: arrestA.typ, data: arrestA.data, occurred: at(testNow.Add(3*time.Minute + ClockSkewAllowance + time.Second))}, fails(CodeOccurredInFuture, KindInvalid, "occurred_at")},
		{"occurred before 1990", base, cmd{typ: arrestA.typ, data: arrestA.data, occurred: at(time.Date(1989, 12, 31, 23, 59, 59, 0, time.UTC))}, fails(CodeOccurredTooEarly, KindInvalid, "occurred_at")},
		{"occurred on 1990-01-01", base, cmd{typ: arrestA.typ, data: arrestA.data, occurred: at(EarliestOccurredAt)}, ok(nil)},

		// Actor
		{"actor without an agency", base, cmd{typ: intel.typ, data: intel.data, actor: &Actor{Subject: "x", Role: RoleInvestigator}}, bad("actor.agency")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, entries := run(t, tt.given...)
			n := len(tt.given)
			before := c.Clone()
			e, err := Decide(c, tt.when.toCommand(n))
			if tt.then.code != "" {
				var de *Error
				if !errors.As(err, &de) {
					t.Fatalf("want error %s, got %v (entry %s)", tt.then.code, err, e.Data)
				}
				if de.Code != tt.then.code || de.Kind != tt.then.kind || de.Field != tt.then.field {
					t.Fatalf("want %s/%s field %q, got %s/%s field %q: %s", tt.then.code, tt.then.kind, tt.then.field, de.Code, de.Kind, de.Field, de.Message)
				}
				if de.Message == "" {
					t.Fatal("error without a message")
				}
				return
			}
			if err != nil {
				t.Fatalf("want accepted, got %v", err)
			}
			if jb, _ := json.Marshal(c); string(mustJSON(t, before)) != string(jb) {
				t.Fatal("Decide changed the state it was given")
			}
			if e.Version != c.NextVersion() || e.ID != eventID(n) || e.Type != tt.when.typ || e.Metadata.PrevHash != c.HeadHash {
				t.Fatalf("entry envelope: %+v", e)
			}
			// What Decide returns is exactly what a store would give back.
			if got := Verify(append(storedOf(entries), e.Stored)); !got.Valid {
				t.Fatalf("new entry does not extend the chain: %+v", got)
			}
			decoded, err := DecodeStored(e.Stored)
			if err != nil {
				t.Fatalf("stored form does not decode: %v", err)
			}
			if string(decoded.Data) != string(e.Data) {
				t.Fatalf("stored data %s decodes to %s", e.Data, decoded.Data)
			}
			if err := c.Apply(e); err != nil {
				t.Fatalf("apply: %v", err)
			}
			if c.Version != e.Version || c.HeadHash != e.Metadata.Hash {
				t.Fatalf("state version %d hash %s", c.Version, c.HeadHash)
			}
			if tt.then.check != nil {
				tt.then.check(t, c)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecideEnvelope(t *testing.T) {
	c, _ := run(t, openCase, identifyA)
	corr, caus := uuid.New(), uuid.New()
	k := arrestA.toCommand(2)
	k.CorrelationID, k.CausationID = corr, caus
	k.Now = testNow.Add(2*time.Minute + 123456789*time.Nanosecond)
	e, err := Decide(c, k)
	if err != nil {
		t.Fatal(err)
	}
	m := e.Metadata
	if m.SchemaVersion != SchemaVersion(TypeArrestMade) || m.CorrelationID != corr || m.CausationID != caus || m.Actor != officerUKBA {
		t.Errorf("metadata %+v", m)
	}
	// Without an occurred_at, the event occurred when it was recorded; the
	// clock is kept to the microsecond.
	want := testNow.Add(2*time.Minute + 123456*time.Microsecond)
	if !m.OccurredAt.Equal(want) || !m.RecordedAt.Equal(want) {
		t.Errorf("occurred %s recorded %s, want %s", m.OccurredAt, m.RecordedAt, want)
	}
	// ArrestMade.agency defaults to the actor's agency.
	if a := e.Event.(ArrestMade); a.Agency != "UKBA" {
		t.Errorf("agency %q", a.Agency)
	}
	if !strings.Contains(string(e.Data), `"agency":"UKBA"`) {
		t.Errorf("stored data %s", e.Data)
	}
	// Correlation and causation default to the event's own id.
	k.CorrelationID, k.CausationID = uuid.Nil, uuid.Nil
	e, _ = Decide(c, k)
	if e.Metadata.CorrelationID != k.EventID || e.Metadata.CausationID != k.EventID {
		t.Errorf("defaults %+v", e.Metadata)
	}
	// recorded_at never goes back along the stream, whatever the clock says.
	k.Now = c.UpdatedAt.Add(-time.Hour)
	e, err = Decide(c, k)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Metadata.RecordedAt.Equal(c.UpdatedAt) {
		t.Errorf("recorded_at %s went back before %s", e.Metadata.RecordedAt, c.UpdatedAt)
	}
	// Programming errors are refused, not turned into odd events.
	k.Now = time.Time{}
	if _, err := Decide(c, k); err == nil {
		t.Error("a command without a clock reading was accepted")
	}
	k = arrestA.toCommand(2)
	k.EventID = uuid.Nil
	if _, err := Decide(c, k); !errors.Is(err, ErrValidation) {
		t.Errorf("nil event id: %v", err)
	}
	if _, err := Decide(Case{}, openCase.toCommand(0)); !errors.Is(err, ErrValidation) {
		t.Errorf("case without an id: %v", err)
	}
}

func TestErrorsIsAndAs(t *testing.T) {
	c, _ := run(t, openCase, closeCase)
	_, err := Decide(c, arrestA.toCommand(2))
	wrapped := errors.Join(errors.New("context"), err)
	if !errors.Is(wrapped, ErrCaseClosed) || errors.Is(wrapped, ErrVersionConflict) {
		t.Fatalf("errors.Is on %v", wrapped)
	}
	de, ok := AsError(wrapped)
	if !ok || de.Kind != KindInvalid || de.Error() == "" {
		t.Fatalf("AsError: %v %v", de, ok)
	}
	vc := NewVersionConflict(3, 5)
	if vc.CurrentVersion == nil || *vc.CurrentVersion != 5 || vc.Kind != KindVersionConflict || !errors.Is(vc, ErrVersionConflict) {
		t.Fatalf("version conflict %+v", vc)
	}
}

func TestEntryMatches(t *testing.T) {
	c, _ := run(t, openCase, identifyA)
	k := arrestA.toCommand(2)
	k.OccurredAt = at(time.Date(2011, 5, 1, 8, 0, 0, 0, time.UTC))
	e, err := Decide(c, k)
	if err != nil {
		t.Fatal(err)
	}
	same := k
	same.Data = json.RawMessage(`{ "offence":"facilitating illegal entry", "location":" Dover ","person_id":"` + personA.String() + `"}`)
	same.Now = k.Now.Add(time.Hour)
	if !e.Matches(same) {
		t.Error("the same arrest written differently does not match")
	}
	noTime := same
	noTime.OccurredAt = nil
	if !e.Matches(noTime) {
		t.Error("a retry that leaves occurred_at to the server should match")
	}
	for name, mutate := range map[string]func(*Command){
		"other data": func(k *Command) {
			k.Data = json.RawMessage(`{"person_id":"` + personA.String() + `","location":"Calais","offence":"x"}`)
		},
		"other type":        func(k *Command) { k.Type = TypeIntelligenceLogged },
		"other occurred_at": func(k *Command) { k.OccurredAt = at(k.OccurredAt.Add(time.Second)) },
		"other agency":      func(k *Command) { k.Actor = officerFrench },
		"bad data":          func(k *Command) { k.Data = json.RawMessage(`{`) },
	} {
		k2 := same
		mutate(&k2)
		if e.Matches(k2) {
			t.Errorf("%s matches", name)
		}
	}
}
