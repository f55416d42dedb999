package projections

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
)

// A fact model is a read model of countable events (arrests, seizures,
// detections). Its tables, per generation:
//
//	{facts}   one row per event counted, clustered by (occurred_at,
//	          position) so that a period is one range of the table (and
//	          inserts, the log being roughly chronological, append):
//	          event_id, retracted flag, the dimension columns (agency,
//	          location, …), the sub-key columns (commodity, unit) and the
//	          summed columns (people, quantity in millionths). The fact a
//	          retraction names is found through an in-memory map of event
//	          ids (tableSet.factIDs), not an index on random ids.
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
	extract func(ev *entry) (fact, error)
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
			event_id    TEXT NOT NULL,
			retracted   INTEGER NOT NULL DEFAULT 0,
			` + strings.Join(cols, ",\n\t\t\t") + `,
			PRIMARY KEY (occurred_at, position)
		) WITHOUT ROWID`,
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

// factRef locates a fact row by its primary key.
type factRef struct{ occurred, position int64 }

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
	occurred  time.Time
	occ, pos  int64
	id        string
	f         fact
	retracted bool
}

func (m *factModel) apply(tx *dbtx, events []entry) error {
	s := m.spec
	ids, err := m.ids(tx)
	if err != nil {
		return err
	}
	deltas := map[bucketKey]*bucketDelta{}
	var buf []pendingFact
	var bufFrom []*entry // the event of each buffered fact, for errors
	inBuf := map[uuid.UUID]int{}
	insert := func() error {
		if len(buf) == 0 {
			return nil
		}
		args := make([]any, 0, len(buf)*(4+len(m.columns())))
		for _, p := range buf {
			retracted := 0
			if p.retracted {
				retracted = 1
			}
			args = append(args, p.occ, p.pos, p.id, retracted)
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
			occ, err := occurredNanos(ev.env.OccurredAt)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			pos, err := sqlPos(ev.Position)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			inBuf[ev.ID] = len(buf)
			buf = append(buf, pendingFact{occurred: ev.env.OccurredAt, occ: occ, pos: pos, id: ev.ID.String(), f: f})
			bufFrom = append(bufFrom, ev)
			ids[ev.ID] = factRef{occ, pos}
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
				if !buf[j].retracted {
					buf[j].retracted = true
					m.add(deltas, buf[j].occurred, buf[j].f, -1)
				}
				continue
			}
			ref, ok := ids[r.EventID]
			if !ok {
				continue // not a fact of this model
			}
			occ, f, found, err := m.retract(tx, r.EventID, ref)
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
	return m.flush(tx, deltas)
}

// ids returns the generation's map of fact ids, loading it on first use.
func (m *factModel) ids(tx *dbtx) (map[uuid.UUID]factRef, error) {
	if tx.ts.factIDs != nil {
		return tx.ts.factIDs, nil
	}
	ids, err := loadIDs(tx, `SELECT event_id, occurred_at, position FROM `+m.ph("facts"))
	if err != nil {
		return nil, err
	}
	tx.ts.factIDs = ids
	return ids, nil
}

func (m *factModel) warmUp(tx *dbtx) error { _, err := m.ids(tx); return err }

// loadIDs reads (event_id, occurred_at, position) rows into an id map.
func loadIDs(tx *dbtx, query string) (map[uuid.UUID]factRef, error) {
	rows, err := tx.query(query)
	if err != nil {
		return nil, fmt.Errorf("load event ids: %w", err)
	}
	defer rows.Close()
	ids := map[uuid.UUID]factRef{}
	for rows.Next() {
		var id string
		var ref factRef
		if err := rows.Scan(&id, &ref.occurred, &ref.position); err != nil {
			return nil, fmt.Errorf("load event ids: %w", err)
		}
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("load event ids: %w", err)
		}
		ids[u] = ref
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load event ids: %w", err)
	}
	return ids, nil
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

// retract flags the fact of event id (at ref) as retracted and returns it,
// unless it was already retracted. (A map entry whose insert was rolled
// back finds no row: not found.)
func (m *factModel) retract(tx *dbtx, id uuid.UUID, ref factRef) (occurred time.Time, f fact, found bool, err error) {
	s := m.spec
	f = fact{dims: make([]string, len(s.dims)), sub: make([]string, len(s.sub)), sums: make([]int64, len(s.sums))}
	var dest []any
	for i := range f.dims {
		dest = append(dest, &f.dims[i])
	}
	for i := range f.sub {
		dest = append(dest, &f.sub[i])
	}
	for i := range f.sums {
		dest = append(dest, &f.sums[i])
	}
	q := `UPDATE ` + m.ph("facts") + ` SET retracted = 1
		WHERE occurred_at = ? AND position = ? AND event_id = ? AND retracted = 0
		RETURNING ` + strings.Join(m.columns(), ", ")
	switch err := tx.scanRow(q, []any{ref.occurred, ref.position, id.String()}, dest...); {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, fact{}, false, nil
	case err != nil:
		return time.Time{}, fact{}, false, fmt.Errorf("retract fact: %w", err)
	}
	return time.Unix(0, ref.occurred).UTC(), f, true, nil
}

// insertSQL inserts rows facts.
func (m *factModel) insertSQL(rows int) string {
	cols := slices.Concat([]string{"occurred_at", "position", "event_id", "retracted"}, m.columns())
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
		extract: func(ev *entry) (fact, error) {
			a, err := dataAs[domain.ArrestMade](ev)
			if err != nil {
				return fact{}, err
			}
			agency := a.Agency
			if agency == "" {
				agency = ev.env.Agency // the arresting officer's agency by default
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
		name: Detections, version: 1, eventType: domain.TypeStowawaysDetected,
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
