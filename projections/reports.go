package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	// accepts its own keys (see the report).
	GroupBy string
	// Explain lists the event ids behind every figure.
	Explain bool
	// AsOf answers with the figures as they stood at that recorded time:
	// events (and retractions) recorded after it are ignored. It replays
	// the log into a temporary projection.
	AsOf *time.Time
}

// CountGroup is one group of a count report.
type CountGroup struct {
	Key      string   `json:"key"`
	Count    int64    `json:"count"`
	EventIDs []string `json:"event_ids,omitempty"`
}

// countReport is the shape of the reports that count facts: a total, and
// groups when asked for.
type countReport struct {
	From     *time.Time   `json:"from"`
	To       *time.Time   `json:"to"`
	AsOf     *time.Time   `json:"as_of,omitempty"`
	GroupBy  string       `json:"group_by,omitempty"`
	Position uint64       `json:"position"`
	Total    int64        `json:"total"`
	Groups   []CountGroup `json:"groups"`
	EventIDs []string     `json:"event_ids,omitempty"`
}

// ArrestsReport answers GET /v1/reports/arrests.
type ArrestsReport countReport

// GangsReport answers GET /v1/reports/gangs-dismantled. Total counts each
// group once, at its first dismantling; grouped by agency, a group counts
// for every agency that dismantled it (at that agency's first
// dismantling), so those groups may add up to more than the total.
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
	From     *time.Time     `json:"from"`
	To       *time.Time     `json:"to"`
	AsOf     *time.Time     `json:"as_of,omitempty"`
	GroupBy  string         `json:"group_by,omitempty"`
	Position uint64         `json:"position"`
	Totals   []SeizureTotal `json:"totals"`
	Groups   []SeizureGroup `json:"groups"`
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
	From      *time.Time       `json:"from"`
	To        *time.Time       `json:"to"`
	AsOf      *time.Time       `json:"as_of,omitempty"`
	GroupBy   string           `json:"group_by,omitempty"`
	Position  uint64           `json:"position"`
	Incidents int64            `json:"incidents"`
	People    int64            `json:"people"`
	Groups    []DetectionGroup `json:"groups"`
	EventIDs  []string         `json:"event_ids,omitempty"`
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
	From            *time.Time      `json:"from"`
	To              *time.Time      `json:"to"`
	AsOf            *time.Time      `json:"as_of,omitempty"`
	Position        uint64          `json:"position"`
	GangsDismantled int64           `json:"gangs_dismantled"`
	Arrests         int64           `json:"arrests"`
	Seizures        []SeizureTotal  `json:"seizures"`
	Detections      DetectionTotals `json:"detections"`
	// With explain: the event ids behind gangs_dismantled and arrests.
	GangsDismantledEventIDs []string `json:"gangs_dismantled_event_ids,omitempty"`
	ArrestsEventIDs         []string `json:"arrests_event_ids,omitempty"`
}

// GroupByKeys are the group_by values each report accepts.
var GroupByKeys = map[string][]string{
	"arrests":          {"day", "month", "year", "agency", "location", "offence"},
	"gangs-dismantled": {"month", "year", "agency"},
	"seizures":         {"location", "year", "agency"},
	"detections":       {"year", "month", "location", "method", "agency"},
	"summary":          {},
}

