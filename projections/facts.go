package projections

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
)

// A fact model is a read model of countable events (arrests, seizures,
// detections). It is bitemporal: every fact carries when it happened (its
// valid time, occurred_at), when it was recorded (its transaction time,
// recorded_at) and when a retraction withdrew it (retracted_at, NULL while
// it stands), so that "as known at T" is a query, not a replay. Its tables,
// per generation:
//
//	{facts}   one row per event counted, clustered by (occurred_at,
//	          position) so that a period is one range of the table (and
//	          inserts, the log being roughly chronological, append):
//	          event_id, recorded_at, retracted_at, the dimension columns
//	          (agency, location, …), the sub-key columns (commodity, unit)
//	          and the summed columns (people, quantity in millionths).
//	          Indexed by event_id (the fact a retraction names; casebookd
//	          gives events time-ordered ids, so the index grows at its end)
//	          and by (late slot, changed at, …): the facts of a 7-day slot
//	          of valid time whose record last changed after a time (what an
//	          as_of query corrects; see factquery.go), with the columns the
//	          correction reads.
//	{days}    pre-aggregated per (dim, day, key, sub-keys): count n and
//	          sums of the facts standing now, where dim is "*" (key "")
//	          for totals, or a dimension.
//	{months}  the same per month.
//	{lead}    one row: the most any fact's occurred_at has been after its
//	          recorded_at (0 when none was): no fact that occurred later
//	          than T + lead can have been known at T.
//
// A report over [from, to) reads month buckets for the whole months, day
// buckets for the whole days around them and the facts of the partial days
// at either end: a few hundred index entries whatever the period. A
// retraction stamps its fact's retracted_at and subtracts it from its
// buckets.
type factModel struct {
	spec factSpec
}

type factSpec struct {
	name string
	// version of the code; readableFrom is the oldest version whose tables
	// this code can still query (older ones are rebuilt before they answer).
	version, readableFrom int
	eventType             string
	dims                  []string // dimension columns: a report may group by each
	sub                   []string // sub-key columns kept apart in every bucket (commodity, unit)
	sums                  []string // summed integer columns
	// extract reads the fact an event records.
	extract func(ev *entry) (fact, error)
}

// fact is what one event contributes.
type fact struct {
	dims []string
	sub  []string
	sums []int64
}

const totalDim = "*"

// A late slot is a stretch of valid time: the late-change index finds the
// rows of one slot whose record changed after a time in one seek. An as_of
// query seeks each slot of its period once, and reads the rows of the slot
// holding its end that occurred past it (wasted): narrow slots for the
// dense fact tables, wide ones for the sparse dismantlings (whose as_of
// query seeks every slot from the start of the log).
type lateSlots struct {
	nanos int64 // the width
	expr  string
}

var (
	factSlots = lateSlots{nanos: 7 * 24 * int64(time.Hour), expr: "occurred_at / 604800000000000"}
	gangSlots = lateSlots{nanos: 90 * 24 * int64(time.Hour), expr: "occurred_at / 7776000000000000"}
)

// The late-change index is on expressions (not generated columns, which
// SQLite's planner does not count as covered by the index): a row's late
// slot and when its record last changed (retracted, or else recorded).
// Queries must spell them exactly so.
const changedAtExpr = "coalesce(retracted_at, recorded_at)"

// of is the slot expression over a table alias.
func (l lateSlots) of(alias string) string { return alias + "." + l.expr }

// changedAtOf is the changed-at expression over a table alias.
func changedAtOf(alias string) string {
	return "coalesce(" + alias + ".retracted_at, " + alias + ".recorded_at)"
}

// slot is the late slot of an occurred_at (SQLite's integer division
// truncates toward zero, as Go's does).
func (l lateSlots) slot(occurred int64) int64 { return occurred / l.nanos }

func (m *factModel) name() string      { return m.spec.name }
func (m *factModel) version() int      { return m.spec.version }
func (m *factModel) readableFrom() int { return m.spec.readableFrom }
func (m *factModel) tables() []string {
	n := m.spec.name
	return []string{n + "_facts", n + "_days", n + "_months", n + "_lead"}
}
func (m *factModel) eventTypes() []string {
	return []string{m.spec.eventType, domain.TypeEntryRetracted}
}

func (m *factModel) ph(suffix string) string { return "{" + m.spec.name + "_" + suffix + "}" }

