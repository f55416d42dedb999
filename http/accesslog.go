package casehttp

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// accessLogFilters are the query parameters a next page repeats.
var accessLogFilters = []string{"case", "subject", "agency", "purpose", "outcome", "from", "to", "limit"}

// accessLog: GET /v1/access-log?case=&subject=&agency=&purpose=&outcome=&from=&to=&cursor=&from_version=&limit=
// (auditors). The core checks the query; this reads it.
func (a *api) accessLog(c *gin.Context) {
	var q core.AccessQuery
	if raw := c.Query("case"); raw != "" {
		id, err := parseUUIDField("case", raw, domain.KindMalformed)
		if err != nil {
			writeProblem(c, err)
			return
		}
		q.CaseID = id
	}
	q.Subject, q.Agency, q.Purpose, q.Outcome, q.Cursor = c.Query("subject"), c.Query("agency"), c.Query("purpose"), c.Query("outcome"), c.Query("cursor")
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if raw := c.Query(p.name); raw != "" {
			t, err := parseQueryTime(p.name, raw)
			if err != nil {
				writeProblem(c, err)
				return
			}
			*p.dst = &t
		}
	}
	if raw := c.Query("from_version"); raw != "" {
		v, err := queryUint(c, "from_version", 0)
		if err != nil {
			writeProblem(c, err)
			return
		}
		q.FromVersion = &v
	}
	limit, err := queryLimit(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	q.Limit = limit
	page, err := a.core.AccessLog(c.Request.Context(), identity(c), q)
	if err != nil {
		writeProblem(c, err)
		return
	}
	// The next page, in the coordinate the query pages by: a case's own
	// log by version (as the first version answered), anything else by
	// an opaque cursor.
	var cursor, next *string // null on the last page
	if page.NextCursor != "" {
		cursor = &page.NextCursor
	}
	switch {
	case page.NextFromVersion != nil && c.Query("cursor") == "":
		next = nextPage(c, url.Values{"from_version": {strconv.FormatUint(*page.NextFromVersion, 10)}}, accessLogFilters...)
	case cursor != nil:
		next = nextPage(c, url.Values{"cursor": {page.NextCursor}}, accessLogFilters...)
	}
	if q.CaseID != uuid.Nil {
		c.JSON(http.StatusOK, gin.H{"case_id": q.CaseID, "entries": page.Entries, "next_cursor": cursor,
			"next_from_version": page.NextFromVersion, "next": next})
		return
	}
	c.JSON(http.StatusOK, gin.H{"entries": page.Entries, "next_cursor": cursor, "next": next})
}
