package casehttp

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// Retention reviews and the places list. Who may read the due list is the
// core's decision (data protection officers, their agency's cases); the
// decision itself is a RetentionReviewed through POST /v1/cases/{id}/events.

// reviewsDue: GET /v1/reviews/due?before=DATE, paged like the case list.
func (a *api) reviewsDue(c *gin.Context) {
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
	q := core.ReviewQuery{Cursor: c.Query("cursor"), Limit: limit, MinPosition: minPos}
	if s := c.Query("before"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			writeProblem(c, domain.BadParameter("before", "before must be a date like 2021-06-06 (cases whose review date is earlier are listed)."))
			return
		}
		q.Before = t
	}
	page, err := a.core.ReviewsDue(c.Request.Context(), identity(c), q)
	if err != nil {
		writeProblem(c, err)
		return
	}
	writeCasesPage(c, page.Cases, page.NextCursor, page.Position, "before", "limit")
}

// placeView is one place as GET /v1/places lists it.
type placeView struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// places: GET /v1/places, the configured list of places (any role): the
// codes a location may be, and what an unknown_place problem points to.
func (a *api) places(c *gin.Context) {
	list := a.core.Places().List()
	out := make([]placeView, len(list))
	for i, p := range list {
		out[i] = placeView{Code: p.Code, Name: p.Name}
	}
	c.JSON(http.StatusOK, gin.H{"places": out})
}
