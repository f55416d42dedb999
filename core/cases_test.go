package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

var (
	pafOfficer  = core.Identity{Subject: "lieutenant.martin", Role: domain.RoleInvestigator, Agency: "PAF"}
	socaOfficer = core.Identity{Subject: "officer.reid", Role: domain.RoleInvestigator, Agency: "SOCA"}
	analystDan  = core.Identity{Subject: "analyst.dan", Role: domain.RoleAnalyst, Agency: "HO"}
	adminOlu    = core.Identity{Subject: "admin.olu", Role: domain.RoleAdmin, Agency: "HO"}
	dpoUKBA     = core.Identity{Subject: "dpo.ukba", Role: domain.RoleDPO, Agency: "UKBA"}
	dpoPAF      = core.Identity{Subject: "dpo.paf", Role: domain.RoleDPO, Agency: "PAF"}
	dpoSOCA     = core.Identity{Subject: "dpo.soca", Role: domain.RoleDPO, Agency: "SOCA"}
)

// jointCase opens a UKBA case that PAF has joined.
func (f *fixture) jointCase() uuid.UUID {
	f.t.Helper()
	id := f.open(openData)
	f.record(id, domain.TypeAgencyJoined, `{"agency":"PAF"}`)
	return id
}

// The authorization table through the use cases: every role, with its
// agency leading, joined to or outside a case, asking for every operation
// on it. An investigator outside the case is told it does not exist.
func TestUseCasesObeyTheAuthorizationTable(t *testing.T) {
	f := newFixture(t, core.Config{})
	callers := map[string]struct {
		who core.Identity
		rel domain.Relation
	}{
		"lead":         {ukba2, domain.RelationLead},
		"joined":       {pafOfficer, domain.RelationJoined},
		"outsider":     {socaOfficer, domain.RelationNone},
		"auditor":      {auditorBea, domain.RelationNone},
		"analyst":      {analystDan, domain.RelationNone},
		"admin":        {adminOlu, domain.RelationNone},
		"dpo lead":     {dpoUKBA, domain.RelationLead},
		"dpo joined":   {dpoPAF, domain.RelationJoined},
		"dpo outsider": {dpoSOCA, domain.RelationNone},
	}
	type operation struct {
		op  core.Operation
		run func(who core.Identity, id uuid.UUID) error
	}
	record := func(typ, data string) func(core.Identity, uuid.UUID) error {
		return func(who core.Identity, id uuid.UUID) error {
			_, err := f.svc.Record(f.ctx, who, id, core.Command{Type: typ, Data: json.RawMessage(data)})
			return err
		}
	}
	ops := []operation{
		{core.OpRecordEvent, record(domain.TypeIntelligenceLogged, `{"summary":"seen at Calais","grading":"2B2"}`)},
		{core.OpJoinAgency, record(domain.TypeAgencyJoined, `{"agency":"JOCC"}`)},
		{core.OpCloseCase, record(domain.TypeCaseClosed, `{"outcome":"charged"}`)},
		{core.OpReadCase, func(who core.Identity, id uuid.UUID) error {
			_, err := f.svc.Case(f.ctx, who, id, core.At{}, core.Consultation{})
			return err
		}},
		{core.OpReadHistory, func(who core.Identity, id uuid.UUID) error {
			_, err := f.svc.History(f.ctx, who, id, 0, 10, core.Consultation{})
			return err
		}},
		{core.OpVerifyCase, func(who core.Identity, id uuid.UUID) error {
			_, err := f.svc.Verify(f.ctx, who, id, core.Consultation{})
			return err
		}},
		{core.OpErasePerson, func(who core.Identity, id uuid.UUID) error {
			f.record(id, domain.TypeSuspectIdentified, identify(personA))
			_, err := f.svc.ErasePerson(f.ctx, who, id, personA, "retention period over")
			return err
		}},
		{core.OpReadPeople, func(who core.Identity, id uuid.UUID) error {
			_, err := f.svc.People(f.ctx, who, id, core.Consultation{})
			return err
		}},
	}
	for name, c := range callers {
		for _, o := range ops {
			t.Run(name+"/"+string(o.op), func(t *testing.T) {
				id := f.jointCase() // a fresh case each time: closing one changes what comes after
				err := o.run(c.who, id)
				allowed := core.Allowed(c.who.Role, o.op, c.rel)
				var de *domain.Error
				switch {
				case allowed && err != nil:
					t.Fatalf("allowed, but: %v", err)
				case allowed:
				case !errors.As(err, &de):
					t.Fatalf("refused with %v, want a *domain.Error", err)
				case c.rel == domain.RelationNone && core.Allowed(c.who.Role, o.op, domain.RelationLead):
					// a role that may do it on its agency's cases, on another's
					if de.Kind != domain.KindNotFound || de.Code != domain.CodeCaseNotFound {
						t.Fatalf("an outsider must be told the case does not exist, got %v", err)
					}
				case de.Kind != domain.KindForbidden:
					t.Fatalf("refused with %v, want forbidden", err)
				}
			})
		}
	}
	// Operations on no case.
	for name, c := range callers {
		for _, o := range []operation{
			{core.OpReadLog, func(who core.Identity, _ uuid.UUID) error {
				_, err := f.svc.ReadLog(f.ctx, who, core.LogQuery{Limit: 10}, core.Consultation{})
				return err
			}},
			{core.OpReadAccessLog, func(who core.Identity, id uuid.UUID) error {
				_, err := f.svc.AccessLog(f.ctx, who, core.AccessQuery{CaseID: id, Limit: 10})
				return err
			}},
			{core.OpImport, func(who core.Identity, _ uuid.UUID) error {
				_, err := f.svc.Import(f.ctx, who, sourceOf(nil), core.ImportOptions{})
				return err
			}},
		} {
			t.Run(name+"/"+string(o.op), func(t *testing.T) {
				err := o.run(c.who, f.jointCase())
				if allowed := core.Allowed(c.who.Role, o.op, c.rel); allowed != (err == nil) {
					t.Fatalf("allowed %v, error %v", allowed, err)
				}
				if de, ok := domain.AsError(err); err != nil && (!ok || de.Kind != domain.KindForbidden) {
					t.Fatalf("refused with %v, want forbidden", err)
				}
			})
		}
	}
}

