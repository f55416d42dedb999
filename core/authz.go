package core

import (
	"fmt"
	"strings"

	"github.com/casebook/casebook/domain"
)

// Operation is something a caller asks the core to do. Who may do it is
// decided by one table, Allowed, on the caller's role and on how the
// caller's agency stands to the case (lead, joined, none).
type Operation string

const (
	OpOpenCase       Operation = "open_case"       // open a case led by the caller's agency
	OpRecordEvent    Operation = "record_event"    // log an event on a case (anything not below)
	OpJoinAgency     Operation = "join_agency"     // AgencyJoined: give another agency access
	OpCloseCase      Operation = "close_case"      // CaseClosed
	OpReopenCase     Operation = "reopen_case"     // CaseReopened
	OpReadCase       Operation = "read_case"       // the case record, now or at a version or time
	OpReadHistory    Operation = "read_history"    // the case's events
	OpVerifyCase     Operation = "verify_case"     // the case's hash chains
	OpListCases      Operation = "list_cases"      // the case list (filtered to what the caller may see)
	OpReadLog        Operation = "read_log"        // the global log, a page or live
	OpReadAccessLog  Operation = "read_access_log" // who consulted what
	OpReadReports    Operation = "read_reports"    // the figures
	OpReadProjection Operation = "read_projections"
	OpRebuild        Operation = "rebuild_projection"
	OpImport         Operation = "import"       // load recorded streams (casebook import, migrate)
	OpErasePerson    Operation = "erase_person" // PersonErased, and the destruction of the person's key
	OpReadPeople     Operation = "read_people"  // the people whose personal data the case holds
	// RetentionReviewed (retain or dispose; disposal destroys every key of
	// the case).
	OpReviewRetention Operation = "review_retention"
	OpReadReviewsDue  Operation = "read_reviews_due" // the cases due for a retention review (of the caller's agency)
)

// Operations lists every operation, in the order of the authorization
// table's documentation.
var Operations = []Operation{OpOpenCase, OpRecordEvent, OpJoinAgency, OpCloseCase, OpReopenCase,
	OpReadCase, OpReadHistory, OpVerifyCase, OpListCases, OpReadLog, OpReadAccessLog,
	OpReadReports, OpReadProjection, OpRebuild, OpImport, OpErasePerson, OpReadPeople, OpReviewRetention, OpReadReviewsDue}

// caseOperations are the operations on one case, where the caller's
// agency's relation to the case matters.
var caseOperations = map[Operation]bool{OpRecordEvent: true, OpJoinAgency: true, OpCloseCase: true,
	OpReopenCase: true, OpReadCase: true, OpReadHistory: true, OpVerifyCase: true, OpErasePerson: true, OpReadPeople: true, OpReviewRetention: true}

// Allowed is Casebook's authorization table: may a caller with role, whose
// agency stands to the case as rel (RelationNone for operations not on one
// case), do op?
//
//   - investigators open cases for their own agency (the lead-agency rule is
//     checked by OpenCase on the data), and log events on, read, and verify
//     the cases their agency leads or has joined; only the lead agency may
//     give another agency access (AgencyJoined), close or reopen the case:
//     the lead owns the case's scope and lifecycle;
//   - auditors read, verify and replay every case, the global log and the
//     access log, and read the reports; they write nothing;
//   - analysts read the reports only: never a case record or a name;
//   - admins read the reports and run the read models; no case data.
//   - import (casebook import, migrate) is an operator's act: admins.
//   - data protection officers (dpo) erase a person's personal data from
//     the cases their agency leads or has joined, and see of such a case
//     only what that needs: the people whose personal data it holds
//     (their ids, names, dates of birth and nationalities, to find the
//     data subject; whether each is retracted or erased). Never the case
//     record, its history, intelligence, figures or the logs: nothing
//     else of a case is needed to erase someone from it. They also hold
//     the retention reviews of those cases: they list the cases of their
//     agency due for review (reference, crime types, closure, review date:
//     no title, people or figures) and log RetentionReviewed — retain, or
//     dispose, which destroys every key of the case. Nobody else does
//     either.
func Allowed(role string, op Operation, rel domain.Relation) bool {
	switch role {
	case domain.RoleInvestigator:
		switch op {
		case OpOpenCase, OpListCases:
			return true
		case OpRecordEvent, OpReadCase, OpReadHistory, OpVerifyCase:
			return rel != domain.RelationNone
		case OpJoinAgency, OpCloseCase, OpReopenCase:
			return rel == domain.RelationLead
		}
	case domain.RoleAuditor:
		switch op {
		case OpReadCase, OpReadHistory, OpVerifyCase, OpListCases, OpReadLog, OpReadAccessLog, OpReadReports:
			return true
		}
	case domain.RoleAnalyst:
		return op == OpReadReports
	case domain.RoleAdmin:
		switch op {
		case OpReadReports, OpReadProjection, OpRebuild, OpImport:
			return true
		}
	case domain.RoleDPO:
		switch op {
		case OpErasePerson, OpReadPeople, OpReviewRetention:
			return rel != domain.RelationNone
		case OpReadReviewsDue:
			return true // the list holds only the cases of the caller's agency
		}
	}
	return false
}

// operationOf is the operation of logging an event of type eventType.
func operationOf(eventType string) Operation {
	switch eventType {
	case domain.TypeCaseOpened:
		return OpOpenCase
	case domain.TypeAgencyJoined:
		return OpJoinAgency
	case domain.TypeCaseClosed:
		return OpCloseCase
	case domain.TypeCaseReopened:
		return OpReopenCase
	case domain.TypePersonErased:
		return OpErasePerson
	case domain.TypeRetentionReviewed:
		return OpReviewRetention
	}
	return OpRecordEvent
}

// rolesAllowed lists the roles that may do op with some relation, for
// messages.
func rolesAllowed(op Operation) []string {
	var out []string
	for _, r := range Roles {
		for _, rel := range []domain.Relation{domain.RelationNone, domain.RelationJoined, domain.RelationLead} {
			if Allowed(r, op, rel) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// forbidden is the refusal of an operation the caller's role never allows.
func forbidden(who Identity, op Operation) *domain.Error {
	allowed := rolesAllowed(op)
	msg := fmt.Sprintf("the %s role may not %s", who.Role, strings.ReplaceAll(string(op), "_", " "))
	if len(allowed) > 0 {
		msg += fmt.Sprintf(" (allowed: %s)", strings.Join(allowed, ", "))
	}
	return domain.Errorf(domain.KindForbidden, domain.CodeForbidden, "%s", msg)
}

// requireRole refuses op unless who's role allows it for some case or
// none; for operations on one case it is the first, cheap check, before
// the case is loaded.
func requireRole(who Identity, op Operation) error {
	if len(rolesAllowed(op)) == 0 || !roleMayEver(who.Role, op) {
		return forbidden(who, op)
	}
	return nil
}

func roleMayEver(role string, op Operation) bool {
	for _, rel := range []domain.Relation{domain.RelationNone, domain.RelationJoined, domain.RelationLead} {
		if Allowed(role, op, rel) {
			return true
		}
	}
	return false
}
