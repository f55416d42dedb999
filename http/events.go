package casehttp

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// Bounds of `type`, as openapi.yaml documents them: at most
// maxEventTypeNames names in all (there are 13 event types), each value at
// most maxEventTypeValue characters.
const (
	maxEventTypeNames = 16
	maxEventTypeValue = 512
)

// eventTypesParam reads `type` (repeated or comma-separated); the core
// refuses names that are not case event types.
func eventTypesParam(c *gin.Context) ([]string, error) {
	var types []string
	for _, v := range c.QueryArray("type") {
		if len(v) > maxEventTypeValue {
			return nil, domain.BadParameter("type", "type must be at most %d characters.", maxEventTypeValue)
		}
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
	}
	if len(types) > maxEventTypeNames {
		return nil, domain.BadParameter("type", "type must name at most %d event types.", maxEventTypeNames)
	}
	return types, nil
}

// globalLog: GET /v1/events?from_position=&limit=&type= (auditors).
func (a *api) globalLog(c *gin.Context) {
	from, limit, err := pageQuery(c, "from_position")
	if err != nil {
		writeProblem(c, err)
		return
	}
	types, err := eventTypesParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	q := core.LogQuery{FromPosition: from, Limit: limit, Types: types}
	page, err := a.core.ReadLog(c.Request.Context(), identity(c), q, consultation(c))
	if err != nil {
		writeProblem(c, err)
		return
	}
	var next *string
	if page.NextFromPosition != nil {
		set := url.Values{"from_position": {strconv.FormatUint(*page.NextFromPosition, 10)}}
		if len(types) > 0 { // the names as checked, in one value
			set.Set("type", strings.Join(types, ","))
		}
		next = nextPage(c, set, "limit")
	}
	c.JSON(http.StatusOK, gin.H{"events": page.Events, "next_from_position": page.NextFromPosition, "next": next})
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