// columns lists the fact's own columns: dims, sub-keys, sums.
func (m *factModel) columns() []string { return slices.Concat(m.spec.dims, m.spec.sub, m.spec.sums) }

func (m *factModel) schema() []string {
	s := m.spec
	var cols []string
	for _, c := range slices.Concat(s.dims, s.sub) {
		cols = append(cols, c+" TEXT NOT NULL")
	}
	for _, c := range s.sums {
		cols = append(cols, c+" INTEGER NOT NULL")
	}
	facts := m.ph("facts")
	ddl := []string{
		`CREATE TABLE ` + facts + ` (
			occurred_at  INTEGER NOT NULL,
			position     INTEGER NOT NULL,
			event_id     TEXT NOT NULL,
			recorded_at  INTEGER NOT NULL,
			retracted_at INTEGER,
			` + strings.Join(cols, ",\n\t\t\t") + `,
			PRIMARY KEY (occurred_at, position)
		) WITHOUT ROWID`,
		`CREATE INDEX ` + facts + `_event ON ` + facts + ` (event_id)`,
		// Covering for what an as_of correction reads: a lookup per late
		// fact in the table cost most of an as_of report at 10,000,000
		// events.
		`CREATE INDEX ` + facts + `_changed ON ` + facts + ` (` +
			strings.Join(slices.Concat([]string{factSlots.expr, changedAtExpr, "recorded_at", "retracted_at"}, m.columns()), ", ") + `)`,
		`CREATE TABLE ` + m.ph("lead") + ` (max_lead INTEGER NOT NULL)`,
		`INSERT INTO ` + m.ph("lead") + ` (max_lead) VALUES (0)`,
	}
	for _, b := range []struct{ table, period string }{{m.ph("days"), "day"}, {m.ph("months"), "month"}} {
		var bcols []string
		for _, c := range s.sub {
			bcols = append(bcols, c+" TEXT NOT NULL")
		}
		bcols = append(bcols, "n INTEGER NOT NULL")
		for _, c := range s.sums {
			// Sums stay exact integers: SQLite would turn an overflowing
			// integer addition into a float, which the CHECK refuses.
			bcols = append(bcols, c+" INTEGER NOT NULL CHECK (typeof("+c+") = 'integer')")
		}
		pk := slices.Concat([]string{"dim", b.period, "key"}, s.sub)
		ddl = append(ddl, `CREATE TABLE `+b.table+` (
			dim TEXT NOT NULL,
			`+b.period+` TEXT NOT NULL,
			key TEXT NOT NULL,
			`+strings.Join(bcols, ",\n\t\t\t")+`,
			PRIMARY KEY (`+strings.Join(pk, ", ")+`)
		) WITHOUT ROWID`)
	}
	return ddl
}

// bucketKey identifies one bucket row.
type bucketKey struct {
	month  bool
	dim    string
	period string // day or month
	key    string
	sub    string // sub-key values joined by \x00
}

type bucketDelta struct {
	n    int64
	sums []int64
}

// rowsPerInsert is how many rows one INSERT writes (multi-row VALUES
// saves most of a statement's fixed cost).
const rowsPerInsert = 32

// pendingFact is a fact waiting in apply's buffer for a multi-row insert.
type pendingFact struct {
	occurred      time.Time
	occ, pos, rec int64
	id            string
	f             fact
	retracted     bool
	retractedAt   int64 // when retracted
}