// period resolves a query's bounds and checks its group_by.
func (q ReportQuery) period(report string) (from, to time.Time, err error) {
	if q.GroupBy != "" && !slices.Contains(GroupByKeys[report], q.GroupBy) {
		return from, to, queryError("group_by", "%s reports group by %v, not %q", report, GroupByKeys[report], q.GroupBy)
	}
	from, to = beginningOfTime, endOfTime
	if q.From != nil {
		from = q.From.UTC()
	}
	if q.To != nil {
		to = q.To.UTC()
	}
	if q.From != nil && q.To != nil && !from.Before(to) {
		return from, to, queryError("to", "must be after from")
	}
	return from, to, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// source is where a query reads: the live read models (a read transaction
// on the database, each projection's active generation) or an as_of
// replay's temporary ones.
type source struct {
	ctx    context.Context
	p      preparer
	cache  map[prepKey]*sql.Stmt
	tables map[string]*tableSet
	// shared and readTx: a live read's statements, prepared once on the
	// read pool and bound to its transaction (nil for a replay).
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

// query runs a report: live through the answer cache, or as of a time
// (never cached) by replay.
func query[R any](e *Engine, ctx context.Context, key reportKey, names []string, from, to int64, asOf *time.Time, compute func(src *source) (R, error)) (R, eventstore.Position, error) {
	if asOf == nil {
		return cachedRead(e, ctx, key, names, from, to, compute)
	}
	var r R
	pos, err := e.replay(ctx, names, asOf.UTC(), func(src *source) error {
		var err error
		r, err = compute(src)
		return err
	})
	return r, pos, err
}

// liveKey is a report query's cache key.
func liveKey(report string, from, to time.Time, q ReportQuery) reportKey {
	return reportKey{report: report, from: nanos(from), to: nanos(to), groupBy: q.GroupBy, explain: q.Explain}
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

// Arrests counts arrests made in the period (retracted ones excluded),
// grouped by day, month, year, agency, location or offence.
func (e *Engine) Arrests(ctx context.Context, q ReportQuery) (ArrestsReport, error) {
	r, err := e.countReport(ctx, q, "arrests", Arrests, e.factModel(Arrests))
	return ArrestsReport(r), err
}

// GangsDismantled counts distinct organised crime groups first dismantled
// in the period, grouped by month, year or agency.
func (e *Engine) GangsDismantled(ctx context.Context, q ReportQuery) (GangsReport, error) {
	r, err := e.countReport(ctx, q, "gangs-dismantled", GangsDismantled, e.gangsModel())
	return GangsReport(r), err
}

// factCounter is a read model that counts facts (arrests, gangs) in a
// period, in total or grouped.
type factCounter interface {
	query(tx *dbtx, from, to time.Time, groupBy string, explain bool) ([]factGroup, error)
}

// countReport runs report over the read model name, which m queries.
func (e *Engine) countReport(ctx context.Context, q ReportQuery, report, name string, m factCounter) (countReport, error) {
	from, to, err := q.period(report)
	if err != nil {
		return countReport{}, err
	}
	r, pos, err := query(e, ctx, liveKey(report, from, to, q), []string{name}, 0, 0, q.AsOf, func(src *source) (countReport, error) {
		var r countReport
		tx := src.tx(name)
		total, err := m.query(tx, from, to, "", q.Explain)
		if err != nil {
			return r, err
		}
		if len(total) > 0 {
			r.Total, r.EventIDs = total[0].n, total[0].ids
		}
		if q.GroupBy == "" {
			return r, nil
		}
		groups, err := m.query(tx, from, to, q.GroupBy, q.Explain)
		for _, g := range groups {
			r.Groups = append(r.Groups, CountGroup{Key: g.key, Count: g.n, EventIDs: g.ids})
		}
		return r, err
	})
	if err != nil {
		return countReport{}, err
	}
	// The figures may be a cached answer's, shared: copy what is per
	// request, and the slices.
	r.From, r.To, r.AsOf, r.GroupBy, r.Position = utcPtr(q.From), utcPtr(q.To), utcPtr(q.AsOf), q.GroupBy, uint64(pos)
	r.Groups = append([]CountGroup{}, r.Groups...)
	return r, nil
}

func seizureTotals(gs []factGroup) []SeizureTotal {
	out := []SeizureTotal{}
	for _, g := range gs {
		out = append(out, seizureTotal(g))
	}
	return out
}

// seizureTotal reads a seizures group: sub is (commodity, unit), the one sum
// the quantity in millionths.
func seizureTotal(g factGroup) SeizureTotal {
	return SeizureTotal{Commodity: g.sub[0], Unit: g.sub[1], Quantity: domain.QuantityFromMicros(g.sums[0]), Count: g.n, EventIDs: g.ids}
}

// Seizures sums what was seized in the period per commodity and unit
// (exact decimals), grouped by location, year or agency.
func (e *Engine) Seizures(ctx context.Context, q ReportQuery) (SeizuresReport, error) {
	from, to, err := q.period("seizures")
	if err != nil {
		return SeizuresReport{}, err
	}
	m := e.factModel(Seizures)
	r, pos, err := query(e, ctx, liveKey("seizures", from, to, q), []string{Seizures}, 0, 0, q.AsOf, func(src *source) (SeizuresReport, error) {
		var r SeizuresReport
		tx := src.tx(Seizures)
		total, err := m.query(tx, from, to, "", q.Explain)
		if err != nil {
			return r, err
		}
		r.Totals = seizureTotals(total)
		if q.GroupBy == "" {
			return r, nil
		}
		groups, err := m.query(tx, from, to, q.GroupBy, q.Explain)
		for _, g := range groups {
			r.Groups = append(r.Groups, SeizureGroup{Key: g.key, SeizureTotal: seizureTotal(g)})
		}
		return r, err
	})
	if err != nil {
		return SeizuresReport{}, err
	}
	r.From, r.To, r.AsOf, r.GroupBy, r.Position = utcPtr(q.From), utcPtr(q.To), utcPtr(q.AsOf), q.GroupBy, uint64(pos)
	r.Totals = append([]SeizureTotal{}, r.Totals...)
	r.Groups = append([]SeizureGroup{}, r.Groups...)
	return r, nil
}

// Detections counts stowaway detections (incidents) and the people found
// in the period, grouped by year, month, location or method.
func (e *Engine) Detections(ctx context.Context, q ReportQuery) (DetectionsReport, error) {
	from, to, err := q.period("detections")
	if err != nil {
		return DetectionsReport{}, err
	}
	m := e.factModel(Detections)
	r, pos, err := query(e, ctx, liveKey("detections", from, to, q), []string{Detections}, 0, 0, q.AsOf, func(src *source) (DetectionsReport, error) {
		var r DetectionsReport
		tx := src.tx(Detections)
		total, err := m.query(tx, from, to, "", q.Explain)
		if err != nil {
			return r, err
		}
		if len(total) > 0 {
			r.Incidents, r.People, r.EventIDs = total[0].n, total[0].sums[0], total[0].ids
		}
		if q.GroupBy == "" {
			return r, nil
		}
		groups, err := m.query(tx, from, to, q.GroupBy, q.Explain)
		for _, g := range groups {
			r.Groups = append(r.Groups, DetectionGroup{Key: g.key, Incidents: g.n, People: g.sums[0], EventIDs: g.ids})
		}
		return r, err
	})
	if err != nil {
		return DetectionsReport{}, err
	}
	r.From, r.To, r.AsOf, r.GroupBy, r.Position = utcPtr(q.From), utcPtr(q.To), utcPtr(q.AsOf), q.GroupBy, uint64(pos)
	r.Groups = append([]DetectionGroup{}, r.Groups...)
	return r, nil
}

// SummaryProjections are the projections the summary reads.
var SummaryProjections = []string{Arrests, GangsDismantled, Seizures, Detections}

// Summary is the press release's paragraph for the period (by default the
// 12 months up to now): gangs dismantled, arrests, seizures, detections,
// all from one snapshot.
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
	from, to, err := q.period("summary")
	if err != nil {
		return SummaryReport{}, err
	}
	key := liveKey("summary", from, to, q)
	if rolling {
		key = reportKey{report: "summary", rolling: true, explain: q.Explain}
	}
	r, pos, err := query(e, ctx, key, SummaryProjections, nanos(from), nanos(to), q.AsOf, func(src *source) (SummaryReport, error) {
		var r SummaryReport
		gangs, err := e.gangsModel().query(src.tx(GangsDismantled), from, to, "", q.Explain)
		if err != nil {
			return r, err
		}
		if len(gangs) > 0 {
			r.GangsDismantled, r.GangsDismantledEventIDs = gangs[0].n, gangs[0].ids
		}
		arrests, err := e.factModel(Arrests).query(src.tx(Arrests), from, to, "", q.Explain)
		if err != nil {
			return r, err
		}
		if len(arrests) > 0 {
			r.Arrests, r.ArrestsEventIDs = arrests[0].n, arrests[0].ids
		}
		seizures, err := e.factModel(Seizures).query(src.tx(Seizures), from, to, "", q.Explain)
		if err != nil {
			return r, err
		}
		r.Seizures = seizureTotals(seizures)
		detections, err := e.factModel(Detections).query(src.tx(Detections), from, to, "", q.Explain)
		if err != nil {
			return r, err
		}
		if len(detections) > 0 {
			r.Detections = DetectionTotals{Incidents: detections[0].n, People: detections[0].sums[0], EventIDs: detections[0].ids}
		}
		return r, nil
	})
	if err != nil {
		return SummaryReport{}, err
	}
	r.From, r.To, r.AsOf, r.Position = utcPtr(q.From), utcPtr(q.To), utcPtr(q.AsOf), uint64(pos)
	r.Seizures = append([]SeizureTotal{}, r.Seizures...)
	return r, nil
}

// IsQueryError reports whether err is a bad query (→ HTTP 400).
func IsQueryError(err error) bool {
	var qe *QueryError
	return errors.As(err, &qe)
}
