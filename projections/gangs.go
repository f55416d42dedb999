package projections

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
)

// gangsModel counts organised crime groups dismantled. A group may be
// dismantled in several cases (a joint operation, two agencies' cases); it
// counts once, at its first dismantling: the earliest occurred_at among its
// GangDismantled events not retracted. Its tables, per generation:
//
//	{gangs_events}        every GangDismantled: group_id, occurred_at,
//	                      agency (the logging officer's), retracted flag
//	{gangs_first}         per group, its first unretracted dismantling
//	                      (indexed by occurred_at): what totals count
//	{gangs_agency_first}  per (agency, group), that agency's first
//	                      dismantling of it: what group_by=agency counts
type gangsModel struct{}

func newGangsModel() *gangsModel { return &gangsModel{} }

func (gangsModel) name() string { return GangsDismantled }
func (gangsModel) version() int { return 1 }
func (gangsModel) tables() []string {
	return []string{"gangs_events", "gangs_first", "gangs_agency_first"}
}
func (gangsModel) eventTypes() []string {
	return []string{domain.TypeGangDismantled, domain.TypeEntryRetracted}
}

func (gangsModel) schema() []string {
	return []string{
		`CREATE TABLE {gangs_events} (
			position    INTEGER PRIMARY KEY,
			event_id    TEXT NOT NULL,
			case_id     TEXT NOT NULL,
			group_id    TEXT NOT NULL,
			occurred_at INTEGER NOT NULL,
			day         TEXT NOT NULL,
			agency      TEXT NOT NULL,
			retracted   INTEGER NOT NULL DEFAULT 0)`,
		`CREATE INDEX {gangs_events}_group ON {gangs_events} (group_id, retracted, occurred_at)`,
		`CREATE TABLE {gangs_first} (
			group_id    TEXT PRIMARY KEY,
			occurred_at INTEGER NOT NULL,
			position    INTEGER NOT NULL,
			day         TEXT NOT NULL,
			event_id    TEXT NOT NULL
		) WITHOUT ROWID`,
		`CREATE INDEX {gangs_first}_occurred ON {gangs_first} (occurred_at)`,
		`CREATE TABLE {gangs_agency_first} (
			agency      TEXT NOT NULL,
			group_id    TEXT NOT NULL,
			occurred_at INTEGER NOT NULL,
			position    INTEGER NOT NULL,
			day         TEXT NOT NULL,
			event_id    TEXT NOT NULL,
			PRIMARY KEY (agency, group_id)
		) WITHOUT ROWID`,
		`CREATE INDEX {gangs_agency_first}_occurred ON {gangs_agency_first} (occurred_at)`,
		`CREATE INDEX {gangs_agency_first}_group ON {gangs_agency_first} (group_id)`,
	}
}

