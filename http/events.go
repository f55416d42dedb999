package casehttp

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// eventTypesParam reads `type` (repeated or comma-separated); the core
// refuses names that are not case event types.
func eventTypesParam(c *gin.Context) []string {
	var types []string
	for _, v := range c.QueryArray("type") {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
	}
	return types
}

// globalLog: GET /v1/events?from_position=&limit=&type= (auditors).
func (a *api) globalLog(c *gin.Context) {
	from, limit, err := pageQuery(c, "from_position")
	if err != nil {
		writeProblem(c, err)
		return
	}
	q := core.LogQuery{FromPosition: from, Limit: limit, Types: eventTypesParam(c)}
	page, err := a.core.ReadLog(c.Request.Context(), identity(c), q, consultation(c))
	if err != nil {
		writeProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"events": page.Events, "next_from_position": page.NextFromPosition})
}

// eventByID: GET /v1/events/{id} (auditors): one case event with its case,
// recorded in the case's access log.
func (a *api) eventByID(c *gin.Context) {
	id, err := parseUUIDField("id", c.Param("id"), domain.KindMalformed)
	if err != nil {
		writeProblem(c, err)
		return
	}
	e, err := a.core.Event(c.Request.Context(), identity(c), id, consultation(c))
	if err != nil {
		writeProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}