func (m *factModel) apply(tx *dbtx, events []entry) error {
	s := m.spec
	deltas := map[bucketKey]*bucketDelta{}
	var buf []pendingFact
	var bufFrom []*entry // the event of each buffered fact, for errors
	inBuf := map[uuid.UUID]int{}
	var lead int64 // the batch's largest occurred_at - recorded_at
	insert := func() error {
		if len(buf) == 0 {
			return nil
		}
		args := make([]any, 0, len(buf)*(5+len(m.columns())))
		for _, p := range buf {
			var retractedAt any // NULL while the fact stands
			if p.retracted {
				retractedAt = p.retractedAt
			}
			args = append(args, p.occ, p.pos, p.id, p.rec, retractedAt)
			for _, v := range p.f.dims {
				args = append(args, v)
			}
			for _, v := range p.f.sub {
				args = append(args, v)
			}
			for _, v := range p.f.sums {
				args = append(args, v)
			}
		}
		if _, err := tx.exec(m.insertSQL(len(buf)), args...); err != nil {
			return eventError(&bufFrom[0].RecordedEvent, fmt.Errorf("insert facts: %w", err))
		}
		buf, bufFrom = buf[:0], bufFrom[:0]
		clear(inBuf)
		return nil
	}
	for i := range events {
		ev := &events[i]
		switch ev.Type {
		case s.eventType:
			f, err := s.extract(ev)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			occ, rec, err := factTimes(ev)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			pos, err := sqlPos(ev.Position)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			lead = max(lead, saturatingSub(occ, rec))
			inBuf[ev.ID] = len(buf)
			buf = append(buf, pendingFact{occurred: ev.env.OccurredAt, occ: occ, pos: pos, rec: rec, id: ev.ID.String(), f: f})
			bufFrom = append(bufFrom, ev)
			m.add(deltas, ev.env.OccurredAt, f, +1)
			if len(buf) == rowsPerInsert {
				if err := insert(); err != nil {
					return err
				}
			}
		case domain.TypeEntryRetracted:
			r, err := dataAs[domain.EntryRetracted](ev)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			if j, ok := inBuf[r.EventID]; ok {
				// Retracted before it was even written.
				p := &buf[j]
				at, err := retractionTime(ev, p.rec)
				if err != nil {
					return eventError(&ev.RecordedEvent, err)
				}
				if !p.retracted {
					p.retracted, p.retractedAt = true, at
					m.add(deltas, p.occurred, p.f, -1)
				} else {
					p.retractedAt = min(p.retractedAt, at)
				}
				continue
			}
			at, err := retractionTime(ev, math.MinInt64)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			// (An id that is not a fact of this model finds no row.)
			occ, f, found, err := m.retract(tx, r.EventID, at)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			if found {
				m.add(deltas, occ, f, -1)
			}
		}
	}
	if err := insert(); err != nil {
		return err
	}
	if lead > 0 {
		if _, err := tx.exec(`UPDATE `+m.ph("lead")+` SET max_lead = max(max_lead, ?)`, lead); err != nil {
			return fmt.Errorf("update lead: %w", err)
		}
	}
	return m.flush(tx, deltas)
}

// factTimes are a fact event's valid time and transaction time as stored
// (Unix nanoseconds). Times outside what those hold (years 1678 to 2261)
// are refused: the domain never accepts them.
func factTimes(ev *entry) (occurred, recorded int64, err error) {
	if ev.envErr != nil {
		return 0, 0, ev.envErr
	}
	if occurred, err = storedNanos("occurred_at", ev.env.OccurredAt); err != nil {
		return 0, 0, err
	}
	if recorded, err = storedNanos("recorded_at", ev.env.RecordedAt); err != nil {
		return 0, 0, err
	}
	return occurred, recorded, nil
}

// retractionTime is when a retraction withdrew a fact recorded at
// factRecorded: the retraction's recorded_at, but never before the fact's
// own (a fact is never known as retracted before it is known at all).
func retractionTime(ev *entry, factRecorded int64) (int64, error) {
	if ev.envErr != nil {
		return 0, ev.envErr
	}
	at, err := storedNanos("recorded_at", ev.env.RecordedAt)
	if err != nil {
		return 0, err
	}
	return max(at, factRecorded), nil
}

