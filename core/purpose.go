package core

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/casebook/casebook/domain"
)

// Why a case is consulted (Data Protection Act 2018 s.62: the log must
// make it possible to establish the justification of a consultation). The
// rule lives here, for every caller: a consultation states one of
// domain.Purposes, with an optional reference; a read of case data (a
// record, its history, its verification, time travel) that states none is
// refused when the core requires a purpose, and otherwise recorded with
// the role's default purpose, marked as defaulted. Reads of the global log
// need none (they default likewise); writes and reports record no access.

// Codes of purpose problems (kind malformed: 400).
const (
	CodePurposeRequired         = "purpose_required"
	CodeUnknownPurpose          = "unknown_purpose"
	CodeInvalidPurposeReference = "invalid_purpose_reference"
)

// DefaultPurpose is the purpose recorded for a role's consultation that
// states none: an investigator investigates, an auditor audits, a data
// protection officer acts on a legal obligation (an erasure, a review).
// Other roles read no case data.
func DefaultPurpose(role string) string {
	switch role {
	case domain.RoleInvestigator:
		return domain.PurposeInvestigation
	case domain.RoleAuditor:
		return domain.PurposeAudit
	case domain.RoleDPO:
		return domain.PurposeLegal
	}
	return ""
}

// checkPurpose validates a consultation's purpose and reference and fills
// in the role's default when none is stated. caseData says the read shows
// a case's data (record, history, verification, time travel): with
// RequirePurpose such a read must state its purpose.
func (c *Core) checkPurpose(who Identity, con Consultation, caseData bool) (Consultation, error) {
	purposeField, referenceField := con.PurposeField, con.ReferenceField
	if purposeField == "" {
		purposeField = "purpose"
	}
	if referenceField == "" {
		referenceField = "purpose_reference"
	}
	codes := strings.Join(domain.Purposes, ", ")
	con.PurposeDefaulted = false // the core's to say, not the caller's
	switch {
	case con.Purpose == "" && caseData && c.requirePurpose:
		e := domain.BadParameter(purposeField, "%s is required for this read: state why the case is consulted, one of %s", purposeField, codes)
		e.Code = CodePurposeRequired
		return con, e
	case con.Purpose == "":
		con.Purpose = DefaultPurpose(who.Role)
		con.PurposeDefaulted = con.Purpose != ""
	case !slices.Contains(domain.Purposes, con.Purpose):
		e := domain.BadParameter(purposeField, "%s %q is not a purpose: use one of %s", purposeField, truncate(con.Purpose, 64), codes)
		e.Code = CodeUnknownPurpose
		return con, e
	}
	if con.PurposeReference != "" {
		if msg := referenceProblem(con.PurposeReference); msg != "" {
			e := domain.BadParameter(referenceField, "%s %s", referenceField, msg)
			e.Code = CodeInvalidPurposeReference
			return con, e
		}
	}
	return con, nil
}

// referenceProblem says what is wrong with a purpose reference ("" if
// nothing): the access log's entry must be able to hold it.
func referenceProblem(ref string) string {
	switch {
	case !utf8.ValidString(ref):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(ref) > domain.MaxPurposeReferenceLength:
		return fmt.Sprintf("must be at most %d characters (it has %d)", domain.MaxPurposeReferenceLength, utf8.RuneCountInString(ref))
	case strings.TrimSpace(ref) == "":
		return "must not be blank"
	case strings.ContainsFunc(ref, unicode.IsControl):
		return "must not contain control characters"
	}
	return ""
}

// checkConsultation is the first check of a read: the role may ever do op,
// and the consultation's purpose holds (filled in with the default).
func (c *Core) checkConsultation(who Identity, op Operation, con Consultation, caseData bool) (Consultation, error) {
	if err := requireRole(who, op); err != nil {
		return con, err
	}
	return c.checkPurpose(who, con, caseData)
}
