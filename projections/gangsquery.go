package projections

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// gangRow is a first dismantling as a report counts it: a group's first
// (or an agency's first of a group) in the view.
type gangRow struct {
	group, agency, day, eventID string
	occ, pos                    int64
	// first: it is also the group's first dismantling overall (always, in
	// the table of groups' firsts).
	first bool
}

// gangsGrouping is how a gangs report groups: the table of firsts it counts
// (agencies' firsts for group_by=agency or an agency filter, groups'
// otherwise) with its buckets' dimension, and the key of a row in SQL
// (over a firsts table, a day bucket and a month bucket) and in Go.
type gangsGrouping struct {
	byAgency                    bool
	keyExpr, dayExpr, monthExpr string
	useMonths                   bool
	key                         func(r gangRow) string
	// agency keeps one agency's firsts ("" all): a group counts for an
	// agency that dismantled it, at that agency's first dismantling of it,
	// as in group_by=agency.
	agency string
}

// gangsGroupingFor is the grouping of groupBy under the filters fs (an
// agency at most: dismantlings have no location).
func gangsGroupingFor(groupBy string, fs []filter) (gangsGrouping, error) {
	var agency string
	for _, f := range fs {
		if f.dim != "agency" {
			return gangsGrouping{}, fmt.Errorf("cannot filter gangs dismantled by %q", f.dim)
		}
		agency = f.value
	}
	gg, err := gangsGroupingBy(groupBy)
	if agency != "" {
		gg.byAgency, gg.agency = true, agency
	}
	return gg, err
}

func gangsGroupingBy(groupBy string) (gangsGrouping, error) {
	switch groupBy {
	case "":
		return gangsGrouping{keyExpr: "''", dayExpr: "''", monthExpr: "''", useMonths: true, key: func(gangRow) string { return "" }}, nil
	case "day":
		return gangsGrouping{keyExpr: "day", dayExpr: "day", key: func(r gangRow) string { return r.day }}, nil
	case "month":
		return gangsGrouping{keyExpr: "substr(day, 1, 7)", dayExpr: "substr(day, 1, 7)", monthExpr: "month", useMonths: true,
			key: func(r gangRow) string { return r.day[:7] }}, nil
	case "year":
		return gangsGrouping{keyExpr: "substr(day, 1, 4)", dayExpr: "substr(day, 1, 4)", monthExpr: "substr(month, 1, 4)", useMonths: true,
			key: func(r gangRow) string { return r.day[:4] }}, nil
	case "agency":
		return gangsGrouping{byAgency: true, keyExpr: "agency", dayExpr: "key", monthExpr: "key", useMonths: true,
			key: func(r gangRow) string { return r.agency }}, nil
	}
	return gangsGrouping{}, fmt.Errorf("cannot group gangs dismantled by %q", groupBy)
}

// dim is the buckets' dimension of the grouping.
func (g gangsGrouping) dim() string {
	if g.byAgency {
		return "agency"
	}
	return totalDim
}

// table is the table of firsts the grouping counts.
func (g gangsGrouping) table() string {
	if g.byAgency {
		return "{gangs_agency_first}"
	}
	return "{gangs_first}"
}

// keeps reports whether the agency filter keeps a row of agencies' firsts.
func (g gangsGrouping) keeps(r gangRow) bool { return g.agency == "" || r.agency == g.agency }

// filtered keeps the rows the agency filter keeps.
func (g gangsGrouping) filtered(rows []gangRow) []gangRow {
	if g.agency == "" {
		return rows
	}
	var out []gangRow
	for _, r := range rows {
		if g.keeps(r) {
			out = append(out, r)
		}
	}
	return out
}

// where is the SQL condition (and its arguments) that keeps the agency's
// rows of a table with an agency column (its key, in the buckets), over
// the column name col.
func (g gangsGrouping) where(col string) (string, []any) {
	if g.agency == "" {
		return "", nil
	}
	return " AND " + col + " = ?", []any{g.agency}
}

// gangsThen is what a view as known at an earlier time needs beyond the
// tables of firsts: the period narrowed to what could be known then, and
// the groups whose firsts may have stood otherwise then than now, with
// their firsts as they stood then.
type gangsThen struct {
	to   time.Time
	none bool // nothing of the period could be known then
	// late lists the groups with a dismantling that occurred before to and
	// whose record changed after the view's time (JSON, for json_each).
	late         string
	firsts       []gangRow // their firsts then, overall
	agencyFirsts []gangRow // and per agency
}

