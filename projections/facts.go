package projections

import (
	"cmp"
	"context"
	"database/sql"
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
//	{facts}  one row per event counted: position (the rowid), event_id
//	         (unique), case_id, occurred_at (Unix ns, indexed), day,
//	         retracted flag, the dimension columns (agency, location, …),
//	         the sub-key columns (commodity, unit) and the summed columns
//	         (people, quantity in millionths).
//	{days}   pre-aggregated per (dim, day, key, sub-keys): count n and sums,
//	         where dim is "*" (key "") for totals or a dimension's name.
//	{months} the same per month.
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
			position    INTEGER PRIMARY KEY,
			event_id    TEXT NOT NULL,
			case_id     TEXT NOT NULL,
			occurred_at INTEGER NOT NULL,
			day         TEXT NOT NULL,
			retracted   INTEGER NOT NULL DEFAULT 0,
			` + strings.Join(cols, ",\n\t\t\t") + `)`,
		`CREATE UNIQUE INDEX ` + facts + `_event ON ` + facts + ` (event_id)`,
		`CREATE INDEX ` + facts + `_occurred ON ` + facts + ` (occurred_at)`,
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

func (m *factModel) apply(ctx context.Context, tx *sql.Tx, ts *tableSet, events []eventstore.RecordedEvent) error {
	s := m.spec
	var insert *sql.Stmt
	deltas := map[bucketKey]*bucketDelta{}
	add := func(day string, f fact, sign int64) {
		sub := strings.Join(f.sub, "\x00")
		for _, month := range []bool{false, true} {
			period := day
			if month {
				period = day[:7]
			}
			keys := [][2]string{{totalDim, ""}}
			for i, d := range s.dims {
				keys = append(keys, [2]string{d, f.dims[i]})
			}
			for _, k := range keys {
				bk := bucketKey{month: month, dim: k[0], period: period, key: k[1], sub: sub}
				d := deltas[bk]
				if d == nil {
					d = &bucketDelta{sums: make([]int64, len(s.sums))}
					deltas[bk] = d
				}
				d.n += sign
				for i, v := range f.sums {
					d.sums[i] += sign * v
				}
			}
		}
	}
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
			caseID, _ := domain.CaseIDFromStream(ev.Stream)
			if insert == nil {
				if insert, err = tx.PrepareContext(ctx, ts.sql(m.insertSQL())); err != nil {
					return fmt.Errorf("prepare: %w", err)
				}
				defer insert.Close()
			}
			day := dayKey(env.OccurredAt)
			args := []any{int64(ev.Position), ev.ID.String(), caseID.String(), occ, day}
			for _, v := range slices.Concat(f.dims, f.sub) {
				args = append(args, v)
			}
			for _, v := range f.sums {
				args = append(args, v)
			}
			if _, err := insert.ExecContext(ctx, args...); err != nil {
				return eventError(ev, fmt.Errorf("insert fact: %w", err))
			}
			add(day, f, +1)
		case domain.TypeEntryRetracted:
			target, err := retractedID(ev)
			if err != nil {
				return eventError(ev, err)
			}
			day, f, found, err := m.retract(ctx, tx, ts, target)
			if err != nil {
				return eventError(ev, err)
			}
			if found {
				add(day, f, -1)
			}
		}
	}
	return m.flush(ctx, tx, ts, deltas)
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
func (m *factModel) retract(ctx context.Context, tx *sql.Tx, ts *tableSet, id uuid.UUID) (day string, f fact, found bool, err error) {
	s := m.spec
	cols := slices.Concat(s.dims, s.sub, s.sums)
	q := ts.sql(`SELECT position, day, ` + strings.Join(cols, ", ") + ` FROM ` + m.ph("facts") + ` WHERE event_id = ? AND retracted = 0`)
	f = fact{dims: make([]string, len(s.dims)), sub: make([]string, len(s.sub)), sums: make([]int64, len(s.sums))}
	var pos int64
	dest := []any{&pos, &day}
	for i := range f.dims {
		dest = append(dest, &f.dims[i])
	}
	for i := range f.sub {
		dest = append(dest, &f.sub[i])
	}
	for i := range f.sums {
		dest = append(dest, &f.sums[i])
	}
	switch err := tx.QueryRowContext(ctx, q, id.String()).Scan(dest...); {
	case errors.Is(err, sql.ErrNoRows):
		return "", fact{}, false, nil
	case err != nil:
		return "", fact{}, false, fmt.Errorf("find retracted fact: %w", err)
	}
	if _, err := tx.ExecContext(ctx, ts.sql(`UPDATE `+m.ph("facts")+` SET retracted = 1 WHERE position = ?`), pos); err != nil {
		return "", fact{}, false, fmt.Errorf("flag retracted fact: %w", err)
	}
	return day, f, true, nil
}

func (m *factModel) insertSQL() string {
	s := m.spec
	cols := slices.Concat([]string{"position", "event_id", "case_id", "occurred_at", "day"}, s.dims, s.sub, s.sums)
	return `INSERT INTO ` + m.ph("facts") + ` (` + strings.Join(cols, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) + `)`
}

// flush writes the batch's bucket deltas: one upsert per bucket touched.
func (m *factModel) flush(ctx context.Context, tx *sql.Tx, ts *tableSet, deltas map[bucketKey]*bucketDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	s := m.spec
	var stmts [2]*sql.Stmt
	for i, b := range []struct{ table, period string }{{m.ph("days"), "day"}, {m.ph("months"), "month"}} {
		cols := slices.Concat([]string{"dim", b.period, "key"}, s.sub, []string{"n"}, s.sums)
		conflict := slices.Concat([]string{"dim", b.period, "key"}, s.sub)
		set := []string{"n = n + excluded.n"}
		for _, c := range s.sums {
			set = append(set, c+" = "+c+" + excluded."+c)
		}
		q := `INSERT INTO ` + b.table + ` (` + strings.Join(cols, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) +
			`) ON CONFLICT (` + strings.Join(conflict, ", ") + `) DO UPDATE SET ` + strings.Join(set, ", ")
		st, err := tx.PrepareContext(ctx, ts.sql(q))
		if err != nil {
			return fmt.Errorf("prepare bucket upsert: %w", err)
		}
		defer st.Close()
		stmts[i] = st
	}
	// Sorted, the upserts walk the bucket B-trees in order.
	keys := make([]bucketKey, 0, len(deltas))
	for k, d := range deltas {
		if d.n != 0 || slices.ContainsFunc(d.sums, func(v int64) bool { return v != 0 }) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b bucketKey) int {
		if a.month != b.month {
			if a.month {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.dim, b.dim), cmp.Compare(a.period, b.period), cmp.Compare(a.key, b.key), cmp.Compare(a.sub, b.sub))
	})
	for _, k := range keys {
		d := deltas[k]
		args := []any{k.dim, k.period, k.key}
		if len(s.sub) > 0 {
			for _, v := range strings.Split(k.sub, "\x00") {
				args = append(args, v)
			}
		}
		args = append(args, d.n)
		for _, v := range d.sums {
			args = append(args, v)
		}
		st := stmts[0]
		if k.month {
			st = stmts[1]
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
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

// groupExprs returns, for a report's group_by, the bucket dimension to read
// and the SQL expressions of the key over day buckets, month buckets and
// facts.
func (m *factModel) groupExprs(groupBy string) (dim, dayExpr, monthExpr, factExpr string, useMonths bool, err error) {
	switch groupBy {
	case "":
		return totalDim, "''", "''", "''", true, nil
	case "day":
		return totalDim, "day", "", "day", false, nil
	case "month":
		return totalDim, "substr(day, 1, 7)", "month", "substr(day, 1, 7)", true, nil
	case "year":
		return totalDim, "substr(day, 1, 4)", "substr(month, 1, 4)", "substr(day, 1, 4)", true, nil
	}
	if slices.Contains(m.spec.dims, groupBy) {
		return groupBy, "key", "key", groupBy, true, nil
	}
	return "", "", "", "", false, fmt.Errorf("cannot group %s by %q", m.spec.name, groupBy)
}

// query answers a report over [from, to) grouped by groupBy ("" for the
// totals), with explain the event ids of every group. Groups are sorted by
// key, then sub-keys; groups that add up to nothing are left out.
func (m *factModel) query(ctx context.Context, tx *sql.Tx, ts *tableSet, from, to time.Time, groupBy string, explain bool) ([]factGroup, error) {
	s := m.spec
	dim, dayExpr, monthExpr, factExpr, useMonths, err := m.groupExprs(groupBy)
	if err != nil {
		return nil, err
	}
	segs := split(from, to, useMonths)
	groups := map[string]*factGroup{}
	subCols := ""
	for _, c := range s.sub {
		subCols += ", " + c
	}
	sumCols := ""
	for _, c := range s.sums {
		sumCols += ", SUM(" + c + ")"
	}
	groupCols := "1"
	for i := range s.sub {
		groupCols += fmt.Sprintf(", %d", i+2)
	}
	scan := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			g := factGroup{sub: make([]string, len(s.sub)), sums: make([]int64, len(s.sums))}
			dest := []any{&g.key}
			for i := range g.sub {
				dest = append(dest, &g.sub[i])
			}
			dest = append(dest, &g.n)
			for i := range g.sums {
				dest = append(dest, &g.sums[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			id := g.key + "\x00" + strings.Join(g.sub, "\x00")
			if acc, ok := groups[id]; ok {
				acc.n += g.n
				for i := range acc.sums {
					acc.sums[i] += g.sums[i]
				}
			} else {
				groups[id] = &g
			}
		}
		return rows.Err()
	}
	for _, r := range segs.months {
		rows, err := tx.QueryContext(ctx, ts.sql(`SELECT `+monthExpr+subCols+`, SUM(n)`+sumCols+` FROM `+m.ph("months")+
			` WHERE dim = ? AND month >= ? AND month < ? GROUP BY `+groupCols), dim, r[0], r[1])
		if err == nil {
			err = scan(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: month buckets: %w", s.name, err)
		}
	}
	for _, r := range segs.days {
		rows, err := tx.QueryContext(ctx, ts.sql(`SELECT `+dayExpr+subCols+`, SUM(n)`+sumCols+` FROM `+m.ph("days")+
			` WHERE dim = ? AND day >= ? AND day < ? GROUP BY `+groupCols), dim, r[0], r[1])
		if err == nil {
			err = scan(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: day buckets: %w", s.name, err)
		}
	}
	for _, r := range segs.facts {
		rows, err := tx.QueryContext(ctx, ts.sql(`SELECT `+factExpr+subCols+`, COUNT(*)`+sumCols+` FROM `+m.ph("facts")+
			` WHERE occurred_at >= ? AND occurred_at < ? AND retracted = 0 GROUP BY `+groupCols), r[0], r[1])
		if err == nil {
			err = scan(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: facts: %w", s.name, err)
		}
	}
	if explain {
		if err := m.explain(ctx, tx, ts, from, to, factExpr, groups); err != nil {
			return nil, err
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

// explain lists the event ids behind each group, in log order, from the
// facts (one index range over occurred_at).
func (m *factModel) explain(ctx context.Context, tx *sql.Tx, ts *tableSet, from, to time.Time, factExpr string, groups map[string]*factGroup) error {
	s := m.spec
	subCols := ""
	for _, c := range s.sub {
		subCols += ", " + c
	}
	rows, err := tx.QueryContext(ctx, ts.sql(`SELECT `+factExpr+subCols+`, event_id FROM `+m.ph("facts")+
		` WHERE occurred_at >= ? AND occurred_at < ? AND retracted = 0 ORDER BY position`), nanos(from), nanos(to))
	if err != nil {
		return fmt.Errorf("%s: explain: %w", s.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, id string
		sub := make([]string, len(s.sub))
		dest := []any{&key}
		for i := range sub {
			dest = append(dest, &sub[i])
		}
		dest = append(dest, &id)
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("%s: explain: %w", s.name, err)
		}
		if g, ok := groups[key+"\x00"+strings.Join(sub, "\x00")]; ok {
			g.ids = append(g.ids, id)
		}
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