// saturatingSub is a - b, clamped to int64's range.
func saturatingSub(a, b int64) int64 {
	d := a - b
	if (b < 0 && d < a) || (b > 0 && d > a) {
		if b < 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return d
}

// saturatingAdd is a + b, clamped to int64's range.
func saturatingAdd(a, b int64) int64 {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// add counts a fact (sign +1) or uncounts it (-1) in the batch's deltas: in
// its day and its month, in the totals and under each dimension.
func (m *factModel) add(deltas map[bucketKey]*bucketDelta, occurred time.Time, f fact, sign int64) {
	s := m.spec
	day := dayKey(occurred)
	sub := strings.Join(f.sub, "\x00")
	for _, month := range []bool{false, true} {
		period := day
		if month {
			period = day[:7]
		}
		for i := -1; i < len(s.dims); i++ {
			bk := bucketKey{month: month, dim: totalDim, period: period, sub: sub}
			if i >= 0 {
				bk.dim, bk.key = s.dims[i], f.dims[i]
			}
			d := deltas[bk]
			if d == nil {
				d = &bucketDelta{sums: make([]int64, len(s.sums))}
				deltas[bk] = d
			}
			d.n += sign
			for j, v := range f.sums {
				d.sums[j] += sign * v
			}
		}
	}
}

// retract stamps the fact of event id as retracted at at (or at its own
// recorded_at, if later) and returns it, unless it was already retracted:
// then only an earlier retraction time is kept, and found is false. An id
// that is no fact of this model (most retractions, for three models of
// four) costs one index lookup and is not found.
func (m *factModel) retract(tx *dbtx, id uuid.UUID, at int64) (occurred time.Time, f fact, found bool, err error) {
	var occ, pos int64
	var retracted sql.NullInt64
	f, dest := m.newFact(&occ, &pos, &retracted)
	err = tx.scanRow(`SELECT occurred_at, position, retracted_at, `+strings.Join(m.columns(), ", ")+
		` FROM `+m.ph("facts")+` WHERE event_id = ?`, []any{id.String()}, dest...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, fact{}, false, nil
	case err != nil:
		return time.Time{}, fact{}, false, fmt.Errorf("find retracted fact: %w", err)
	case retracted.Valid:
		// Retracted already (the domain refuses a second retraction, but
		// the log is what it is): it stands withdrawn from the earliest.
		if _, err := tx.exec(`UPDATE `+m.ph("facts")+` SET retracted_at = min(retracted_at, max(recorded_at, ?))
			WHERE occurred_at = ? AND position = ?`, at, occ, pos); err != nil {
			return time.Time{}, fact{}, false, fmt.Errorf("retract fact again: %w", err)
		}
		return time.Time{}, fact{}, false, nil
	}
	if _, err := tx.exec(`UPDATE `+m.ph("facts")+` SET retracted_at = max(recorded_at, ?)
		WHERE occurred_at = ? AND position = ?`, at, occ, pos); err != nil {
		return time.Time{}, fact{}, false, fmt.Errorf("retract fact: %w", err)
	}
	return time.Unix(0, occ).UTC(), f, true, nil
}

// insertSQL inserts rows facts.
func (m *factModel) insertSQL(rows int) string {
	cols := slices.Concat([]string{"occurred_at", "position", "event_id", "recorded_at", "retracted_at"}, m.columns())
	return `INSERT INTO ` + m.ph("facts") + ` (` + strings.Join(cols, ", ") + `) VALUES ` + valuesList(len(cols), rows)
}

// valuesList is "(?, ?), (?, ?)" for rows rows of cols columns.
func valuesList(cols, rows int) string {
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	return row + strings.Repeat(", "+row, rows-1)
}

// flush writes the batch's bucket deltas: an upsert per bucket touched,
// several buckets to a statement.
func (m *factModel) flush(tx *dbtx, deltas map[bucketKey]*bucketDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	s := m.spec
	keys := make([]bucketKey, 0, len(deltas))
	for k, d := range deltas {
		if d.n != 0 || slices.ContainsFunc(d.sums, func(v int64) bool { return v != 0 }) {
			keys = append(keys, k)
		}
	}
	// Sorted, the upserts walk the bucket B-trees in order.
	slices.SortFunc(keys, func(a, b bucketKey) int {
		if a.month != b.month {
			if a.month {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.dim, b.dim), cmp.Compare(a.period, b.period), cmp.Compare(a.key, b.key), cmp.Compare(a.sub, b.sub))
	})
	keyArgs := func(k bucketKey) []any {
		args := []any{k.dim, k.period, k.key}
		if len(s.sub) > 0 {
			for _, v := range strings.Split(k.sub, "\x00") {
				args = append(args, v)
			}
		}
		return args
	}
	var emptied []bucketKey
	for len(keys) > 0 {
		n := 1
		for n < len(keys) && n < rowsPerInsert && keys[n].month == keys[0].month {
			n++
		}
		var args []any
		for _, k := range keys[:n] {
			d := deltas[k]
			args = append(args, keyArgs(k)...)
			args = append(args, d.n)
			for _, v := range d.sums {
				args = append(args, v)
			}
			if d.n < 0 {
				emptied = append(emptied, k)
			}
		}
		if _, err := tx.exec(m.upsertSQL(keys[0].month, n), args...); err != nil {
			return fmt.Errorf("update buckets: %w", err)
		}
		keys = keys[n:]
	}
	// A bucket emptied by retractions goes, so that the tables depend on
	// the log alone, not on where batches happened to end.
	for _, k := range emptied {
		if _, err := tx.exec(m.cleanupSQL(k.month), keyArgs(k)...); err != nil {
			return fmt.Errorf("clean bucket %s %s %q: %w", k.dim, k.period, k.key, err)
		}
	}
	return nil
}

func (m *factModel) bucketTable(month bool) (table, period string) {
	if month {
		return m.ph("months"), "month"
	}
	return m.ph("days"), "day"
}

// upsertSQL adds rows deltas to day (or month) buckets.
func (m *factModel) upsertSQL(month bool, rows int) string {
	s := m.spec
	table, period := m.bucketTable(month)
	cols := slices.Concat([]string{"dim", period, "key"}, s.sub, []string{"n"}, s.sums)
	conflict := slices.Concat([]string{"dim", period, "key"}, s.sub)
	set := []string{"n = n + excluded.n"}
	for _, c := range s.sums {
		set = append(set, c+" = "+c+" + excluded."+c)
	}
	return `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES ` + valuesList(len(cols), rows) +
		` ON CONFLICT (` + strings.Join(conflict, ", ") + `) DO UPDATE SET ` + strings.Join(set, ", ")
}

// cleanupSQL deletes a bucket whose count came back to zero.
func (m *factModel) cleanupSQL(month bool) string {
	table, period := m.bucketTable(month)
	where := []string{"dim = ?", period + " = ?", "key = ?"}
	for _, c := range m.spec.sub {
		where = append(where, c+" = ?")
	}
	return `DELETE FROM ` + table + ` WHERE ` + strings.Join(where, " AND ") + ` AND n = 0`
}

// storedNanos is a time as stored (Unix nanoseconds). Times outside what
// those hold (years 1678 to 2261) are refused: the domain never accepts
// them. what names the time in the error.
func storedNanos(what string, t time.Time) (int64, error) {
	if t.Year() < 1678 || t.Year() > 2261 {
		return 0, fmt.Errorf("%s %s is out of range", what, t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// The three fact models.

func newArrestsModel() *factModel {
	return &factModel{spec: factSpec{
		// Version 3 dropped the offence: free text, which may name people,
		// and report groups come from controlled vocabularies only (agency
		// and place codes). Version 2 tables have an offence column this
		// code would not fill, so they are rebuilt in place, not served.
		name: Arrests, version: 3, readableFrom: 3, eventType: domain.TypeArrestMade,
		dims: []string{"agency", "location"},
		extract: func(ev *entry) (fact, error) {
			a, err := dataAs[domain.ArrestMade](ev)
			if err != nil {
				return fact{}, err
			}
			agency := a.Agency
			if agency == "" {
				agency = ev.env.Agency // the arresting officer's agency by default
			}
			return fact{dims: []string{agency, a.Location}}, nil
		},
	}}
}

func newSeizuresModel() *factModel {
	return &factModel{spec: factSpec{
		name: Seizures, version: 2, readableFrom: 2, eventType: domain.TypeSeizureRecorded,
		dims: []string{"agency", "location"},
		sub:  []string{"commodity", "unit"},
		sums: []string{"quantity"},
		extract: func(ev *entry) (fact, error) {
			s, err := dataAs[domain.SeizureRecorded](ev)
			if err != nil {
				return fact{}, err
			}
			return fact{dims: []string{ev.env.Agency, s.Location}, sub: []string{s.Commodity, s.Unit}, sums: []int64{s.Quantity.Micros()}}, nil
		},
	}}
}

func newDetectionsModel() *factModel {
	return &factModel{spec: factSpec{
		name: Detections, version: 2, readableFrom: 2, eventType: domain.TypeStowawaysDetected,
		dims: []string{"agency", "location", "method"},
		sums: []string{"people"},
		extract: func(ev *entry) (fact, error) {
			d, err := dataAs[domain.StowawaysDetected](ev)
			if err != nil {
				return fact{}, err
			}
			return fact{dims: []string{ev.env.Agency, d.Location, d.Method}, sums: []int64{int64(d.People)}}, nil
		},
	}}
}
