package casehttp

import (
	"errors"
	"strings"

	"github.com/casebook/casebook/projections"
)

// projectionProblem maps the projections' errors: a query asked wrongly is
// the client's (400 naming the parameter); an unknown projection is 404
// naming the valid ones; a read model that failed or is closed is
// unavailable for now (503 with Retry-After).
func projectionProblem(err error) (*Problem, bool) {
	var qe *projections.QueryError
	if errors.As(err, &qe) {
		return fieldProblem(ProblemInvalidParameter, qe.Field, "%s: %s.", qe.Field, qe.Message), true
	}
	var retry int
	var detail string
	switch {
	case errors.Is(err, projections.ErrUnknownProjection):
		var ue *projections.UnknownProjectionError
		if errors.As(err, &ue) {
			return newProblem(ProblemNotFound, "No such projection %q; there are: %s.", ue.Name, strings.Join(ue.Valid, ", ")), true
		}
		return newProblem(ProblemNotFound, "No such projection."), true
	case errors.Is(err, projections.ErrProjectionFailed):
		retry, detail = 30, "A read model this answer depends on has failed; an admin can rebuild it."
	case errors.Is(err, projections.ErrClosed):
		retry, detail = 5, "The read models are closed (the server is stopping)."
	default:
		return nil, false
	}
	p := newProblem(ProblemUnavailable, "%s", detail)
	p.RetryAfter = retry
	p.cause = err
	return p, true
}
