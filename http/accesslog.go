package casehttp

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/domain"
)

// accessLog: GET /v1/access-log?case=&from_version=&limit= (auditors).
func (a *api) accessLog(c *gin.Context) {
	raw, ok := c.GetQuery("case")
	if !ok || raw == "" {
		writeProblem(c, domain.BadParameter("case", "case (a case id) is required."))
		return
	}
	id, err := parseUUIDField("case", raw, domain.KindMalformed)
	if err != nil {
		writeProblem(c, err)
		return
	}
	from, limit, err := pageQuery(c, "from_version")
	if err != nil {
		writeProblem(c, err)
		return
	}
	page, err := a.core.AccessLog(c.Request.Context(), identity(c), id, from, limit)
	if err != nil {
		writeProblem(c, err)
		return
	}
	var next *string
	if page.NextFromVersion != nil {
		next = nextPage(c, url.Values{"from_version": {strconv.FormatUint(*page.NextFromVersion, 10)}}, "case", "limit")
	}
	c.JSON(http.StatusOK, gin.H{"case_id": id, "entries": page.Entries, "next_from_version": page.NextFromVersion, "next": next})
}
