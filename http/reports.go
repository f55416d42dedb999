package casehttp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/projections"
)

// The report and projection routes (issue 6), served from the projections'
// read models:
//
//	GET  /v1/reports/arrests            analyst, auditor, admin
//	GET  /v1/reports/gangs-dismantled   analyst, auditor, admin
//	GET  /v1/reports/seizures           analyst, auditor, admin
//	GET  /v1/reports/detections         analyst, auditor, admin
//	GET  /v1/reports/summary            analyst, auditor, admin
//	GET  /v1/projections                admin
//	POST /v1/projections/{name}/rebuild admin → 202
//
// Reports take from, to (dates or RFC 3339 times), group_by, explain (with
// limit and cursor: a page of event ids), as_of, agency and location
// (filters; the core checks and canonicalizes them) and min_position;
// every answer carries Casebook-Position and states it in the body as
// position.

// HeaderPosition carries the log position a read-model answer reflects.
const HeaderPosition = "Casebook-Position"

// registerReportRoutes adds the report and projection routes to g, the
// authenticated /v1 group.
func (a *api) registerReportRoutes(g *gin.RouterGroup) {
	for _, name := range []string{core.ReportArrests, core.ReportGangsDismantled, core.ReportSeizures, core.ReportDetections, core.ReportSummary} {
		g.GET("/reports/"+name, a.report(name))
	}
	g.GET("/projections", a.projectionStatus)
	g.POST("/projections/:name/rebuild", a.rebuildProjection)
}

// report serves one report, with the position it reflects in the header
// and the body.
func (a *api) report(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		q, err := parseReportQuery(c)
		if err != nil {
			writeProblem(c, err)
			return
		}
		rep, err := a.core.Report(c.Request.Context(), identity(c), name, q)
		if err != nil {
			writeProblem(c, err)
			return
		}
		c.Header(HeaderPosition, strconv.FormatUint(rep.Position, 10))
		if rep.NextCursor == "" {
			c.JSON(http.StatusOK, rep.Body)
			return
		}
		// A page of an explained report with more to come: its next page's
		// URL, as every list gives it, in the body and the Link header.
		next := nextPage(c, url.Values{"cursor": {rep.NextCursor}}, reportParams...)
		body, err := withNext(rep.Body, *next)
		if err != nil {
			writeProblem(c, err)
			return
		}
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	}
}

// reportParams are the query parameters a report's next page repeats.
var reportParams = []string{"from", "to", "group_by", "explain", "as_of", "agency", "location", "limit"}

// withNext adds the next page's URL to a report's JSON object.
func withNext(report any, next string) ([]byte, error) {
	b, err := json.Marshal(report)
	if err != nil {
		return nil, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return nil, err
	}
	if members["next"], err = json.Marshal(next); err != nil {
		return nil, err
	}
	return json.Marshal(members)
}

// parseReportQuery reads from, to, group_by, explain, as_of, agency,
// location and min_position. group_by is checked by the read models, the
// filters by the core (each is a code of a configured list: an agency or a
// place, at most 32 characters, the contract's bounds).
func parseReportQuery(c *gin.Context) (core.ReportQuery, error) {
	var q core.ReportQuery
	for _, f := range []struct {
		name string
		dst  **time.Time
	}{{"from", &q.From}, {"to", &q.To}, {"as_of", &q.AsOf}} {
		s, ok := c.GetQuery(f.name)
		if !ok || s == "" {
			continue
		}
		t, err := parseQueryTime(f.name, s)
		if err != nil {
			return q, err
		}
		*f.dst = &t
	}
	q.GroupBy = c.Query("group_by")
	q.Agency, q.Location = c.Query("agency"), c.Query("location")
	if s, ok := c.GetQuery("explain"); ok && s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, domain.BadParameter("explain", "explain must be true or false.")
		}
		q.Explain = b
	}
	limit, err := queryLimit(c)
	if err != nil {
		return q, err
	}
	q.Limit, q.Cursor = limit, c.Query("cursor")
	minPos, err := queryUint(c, "min_position", 0)
	q.MinPosition = minPos
	return q, err
}

// projectionStatus: GET /v1/projections.
func (a *api) projectionStatus(c *gin.Context) {
	st, err := a.core.ProjectionStatus(c.Request.Context(), identity(c))
	if err != nil {
		writeProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// rebuildProjection: POST /v1/projections/{name}/rebuild → 202 once the
// rebuild has started (or was already under way).
func (a *api) rebuildProjection(c *gin.Context) {
	name := c.Param("name")
	if err := a.core.RebuildProjection(c.Request.Context(), identity(c), name); err != nil {
		writeProblem(c, err)
		return
	}
	if n, err := projections.CanonicalName(name); err == nil {
		name = n // gangs-dismantled is gangs_dismantled
	}
	c.Header("Location", "/v1/projections")
	c.JSON(http.StatusAccepted, gin.H{"name": core.ProjectionName(name), "state": projections.StateRebuilding})
}
