package projections

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/casebook/casebook/domain"
)

// gangsModel counts organised crime groups dismantled. A group may be
// dismantled in several cases (a joint operation, two agencies' cases); it
// counts once, at its first dismantling: the earliest occurred_at among its
// GangDismantled events not retracted. Like the fact models it is
// bitemporal (see facts.go). Its tables, per generation:
//
//	{gangs_events}        every GangDismantled: group_id, occurred_at,
//	                      agency (the logging officer's), recorded_at,
//	                      retracted_at (NULL while it stands); indexed by
//	                      event id, group and (late slot, changed at)
//	{gangs_first}         per group, its first dismantling standing now
//	                      (indexed by occurred_at): what totals count
//	{gangs_agency_first}  per (agency, group), that agency's first
//	                      dismantling of it: what group_by=agency counts
//	{gangs_days}          the firsts counted per (dim, day, key): dim "*"
//	                      (key "") for groups' firsts, "agency" (key the
//	                      agency) for agencies' firsts
//	{gangs_months}        the same per month
//	{gangs_lead}          the most an occurred_at has been after its
//	                      recorded_at (see factModel)
//
// A report reads the buckets as a fact report does (factquery.go), so that
// its cost does not grow with the groups in its period.
//
// As known at an earlier time T, only the groups with a dismantling whose
// record changed after T (recorded or retracted later) can stand otherwise
// than now: a query takes the others from the first tables and works
// those few out from their dismantlings (gangsquery.go).
type gangsModel struct{}

func newGangsModel() *gangsModel { return &gangsModel{} }

func (gangsModel) name() string      { return GangsDismantled }
func (gangsModel) version() int      { return 2 }
func (gangsModel) readableFrom() int { return 2 }
func (gangsModel) tables() []string {
	return []string{"gangs_events", "gangs_first", "gangs_agency_first", "gangs_days", "gangs_months", "gangs_lead"}
}
func (gangsModel) eventTypes() []string {
	return []string{domain.TypeGangDismantled, domain.TypeEntryRetracted}
}

func (gangsModel) schema() []string {
	return []string{
		`CREATE TABLE {gangs_events} (
			position     INTEGER PRIMARY KEY,
			event_id     TEXT NOT NULL,
			case_id      TEXT NOT NULL,
			group_id     TEXT NOT NULL,
			occurred_at  INTEGER NOT NULL,
			day          TEXT NOT NULL,
			agency       TEXT NOT NULL,
			recorded_at  INTEGER NOT NULL,
			retracted_at INTEGER)`,
		`CREATE INDEX {gangs_events}_event ON {gangs_events} (event_id)`,
		`CREATE INDEX {gangs_events}_group ON {gangs_events} (group_id)`,
		`CREATE INDEX {gangs_events}_changed ON {gangs_events} (` + gangSlots.expr + `, ` + changedAtExpr + `, recorded_at, retracted_at, occurred_at, group_id)`,
		`CREATE TABLE {gangs_first} (
			group_id    TEXT PRIMARY KEY,
			occurred_at INTEGER NOT NULL,
			position    INTEGER NOT NULL,
			day         TEXT NOT NULL,
			event_id    TEXT NOT NULL
		) WITHOUT ROWID`,
		`CREATE INDEX {gangs_first}_occurred ON {gangs_first} (occurred_at, position)`,
		`CREATE TABLE {gangs_agency_first} (
			agency      TEXT NOT NULL,
			group_id    TEXT NOT NULL,
			occurred_at INTEGER NOT NULL,
			position    INTEGER NOT NULL,
			day         TEXT NOT NULL,
			event_id    TEXT NOT NULL,
			PRIMARY KEY (agency, group_id)
		) WITHOUT ROWID`,
		`CREATE INDEX {gangs_agency_first}_occurred ON {gangs_agency_first} (occurred_at, position)`,
		`CREATE INDEX {gangs_agency_first}_group ON {gangs_agency_first} (group_id)`,
		`CREATE TABLE {gangs_days} (
			dim TEXT NOT NULL,
			day TEXT NOT NULL,
			key TEXT NOT NULL,
			n   INTEGER NOT NULL,
			PRIMARY KEY (dim, day, key)
		) WITHOUT ROWID`,
		`CREATE TABLE {gangs_months} (
			dim   TEXT NOT NULL,
			month TEXT NOT NULL,
			key   TEXT NOT NULL,
			n     INTEGER NOT NULL,
			PRIMARY KEY (dim, month, key)
		) WITHOUT ROWID`,
		`CREATE TABLE {gangs_lead} (max_lead INTEGER NOT NULL)`,
		`INSERT INTO {gangs_lead} (max_lead) VALUES (0)`,
	}
}