func (m gangsModel) apply(tx *dbtx, events []entry) error {
	// A new dismantling can only move a group's first dismantling earlier:
	// an upsert does. A retraction may move it later: the group's firsts
	// are recomputed from its dismantlings at the end of the batch.
	recompute := map[string]bool{}
	ids, err := m.ids(tx)
	if err != nil {
		return err
	}
	for i := range events {
		ev := &events[i]
		switch ev.Type {
		case domain.TypeGangDismantled:
			env := ev.env
			g, err := dataAs[domain.GangDismantled](ev)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			occ, err := occurredNanos(env.OccurredAt)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			pos, err := sqlPos(ev.Position)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			caseID, _ := domain.CaseIDFromStream(ev.Stream)
			group, day, id := g.GroupID.String(), dayKey(env.OccurredAt), ev.ID.String()
			if _, err := tx.exec(`INSERT INTO {gangs_events}
				(position, event_id, case_id, group_id, occurred_at, day, agency) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				pos, id, caseID.String(), group, occ, day, env.Agency); err != nil {
				return eventError(&ev.RecordedEvent, fmt.Errorf("insert dismantling: %w", err))
			}
			ids[ev.ID] = factRef{occ, pos}
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
			ref, ok := ids[r.EventID]
			if !ok {
				continue // not a dismantling
			}
			var group string
			err = tx.scanRow(`UPDATE {gangs_events} SET retracted = 1
				WHERE position = ? AND event_id = ? AND retracted = 0 RETURNING group_id`, []any{ref.position, r.EventID.String()}, &group)
			switch {
			case errors.Is(err, sql.ErrNoRows): // not a dismantling, or already retracted
			case err != nil:
				return eventError(&ev.RecordedEvent, fmt.Errorf("flag retracted dismantling: %w", err))
			default:
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
	return nil
}

// ids returns the generation's map of dismantling ids (as for facts, in
// memory), loading it on first use.
func (gangsModel) ids(tx *dbtx) (map[uuid.UUID]factRef, error) {
	if tx.ts.factIDs != nil {
		return tx.ts.factIDs, nil
	}
	ids, err := loadIDs(tx, `SELECT event_id, occurred_at, position FROM {gangs_events}`)
	if err != nil {
		return nil, err
	}
	tx.ts.factIDs = ids
	return ids, nil
}

func (m gangsModel) warmUp(tx *dbtx) error { _, err := m.ids(tx); return err }

// recompute refreshes a group's first dismantling, overall and per agency.
// Ties on occurred_at go to the earlier event in the log.
func (gangsModel) recompute(tx *dbtx, group string) error {
	stmts := []string{
		`DELETE FROM {gangs_first} WHERE group_id = ?1`,
		`INSERT INTO {gangs_first} (group_id, occurred_at, position, day, event_id)
			SELECT group_id, occurred_at, position, day, event_id FROM {gangs_events}
			WHERE group_id = ?1 AND retracted = 0 ORDER BY occurred_at, position LIMIT 1`,
		`DELETE FROM {gangs_agency_first} WHERE group_id = ?1`,
		`INSERT INTO {gangs_agency_first} (agency, group_id, occurred_at, position, day, event_id)
			SELECT agency, group_id, occurred_at, position, day, event_id FROM (
				SELECT agency, group_id, occurred_at, position, day, event_id,
					row_number() OVER (PARTITION BY agency ORDER BY occurred_at, position) AS rn
				FROM {gangs_events} WHERE group_id = ?1 AND retracted = 0)
			WHERE rn = 1`,
	}
	for _, q := range stmts {
		if _, err := tx.exec(q, group); err != nil {
			return fmt.Errorf("recompute group %s: %w", group, err)
		}
	}
	return nil
}

// query counts groups first dismantled in [from, to), grouped by month,
// year or agency ("" for the total alone).
func (gangsModel) query(tx *dbtx, from, to time.Time, groupBy string, explain bool) ([]factGroup, error) {
	table, keyExpr := "{gangs_first}", "''"
	switch groupBy {
	case "":
	case "month":
		keyExpr = "substr(day, 1, 7)"
	case "year":
		keyExpr = "substr(day, 1, 4)"
	case "agency":
		table, keyExpr = "{gangs_agency_first}", "agency"
	default:
		return nil, fmt.Errorf("cannot group gangs dismantled by %q", groupBy)
	}
	if !explain {
		rows, err := tx.query(`SELECT `+keyExpr+`, COUNT(*) FROM `+table+`
			WHERE occurred_at >= ? AND occurred_at < ? GROUP BY 1 ORDER BY 1`, nanos(from), nanos(to))
		if err != nil {
			return nil, fmt.Errorf("gangs dismantled: %w", err)
		}
		defer rows.Close()
		var out []factGroup
		for rows.Next() {
			var g factGroup
			if err := rows.Scan(&g.key, &g.n); err != nil {
				return nil, fmt.Errorf("gangs dismantled: %w", err)
			}
			out = append(out, g)
		}
		return out, rows.Err()
	}
	rows, err := tx.query(`SELECT `+keyExpr+`, event_id FROM `+table+`
		WHERE occurred_at >= ? AND occurred_at < ? ORDER BY 1, occurred_at, event_id`, nanos(from), nanos(to))
	if err != nil {
		return nil, fmt.Errorf("gangs dismantled: %w", err)
	}
	defer rows.Close()
	var out []factGroup
	for rows.Next() {
		var key, id string
		if err := rows.Scan(&key, &id); err != nil {
			return nil, fmt.Errorf("gangs dismantled: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].key != key {
			out = append(out, factGroup{key: key})
		}
		g := &out[len(out)-1]
		g.n++
		g.ids = append(g.ids, id)
	}
	return out, rows.Err()
}