func TestOpenCaseForAnotherAgencyIsForbidden(t *testing.T) {
	f := newFixture(t, core.Config{})
	_, _, err := f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(
		`{"reference":"X-1","title":"T","lead_agency":"SOCA","crime_types":["cash"],"location":"Dover"}`)})
	if de := wantCode(t, err, domain.CodeForbidden); de.Field != "lead_agency" || de.Kind != domain.KindForbidden {
		t.Fatalf("%+v", de)
	}
	// The lead agency may be written in any case; it is stored canonical.
	_, c, err := f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(
		`{"reference":"X-2","title":"T","lead_agency":"ukba","crime_types":["cash"],"location":"Dover"}`)})
	if err != nil || c.LeadAgency != "UKBA" || c.Agencies[0] != "UKBA" {
		t.Fatalf("%+v %v", c, err)
	}
}

// Agencies are one configured list, matched case-insensitively and stored
// canonical: "ukba" on a UKBA case is UKBA, not a third agency.
func TestAgenciesAreCanonical(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	_, err := f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeAgencyJoined, Data: json.RawMessage(`{"agency":"ukba"}`)})
	wantCode(t, err, domain.CodeAgencyAlreadyJoined)
	_, err = f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeAgencyJoined, Data: json.RawMessage(`{"agency":"NCAA"}`)})
	de := wantCode(t, err, domain.CodeUnknownAgency)
	if de.Kind != domain.KindInvalid || de.Field != "agency" || !strings.Contains(de.Message, "UKBA, BF, SOCA, NCA") {
		t.Fatalf("%+v", de)
	}
	f.record(id, domain.TypeAgencyJoined, `{"agency":"paf"}`)
	c, err := load(f.svc, f.ctx, id, core.At{})
	if err != nil || strings.Join(c.Agencies, ",") != "UKBA,PAF" {
		t.Fatalf("agencies %q, %v", c.Agencies, err)
	}
	// An identity from a token or an identity provider is checked the same way.
	if _, err := f.svc.CheckIdentity(core.Identity{Subject: "x", Role: domain.RoleAnalyst, Agency: "NCAA"}); err == nil {
		t.Fatal("an unknown agency passed")
	}
	if got, err := f.svc.CheckIdentity(core.Identity{Subject: "x", Role: domain.RoleAnalyst, Agency: "soca"}); err != nil || got.Agency != "SOCA" {
		t.Fatalf("%+v %v", got, err)
	}
}

// The answers for a case that does not exist and for one the caller may
// not see are the same, word for word but for the id.
func TestHiddenAndMissingCasesAnswerAlike(t *testing.T) {
	f := newFixture(t, core.Config{})
	hidden := f.open(openData)
	missing := uuid.New()
	for name, run := range map[string]func(uuid.UUID) error{
		"record": func(id uuid.UUID) error {
			_, err := f.svc.Record(f.ctx, socaOfficer, id, core.Command{Type: domain.TypeIntelligenceLogged, Data: json.RawMessage(`{"summary":"s","grading":"1A1"}`)})
			return err
		},
		"read": func(id uuid.UUID) error {
			_, err := f.svc.Case(f.ctx, socaOfficer, id, core.At{}, core.Consultation{})
			return err
		},
		"history": func(id uuid.UUID) error {
			_, err := f.svc.History(f.ctx, socaOfficer, id, 0, 10, core.Consultation{})
			return err
		},
		"verify": func(id uuid.UUID) error {
			_, err := f.svc.Verify(f.ctx, socaOfficer, id, core.Consultation{})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := run(hidden), run(missing)
			if a == nil || b == nil {
				t.Fatalf("%v / %v", a, b)
			}
			if strings.ReplaceAll(a.Error(), hidden.String(), "ID") != strings.ReplaceAll(b.Error(), missing.String(), "ID") {
				t.Fatalf("hidden: %v\nmissing: %v", a, b)
			}
		})
	}
}

// sourceOf is an import source over fixed events.
func sourceOf(events []eventstore.RecordedEvent) core.ImportSource {
	return func(context.Context) iter.Seq2[eventstore.RecordedEvent, error] {
		return func(yield func(eventstore.RecordedEvent, error) bool) {
			for _, e := range events {
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}
