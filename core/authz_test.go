package core_test

import (
	"fmt"
	"testing"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// The authorization table, written out: role × relation of the caller's
// agency to the case × operation → allowed. A change to core.Allowed that
// is not made here too fails this test.
func TestAuthorizationTable(t *testing.T) {
	const (
		lead   = domain.RelationLead
		joined = domain.RelationJoined
		none   = domain.RelationNone
	)
	type row struct {
		role string
		op   core.Operation
		rel  domain.Relation
		want bool
	}
	var rows []row
	add := func(role string, op core.Operation, lead_, joined_, none_ bool) {
		rows = append(rows, row{role, op, lead, lead_}, row{role, op, joined, joined_}, row{role, op, none, none_})
	}
	inv, aud, ana, adm, dpo := domain.RoleInvestigator, domain.RoleAuditor, domain.RoleAnalyst, domain.RoleAdmin, domain.RoleDPO
	//                                  lead   joined none
	add(inv, core.OpOpenCase /*     */, true, true, true) // the lead-agency rule is on the data: see TestOpenCaseForAnotherAgency
	add(inv, core.OpRecordEvent /*  */, true, true, false)
	add(inv, core.OpJoinAgency /*   */, true, false, false)
	add(inv, core.OpCloseCase /*    */, true, false, false)
	add(inv, core.OpReopenCase /*   */, true, false, false)
	add(inv, core.OpReadCase /*     */, true, true, false)
	add(inv, core.OpReadHistory /*  */, true, true, false)
	add(inv, core.OpVerifyCase /*   */, true, true, false)
	add(inv, core.OpListCases /*    */, true, true, true)
	for _, op := range []core.Operation{core.OpReadLog, core.OpReadAccessLog, core.OpReadReports, core.OpReadProjection, core.OpRebuild, core.OpImport,
		core.OpErasePerson, core.OpReadPeople, core.OpReviewRetention, core.OpReadReviewsDue} {
		add(inv, op, false, false, false) // erasure is the data protection officer's
	}
	for _, op := range core.Operations {
		switch op {
		case core.OpReadCase, core.OpReadHistory, core.OpVerifyCase, core.OpListCases, core.OpReadLog, core.OpReadAccessLog, core.OpReadReports:
			add(aud, op, true, true, true) // every case, writes nothing
		default:
			add(aud, op, false, false, false)
		}
		add(ana, op, op == core.OpReadReports, op == core.OpReadReports, op == core.OpReadReports) // never a case record
		adminMay := op == core.OpReadReports || op == core.OpReadProjection || op == core.OpRebuild || op == core.OpImport
		add(adm, op, adminMay, adminMay, adminMay) // no case data
		// Data protection officers erase people from their agency's cases
		// and see of them only the people: no record, history or figures;
		// they hold the retention reviews of those cases: the due list (of
		// their agency's cases, so not tied to one case) and the decision.
		switch op {
		case core.OpErasePerson, core.OpReadPeople, core.OpReviewRetention:
			add(dpo, op, true, true, false)
		case core.OpReadReviewsDue:
			add(dpo, op, true, true, true) // not one case's: the list holds their agency's cases only
		default:
			add(dpo, op, false, false, false)
		}
	}
	for _, r := range rows {
		t.Run(fmt.Sprintf("%s/%s/%s", r.role, r.op, r.rel), func(t *testing.T) {
			if got := core.Allowed(r.role, r.op, r.rel); got != r.want {
				t.Errorf("Allowed(%s, %s, %s) = %v, want %v", r.role, r.op, r.rel, got, r.want)
			}
		})
	}
	if got := core.Allowed("sheriff", core.OpReadCase, lead); got {
		t.Error("an unknown role may read a case")
	}
	if len(rows) != 3*len(core.Roles)*len(core.Operations) {
		t.Fatalf("the table has %d rows: an operation is missing from it", len(rows))
	}
}
