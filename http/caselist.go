package casehttp

import (
	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/projections"
)

// listCases: GET /v1/cases.
func (a *api) listCases(c *gin.Context) {
	limit, err := queryLimit(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	minPos, err := queryUint(c, "min_position", 0)
	if err != nil {
		writeProblem(c, err)
		return
	}
	q := core.CaseQuery{
		Status:      c.Query("status"),
		Agency:      c.Query("agency"),
		CrimeType:   c.Query("crime_type"),
		Text:        c.Query("q"),
		Cursor:      c.Query("cursor"),
		Limit:       limit,
		MinPosition: minPos,
	}
	page, err := a.core.ListCases(c.Request.Context(), identity(c), q)
	if err != nil {
		writeProblem(c, err)
		return
	}
	if page.Cases == nil {
		page.Cases = []projections.CaseSummary{}
	}
	writeCasesPage(c, page.Cases, page.NextCursor, page.Position, "status", "agency", "crime_type", "q", "limit")
}
