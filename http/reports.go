package casehttp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
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
// limit and cursor: a page of event ids), as_of and min_position; every
// answer carries Casebook-Position and states it in the body as position.

// ReportReader is what the report and projection routes need;
// *projections.Engine satisfies it.
type ReportReader interface {
	Arrests(ctx context.Context, q projections.ReportQuery) (projections.ArrestsReport, error)
	GangsDismantled(ctx context.Context, q projections.ReportQuery) (projections.GangsReport, error)
	Seizures(ctx context.Context, q projections.ReportQuery) (projections.SeizuresReport, error)
	Detections(ctx context.Context, q projections.ReportQuery) (projections.DetectionsReport, error)
	Summary(ctx context.Context, q projections.ReportQuery) (projections.SummaryReport, error)
	// WaitFor waits until the named projections reflect the log up to pos.
	WaitFor(ctx context.Context, pos eventstore.Position, names ...string) error
	Status(ctx context.Context) ([]projections.Status, error)
	Rebuild(ctx context.Context, name string) error
}

var _ ReportReader = (*projections.Engine)(nil)

// The page of event ids an explained report lists: limit's default and
// cap (larger limits are capped, as for every list).
const (
	explainPageLimit    = 100
	maxExplainPageLimit = 1000
)

// HeaderPosition carries the log position a read-model answer reflects.
const HeaderPosition = "Casebook-Position"

// registerReportRoutes adds the report and projection routes to g, the
// authenticated /v1 group. r nil answers them 503 (no read models on this
// server). wait bounds a min_position wait (0: 2s).
func registerReportRoutes(g *gin.RouterGroup, r ReportReader, wait time.Duration) {
	if wait <= 0 {
		wait = 2 * time.Second
	}
	h := &reportHandlers{r: r, wait: wait}
	readers := allowRoles(domain.RoleAnalyst, domain.RoleAuditor, domain.RoleAdmin)
	admins := allowRoles(domain.RoleAdmin)
	g.GET("/reports/arrests", readers, h.report(projections.Arrests, "arrests",
		func(ctx context.Context, q projections.ReportQuery) (any, uint64, error) {
			rep, err := r.Arrests(ctx, q)
			return rep, rep.Position, err
		}))
	g.GET("/reports/gangs-dismantled", readers, h.report(projections.GangsDismantled, "gangs-dismantled",
		func(ctx context.Context, q projections.ReportQuery) (any, uint64, error) {
			rep, err := r.GangsDismantled(ctx, q)
			return rep, rep.Position, err
		}))
	g.GET("/reports/seizures", readers, h.report(projections.Seizures, "seizures",
		func(ctx context.Context, q projections.ReportQuery) (any, uint64, error) {
			rep, err := r.Seizures(ctx, q)
			return rep, rep.Position, err
		}))
	g.GET("/reports/detections", readers, h.report(projections.Detections, "detections",
		func(ctx context.Context, q projections.ReportQuery) (any, uint64, error) {
			rep, err := r.Detections(ctx, q)
			return rep, rep.Position, err
		}))
	g.GET("/reports/summary", readers, h.report("", "summary",
		func(ctx context.Context, q projections.ReportQuery) (any, uint64, error) {
			rep, err := r.Summary(ctx, q)
			return rep, rep.Position, err
		}))
	g.GET("/projections", admins, h.status)
	g.POST("/projections/:name/rebuild", admins, h.rebuild)
}

type reportHandlers struct {
	r    ReportReader
	wait time.Duration
}

func (h *reportHandlers) available(c *gin.Context) bool {
	if h.r != nil {
		return true
	}
	p := newProblem(ProblemUnavailable, "Reports are not available on this server.")
	p.RetryAfter = 30
	writeProblem(c, p)
	return false
}

// report serves one report: parse, wait for min_position, answer with the
// position in the header and the body. projection is the read model the
// report reads ("" for the summary, which reads four).
func (h *reportHandlers) report(projection, name string, run func(ctx context.Context, q projections.ReportQuery) (any, uint64, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !h.available(c) {
			return
		}
		q, minPos, err := parseReportQuery(c)
		if err != nil {
			writeProblem(c, err)
			return
		}
		names := []string{projection}
		if projection == "" {
			names = projections.SummaryProjections
		}
		if err := waitMinPosition(c, h.r, h.wait, minPos, names...); err != nil {
			writeProblem(c, err)
			return
		}
		rep, pos, err := run(c.Request.Context(), q)
		if err != nil {
			writeProblem(c, err)
			return
		}
		c.Header(HeaderPosition, strconv.FormatUint(pos, 10))
		c.JSON(http.StatusOK, rep)
	}
}

