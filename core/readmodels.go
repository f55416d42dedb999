package core

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

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

// MaxCursorLength bounds the case list's cursors: the base64 of "seq:"
// and an int64.
const MaxCursorLength = 32

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
		code, err := c.agencyFilter(q.Agency)
		if err != nil {
			return CasePage{}, err
		}
		pq.Agency = code
	}
	// No reference or title is longer than MaxNameLength, so no longer
	// text can match; a cursor this list gave is at most MaxCursorLength.
	if utf8.RuneCountInString(q.Text) > domain.MaxNameLength {
		return CasePage{}, domain.BadParameter("q", "q must be at most %d characters", domain.MaxNameLength)
	}
	if len(q.Cursor) > MaxCursorLength {
		return CasePage{}, domain.BadParameter("cursor", "cursor is not a cursor this list gave (they are at most %d characters)", MaxCursorLength)
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

// ReportAnswer is a report as the read models answer it.
type ReportAnswer struct {
	// Body is the report's own type (projections.ArrestsReport, …).
	Body any
	// Position is the log position it reflects.
	Position uint64
	// NextCursor continues an explained answer whose page of event ids did
	// not hold them all ("" on the last page).
	NextCursor string
}

// Report answers one report (arrests, gangs-dismantled, seizures,
// detections, summary) for analysts, auditors and admins.
func (c *Core) Report(ctx context.Context, who Identity, name string, q ReportQuery) (ReportAnswer, error) {
	if err := requireRole(who, OpReadReports); err != nil {
		return ReportAnswer{}, err
	}
	if err := c.requireReadModels(); err != nil {
		return ReportAnswer{}, err
	}
	names, ok := reportProjections[name]
	if !ok {
		return ReportAnswer{}, domain.Errorf(domain.KindNotFound, domain.CodeNotFound, "no report %s", name)
	}
	var err error
	if q.ReportQuery, err = c.reportFilters(name, q.ReportQuery); err != nil {
		return ReportAnswer{}, err
	}
	if err := c.waitFor(ctx, q.MinPosition, names...); err != nil {
		return ReportAnswer{}, err
	}
	rm := c.readModels
	var a ReportAnswer
	switch name {
	case ReportArrests:
		r, e := rm.Arrests(ctx, q.ReportQuery)
		a, err = ReportAnswer{r, r.Position, r.NextCursor}, e
	case ReportGangsDismantled:
		r, e := rm.GangsDismantled(ctx, q.ReportQuery)
		a, err = ReportAnswer{r, r.Position, r.NextCursor}, e
	case ReportSeizures:
		r, e := rm.Seizures(ctx, q.ReportQuery)
		a, err = ReportAnswer{r, r.Position, r.NextCursor}, e
	case ReportDetections:
		r, e := rm.Detections(ctx, q.ReportQuery)
		a, err = ReportAnswer{r, r.Position, r.NextCursor}, e
	case ReportSummary:
		r, e := rm.Summary(ctx, q.ReportQuery)
		a, err = ReportAnswer{r, r.Position, r.NextCursor}, e
	}
	if err != nil {
		return ReportAnswer{}, readModelError(name+" report", err)
	}
	return a, nil
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
	for i := range st { // a failure's text is bounded (2000 characters, as documented)
		if r := []rune(st[i].Error); len(r) > maxProjectionError {
			st[i].Error = string(r[:maxProjectionError-1]) + "…"
		}
	}
	if st == nil {
		st = []projections.Status{}
	}
	return st, nil
}

const maxProjectionError = 2000

// RebuildProjection starts rebuilding a read model (admins). The name is
// the projection's or its report route's.
func (c *Core) RebuildProjection(ctx context.Context, who Identity, name string) error {
	if err := requireRole(who, OpRebuild); err != nil {
		return err
	}
	if err := c.requireReadModels(); err != nil {
		return err
	}
	// The projections take a projection's name or its report route's
	// (gangs-dismantled for gangs_dismantled).
	return readModelError(name, c.readModels.Rebuild(ctx, name))
}

// reportFilters checks a report's agency and location filters and puts
// them in the form the read models store: the agency's configured code
// (any letter case is accepted; an unknown agency is refused, 400, as on
// the case list), the location as recorded (surrounding spaces trimmed, as
// on every recorded location). A report whose events carry no such place
// refuses the filter (gangs dismantled have no location). Every filter of
// a report goes through here, so that a place's canonical form, when
// there is one, is applied in one spot.
func (c *Core) reportFilters(report string, q projections.ReportQuery) (projections.ReportQuery, error) {
	accepts := projections.FilterKeys[report]
	for _, f := range []struct{ name, value string }{{"agency", q.Agency}, {"location", q.Location}} {
		if f.value != "" && !slices.Contains(accepts, f.name) {
			return q, domain.BadParameter(f.name, "the %s report cannot be filtered by %s: a GangDismantled event names the group, not a place (filter arrests, seizures or detections by location)", report, f.name)
		}
	}
	if q.Agency != "" {
		code, err := c.agencyFilter(q.Agency)
		if err != nil {
			return q, err
		}
		q.Agency = code
	}
	if q.Location != "" {
		loc, err := c.locationFilter(q.Location)
		if err != nil {
			return q, err
		}
		q.Location = loc
	}
	return q, nil
}

// locationFilter reads a location filter: a place code of the configured
// list, in any letter case (the read models store canonical codes). Like
// an unknown agency, an unknown place is a malformed parameter (400) naming
// the codes.
func (c *Core) locationFilter(location string) (string, error) {
	code, ok := c.places.Canonical(location)
	if !ok {
		// The message of an unknown place in a recorded event (422
		// unknown-place there); here it is a parameter, so a 400.
		return "", domain.BadParameter("location", "%s", c.places.UnknownPlace("location", location).Message)
	}
	return code, nil
}

// agencyFilter reads an agency filter: a filter, not data, so an unknown
// agency is a malformed parameter (400) naming the configured codes, like
// every other enum filter.
func (c *Core) agencyFilter(agency string) (string, error) {
	code, ok := c.agencies.Canonical(agency)
	if !ok {
		e := c.agencies.UnknownAgency("agency", agency)
		e.Kind = domain.KindMalformed
		return "", e
	}
	return code, nil
}

// ProjectionName is the projection a name (its own, or its report route's
// spelling with hyphens) stands for; an unknown name is returned as it is.
func ProjectionName(name string) string {
	if n, err := projections.CanonicalName(name); err == nil {
		return n
	}
	return name
}