func (m gangsModel) apply(tx *dbtx, events []entry) error {
	// A new dismantling can only move a group's first dismantling earlier:
	// an upsert does. A retraction may move it later: the group's firsts
	// are recomputed from its dismantlings at the end of the batch. The
	// buckets follow the firsts: each group touched is read before its
	// first change in the batch and after the last, and the difference
	// counted.
	recompute := map[string]bool{}
	before := map[string]gangFirsts{}
	touch := func(group string) error {
		if _, ok := before[group]; ok {
			return nil
		}
		f, err := m.firsts(tx, group)
		before[group] = f
		return err
	}
	var lead int64
	for i := range events {
		ev := &events[i]
		switch ev.Type {
		case domain.TypeGangDismantled:
			env := ev.env
			g, err := dataAs[domain.GangDismantled](ev)
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
			caseID, _ := domain.CaseIDFromStream(ev.Stream)
			group, day, id := g.GroupID.String(), dayKey(env.OccurredAt), ev.ID.String()
			if err := touch(group); err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			if _, err := tx.exec(`INSERT INTO {gangs_events}
				(position, event_id, case_id, group_id, occurred_at, day, agency, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				pos, id, caseID.String(), group, occ, day, env.Agency, rec); err != nil {
				return eventError(&ev.RecordedEvent, fmt.Errorf("insert dismantling: %w", err))
			}
			if _, err := tx.exec(`INSERT INTO {gangs_first} (group_id, occurred_at, position, day, event_id)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id) DO UPDATE SET
				occurred_at = excluded.occurred_at, position = excluded.position, day = excluded.day, event_id = excluded.event_id
				WHERE (excluded.occurred_at, excluded.position) < (occurred_at, position)`,
				group, occ, pos, day, id); err != nil {
				return eventError(&ev.RecordedEvent, fmt.Errorf("first dismantling: %w", err))
			}
			if _, err := tx.exec(`INSERT INTO {gangs_agency_first} (agency, group_id, occurred_at, position, day, event_id)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (agency, group_id) DO UPDATE SET
				occurred_at = excluded.occurred_at, position = excluded.position, day = excluded.day, event_id = excluded.event_id
				WHERE (excluded.occurred_at, excluded.position) < (occurred_at, position)`,
				env.Agency, group, occ, pos, day, id); err != nil {
				return eventError(&ev.RecordedEvent, fmt.Errorf("agency's first dismantling: %w", err))
			}
		case domain.TypeEntryRetracted:
			r, err := dataAs[domain.EntryRetracted](ev)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			at, err := retractionTime(ev, math.MinInt64)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			// One index lookup finds a dismantling (most retractions name
			// something else).
			var pos int64
			var group string
			var retracted sql.NullInt64
			err = tx.scanRow(`SELECT position, group_id, retracted_at FROM {gangs_events} WHERE event_id = ?`,
				[]any{r.EventID.String()}, &pos, &group, &retracted)
			switch {
			case errors.Is(err, sql.ErrNoRows): // not a dismantling
			case err != nil:
				return eventError(&ev.RecordedEvent, fmt.Errorf("find retracted dismantling: %w", err))
			case retracted.Valid:
				// Already retracted: it stands withdrawn from the earliest.
				if _, err := tx.exec(`UPDATE {gangs_events} SET retracted_at = min(retracted_at, max(recorded_at, ?))
					WHERE position = ?`, at, pos); err != nil {
					return eventError(&ev.RecordedEvent, fmt.Errorf("retract dismantling again: %w", err))
				}
			default:
				if _, err := tx.exec(`UPDATE {gangs_events} SET retracted_at = max(recorded_at, ?) WHERE position = ?`, at, pos); err != nil {
					return eventError(&ev.RecordedEvent, fmt.Errorf("retract dismantling: %w", err))
				}
				if err := touch(group); err != nil {
					return eventError(&ev.RecordedEvent, err)
				}
				recompute[group] = true
			}
		}
	}
	groups := make([]string, 0, len(recompute))
	for g := range recompute {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		if err := m.recompute(tx, g); err != nil {
			return err
		}
	}
	if err := m.moveBuckets(tx, before); err != nil {
		return err
	}
	if lead > 0 {
		if _, err := tx.exec(`UPDATE {gangs_lead} SET max_lead = max(max_lead, ?)`, lead); err != nil {
			return fmt.Errorf("update lead: %w", err)
		}
	}
	return nil
}

// recompute refreshes a group's first dismantling, overall and per agency.
// Ties on occurred_at go to the earlier event in the log.
func (gangsModel) recompute(tx *dbtx, group string) error {
	stmts := []string{
		`DELETE FROM {gangs_first} WHERE group_id = ?1`,
		`INSERT INTO {gangs_first} (group_id, occurred_at, position, day, event_id)
			SELECT group_id, occurred_at, position, day, event_id FROM {gangs_events}
			WHERE group_id = ?1 AND retracted_at IS NULL ORDER BY occurred_at, position LIMIT 1`,
		`DELETE FROM {gangs_agency_first} WHERE group_id = ?1`,
		`INSERT INTO {gangs_agency_first} (agency, group_id, occurred_at, position, day, event_id)
			SELECT agency, group_id, occurred_at, position, day, event_id FROM (
				SELECT agency, group_id, occurred_at, position, day, event_id,
					row_number() OVER (PARTITION BY agency ORDER BY occurred_at, position) AS rn
				FROM {gangs_events} WHERE group_id = ?1 AND retracted_at IS NULL)
			WHERE rn = 1`,
	}
	for _, q := range stmts {
		if _, err := tx.exec(q, group); err != nil {
			return fmt.Errorf("recompute group %s: %w", group, err)
		}
	}
	return nil
}

// gangFirsts are a group's first dismantling (its day; "" when none stands)
// and each agency's first (agency → day).
type gangFirsts struct {
	first    string
	agencies map[string]string
}

// firsts reads a group's firsts as the tables hold them now.
func (gangsModel) firsts(tx *dbtx, group string) (gangFirsts, error) {
	f := gangFirsts{agencies: map[string]string{}}
	err := tx.scanRow(`SELECT day FROM {gangs_first} WHERE group_id = ?`, []any{group}, &f.first)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("first dismantling of %s: %w", group, err)
	}
	rows, err := tx.query(`SELECT agency, day FROM {gangs_agency_first} WHERE group_id = ?`, group)
	if err != nil {
		return f, fmt.Errorf("agencies' first dismantlings of %s: %w", group, err)
	}
	defer rows.Close()
	for rows.Next() {
		var agency, day string
		if err := rows.Scan(&agency, &day); err != nil {
			return f, fmt.Errorf("agencies' first dismantlings of %s: %w", group, err)
		}
		f.agencies[agency] = day
	}
	return f, rows.Err()
}

// gangBucket is one bucket of counted firsts.
type gangBucket struct {
	month    bool
	dim, key string
	period   string // day or month
}

// moveBuckets moves the buckets from the touched groups' firsts before the
// batch to their firsts now.
func (m gangsModel) moveBuckets(tx *dbtx, before map[string]gangFirsts) error {
	deltas := map[gangBucket]int64{}
	add := func(dim, key, day string, sign int64) {
		if day == "" {
			return
		}
		deltas[gangBucket{dim: dim, key: key, period: day}] += sign
		deltas[gangBucket{month: true, dim: dim, key: key, period: day[:7]}] += sign
	}
	for group, old := range before {
		now, err := m.firsts(tx, group)
		if err != nil {
			return err
		}
		add(totalDim, "", old.first, -1)
		add(totalDim, "", now.first, +1)
		for agency, day := range old.agencies {
			add("agency", agency, day, -1)
		}
		for agency, day := range now.agencies {
			add("agency", agency, day, +1)
		}
	}
	keys := make([]gangBucket, 0, len(deltas))
	for k, d := range deltas {
		if d != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b gangBucket) int {
		return cmp.Or(cmp.Compare(a.period, b.period), cmp.Compare(a.dim, b.dim), cmp.Compare(a.key, b.key))
	})
	for _, k := range keys {
		table, period := "{gangs_days}", "day"
		if k.month {
			table, period = "{gangs_months}", "month"
		}
		if _, err := tx.exec(`INSERT INTO `+table+` (dim, `+period+`, key, n) VALUES (?, ?, ?, ?)
			ON CONFLICT (dim, `+period+`, key) DO UPDATE SET n = n + excluded.n`, k.dim, k.period, k.key, deltas[k]); err != nil {
			return fmt.Errorf("count firsts: %w", err)
		}
		if deltas[k] < 0 {
			if _, err := tx.exec(`DELETE FROM `+table+` WHERE dim = ? AND `+period+` = ? AND key = ? AND n = 0`, k.dim, k.period, k.key); err != nil {
				return fmt.Errorf("count firsts: %w", err)
			}
		}
	}
	return nil
}