// then works out a view as known at v.asOf. A group whose dismantlings'
// records all stood by then as they stand now has the same firsts then as
// now; those of the other groups (few: recorded or retracted after then)
// are worked out from their dismantlings. (A group whose first then or now
// falls in the period has such a dismantling before the period's end, so
// looking up those that occurred before it finds every group that
// matters.)
func (m gangsModel) then(tx *dbtx, v view) (gangsThen, error) {
	asOf := nanos(*v.asOf)
	to, ok, err := knownBy(tx, "{gangs_lead}", v.from, v.to, asOf)
	if err != nil || !ok {
		return gangsThen{none: true}, err
	}
	th := gangsThen{to: to, late: "[]"}
	lo, hi, ok, err := slotRange(tx, "{gangs_events}", gangSlots, nanos(beginningOfTime), nanos(to))
	if err != nil || !ok {
		return th, err
	}
	rows, err := tx.query(changedAfterSQL("{gangs_events}", gangSlots, "DISTINCT t.group_id", ""), lo, hi, asOf, nanos(beginningOfTime), nanos(to))
	if err != nil {
		return th, fmt.Errorf("late groups: %w", err)
	}
	var late []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return th, fmt.Errorf("late groups: %w", err)
		}
		late = append(late, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return th, fmt.Errorf("late groups: %w", err)
	}
	if len(late) == 0 {
		return th, nil
	}
	slices.Sort(late)
	b, err := json.Marshal(late)
	if err != nil {
		return th, err
	}
	th.late = string(b)
	for _, g := range late {
		first, agencyFirsts, err := m.firstsAt(tx, g, asOf)
		if err != nil {
			return th, err
		}
		if first != nil {
			th.firsts = append(th.firsts, *first)
		}
		th.agencyFirsts = append(th.agencyFirsts, agencyFirsts...)
	}
	return th, nil
}

