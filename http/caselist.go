package casehttp

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/projections"
)

// CaseLister serves the case list from the projections' read model
// (*projections.Engine satisfies it).
type CaseLister interface {
	ListCases(ctx context.Context, q projections.CaseQuery) (projections.CasePage, error)
	// WaitFor waits until the named projections reflect the log up to pos.
	WaitFor(ctx context.Context, pos eventstore.Position, names ...string) error
}

// listCases: GET /v1/cases.
func (a *api) listCases(c *gin.Context) {
	if a.cfg.CaseList == nil {
		p := newProblem(ProblemUnavailable, "The case list is not available on this server.")
		p.RetryAfter = 30
		writeProblem(c, p)
		return
	}
	p, _ := principalFrom(c)
	limit, err := queryLimit(c, defaultPageLimit, maxPageLimit)
	if err != nil {
		writeProblem(c, err)
		return
	}
	minPos, err := queryUint(c, "min_position", 0, 0)
	if err != nil {
		writeProblem(c, err)
		return
	}
	q := projections.CaseQuery{
		Status:    c.Query("status"),
		Agency:    c.Query("agency"),
		CrimeType: c.Query("crime_type"),
		Text:      c.Query("q"),
		Cursor:    c.Query("cursor"),
		Limit:     limit,
	}
	switch q.Status {
	case "", domain.StatusOpen, domain.StatusClosed:
	default:
		writeProblem(c, fieldProblem(ProblemInvalidParameter, "status", "status must be open or closed."))
		return
	}
	if p.Role == domain.RoleAuditor {
		q.AllAgencies = true
	} else {
		q.VisibleTo = p.Agency
	}
	if err := waitMinPosition(c, a.cfg.CaseList, a.cfg.ReadModelWait, minPos, projections.CaseList); err != nil {
		writeProblem(c, err)
		return
	}
	page, err := a.cfg.CaseList.ListCases(c.Request.Context(), q)
	if err != nil {
		writeProblem(c, err)
		return
	}
	if page.Cases == nil {
		page.Cases = []projections.CaseSummary{}
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	c.Header(HeaderPosition, strconv.FormatUint(page.Position, 10))
	c.JSON(http.StatusOK, gin.H{"cases": page.Cases, "next_cursor": next, "position": page.Position})
}