// parseReportQuery reads from, to, group_by, explain, limit, cursor, as_of
// and min_position. group_by and cursor are checked by the projections (a
// QueryError, 400).
func parseReportQuery(c *gin.Context) (projections.ReportQuery, uint64, error) {
	var q projections.ReportQuery
	for _, f := range []struct {
		name string
		dst  **time.Time
	}{{"from", &q.From}, {"to", &q.To}, {"as_of", &q.AsOf}} {
		s, ok := c.GetQuery(f.name)
		if !ok || s == "" {
			continue
		}
		t, err := projections.ParseReportTime(s)
		if err != nil {
			return q, 0, fieldProblem(ProblemInvalidParameter, f.name,
				"%s must be a date like 2010-06-06 or an RFC 3339 time like 2010-06-06T09:30:00Z.", f.name)
		}
		*f.dst = &t
	}
	q.GroupBy = c.Query("group_by")
	if s, ok := c.GetQuery("explain"); ok && s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, 0, fieldProblem(ProblemInvalidParameter, "explain", "explain must be true or false.")
		}
		q.Explain = b
	}
	limit, err := queryLimit(c, explainPageLimit, maxExplainPageLimit)
	if err != nil {
		return q, 0, err
	}
	q.Limit, q.Cursor = limit, c.Query("cursor")
	minPos, err := queryUint(c, "min_position", 0, 0)
	return q, minPos, err
}

// positionWaiter is what read-your-writes needs.
type positionWaiter interface {
	WaitFor(ctx context.Context, pos eventstore.Position, names ...string) error
}

// waitMinPosition makes a read-model route read-your-writes: with
// min_position > 0 it waits, at most wait, until the named projections
// reflect that position, and past the bound answers 503 with Retry-After.
func waitMinPosition(c *gin.Context, w positionWaiter, wait time.Duration, minPos uint64, names ...string) error {
	if minPos == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), wait)
	defer cancel()
	err := w.WaitFor(ctx, eventstore.Position(minPos), names...)
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) && c.Request.Context().Err() == nil {
		p := newProblem(ProblemUnavailable, "The read models have not reached position %d within %s; retry shortly.", minPos, wait)
		p.RetryAfter = 1
		return p
	}
	return err
}

// status: GET /v1/projections.
func (h *reportHandlers) status(c *gin.Context) {
	if !h.available(c) {
		return
	}
	st, err := h.r.Status(c.Request.Context())
	if err != nil {
		writeProblem(c, err)
		return
	}
	if st == nil {
		st = []projections.Status{}
	}
	c.JSON(http.StatusOK, st)
}

// rebuild: POST /v1/projections/{name}/rebuild → 202 once the rebuild has
// started (or was already under way).
func (h *reportHandlers) rebuild(c *gin.Context) {
	if !h.available(c) {
		return
	}
	name := c.Param("name")
	if err := h.r.Rebuild(c.Request.Context(), name); err != nil {
		writeProblem(c, err)
		return
	}
	if n, err := projections.CanonicalName(name); err == nil {
		name = n // gangs-dismantled is gangs_dismantled
	}
	c.Header("Location", "/v1/projections")
	c.JSON(http.StatusAccepted, gin.H{"name": name, "state": projections.StateRebuilding})
}

// ProjectionLagFunc adapts the engine's status for NewMetrics:
// casehttp.NewMetrics(casehttp.ProjectionLagFunc(engine)).
func ProjectionLagFunc(r interface {
	Status(ctx context.Context) ([]projections.Status, error)
}) func(ctx context.Context) []ProjectionLag {
	return func(ctx context.Context) []ProjectionLag {
		st, err := r.Status(ctx)
		if err != nil {
			return nil
		}
		out := make([]ProjectionLag, 0, len(st))
		for _, s := range st {
			out = append(out, ProjectionLag{Name: s.Name, LagEvents: s.LagEvents, LagSeconds: s.LagSeconds,
				Failed: s.State == projections.StateFailed})
		}
		return out
	}
}