// firstsAt works out a group's first dismantling, overall and per agency,
// among those standing at t (recorded by t and not retracted by t). Ties on
// occurred_at go to the earlier event in the log, as in recompute.
func (gangsModel) firstsAt(tx *dbtx, group string, t int64) (*gangRow, []gangRow, error) {
	rows, err := tx.query(`SELECT position, event_id, occurred_at, day, agency, recorded_at, retracted_at
		FROM {gangs_events} WHERE group_id = ? ORDER BY occurred_at, position`, group)
	if err != nil {
		return nil, nil, fmt.Errorf("dismantlings of group %s: %w", group, err)
	}
	defer rows.Close()
	var first *gangRow
	var agencyFirsts []gangRow
	for rows.Next() {
		r := gangRow{group: group}
		var rec int64
		var retracted sql.NullInt64
		if err := rows.Scan(&r.pos, &r.eventID, &r.occ, &r.day, &r.agency, &rec, &retracted); err != nil {
			return nil, nil, fmt.Errorf("dismantlings of group %s: %w", group, err)
		}
		if !standsAt(t, rec, retracted) {
			continue
		}
		if first == nil {
			r.first = true
			first = &r
		}
		if !slices.ContainsFunc(agencyFirsts, func(a gangRow) bool { return a.agency == r.agency }) {
			agencyFirsts = append(agencyFirsts, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("dismantlings of group %s: %w", group, err)
	}
	return first, agencyFirsts, nil
}

// inPeriod keeps the rows in [from, to).
func inPeriod(rows []gangRow, from, to int64) []gangRow {
	var out []gangRow
	for _, r := range rows {
		if r.occ >= from && r.occ < to {
			out = append(out, r)
		}
	}
	return out
}

// query counts groups first dismantled in the view, grouped by day, month,
// year or agency ("" for the total alone): from the buckets (whole months,
// whole days) and the firsts of the partial days at either end, as a fact
// report. As known at an earlier time, the late groups' firsts now are
// taken out and their firsts then put in.
func (m gangsModel) query(tx *dbtx, v view, groupBy string) ([]factGroup, error) {
	gg, err := gangsGroupingFor(groupBy, v.filters)
	if err != nil {
		return nil, err
	}
	from, to := v.from, v.to
	var th gangsThen
	if v.asOf != nil {
		if th, err = m.then(tx, v); err != nil || th.none {
			return nil, err
		}
		to = th.to
	}
	counts := map[string]int64{}
	if err := m.countBuckets(tx, gg, from, to, counts); err != nil {
		return nil, fmt.Errorf("gangs dismantled: %w", err)
	}
	if v.asOf != nil {
		now, err := m.firstsNow(tx, gg, th.late)
		if err != nil {
			return nil, fmt.Errorf("gangs dismantled: %w", err)
		}
		then := th.firsts
		if gg.byAgency {
			then = gg.filtered(th.agencyFirsts)
		}
		for _, r := range inPeriod(now, nanos(from), nanos(to)) {
			counts[gg.key(r)]--
		}
		for _, r := range inPeriod(then, nanos(from), nanos(to)) {
			counts[gg.key(r)]++
		}
	}
	out := make([]factGroup, 0, len(counts))
	for k, n := range counts {
		if n != 0 {
			out = append(out, factGroup{key: k, n: n})
		}
	}
	slices.SortFunc(out, func(a, b factGroup) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

// countBuckets adds the firsts counted in [from, to) to counts by key.
func (m gangsModel) countBuckets(tx *dbtx, gg gangsGrouping, from, to time.Time, counts map[string]int64) error {
	segs := split(from, to, gg.useMonths)
	scan := func(q string, args ...any) error {
		rows, err := tx.query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var key string
			var n int64
			if err := rows.Scan(&key, &n); err != nil {
				return err
			}
			counts[key] += n
		}
		return rows.Err()
	}
	keyCond, keyArgs := gg.where("key")
	agencyCond, agencyArgs := gg.where("agency")
	for _, r := range segs.months {
		if err := scan(`SELECT `+gg.monthExpr+`, SUM(n) FROM {gangs_months} WHERE dim = ? AND month >= ? AND month < ?`+keyCond+` GROUP BY 1`,
			append([]any{gg.dim(), r[0], r[1]}, keyArgs...)...); err != nil {
			return fmt.Errorf("month buckets: %w", err)
		}
	}
	for _, r := range segs.days {
		if err := scan(`SELECT `+gg.dayExpr+`, SUM(n) FROM {gangs_days} WHERE dim = ? AND day >= ? AND day < ?`+keyCond+` GROUP BY 1`,
			append([]any{gg.dim(), r[0], r[1]}, keyArgs...)...); err != nil {
			return fmt.Errorf("day buckets: %w", err)
		}
	}
	for _, r := range segs.facts {
		if err := scan(`SELECT `+gg.keyExpr+`, COUNT(*) FROM `+gg.table()+`
			WHERE occurred_at >= ? AND occurred_at < ?`+agencyCond+` GROUP BY 1`, append([]any{r[0], r[1]}, agencyArgs...)...); err != nil {
			return fmt.Errorf("firsts: %w", err)
		}
	}
	return nil
}

// firstsNow reads the firsts the tables hold for the groups of the JSON
// array groups.
func (gangsModel) firstsNow(tx *dbtx, gg gangsGrouping, groups string) ([]gangRow, error) {
	q := `SELECT group_id, '', day, event_id, occurred_at, position FROM {gangs_first}`
	if gg.byAgency {
		q = `SELECT group_id, agency, day, event_id, occurred_at, position FROM {gangs_agency_first}`
	}
	cond, args := gg.where("agency")
	rows, err := tx.query(q+` WHERE group_id IN (SELECT value FROM json_each(?))`+cond, append([]any{groups}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("late groups' firsts: %w", err)
	}
	defer rows.Close()
	var out []gangRow
	for rows.Next() {
		var r gangRow
		if err := rows.Scan(&r.group, &r.agency, &r.day, &r.eventID, &r.occ, &r.pos); err != nil {
			return nil, fmt.Errorf("late groups' firsts: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// page lists up to limit first dismantlings behind the figures of v after
// the cursor, in (occurred_at, position) order. Grouped by agency, those
// are the agencies' firsts (each group's first among them counts in the
// total too); filtered by an agency, that agency's firsts (all of which
// count in its total); otherwise the groups' firsts.
func (m gangsModel) page(tx *dbtx, v view, groupBy string, after pageCursor, limit int) ([]explainItem, error) {
	gg, err := gangsGroupingFor(groupBy, v.filters)
	if err != nil {
		return nil, err
	}
	from, to := nanos(v.from), nanos(v.to)
	th := gangsThen{late: "[]"}
	if v.asOf != nil {
		if th, err = m.then(tx, v); err != nil || th.none {
			return nil, err
		}
		to = nanos(th.to)
	}
	lo, co, cp := after.bounds(from)
	q := `SELECT a.group_id, a.event_id, a.occurred_at, a.position, a.day, '', 1 FROM {gangs_first} a`
	if gg.byAgency {
		q = `SELECT a.group_id, a.event_id, a.occurred_at, a.position, a.day, a.agency, f.group_id IS NOT NULL
			FROM {gangs_agency_first} a LEFT JOIN {gangs_first} f ON f.group_id = a.group_id AND f.position = a.position`
	}
	cond, condArgs := gg.where("a.agency")
	rows, err := tx.query(q+` WHERE a.occurred_at >= ? AND a.occurred_at < ? AND (a.occurred_at, a.position) > (?, ?)
		AND a.group_id NOT IN (SELECT value FROM json_each(?))`+cond+` ORDER BY a.occurred_at, a.position LIMIT ?`,
		slices.Concat([]any{lo, to, co, cp, th.late}, condArgs, []any{limit})...)
	if err != nil {
		return nil, fmt.Errorf("gangs dismantled: explain: %w", err)
	}
	var out []explainItem
	add := func(r gangRow) {
		// Filtered by an agency, the total is that agency's firsts.
		out = append(out, explainItem{occ: r.occ, pos: r.pos, id: r.eventID, key: gg.key(r), inTotal: r.first || gg.agency != ""})
	}
	for rows.Next() {
		var r gangRow
		if err := rows.Scan(&r.group, &r.eventID, &r.occ, &r.pos, &r.day, &r.agency, &r.first); err != nil {
			rows.Close()
			return nil, fmt.Errorf("gangs dismantled: explain: %w", err)
		}
		add(r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("gangs dismantled: explain: %w", err)
	}
	lateRows := th.firsts
	if gg.byAgency {
		lateRows = gg.filtered(th.agencyFirsts)
	}
	for _, r := range inPeriod(lateRows, from, to) {
		if after.set && (r.occ < after.occ || (r.occ == after.occ && r.pos <= after.pos)) {
			continue
		}
		add(r)
	}
	slices.SortFunc(out, explainItem.before)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
