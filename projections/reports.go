package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// ReportQuery is what every report takes.
type ReportQuery struct {
	// From (inclusive) and To (exclusive) bound the period over the events'
	// occurred_at; nil leaves that end open (the summary defaults to the 12
	// months up to now).
	From, To *time.Time
	// GroupBy names the grouping; "" gives the totals alone. Each report
	// accepts its own keys (GroupByKeys).
	GroupBy string
	// Explain lists event ids behind the figures: a page of at most Limit
	// of them (0: 100; at most 1000) in (occurred_at, position) order,
	// starting after Cursor (a NextCursor an earlier page gave; "" for the
	// first page). The figures are exact whatever the page.
	Explain bool
	Limit   int
	Cursor  string
	// AsOf answers with the figures as they stood at that recorded time:
	// events (and retractions) recorded after it are ignored. The read
	// models are bitemporal, so this is a query like any other.
	AsOf *time.Time
	// Agency and Location keep only the events of that agency and that
	// location ("" keeps all), compared exactly with what the read models
	// store: the agency's configured code (the core canonicalizes a
	// caller's spelling) and the place code (likewise). They narrow every
	// figure, group and explained event id alike. Gangs dismantled have no
	// location (FilterKeys): a location filter on them is refused, and the
	// summary leaves its gangs figure out.
	Agency, Location string
}

// FilterKeys are the filters each report accepts: the places its events
// carry (as GroupByKeys' agency and location).
var FilterKeys = map[string][]string{
	"arrests":          {"agency", "location"},
	"gangs-dismantled": {"agency"},
	"seizures":         {"agency", "location"},
	"detections":       {"agency", "location"},
	"summary":          {"agency", "location"},
}

// filter keeps the facts whose dimension dim (a column of the read model)
// holds value.
type filter struct{ dim, value string }

// filters are the query's filters in a fixed order (agency, then
// location), the empty ones left out.
func (q ReportQuery) filters() []filter {
	var fs []filter
	if q.Agency != "" {
		fs = append(fs, filter{"agency", q.Agency})
	}
	if q.Location != "" {
		fs = append(fs, filter{"location", q.Location})
	}
	return fs
}

// filterOn is the value the filters keep for dim ("" when none does).
func filterOn(fs []filter, dim string) string {
	for _, f := range fs {
		if f.dim == dim {
			return f.value
		}
	}
	return ""
}

// CountGroup is one group of a count report.
type CountGroup struct {
	Key      string   `json:"key"`
	Count    int64    `json:"count"`
	EventIDs []string `json:"event_ids,omitempty"`
}

// ReportHead opens every report's answer: the question (period, as_of,
// grouping, filters) and the position of the log the figures reflect.
type ReportHead struct {
	From    *time.Time `json:"from"`
	To      *time.Time `json:"to"`
	AsOf    *time.Time `json:"as_of,omitempty"`
	GroupBy string     `json:"group_by,omitempty"`
	// Agency and Location echo the filters (only when given), so that a
	// client can tell a filtered answer from one over everything.
	Agency   string `json:"agency,omitempty"`
	Location string `json:"location,omitempty"`
	Position uint64 `json:"position"`
}

// head is the ReportHead of q's answer at pos. The rest of an answer may be
// a cached one's, shared between requests; the head is always the request's.
func (q ReportQuery) head(pos uint64) ReportHead {
	return ReportHead{From: utcPtr(q.From), To: utcPtr(q.To), AsOf: utcPtr(q.AsOf), GroupBy: q.GroupBy,
		Agency: q.Agency, Location: q.Location, Position: pos}
}

// countReport is the shape of the reports that count facts: a total, and
// groups when asked for.
type countReport struct {
	ReportHead
	Total  int64        `json:"total"`
	Groups []CountGroup `json:"groups"`
	// GroupsOverlap says that an item may count in several groups, so that
	// the groups may add up to more than the total (gangs by agency: a
	// group dismantled by two agencies counts once for each).
	GroupsOverlap bool     `json:"groups_overlap,omitempty"`
	EventIDs      []string `json:"event_ids,omitempty"`
	// NextCursor continues an explained answer whose page did not hold
	// every event id (ReportQuery.Cursor).
	NextCursor string `json:"next_cursor,omitempty"`
}

// ArrestsReport answers GET /v1/reports/arrests.
type ArrestsReport countReport

