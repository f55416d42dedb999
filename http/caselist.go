package casehttp

import (
	"context"
	"errors"
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
	if err := a.waitForReadModel(c, a.cfg.CaseList, minPos, projections.CaseList); err != nil {
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
	c.Header("Casebook-Position", strconv.FormatUint(page.Position, 10))
	c.JSON(http.StatusOK, gin.H{"cases": page.Cases, "next_cursor": next, "position": page.Position})
}

// readModelWaiter is what waiting for read-your-writes needs.
type readModelWaiter interface {
	WaitFor(ctx context.Context, pos eventstore.Position, names ...string) error
}

// waitForReadModel makes a read model route read-your-writes: with
// min_position it waits (up to ReadModelWait) until the projections have
// reached that position, and answers 503 with Retry-After past the bound.
func (a *api) waitForReadModel(c *gin.Context, w readModelWaiter, minPos uint64, names ...string) error {
	if minPos == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.ReadModelWait)
	defer cancel()
	err := w.WaitFor(ctx, eventstore.Position(minPos), names...)
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) && c.Request.Context().Err() == nil {
		p := newProblem(ProblemUnavailable, "The read model has not reached position %d within %s; retry shortly.", minPos, a.cfg.ReadModelWait)
		p.RetryAfter = 1
		return p
	}
	return err
}
