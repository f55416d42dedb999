package core

import (
	"context"
	"slices"
	"strings"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/projections"
)

// CaseQuery selects cases from the case list. Filters are checked here:
// an unknown agency, status or crime type is refused, never an empty list.
type CaseQuery struct {
	Status    string // "open" or "closed"; "" any
	Agency    string // lead or joined agency (a configured code, any letter case); "" any
	CrimeType string // one of domain.CrimeTypes; "" any
	Text      string // in reference or title
	Cursor    string
	Limit     int
	// MinPosition makes the list read-your-writes: it reflects at least
	// this log position (waiting a bounded time for it).
	MinPosition uint64
}

// CasePage is a page of the case list.
type CasePage = projections.CasePage

// ListCases lists the cases the caller may see: investigators those their
// agency leads or joined, auditors every case.
func (c *Core) ListCases(ctx context.Context, who Identity, q CaseQuery) (CasePage, error) {
	if err := requireRole(who, OpListCases); err != nil {
		return CasePage{}, err
	}
	if err := c.requireReadModels(); err != nil {
		return CasePage{}, err
	}
	pq := projections.CaseQuery{Status: q.Status, CrimeType: q.CrimeType, Text: q.Text, Cursor: q.Cursor, Limit: q.Limit}
	switch q.Status {
	case "", domain.StatusOpen, domain.StatusClosed:
	default:
		return CasePage{}, domain.BadParameter("status", "status must be %s or %s", domain.StatusOpen, domain.StatusClosed)
	}
	if q.CrimeType != "" && !slices.Contains(domain.CrimeTypes, q.CrimeType) {
		return CasePage{}, domain.BadParameter("crime_type", "crime_type must be one of %s", strings.Join(domain.CrimeTypes, ", "))
	}
	if q.Agency != "" {
		code, ok := c.agencies.Canonical(q.Agency)
		if !ok {
			return CasePage{}, c.agencies.UnknownAgency("agency", q.Agency)
		}
		pq.Agency = code
	}
	if who.Role == domain.RoleAuditor {
		pq.AllAgencies = true
	} else {
		pq.VisibleTo = who.Agency
	}
	if err := c.waitFor(ctx, q.MinPosition, projections.CaseList); err != nil {
		return CasePage{}, err
	}
	page, err := c.readModels.ListCases(ctx, pq)
	if err != nil {
		return CasePage{}, readModelError("list cases", err)
	}
	if page.Cases == nil {
		page.Cases = []projections.CaseSummary{}
	}
	return page, nil
}

// Report names.
const (
	ReportArrests         = "arrests"
	ReportGangsDismantled = "gangs-dismantled"
	ReportSeizures        = "seizures"
	ReportDetections      = "detections"
	ReportSummary         = "summary"
)

// ReportQuery is what every report takes.
type ReportQuery struct {
	projections.ReportQuery
	// MinPosition makes the report read-your-writes.
	MinPosition uint64
}

// reportProjections are the read models each report reads.
var reportProjections = map[string][]string{
	ReportArrests:         {projections.Arrests},
	ReportGangsDismantled: {projections.GangsDismantled},
	ReportSeizures:        {projections.Seizures},
	ReportDetections:      {projections.Detections},
	ReportSummary:         projections.SummaryProjections,
}

// Report answers one report (arrests, gangs-dismantled, seizures,
// detections, summary) for analysts, auditors and admins. The answer is
// the report's own type (projections.ArrestsReport, …); position is the
// log position it reflects.
func (c *Core) Report(ctx context.Context, who Identity, name string, q ReportQuery) (answer any, position uint64, err error) {
	if err := requireRole(who, OpReadReports); err != nil {
		return nil, 0, err
	}
	if err := c.requireReadModels(); err != nil {
		return nil, 0, err
	}
	names, ok := reportProjections[name]
	if !ok {
		return nil, 0, domain.Errorf(domain.KindNotFound, domain.CodeNotFound, "no report %s", name)
	}
	if err := c.waitFor(ctx, q.MinPosition, names...); err != nil {
		return nil, 0, err
	}
	rm := c.readModels
	switch name {
	case ReportArrests:
		r, e := rm.Arrests(ctx, q.ReportQuery)
		answer, position, err = r, r.Position, e
	case ReportGangsDismantled:
		r, e := rm.GangsDismantled(ctx, q.ReportQuery)
		answer, position, err = r, r.Position, e
	case ReportSeizures:
		r, e := rm.Seizures(ctx, q.ReportQuery)
		answer, position, err = r, r.Position, e
	case ReportDetections:
		r, e := rm.Detections(ctx, q.ReportQuery)
		answer, position, err = r, r.Position, e
	case ReportSummary:
		r, e := rm.Summary(ctx, q.ReportQuery)
		answer, position, err = r, r.Position, e
	}
	if err != nil {
		return nil, 0, readModelError(name+" report", err)
	}
	return answer, position, nil
}

// ProjectionStatus is every read model's state and lag (admins).
func (c *Core) ProjectionStatus(ctx context.Context, who Identity) ([]projections.Status, error) {
	if err := requireRole(who, OpReadProjection); err != nil {
		return nil, err
	}
	if err := c.requireReadModels(); err != nil {
		return nil, err
	}
	st, err := c.readModels.Status(ctx)
	if err != nil {
		return nil, readModelError("projection status", err)
	}
	if st == nil {
		st = []projections.Status{}
	}
	return st, nil
}

// RebuildProjection starts rebuilding a read model (admins).
func (c *Core) RebuildProjection(ctx context.Context, who Identity, name string) error {
	if err := requireRole(who, OpRebuild); err != nil {
		return err
	}
	if err := c.requireReadModels(); err != nil {
		return err
	}
	return readModelError(name, c.readModels.Rebuild(ctx, name))
}