// GangsReport answers GET /v1/reports/gangs-dismantled. Total counts each
// group once, at its first dismantling; grouped by agency, a group counts
// for every agency that dismantled it (at that agency's first
// dismantling), so those groups may add up to more than the total
// (GroupsOverlap).
type GangsReport countReport

// SeizureTotal is the exact sum of one commodity in one unit.
type SeizureTotal struct {
	Commodity string          `json:"commodity"`
	Unit      string          `json:"unit"`
	Quantity  domain.Quantity `json:"quantity"`
	Count     int64           `json:"count"`
	EventIDs  []string        `json:"event_ids,omitempty"`
}

// SeizureGroup is a SeizureTotal within one group (in JSON, the key and
// then the total's fields).
type SeizureGroup struct {
	Key string `json:"key"`
	SeizureTotal
}

// SeizuresReport answers GET /v1/reports/seizures.
type SeizuresReport struct {
	ReportHead
	Totals     []SeizureTotal `json:"totals"`
	Groups     []SeizureGroup `json:"groups"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// DetectionGroup is one group of the detections report.
type DetectionGroup struct {
	Key       string   `json:"key"`
	Incidents int64    `json:"incidents"`
	People    int64    `json:"people"`
	EventIDs  []string `json:"event_ids,omitempty"`
}

// DetectionsReport answers GET /v1/reports/detections.
type DetectionsReport struct {
	ReportHead
	Incidents  int64            `json:"incidents"`
	People     int64            `json:"people"`
	Groups     []DetectionGroup `json:"groups"`
	EventIDs   []string         `json:"event_ids,omitempty"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// DetectionTotals are the detections of the summary.
type DetectionTotals struct {
	Incidents int64    `json:"incidents"`
	People    int64    `json:"people"`
	EventIDs  []string `json:"event_ids,omitempty"`
}

// SummaryReport answers GET /v1/reports/summary: the press release's
// paragraph in one call.
type SummaryReport struct {
	ReportHead // (no group_by: the summary has no groupings)
	// GangsDismantled is nil, and left out of the JSON, when the summary
	// is filtered by location: gangs dismantled carry no location.
	GangsDismantled *int64          `json:"gangs_dismantled,omitempty"`
	Arrests         int64           `json:"arrests"`
	Seizures        []SeizureTotal  `json:"seizures"`
	Detections      DetectionTotals `json:"detections"`
	// With explain: the event ids behind gangs_dismantled and arrests (one
	// page, shared with the seizures' and detections' ids).
	GangsDismantledEventIDs []string `json:"gangs_dismantled_event_ids,omitempty"`
	ArrestsEventIDs         []string `json:"arrests_event_ids,omitempty"`
	NextCursor              string   `json:"next_cursor,omitempty"`
}

// GroupByKeys are the group_by values each report accepts: the times and
// places its events carry. (Gangs dismantled have no location: a
// GangDismantled event names the group, not a place. The summary does not
// group: it is four figures in one answer; each has its own report.)
var GroupByKeys = map[string][]string{
	"arrests":          {"day", "month", "year", "agency", "location"},
	"gangs-dismantled": {"day", "month", "year", "agency"},
	"seizures":         {"day", "month", "year", "agency", "location"},
	"detections":       {"day", "month", "year", "agency", "location", "method"},
	"summary":          {},
}

// view resolves a query's period and checks its group_by and explain
// paging.
func (q ReportQuery) view(report string) (v view, limit int, after pageCursor, err error) {
	if q.GroupBy != "" && !slices.Contains(GroupByKeys[report], q.GroupBy) {
		if len(GroupByKeys[report]) == 0 {
			return v, 0, after, queryError("group_by", "the %s is not grouped (each figure's own report is: arrests, gangs-dismantled, seizures, detections)", report)
		}
		return v, 0, after, queryError("group_by", "must be one of %s, not %q", strings.Join(GroupByKeys[report], ", "), q.GroupBy)
	}
	for _, f := range q.filters() {
		if !slices.Contains(FilterKeys[report], f.dim) {
			return v, 0, after, queryError(f.dim, "the %s report takes the filters %s only (a GangDismantled event names the group, not a place)", report, strings.Join(FilterKeys[report], ", "))
		}
	}
	v.filters = q.filters()
	v.from, v.to, v.asOf = beginningOfTime, endOfTime, utcPtr(q.AsOf)
	if q.From != nil {
		v.from = q.From.UTC()
	}
	if q.To != nil {
		v.to = q.To.UTC()
	}
	if q.From != nil && q.To != nil && !v.from.Before(v.to) {
		return v, 0, after, queryError("to", "must be after from")
	}
	switch {
	case q.Limit < 0 || q.Limit > maxExplainLimit:
		return v, 0, after, queryError("limit", "must be from 1 to %d", maxExplainLimit)
	case q.Limit == 0:
		limit = defaultExplainLimit
	default:
		limit = q.Limit
	}
	after, err = parsePageCursor(q.Cursor)
	return v, limit, after, err
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// source is where a query reads: a read transaction on the database over
// each projection's active generation.
type source struct {
	ctx    context.Context
	p      preparer
	cache  map[prepKey]*sql.Stmt
	tables map[string]*tableSet
	// shared and readTx: the read's statements, prepared once on the read
	// pool and bound to its transaction (nil for a test oracle's replay).
	shared *readStmts
	readTx *sql.Tx
}

// tx is the read transaction over one projection's tables.
func (s *source) tx(name string) *dbtx {
	return &dbtx{ctx: s.ctx, p: s.p, ts: s.tables[name], cache: s.cache, shared: s.shared, readTx: s.readTx}
}

// snapshot is what a live read saw: the read models' generations and
// checkpoints, and the position they reflect together.
type snapshot struct {
	state stateKey
	pos   eventstore.Position
}

// checkpointSQL reads one generation's checkpoint.
const checkpointSQL = `SELECT position FROM projection_checkpoint WHERE name = ? AND gen = ?`

// readLive runs fn in one read transaction (one snapshot) over the active
// generations of the named projections, and returns the generations and
// checkpoints it read and the position that snapshot reflects (the
// smallest among them).
func (e *Engine) readLive(ctx context.Context, names []string, fn func(src *source) error) (snapshot, error) {
	var snap snapshot
	if e.isClosed() {
		return snap, ErrClosed
	}
	// Hold each projection's generation for the whole read (a swap waits
	// for us before dropping the old tables). Locks are taken in the
	// engine's fixed order.
	ps, err := e.reportProjections(names)
	if err != nil {
		return snap, err
	}
	src := &source{tables: map[string]*tableSet{}}
	insts := make([]*instance, len(ps))
	for i, p := range ps {
		p.mu.RLock()
		defer p.mu.RUnlock()
		insts[i] = p.active
		src.tables[p.model.name()] = p.active.tables
	}
	tx, err := e.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return snap, fmt.Errorf("projections: begin read: %w", err)
	}
	defer tx.Rollback()
	src.ctx, src.p, src.cache, src.shared, src.readTx = ctx, tx, map[prepKey]*sql.Stmt{}, e.rstmts, tx
	cpStmt, err := e.rstmts.get(ctx, nil, checkpointSQL)
	if err != nil {
		return snap, fmt.Errorf("projections: read checkpoints: %w", err)
	}
	cpStmt = tx.StmtContext(ctx, cpStmt)
	for i, in := range insts {
		var cp int64
		if err := cpStmt.QueryRowContext(ctx, in.p.model.name(), in.gen).Scan(&cp); err != nil {
			return snap, fmt.Errorf("projections: checkpoint of %s generation %d: %w", in.p.model.name(), in.gen, err)
		}
		snap.state[i] = readState{in: in, cp: eventstore.Position(cp)}
		if p := in.positionFor(eventstore.Position(cp)); i == 0 || p < snap.pos {
			snap.pos = p
		}
	}
	if err := fn(src); err != nil {
		return snapshot{}, err
	}
	if err := tx.Commit(); err != nil {
		return snapshot{}, fmt.Errorf("projections: end read: %w", err)
	}
	return snap, nil
}

// query runs a report in one read snapshot: answers as they stand now go
// through the answer cache (answers.go); as_of answers are computed each
// time (the cache keeps one answer per query, and as_of queries rarely
// repeat).
func query[R any](e *Engine, ctx context.Context, key reportKey, names []string, from, to int64, asOf *time.Time, compute func(src *source) (R, error)) (R, eventstore.Position, error) {
	if asOf == nil {
		return cachedRead(e, ctx, key, names, from, to, compute)
	}
	var r R
	snap, err := e.readLive(ctx, names, func(src *source) error {
		var err error
		r, err = compute(src)
		return err
	})
	if err != nil {
		var zero R
		return zero, 0, err
	}
	return r, snap.pos, nil
}

// liveKey is a report query's cache key.
func liveKey(report string, v view, q ReportQuery) reportKey {
	k := reportKey{report: report, from: nanos(v.from), to: nanos(v.to), groupBy: q.GroupBy, explain: q.Explain, agency: q.Agency, location: q.Location}
	if q.Explain {
		k.limit, k.cursor = q.Limit, q.Cursor
	}
	return k
}

func (e *Engine) order(p *projection) int { return slices.Index(e.projections, p) }

// unversioned is a model without its version override.
func unversioned(m model) model {
	if v, ok := m.(versionedModel); ok {
		return v.model
	}
	return m
}

func (e *Engine) factModel(name string) *factModel {
	return unversioned(e.byName[name].model).(*factModel)
}

func (e *Engine) gangsModel() gangsModel {
	return *unversioned(e.byName[GangsDismantled].model).(*gangsModel)
}

// factCounter is a read model that counts facts (arrests, gangs) in a
// view, in total or grouped, and pages through the events behind them.
type factCounter interface {
	query(tx *dbtx, v view, groupBy string) ([]factGroup, error)
	page(tx *dbtx, v view, groupBy string, after pageCursor, limit int) ([]explainItem, error)
}

// Arrests counts arrests made in the period (retracted ones excluded),
// grouped by day, month, year, agency, location or offence.
func (e *Engine) Arrests(ctx context.Context, q ReportQuery) (ArrestsReport, error) {
	r, err := e.countReport(ctx, q, "arrests", Arrests, e.factModel(Arrests))
	return ArrestsReport(r), err
}

// GangsDismantled counts distinct organised crime groups first dismantled
// in the period, grouped by day, month, year or agency.
func (e *Engine) GangsDismantled(ctx context.Context, q ReportQuery) (GangsReport, error) {
	r, err := e.countReport(ctx, q, "gangs-dismantled", GangsDismantled, e.gangsModel())
	if q.GroupBy == "agency" && q.Agency == "" {
		// (Filtered by an agency, the one group is the total.)
		r.GroupsOverlap = true
	}
	return GangsReport(r), err
}

// countReport runs report over the read model name, which m queries.
func (e *Engine) countReport(ctx context.Context, q ReportQuery, report, name string, m factCounter) (countReport, error) {
	v, limit, after, err := q.view(report)
	if err != nil {
		return countReport{}, err
	}
	r, pos, err := query(e, ctx, liveKey(report, v, q), []string{name}, 0, 0, v.asOf, countAnswer(m, name, v, q, limit, after))
	if err != nil {
		return countReport{}, err
	}
	// The figures may be a cached answer's, shared: copy what is per
	// request, and the slices.
	r.ReportHead = q.head(uint64(pos))
	r.Groups = append([]CountGroup{}, r.Groups...)
	return r, nil
}

// countAnswer computes a count report's figures over the read model name.
func countAnswer(m factCounter, name string, v view, q ReportQuery, limit int, after pageCursor) func(src *source) (countReport, error) {
	return func(src *source) (countReport, error) {
		var r countReport
		tx := src.tx(name)
		total, err := m.query(tx, v, "")
		if err != nil {
			return r, err
		}
		if len(total) > 0 {
			r.Total = total[0].n
		}
		var groupIDs map[string][]string
		if q.Explain {
			items, err := m.page(tx, v, q.GroupBy, after, limit+1)
			if err != nil {
				return r, err
			}
			var page []explainItem
			page, r.NextCursor = cutPage(items, limit)
			r.EventIDs, groupIDs = idsByGroup(page)
		}
		if q.GroupBy == "" {
			return r, nil
		}
		groups, err := m.query(tx, v, q.GroupBy)
		for _, g := range groups {
			r.Groups = append(r.Groups, CountGroup{Key: g.key, Count: g.n, EventIDs: groupIDs[g.key]})
		}
		return r, err
	}
}

// seizureTotal reads a seizures group: sub is (commodity, unit), the one sum
// the quantity in millionths.
func seizureTotal(g factGroup, ids []string) SeizureTotal {
	return SeizureTotal{Commodity: g.sub[0], Unit: g.sub[1], Quantity: domain.QuantityFromMicros(g.sums[0]), Count: g.n, EventIDs: ids}
}

// seizureTotals reads the seizures' totals (per commodity and unit), with
// the page's event ids of each.
func seizureTotals(gs []factGroup, page []explainItem) []SeizureTotal {
	ids := map[string][]string{}
	for _, it := range page {
		k := groupID("", it.sub)
		ids[k] = append(ids[k], it.id)
	}
	out := []SeizureTotal{}
	for _, g := range gs {
		out = append(out, seizureTotal(g, ids[groupID("", g.sub)]))
	}
	return out
}

// Seizures sums what was seized in the period per commodity and unit
// (exact decimals), grouped by day, month, year, agency or location.
func (e *Engine) Seizures(ctx context.Context, q ReportQuery) (SeizuresReport, error) {
	v, limit, after, err := q.view("seizures")
	if err != nil {
		return SeizuresReport{}, err
	}
	r, pos, err := query(e, ctx, liveKey("seizures", v, q), []string{Seizures}, 0, 0, v.asOf, seizuresAnswer(e.factModel(Seizures), v, q, limit, after))
	if err != nil {
		return SeizuresReport{}, err
	}
	r.ReportHead = q.head(uint64(pos))
	r.Totals = append([]SeizureTotal{}, r.Totals...)
	r.Groups = append([]SeizureGroup{}, r.Groups...)
	return r, nil
}

// seizuresAnswer computes the seizures report's figures.
func seizuresAnswer(m *factModel, v view, q ReportQuery, limit int, after pageCursor) func(src *source) (SeizuresReport, error) {
	return func(src *source) (SeizuresReport, error) {
		var r SeizuresReport
		tx := src.tx(Seizures)
		total, err := m.query(tx, v, "")
		if err != nil {
			return r, err
		}
		var page []explainItem
		if q.Explain {
			items, err := m.page(tx, v, q.GroupBy, after, limit+1)
			if err != nil {
				return r, err
			}
			page, r.NextCursor = cutPage(items, limit)
		}
		r.Totals = seizureTotals(total, page)
		if q.GroupBy == "" {
			return r, nil
		}
		_, groupIDs := idsByGroup(page)
		groups, err := m.query(tx, v, q.GroupBy)
		for _, g := range groups {
			r.Groups = append(r.Groups, SeizureGroup{Key: g.key, SeizureTotal: seizureTotal(g, groupIDs[groupID(g.key, g.sub)])})
		}
		return r, err
	}
}

// Detections counts stowaway detections (incidents) and the people found
// in the period, grouped by day, month, year, agency, location or method.
func (e *Engine) Detections(ctx context.Context, q ReportQuery) (DetectionsReport, error) {
	v, limit, after, err := q.view("detections")
	if err != nil {
		return DetectionsReport{}, err
	}
	r, pos, err := query(e, ctx, liveKey("detections", v, q), []string{Detections}, 0, 0, v.asOf, detectionsAnswer(e.factModel(Detections), v, q, limit, after))
	if err != nil {
		return DetectionsReport{}, err
	}
	r.ReportHead = q.head(uint64(pos))
	r.Groups = append([]DetectionGroup{}, r.Groups...)
	return r, nil
}

// detectionsAnswer computes the detections report's figures.
func detectionsAnswer(m *factModel, v view, q ReportQuery, limit int, after pageCursor) func(src *source) (DetectionsReport, error) {
	return func(src *source) (DetectionsReport, error) {
		var r DetectionsReport
		tx := src.tx(Detections)
		total, err := m.query(tx, v, "")
		if err != nil {
			return r, err
		}
		if len(total) > 0 {
			r.Incidents, r.People = total[0].n, total[0].sums[0]
		}
		var groupIDs map[string][]string
		if q.Explain {
			items, err := m.page(tx, v, q.GroupBy, after, limit+1)
			if err != nil {
				return r, err
			}
			var page []explainItem
			page, r.NextCursor = cutPage(items, limit)
			r.EventIDs, groupIDs = idsByGroup(page)
		}
		if q.GroupBy == "" {
			return r, nil
		}
		groups, err := m.query(tx, v, q.GroupBy)
		for _, g := range groups {
			r.Groups = append(r.Groups, DetectionGroup{Key: g.key, Incidents: g.n, People: g.sums[0], EventIDs: groupIDs[g.key]})
		}
		return r, err
	}
}

// SummaryProjections are the projections the summary reads.
var SummaryProjections = []string{Arrests, GangsDismantled, Seizures, Detections}

// Summary is the press release's paragraph for the period (by default the
// 12 months up to now): gangs dismantled, arrests, seizures, detections,
// all from one snapshot. Explained, one page lists the events behind all
// four figures together, in (occurred_at, position) order.
func (e *Engine) Summary(ctx context.Context, q ReportQuery) (SummaryReport, error) {
	rolling := false
	if q.From == nil && q.To == nil {
		// The default period moves with the clock: it is cached with how
		// far its ends may move (see answers.go).
		to := e.opts.Now().UTC()
		from := to.AddDate(0, -12, 0)
		q.From, q.To = &from, &to
		rolling = true
	}
	v, limit, after, err := q.view("summary")
	if err != nil {
		return SummaryReport{}, err
	}
	key := liveKey("summary", v, q)
	if rolling {
		key = reportKey{report: "summary", rolling: true, explain: q.Explain, limit: key.limit, cursor: key.cursor, agency: q.Agency, location: q.Location}
	}
	figures := summaryFigures{gangs: e.gangsModel(), arrests: e.factModel(Arrests), seizures: e.factModel(Seizures), detections: e.factModel(Detections)}
	r, pos, err := query(e, ctx, key, SummaryProjections, nanos(v.from), nanos(v.to), v.asOf, summaryAnswer(figures, v, q, limit, after))
	if err != nil {
		return SummaryReport{}, err
	}
	r.ReportHead = q.head(uint64(pos))
	r.Seizures = append([]SeizureTotal{}, r.Seizures...)
	return r, nil
}

// summaryFigures are the read models the summary reads.
type summaryFigures struct {
	gangs                         gangsModel
	arrests, seizures, detections *factModel
}

// summaryAnswer computes the summary's figures.
func summaryAnswer(figs summaryFigures, v view, q ReportQuery, limit int, after pageCursor) func(src *source) (SummaryReport, error) {
	return func(src *source) (SummaryReport, error) {
		var r SummaryReport
		figures := []struct {
			name string
			m    factCounter
		}{
			{GangsDismantled, figs.gangs}, {Arrests, figs.arrests}, {Seizures, figs.seizures}, {Detections, figs.detections},
		}
		// Gangs dismantled carry no location: filtered by one, the summary
		// has no gangs figure (rather than one that ignores the filter).
		noGangs := filterOn(v.filters, "location") != ""
		totals := make([][]factGroup, len(figures))
		var items []explainItem
		for i, f := range figures {
			if i == 0 && noGangs {
				continue
			}
			var err error
			if totals[i], err = f.m.query(src.tx(f.name), v, ""); err != nil {
				return r, err
			}
			if q.Explain {
				its, err := f.m.page(src.tx(f.name), v, "", after, limit+1)
				if err != nil {
					return r, err
				}
				for j := range its {
					its[j].key = f.name // which figure it is behind
				}
				items = append(items, its...)
			}
		}
		var page []explainItem
		page, r.NextCursor = cutPage(items, limit)
		pageOf := func(name string) []explainItem {
			var out []explainItem
			for _, it := range page {
				if it.key == name {
					out = append(out, it)
				}
			}
			return out
		}
		ids := func(name string) []string {
			var out []string
			for _, it := range pageOf(name) {
				out = append(out, it.id)
			}
			return out
		}
		if !noGangs {
			var n int64
			if g := totals[0]; len(g) > 0 {
				n = g[0].n
			}
			r.GangsDismantled = &n
		}
		if g := totals[1]; len(g) > 0 {
			r.Arrests = g[0].n
		}
		r.GangsDismantledEventIDs, r.ArrestsEventIDs = ids(GangsDismantled), ids(Arrests)
		r.Seizures = seizureTotals(totals[2], pageOf(Seizures))
		if g := totals[3]; len(g) > 0 {
			r.Detections = DetectionTotals{Incidents: g[0].n, People: g[0].sums[0]}
		}
		r.Detections.EventIDs = ids(Detections)
		return r, nil
	}
}

// IsQueryError reports whether err is a bad query (→ HTTP 400).
func IsQueryError(err error) bool {
	var qe *QueryError
	return errors.As(err, &qe)
}
