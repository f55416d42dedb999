package projections

import (
	"cmp"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// A fact model is a read model of countable events (arrests, seizures,
// detections). Its tables, per generation:
//
//	{facts}   one row per event counted, clustered by (occurred_at,
//	          position) so that a period is one range of the table:
//	          event_key (the id's first 8 bytes, indexed, to find the fact
//	          a retraction names), event_id, retracted flag, the dimension
//	          columns (agency, location, …), the sub-key columns (commodity,
//	          unit) and the summed columns (people, quantity in millionths).
//	{days}    pre-aggregated per (dim, day, key, sub-keys): count n and
//	          sums, where dim is "*" (key "") for totals, or a dimension.
//	{months}  the same per month.
//
// A report over [from, to) reads month buckets for the whole months, day
// buckets for the whole days around them and the facts of the partial days
// at either end: a few hundred index entries whatever the period. A
// retraction flags its fact and subtracts it from its buckets.
type factModel struct {
	spec factSpec
}

type factSpec struct {
	name      string
	version   int
	eventType string
	dims      []string // dimension columns: a report may group by each
	sub       []string // sub-key columns kept apart in every bucket (commodity, unit)
	sums      []string // summed integer columns
	// extract reads the fact an event records.
	extract func(ev *eventstore.RecordedEvent, env envelope) (fact, error)
}

// fact is what one event contributes.
type fact struct {
	dims []string
	sub  []string
	sums []int64
}

const totalDim = "*"

func (m *factModel) name() string { return m.spec.name }
func (m *factModel) version() int { return m.spec.version }
func (m *factModel) tables() []string {
	return []string{m.spec.name + "_facts", m.spec.name + "_days", m.spec.name + "_months"}
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
			occurred_at INTEGER NOT NULL,
			position    INTEGER NOT NULL,
			event_key   INTEGER NOT NULL,
			event_id    TEXT NOT NULL,
			retracted   INTEGER NOT NULL DEFAULT 0,
			` + strings.Join(cols, ",\n\t\t\t") + `,
			PRIMARY KEY (occurred_at, position)
		) WITHOUT ROWID`,
		`CREATE INDEX ` + facts + `_event ON ` + facts + ` (event_key)`,
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

// eventKey is the indexed part of an event id.
func eventKey(id uuid.UUID) int64 { return int64(binary.BigEndian.Uint64(id[:8])) }

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

func (m *factModel) apply(tx *dbtx, events []eventstore.RecordedEvent) error {
	s := m.spec
	deltas := map[bucketKey]*bucketDelta{}
	insertSQL := m.insertSQL()
	args := make([]any, 0, 5+len(m.columns()))
	for i := range events {
		ev := &events[i]
		switch ev.Type {
		case s.eventType:
			env, err := decodeEnvelope(ev.Metadata)
			if err != nil {
				return eventError(ev, err)
			}
			f, err := s.extract(ev, env)
			if err != nil {
				return eventError(ev, err)
			}
			occ, err := occurredNanos(env.OccurredAt)
			if err != nil {
				return eventError(ev, err)
			}
			pos, err := sqlPos(ev.Position)
			if err != nil {
				return eventError(ev, err)
			}
			args = append(args[:0], occ, pos, eventKey(ev.ID), ev.ID.String())
			for _, v := range f.dims {
				args = append(args, v)
			}
			for _, v := range f.sub {
				args = append(args, v)
			}
			for _, v := range f.sums {
				args = append(args, v)
			}
			if _, err := tx.exec(insertSQL, args...); err != nil {
				return eventError(ev, fmt.Errorf("insert fact: %w", err))
			}
			m.add(deltas, env.OccurredAt, f, +1)
		case domain.TypeEntryRetracted:
			target, err := retractedID(ev)
			if err != nil {
				return eventError(ev, err)
			}
			occ, f, found, err := m.retract(tx, target)
			if err != nil {
				return eventError(ev, err)
			}
			if found {
				m.add(deltas, occ, f, -1)
			}
		}
	}
	return m.flush(tx, deltas)
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

// retractedID reads the id an EntryRetracted names.
func retractedID(ev *eventstore.RecordedEvent) (uuid.UUID, error) {
	env, err := decodeEnvelope(ev.Metadata)
	if err != nil {
		return uuid.Nil, err
	}
	r, err := decodeData[domain.EntryRetracted](ev, env)
	if err != nil {
		return uuid.Nil, err
	}
	return r.EventID, nil
}

// retract flags the fact of event id as retracted and returns it, when the
// model has it (a retraction names an event of any type) and it was not
// already retracted.
func (m *factModel) retract(tx *dbtx, id uuid.UUID) (occurred time.Time, f fact, found bool, err error) {
	s := m.spec
	f = fact{dims: make([]string, len(s.dims)), sub: make([]string, len(s.sub)), sums: make([]int64, len(s.sums))}
	var occ, pos int64
	dest := []any{&occ, &pos}
	for i := range f.dims {
		dest = append(dest, &f.dims[i])
	}
	for i := range f.sub {
		dest = append(dest, &f.sub[i])
	}
	for i := range f.sums {
		dest = append(dest, &f.sums[i])
	}
	q := `SELECT occurred_at, position, ` + strings.Join(m.columns(), ", ") + ` FROM ` + m.ph("facts") +
		` WHERE event_key = ? AND event_id = ? AND retracted = 0`
	switch err := tx.scanRow(q, []any{eventKey(id), id.String()}, dest...); {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, fact{}, false, nil
	case err != nil:
		return time.Time{}, fact{}, false, fmt.Errorf("find retracted fact: %w", err)
	}
	if _, err := tx.exec(`UPDATE `+m.ph("facts")+` SET retracted = 1 WHERE occurred_at = ? AND position = ?`, occ, pos); err != nil {
		return time.Time{}, fact{}, false, fmt.Errorf("flag retracted fact: %w", err)
	}
	return time.Unix(0, occ).UTC(), f, true, nil
}

func (m *factModel) insertSQL() string {
	cols := slices.Concat([]string{"occurred_at", "position", "event_key", "event_id"}, m.columns())
	return `INSERT INTO ` + m.ph("facts") + ` (` + strings.Join(cols, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) + `)`
}

// flush writes the batch's bucket deltas: one upsert per bucket touched.
func (m *factModel) flush(tx *dbtx, deltas map[bucketKey]*bucketDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	s := m.spec
	var upserts [2]string
	for i, b := range []struct{ table, period string }{{m.ph("days"), "day"}, {m.ph("months"), "month"}} {
		cols := slices.Concat([]string{"dim", b.period, "key"}, s.sub, []string{"n"}, s.sums)
		conflict := slices.Concat([]string{"dim", b.period, "key"}, s.sub)
		set := []string{"n = n + excluded.n"}
		for _, c := range s.sums {
			set = append(set, c+" = "+c+" + excluded."+c)
		}
		upserts[i] = `INSERT INTO ` + b.table + ` (` + strings.Join(cols, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) +
			`) ON CONFLICT (` + strings.Join(conflict, ", ") + `) DO UPDATE SET ` + strings.Join(set, ", ")
	}
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
	args := make([]any, 0, 4+len(s.sub)+len(s.sums))
	for _, k := range keys {
		d := deltas[k]
		args = append(args[:0], k.dim, k.period, k.key)
		if len(s.sub) > 0 {
			for _, v := range strings.Split(k.sub, "\x00") {
				args = append(args, v)
			}
		}
		args = append(args, d.n)
		for _, v := range d.sums {
			args = append(args, v)
		}
		q := upserts[0]
		if k.month {
			q = upserts[1]
		}
		if _, err := tx.exec(q, args...); err != nil {
			return fmt.Errorf("update bucket %s %s %q: %w", k.dim, k.period, k.key, err)
		}
	}
	return nil
}

// occurredNanos is occurred_at as stored. Times outside what Unix
// nanoseconds hold (years 1678 to 2261) are refused: the domain never
// accepts them.
func occurredNanos(t time.Time) (int64, error) {
	if t.Year() < 1678 || t.Year() > 2261 {
		return 0, fmt.Errorf("occurred_at %s is out of range", t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// factGroup is one row of a fact report: a key (and sub-keys) with its count
// and sums, and with explain the event ids behind them.
type factGroup struct {
	key  string
	sub  []string
	n    int64
	sums []int64
	ids  []string
}

// groupKey computes a fact's group key in Go (for facts read one by one).
type groupKey func(occurred time.Time, dims []string) string

// groupExprs returns, for a report's group_by, the bucket dimension to read,
// the SQL expressions of the key over day and month buckets, and the key of
// a single fact.
func (m *factModel) groupExprs(groupBy string) (dim, dayExpr, monthExpr string, factKey groupKey, useMonths bool, err error) {
	switch groupBy {
	case "":
		return totalDim, "''", "''", func(time.Time, []string) string { return "" }, true, nil
	case "day":
		return totalDim, "day", "", func(t time.Time, _ []string) string { return dayKey(t) }, false, nil
	case "month":
		return totalDim, "substr(day, 1, 7)", "month", func(t time.Time, _ []string) string { return monthKey(t) }, true, nil
	case "year":
		return totalDim, "substr(day, 1, 4)", "substr(month, 1, 4)", func(t time.Time, _ []string) string { return dayKey(t)[:4] }, true, nil
	}
	if i := slices.Index(m.spec.dims, groupBy); i >= 0 {
		return groupBy, "key", "key", func(_ time.Time, dims []string) string { return dims[i] }, true, nil
	}
	return "", "", "", nil, false, fmt.Errorf("cannot group %s by %q", m.spec.name, groupBy)
}

// query answers a report over [from, to) grouped by groupBy ("" for the
// totals), with explain the event ids of every group. Groups are sorted by
// key, then sub-keys; groups that add up to nothing are left out.
func (m *factModel) query(tx *dbtx, from, to time.Time, groupBy string, explain bool) ([]factGroup, error) {
	s := m.spec
	dim, dayExpr, monthExpr, factKey, useMonths, err := m.groupExprs(groupBy)
	if err != nil {
		return nil, err
	}
	segs := split(from, to, useMonths)
	groups := map[string]*factGroup{}
	group := func(key string, sub []string) *factGroup {
		id := key + "\x00" + strings.Join(sub, "\x00")
		g := groups[id]
		if g == nil {
			g = &factGroup{key: key, sub: sub, sums: make([]int64, len(s.sums))}
			groups[id] = g
		}
		return g
	}
	subCols, sumCols, groupCols := "", "", "1"
	for i, c := range s.sub {
		subCols += ", " + c
		groupCols += fmt.Sprintf(", %d", i+2)
	}
	for _, c := range s.sums {
		sumCols += ", SUM(" + c + ")"
	}
	scanBuckets := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var key string
			var n int64
			sub := make([]string, len(s.sub))
			sums := make([]int64, len(s.sums))
			dest := []any{&key}
			for i := range sub {
				dest = append(dest, &sub[i])
			}
			dest = append(dest, &n)
			for i := range sums {
				dest = append(dest, &sums[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			g := group(key, sub)
			g.n += n
			for i := range sums {
				g.sums[i] += sums[i]
			}
		}
		return rows.Err()
	}
	for _, r := range segs.months {
		rows, err := tx.query(`SELECT `+monthExpr+subCols+`, SUM(n)`+sumCols+` FROM `+m.ph("months")+
			` WHERE dim = ? AND month >= ? AND month < ? GROUP BY `+groupCols, dim, r[0], r[1])
		if err == nil {
			err = scanBuckets(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: month buckets: %w", s.name, err)
		}
	}
	for _, r := range segs.days {
		rows, err := tx.query(`SELECT `+dayExpr+subCols+`, SUM(n)`+sumCols+` FROM `+m.ph("days")+
			` WHERE dim = ? AND day >= ? AND day < ? GROUP BY `+groupCols, dim, r[0], r[1])
		if err == nil {
			err = scanBuckets(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: day buckets: %w", s.name, err)
		}
	}
	// The partial days at the ends, fact by fact.
	for _, r := range segs.facts {
		err := m.eachFact(tx, r[0], r[1], func(occ time.Time, f fact, _ string) {
			g := group(factKey(occ, f.dims), f.sub)
			g.n++
			for i, v := range f.sums {
				g.sums[i] += v
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: facts: %w", s.name, err)
		}
	}
	// The drill-down: every fact of the period, for its event id.
	if explain {
		err := m.eachFact(tx, nanos(from), nanos(to), func(occ time.Time, f fact, id string) {
			g := group(factKey(occ, f.dims), f.sub)
			g.ids = append(g.ids, id)
		})
		if err != nil {
			return nil, fmt.Errorf("%s: explain: %w", s.name, err)
		}
	}
	out := make([]factGroup, 0, len(groups))
	for _, g := range groups {
		if g.n != 0 {
			out = append(out, *g)
		}
	}
	slices.SortFunc(out, func(a, b factGroup) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return slices.Compare(a.sub, b.sub)
	})
	return out, nil
}

// eachFact calls fn with every unretracted fact that occurred in [from, to),
// in occurred_at order (one range of the clustered table).
func (m *factModel) eachFact(tx *dbtx, from, to int64, fn func(occurred time.Time, f fact, eventID string)) error {
	s := m.spec
	rows, err := tx.query(`SELECT occurred_at, event_id, `+strings.Join(m.columns(), ", ")+` FROM `+m.ph("facts")+
		` WHERE occurred_at >= ? AND occurred_at < ? AND retracted = 0 ORDER BY occurred_at, position`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var occ int64
		var id string
		f := fact{dims: make([]string, len(s.dims)), sub: make([]string, len(s.sub)), sums: make([]int64, len(s.sums))}
		dest := []any{&occ, &id}
		for i := range f.dims {
			dest = append(dest, &f.dims[i])
		}
		for i := range f.sub {
			dest = append(dest, &f.sub[i])
		}
		for i := range f.sums {
			dest = append(dest, &f.sums[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		fn(time.Unix(0, occ).UTC(), f, id)
	}
	return rows.Err()
}

// The three fact models.

func newArrestsModel() *factModel {
	return &factModel{spec: factSpec{
		name: Arrests, version: 1, eventType: domain.TypeArrestMade,
		dims: []string{"agency", "location", "offence"},
		extract: func(ev *eventstore.RecordedEvent, env envelope) (fact, error) {
			a, err := decodeData[domain.ArrestMade](ev, env)
			if err != nil {
				return fact{}, err
			}
			agency := a.Agency
			if agency == "" {
				agency = env.Agency // the arresting officer's agency by default
			}
			return fact{dims: []string{agency, a.Location, a.Offence}}, nil
		},
	}}
}

func newSeizuresModel() *factModel {
	return &factModel{spec: factSpec{
		name: Seizures, version: 1, eventType: domain.TypeSeizureRecorded,
		dims: []string{"agency", "location"},
		sub:  []string{"commodity", "unit"},
		sums: []string{"quantity"},
		extract: func(ev *eventstore.RecordedEvent, env envelope) (fact, error) {
			s, err := decodeData[domain.SeizureRecorded](ev, env)
			if err != nil {
				return fact{}, err
			}
			return fact{dims: []string{env.Agency, s.Location}, sub: []string{s.Commodity, s.Unit}, sums: []int64{s.Quantity.Micros()}}, nil
		},
	}}
}

func newDetectionsModel() *factModel {
	return &factModel{spec: factSpec{
		name: Detections, version: 1, eventType: domain.TypeStowawaysDetected,
		dims: []string{"agency", "location", "method"},
		sums: []string{"people"},
		extract: func(ev *eventstore.RecordedEvent, env envelope) (fact, error) {
			d, err := decodeData[domain.StowawaysDetected](ev, env)
			if err != nil {
				return fact{}, err
			}
			return fact{dims: []string{env.Agency, d.Location, d.Method}, sums: []int64{int64(d.People)}}, nil
		},
	}}
}
