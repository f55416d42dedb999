package casehttp

import (
	"errors"

	"github.com/casebook/casebook/domain"
)

// domainProblem maps a domain error (a rule broken, bad data, a conflict) to
// its problem. The domain's stable code travels as the problem's `code`.
func domainProblem(err error) (*Problem, bool) {
	if errors.Is(err, domain.ErrCorruptEvent) {
		// Stored data that cannot be read is the server's failure, not the
		// client's, whatever rule the decoder says it breaks; verify tells
		// an auditor where the chain broke.
		p := newProblem(ProblemCorruptRecord, "A stored event of this case cannot be read; the record was altered outside Casebook.")
		p.cause = err
		return p, true
	}
	de, ok := domain.AsError(err)
	if !ok {
		return nil, false
	}
	var p *Problem
	switch {
	case de.Code == domain.CodeVersionConflict:
		p = newProblem(ProblemVersionConflict, "%s; nothing was written.", de.Message)
		if de.CurrentVersion != nil {
			v := *de.CurrentVersion
			p.CurrentVersion = &v
		}
	case de.Code == domain.CodeDuplicateEventID:
		p = newProblem(ProblemIdempotencyConflict, "%s", de.Message)
	case de.Code == domain.CodeMalformedJSON:
		p = newProblem(ProblemMalformedJSON, "%s", de.Message)
	case de.Kind == domain.KindConflict:
		p = newProblem(ProblemConflict, "%s", de.Message)
	case de.Kind == domain.KindNotFound:
		p = newProblem(ProblemNotFound, "%s", de.Message)
	case de.Kind == domain.KindForbidden:
		p = newProblem(ProblemForbidden, "%s", de.Message)
	default: // domain.KindInvalid and any kind added later
		p = newProblem(ProblemValidation, "%s", de.Message)
	}
	p.Code = de.Code
	p.Field = de.Field
	return p, true
}
