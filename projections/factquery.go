package projections

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// view is what a report reads: the facts that occurred in [from, to),
// as they stand now (asOf nil) or as they were known at the recorded time
// asOf.
type view struct {
	from, to time.Time
	asOf     *time.Time
	// filters keep the facts of one agency, one location (ReportQuery).
	filters []filter
}

// factGroup is one row of a fact report: a key (and sub-keys) with its count
// and sums.
type factGroup struct {
	key  string
	sub  []string
	n    int64
	sums []int64
}

// explainItem is one event behind a report's figures, as a page of explain
// lists it.
type explainItem struct {
	occ, pos int64
	id       string
	key      string   // its group's key ("" when the report is not grouped)
	sub      []string // its sub-keys (seizures: commodity and unit)
	// inTotal: it counts in the total as well as in its group (always, but
	// for gangs grouped by agency: an agency's first dismantling of a
	// group need not be the group's first).
	inTotal bool
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

// bucketsFor says which buckets count a grouping whose buckets are those
// of dimension dim (totalDim for the totals and the times) under the
// filters fs: the buckets of dimension bdim, only those of key when key is
// not "". Buckets count each dimension on its own, so they answer no
// filter, or one filter on a grouping by time or by the filtered dimension
// itself (that dimension's buckets at the filtered key: UKBA's arrests by
// month are the agency buckets of UKBA). Anything else — two filters, or
// a filter on one dimension grouped by another — is counted from the facts
// (ok false): one range of the facts table over the period, read in
// full; see README, "Reports" (Filters), for what that costs.
func bucketsFor(dim string, fs []filter) (bdim, key string, ok bool) {
	switch {
	case len(fs) == 0:
		return dim, "", true
	case len(fs) == 1 && (dim == totalDim || dim == fs[0].dim):
		return fs[0].dim, fs[0].value, true
	}
	return "", "", false
}

// where is the SQL condition that keeps the facts the filters keep (over
// the table alias prefix, "" or "t."), with its arguments; the first
// argument's number is n (0: plain ? placeholders). Each filter is on a
// dimension column of the model.
func (m *factModel) where(fs []filter, prefix string, n int) (string, []any, error) {
	var sql string
	var args []any
	for i, f := range fs {
		if !slices.Contains(m.spec.dims, f.dim) {
			return "", nil, fmt.Errorf("%s cannot be filtered by %q", m.spec.name, f.dim)
		}
		ph := "?"
		if n > 0 {
			ph = fmt.Sprintf("?%d", n+i)
		}
		sql += " AND " + prefix + f.dim + " = " + ph
		args = append(args, f.value)
	}
	return sql, args, nil
}

// knownBy narrows a period to what could have been known at the recorded
// time asOf: nothing that occurred after asOf + lead (the most any event of
// the read model occurred after it was recorded: leadTable's max_lead) was
// recorded by asOf. ok is false when nothing of the period could be.
func knownBy(tx *dbtx, leadTable string, from, to time.Time, asOf int64) (time.Time, bool, error) {
	var lead int64
	if err := tx.scanRow(`SELECT max_lead FROM `+leadTable, nil, &lead); err != nil {
		return to, false, fmt.Errorf("lead: %w", err)
	}
	end := saturatingAdd(saturatingAdd(asOf, max(lead, 0)), 1) // exclusive
	if end < nanos(to) {
		to = time.Unix(0, end).UTC()
	}
	return to, from.Before(to), nil
}

// query answers a report over v grouped by groupBy ("" for the totals).
// Groups are sorted by key, then sub-keys; groups that add up to nothing are
// left out.
//
// Now, the buckets answer (as they always did). As known at T, the same
// buckets answer, corrected by the facts whose record changed after T
// (recorded after T, or retracted after T): only those can stand otherwise
// at T than now. A fact counts at T if it was recorded by T and not
// retracted by T; the correction adds what counts at T and not now, and
// takes away what counts now and not at T. Those facts are found by the
// index on (late slot, changed at): one seek per 7 days of the period.
func (m *factModel) query(tx *dbtx, v view, groupBy string) ([]factGroup, error) {
	s := m.spec
	dim, dayExpr, monthExpr, factKey, useMonths, err := m.groupExprs(groupBy)
	if err != nil {
		return nil, err
	}
	from, to := v.from, v.to
	var asOf int64
	if v.asOf != nil {
		asOf = nanos(*v.asOf)
		var ok bool
		if to, ok, err = knownBy(tx, m.ph("lead"), from, to, asOf); err != nil || !ok {
			return nil, err
		}
	}
	bdim, bkey, fromBuckets := bucketsFor(dim, v.filters)
	segs := split(from, to, useMonths)
	if !fromBuckets {
		segs = segments{}
		if from.Before(to) {
			segs.facts = [][2]int64{{nanos(from), nanos(to)}}
		}
	}
	keyCond, keyArgs := "", []any{}
	if bkey != "" {
		keyCond, keyArgs = " AND key = ?", []any{bkey}
	}
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
			` WHERE dim = ? AND month >= ? AND month < ?`+keyCond+` GROUP BY `+groupCols, append([]any{bdim, r[0], r[1]}, keyArgs...)...)
		if err == nil {
			err = scanBuckets(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: month buckets: %w", s.name, err)
		}
	}
	for _, r := range segs.days {
		rows, err := tx.query(`SELECT `+dayExpr+subCols+`, SUM(n)`+sumCols+` FROM `+m.ph("days")+
			` WHERE dim = ? AND day >= ? AND day < ?`+keyCond+` GROUP BY `+groupCols, append([]any{bdim, r[0], r[1]}, keyArgs...)...)
		if err == nil {
			err = scanBuckets(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: day buckets: %w", s.name, err)
		}
	}
	// The partial days at the ends (or, when the buckets cannot answer the
	// filters, the whole period), fact by fact.
	for _, r := range segs.facts {
		err := m.eachFact(tx, r[0], r[1], v.filters, func(occ time.Time, f fact) {
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
	if v.asOf != nil {
		err := m.eachChangedAfter(tx, from, to, asOf, slices.Index(s.dims, groupBy), v.filters, func(occ time.Time, standsThen, standsNow bool, f fact) {
			d := int64(0)
			if standsThen {
				d++
			}
			if standsNow {
				d--
			}
			if d == 0 {
				return
			}
			g := group(factKey(occ, f.dims), f.sub)
			g.n += d
			for i, v := range f.sums {
				g.sums[i] += d * v
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: as of: %w", s.name, err)
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

// newFact makes a fact with room for the model's columns, and the scan
// destinations of those columns (dims, sub-keys, sums) after extra.
func (m *factModel) newFact(extra ...any) (fact, []any) {
	s := m.spec
	f := fact{dims: make([]string, len(s.dims)), sub: make([]string, len(s.sub)), sums: make([]int64, len(s.sums))}
	dest := extra
	for i := range f.dims {
		dest = append(dest, &f.dims[i])
	}
	for i := range f.sub {
		dest = append(dest, &f.sub[i])
	}
	for i := range f.sums {
		dest = append(dest, &f.sums[i])
	}
	return f, dest
}

// eachFact calls fn with every fact standing now that occurred in
// [from, to) and that the filters keep, in occurred_at order (one range of
// the clustered table).
func (m *factModel) eachFact(tx *dbtx, from, to int64, fs []filter, fn func(occurred time.Time, f fact)) error {
	cond, args, err := m.where(fs, "", 0)
	if err != nil {
		return err
	}
	rows, err := tx.query(`SELECT occurred_at, `+strings.Join(m.columns(), ", ")+` FROM `+m.ph("facts")+
		` WHERE occurred_at >= ? AND occurred_at < ? AND retracted_at IS NULL`+cond+` ORDER BY occurred_at, position`,
		append([]any{from, to}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var occ int64
		f, dest := m.newFact(&occ)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		fn(time.Unix(0, occ).UTC(), f)
	}
	return rows.Err()
}

// changedAfterSQL selects the rows of table (a fact or dismantling table
// with the late-change index) that occurred in [?4, ?5) and whose record
// changed after ?3, looking up each late slot from ?1 to ?2 in that index.
// cols are the columns returned (over the alias t); cond narrows the rows
// further (columns of the index, over t, with arguments from ?6 on).
func changedAfterSQL(table string, slots lateSlots, cols, cond string) string {
	return `WITH RECURSIVE slot(v) AS (SELECT ?1 UNION ALL SELECT v + 1 FROM slot WHERE v < ?2)
		SELECT ` + cols + ` FROM slot CROSS JOIN ` + table + ` t
		WHERE ` + slots.of("t") + ` = slot.v AND ` + changedAtOf("t") + ` > ?3 AND t.occurred_at >= ?4 AND t.occurred_at < ?5` + cond
}

// slotRange is the range of late slots of table that [from, to) spans,
// clamped to those the table holds (an unbounded period would otherwise
// look up thousands of empty slots). ok is false when there is none.
func slotRange(tx *dbtx, table string, slots lateSlots, from, to int64) (lo, hi int64, ok bool, err error) {
	var minSlot, maxSlot sql.NullInt64
	if err := tx.scanRow(`SELECT (SELECT MIN(`+slots.expr+`) FROM `+table+`), (SELECT MAX(`+slots.expr+`) FROM `+table+`)`, nil, &minSlot, &maxSlot); err != nil {
		return 0, 0, false, fmt.Errorf("slots: %w", err)
	}
	if !minSlot.Valid || from >= to {
		return 0, 0, false, nil
	}
	lo, hi = max(slots.slot(from), minSlot.Int64), min(slots.slot(to-1), maxSlot.Int64)
	return lo, hi, lo <= hi, nil
}

// eachChangedAfter calls fn with every fact that occurred in [from, to),
// that the filters keep and whose record changed after t (it was recorded
// after t, or retracted after t), saying whether it stood at t and whether
// it stands now. It reads the late-change index alone (which holds every
// column of the fact, the filtered ones included); of the fact's
// dimensions only dims[dim] (none when dim < 0).
func (m *factModel) eachChangedAfter(tx *dbtx, from, to time.Time, t int64, dim int, fs []filter, fn func(occurred time.Time, standsThen, standsNow bool, f fact)) error {
	s := m.spec
	facts := m.ph("facts")
	cond, condArgs, err := m.where(fs, "t.", 6)
	if err != nil {
		return err
	}
	lo, hi, ok, err := slotRange(tx, facts, factSlots, nanos(from), nanos(to))
	if err != nil || !ok {
		return err
	}
	cols := "t.occurred_at, t.recorded_at, t.retracted_at"
	for _, c := range slices.Concat(s.sub, s.sums) {
		cols += ", t." + c
	}
	if dim >= 0 {
		cols += ", t." + s.dims[dim]
	}
	rows, err := tx.query(changedAfterSQL(facts, factSlots, cols, cond), append([]any{lo, hi, t, nanos(from), nanos(to)}, condArgs...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var occ, rec int64
		var retracted sql.NullInt64
		f := fact{dims: make([]string, len(s.dims)), sub: make([]string, len(s.sub)), sums: make([]int64, len(s.sums))}
		dest := []any{&occ, &rec, &retracted}
		for i := range f.sub {
			dest = append(dest, &f.sub[i])
		}
		for i := range f.sums {
			dest = append(dest, &f.sums[i])
		}
		if dim >= 0 {
			dest = append(dest, &f.dims[dim])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		fn(time.Unix(0, occ).UTC(), standsAt(t, rec, retracted), !retracted.Valid, f)
	}
	return rows.Err()
}

// standsAt reports whether an entry recorded at recorded and retracted at
// retracted (if ever) counted as known at t.
func standsAt(t, recorded int64, retracted sql.NullInt64) bool {
	return recorded <= t && (!retracted.Valid || retracted.Int64 > t)
}

// page lists up to limit events behind the figures of v (those the
// filters keep), grouped by groupBy, after the cursor, in (occurred_at,
// position) order.
func (m *factModel) page(tx *dbtx, v view, groupBy string, after pageCursor, limit int) ([]explainItem, error) {
	_, _, _, factKey, _, err := m.groupExprs(groupBy)
	if err != nil {
		return nil, err
	}
	cond, condArgs, err := m.where(v.filters, "", 0)
	if err != nil {
		return nil, err
	}
	from, to := v.from, v.to
	stands, args := `retracted_at IS NULL`, []any{}
	if v.asOf != nil {
		asOf := nanos(*v.asOf)
		var ok bool
		if to, ok, err = knownBy(tx, m.ph("lead"), from, to, asOf); err != nil || !ok {
			return nil, err
		}
		stands, args = `recorded_at <= ? AND (retracted_at IS NULL OR retracted_at > ?)`, []any{asOf, asOf}
	}
	lo, co, cp := after.bounds(nanos(from))
	args = slices.Concat([]any{lo, nanos(to), co, cp}, args, condArgs, []any{limit})
	rows, err := tx.query(`SELECT occurred_at, position, event_id, `+strings.Join(m.columns(), ", ")+` FROM `+m.ph("facts")+`
		WHERE occurred_at >= ? AND occurred_at < ? AND (occurred_at, position) > (?, ?) AND `+stands+cond+`
		ORDER BY occurred_at, position LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: explain: %w", m.spec.name, err)
	}
	defer rows.Close()
	var out []explainItem
	for rows.Next() {
		var it explainItem
		f, dest := m.newFact(&it.occ, &it.pos, &it.id)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("%s: explain: %w", m.spec.name, err)
		}
		it.key, it.sub, it.inTotal = factKey(time.Unix(0, it.occ).UTC(), f.dims), f.sub, true
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: explain: %w", m.spec.name, err)
	}
	return out, nil
}
