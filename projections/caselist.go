package projections

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// caseListModel is the list of cases behind GET /v1/cases. Its tables, per
// generation:
//
//	{cases}             one row per case; seq (the rowid) is the position of
//	                    its CaseOpened, so newest-first paging is a rowid walk
//	{case_agencies}     (agency, seq) for the lead agency and every agency
//	                    that joined: need-to-know and the agency filter
//	{case_crime_types}  (crime_type, seq): the crime type filter
//
// The fields follow domain.Case: agencies are the lead agency then those
// that joined, in order; opened_at is CaseOpened's occurred_at; updated_at
// is the latest event's recorded_at; version its stream revision.
type caseListModel struct{}

func newCaseListModel() *caseListModel { return &caseListModel{} }

func (caseListModel) name() string         { return CaseList }
func (caseListModel) version() int         { return 1 }
func (caseListModel) readableFrom() int    { return 1 }
func (caseListModel) tables() []string     { return []string{"cases", "case_agencies", "case_crime_types"} }
func (caseListModel) eventTypes() []string { return nil }

func (caseListModel) schema() []string {
	return []string{
		`CREATE TABLE {cases} (
			seq         INTEGER PRIMARY KEY,
			case_id     TEXT NOT NULL,
			reference   TEXT NOT NULL,
			title       TEXT NOT NULL,
			lead_agency TEXT NOT NULL,
			agencies    TEXT NOT NULL,
			crime_types TEXT NOT NULL,
			location    TEXT NOT NULL,
			status      TEXT NOT NULL,
			version     INTEGER NOT NULL,
			position    INTEGER NOT NULL,
			opened_at   TEXT NOT NULL,
			updated_at  TEXT NOT NULL)`,
		`CREATE UNIQUE INDEX {cases}_id ON {cases} (case_id)`,
		`CREATE INDEX {cases}_status ON {cases} (status, seq)`,
		`CREATE TABLE {case_agencies} (
			agency TEXT NOT NULL,
			seq    INTEGER NOT NULL,
			PRIMARY KEY (agency, seq)
		) WITHOUT ROWID`,
		`CREATE TABLE {case_crime_types} (
			crime_type TEXT NOT NULL,
			seq        INTEGER NOT NULL,
			PRIMARY KEY (crime_type, seq)
		) WITHOUT ROWID`,
	}
}

// caseRow is one case as the batch changes it. A case already in the
// table is loaded only when its agencies change (rare); otherwise the batch
// just updates the columns every event moves.
type caseRow struct {
	seq        int64
	id         string
	reference  string
	title      string
	lead       string
	agencies   []string
	crimeTypes []string
	location   string
	status     string
	version    uint64
	position   int64
	openedAt   time.Time
	updatedAt  time.Time

	isNew, loaded, statusChanged bool
	newAgencies                  []string // joined in this batch (rows for case_agencies)
	first                        *eventstore.RecordedEvent
}

const timeLayout = time.RFC3339Nano

func (m caseListModel) apply(tx *dbtx, events []entry) error {
	rows := map[string]*caseRow{} // by stream
	var order []*caseRow
	for i := range events {
		ev := &events[i]
		if ev.envErr != nil {
			return eventError(&ev.RecordedEvent, ev.envErr)
		}
		env := ev.env
		pos, err := sqlPos(ev.Position)
		if err != nil {
			return eventError(&ev.RecordedEvent, err)
		}
		row := rows[ev.Stream]
		if row == nil {
			id, ok := domain.CaseIDFromStream(ev.Stream)
			if !ok {
				return eventError(&ev.RecordedEvent, fmt.Errorf("stream %q is not a case stream", ev.Stream))
			}
			row = &caseRow{id: id.String(), first: &ev.RecordedEvent}
			rows[ev.Stream] = row
			order = append(order, row)
		}
		if ev.Type == domain.TypeCaseOpened {
			if row.isNew || row.first != &ev.RecordedEvent {
				return eventError(&ev.RecordedEvent, errors.New("CaseOpened on a case already open"))
			}
			o, err := dataAs[domain.CaseOpened](ev)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			*row = caseRow{
				seq: pos, id: row.id, reference: o.Reference, title: o.Title, lead: o.LeadAgency,
				agencies: []string{o.LeadAgency}, crimeTypes: slices.Clone(o.CrimeTypes), location: o.Location,
				status: domain.StatusOpen, openedAt: env.OccurredAt, isNew: true, loaded: true, first: &ev.RecordedEvent,
			}
		}
		switch ev.Type {
		case domain.TypeAgencyJoined:
			j, err := dataAs[domain.AgencyJoined](ev)
			if err != nil {
				return eventError(&ev.RecordedEvent, err)
			}
			if !row.loaded {
				if err := m.load(tx, row); err != nil {
					return eventError(&ev.RecordedEvent, err)
				}
			}
			if !slices.Contains(row.agencies, j.Agency) {
				row.agencies = append(row.agencies, j.Agency)
				row.newAgencies = append(row.newAgencies, j.Agency)
			}
		case domain.TypeCaseClosed:
			row.status, row.statusChanged = domain.StatusClosed, true
		case domain.TypeCaseReopened:
			row.status, row.statusChanged = domain.StatusOpen, true
		}
		row.version = ev.Revision
		row.position = pos
		row.updatedAt = env.RecordedAt
	}
	for _, row := range order {
		if err := m.write(tx, row); err != nil {
			return err
		}
	}
	return nil
}

// load reads a case's row into r (keeping what the batch set since).
func (caseListModel) load(tx *dbtx, r *caseRow) error {
	var agencies, crimeTypes, opened, status string
	err := tx.scanRow(`SELECT seq, reference, title, lead_agency, agencies, crime_types, location,
		status, opened_at FROM {cases} WHERE case_id = ?`, []any{r.id},
		&r.seq, &r.reference, &r.title, &r.lead, &agencies, &crimeTypes, &r.location, &status, &opened)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s before CaseOpened", r.first.Type)
	}
	if err != nil {
		return fmt.Errorf("load case %s: %w", r.id, err)
	}
	if !r.statusChanged {
		r.status = status
	}
	if err := json.Unmarshal([]byte(agencies), &r.agencies); err != nil {
		return fmt.Errorf("load case %s: agencies: %w", r.id, err)
	}
	if err := json.Unmarshal([]byte(crimeTypes), &r.crimeTypes); err != nil {
		return fmt.Errorf("load case %s: crime types: %w", r.id, err)
	}
	if r.openedAt, err = time.Parse(timeLayout, opened); err != nil {
		return fmt.Errorf("load case %s: opened_at: %w", r.id, err)
	}
	r.loaded = true
	return nil
}

func (caseListModel) write(tx *dbtx, r *caseRow) error {
	updated := r.updatedAt.UTC().Format(timeLayout)
	if r.isNew {
		agencies, _ := json.Marshal(r.agencies)
		crimeTypes, _ := json.Marshal(r.crimeTypes)
		if _, err := tx.exec(`INSERT INTO {cases} (seq, case_id, reference, title, lead_agency, agencies,
			crime_types, location, status, version, position, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.seq, r.id, r.reference, r.title, r.lead, string(agencies), string(crimeTypes), r.location, r.status,
			int64(r.version), r.position, r.openedAt.UTC().Format(timeLayout), updated); err != nil {
			return eventError(r.first, fmt.Errorf("insert case: %w", err))
		}
		for _, a := range r.agencies {
			if _, err := tx.exec(`INSERT OR IGNORE INTO {case_agencies} (agency, seq) VALUES (?, ?)`, a, r.seq); err != nil {
				return fmt.Errorf("insert case %s agency: %w", r.id, err)
			}
		}
		for _, c := range r.crimeTypes {
			if _, err := tx.exec(`INSERT OR IGNORE INTO {case_crime_types} (crime_type, seq) VALUES (?, ?)`, c, r.seq); err != nil {
				return fmt.Errorf("insert case %s crime type: %w", r.id, err)
			}
		}
		return nil
	}
	var res sql.Result
	var err error
	switch {
	case r.loaded:
		agencies, _ := json.Marshal(r.agencies)
		res, err = tx.exec(`UPDATE {cases} SET agencies = ?, status = ?, version = ?, position = ?, updated_at = ?
			WHERE case_id = ?`, string(agencies), r.status, int64(r.version), r.position, updated, r.id)
	case r.statusChanged:
		res, err = tx.exec(`UPDATE {cases} SET status = ?, version = ?, position = ?, updated_at = ?
			WHERE case_id = ?`, r.status, int64(r.version), r.position, updated, r.id)
	default:
		res, err = tx.exec(`UPDATE {cases} SET version = ?, position = ?, updated_at = ?
			WHERE case_id = ?`, int64(r.version), r.position, updated, r.id)
	}
	if err != nil {
		return fmt.Errorf("update case %s: %w", r.id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update case %s: %w", r.id, err)
	} else if n != 1 {
		return eventError(r.first, fmt.Errorf("%s before CaseOpened", r.first.Type))
	}
	if len(r.newAgencies) > 0 {
		var seq int64
		if err := tx.scanRow(`SELECT seq FROM {cases} WHERE case_id = ?`, []any{r.id}, &seq); err != nil {
			return fmt.Errorf("case %s: %w", r.id, err)
		}
		for _, a := range r.newAgencies {
			if _, err := tx.exec(`INSERT OR IGNORE INTO {case_agencies} (agency, seq) VALUES (?, ?)`, a, seq); err != nil {
				return fmt.Errorf("insert case %s agency: %w", r.id, err)
			}
		}
	}
	return nil
}

// CaseQuery selects cases from the case list.
type CaseQuery struct {
	// VisibleTo is the agency of an investigator asking: only cases it
	// leads or has joined are listed. Required unless AllAgencies.
	VisibleTo string
	// AllAgencies lists every case (auditors).
	AllAgencies bool
	// Filters; empty means any.
	Status    string // "open" or "closed"
	Agency    string // lead or joined agency
	CrimeType string
	Text      string // in reference or title, case-insensitive (ASCII letters)
	// Cursor continues a previous page (its NextCursor); Limit caps the
	// page (default 50, at most 1000).
	Cursor string
	Limit  int
}

// CaseSummary is one case of the list.
type CaseSummary struct {
	ID         uuid.UUID `json:"id"`
	Reference  string    `json:"reference"`
	Title      string    `json:"title"`
	LeadAgency string    `json:"lead_agency"`
	Agencies   []string  `json:"agencies"`
	CrimeTypes []string  `json:"crime_types"`
	Location   string    `json:"location"`
	Status     string    `json:"status"`
	Version    uint64    `json:"version"`
	OpenedAt   time.Time `json:"opened_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CasePage is a page of the case list, newest case first. NextCursor is
// empty on the last page. Position is the log position the list reflects.
type CasePage struct {
	Cases      []CaseSummary `json:"cases"`
	NextCursor string        `json:"next_cursor,omitempty"`
	Position   uint64        `json:"position"`
}

const (
	defaultCaseLimit = 50
	maxCaseLimit     = 1000
)

// ListCases answers a case-list query from the case_list read model.
// Bad parameters (a malformed cursor, an unknown status, no agency for a
// need-to-know query) are *QueryError.
func (e *Engine) ListCases(ctx context.Context, q CaseQuery) (CasePage, error) {
	if !q.AllAgencies && q.VisibleTo == "" {
		return CasePage{}, queryError("agency", "a case list is either for an agency or for every agency")
	}
	if q.Status != "" && q.Status != domain.StatusOpen && q.Status != domain.StatusClosed {
		return CasePage{}, queryError("status", "must be %q or %q", domain.StatusOpen, domain.StatusClosed)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultCaseLimit
	}
	limit = min(limit, maxCaseLimit)
	var before int64
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err == nil {
			before, err = strconv.ParseInt(strings.TrimPrefix(string(b), "seq:"), 10, 64)
		}
		if err != nil || !strings.HasPrefix(string(b), "seq:") || before <= 0 {
			return CasePage{}, queryError("cursor", "is not a cursor this list gave")
		}
	}
	var page CasePage
	snap, err := e.readLive(ctx, []string{CaseList}, func(src *source) error {
		tx := src.tx(CaseList)
		where := []string{"1 = 1"}
		var args []any
		if !q.AllAgencies {
			where = append(where, "c.seq IN (SELECT seq FROM {case_agencies} WHERE agency = ?)")
			args = append(args, q.VisibleTo)
		}
		if q.Agency != "" {
			where = append(where, "c.seq IN (SELECT seq FROM {case_agencies} WHERE agency = ?)")
			args = append(args, q.Agency)
		}
		if q.Status != "" {
			where = append(where, "c.status = ?")
			args = append(args, q.Status)
		}
		if q.CrimeType != "" {
			where = append(where, "c.seq IN (SELECT seq FROM {case_crime_types} WHERE crime_type = ?)")
			args = append(args, q.CrimeType)
		}
		if q.Text != "" {
			where = append(where, "(instr(lower(c.reference), ?) > 0 OR instr(lower(c.title), ?) > 0)")
			t := asciiLower(q.Text)
			args = append(args, t, t)
		}
		if before > 0 {
			where = append(where, "c.seq < ?")
			args = append(args, before)
		}
		args = append(args, limit+1)
		rows, err := tx.query(`SELECT c.seq, c.case_id, c.reference, c.title, c.lead_agency, c.agencies,
			c.crime_types, c.location, c.status, c.version, c.opened_at, c.updated_at FROM {cases} c
			WHERE `+strings.Join(where, " AND ")+` ORDER BY c.seq DESC LIMIT ?`, args...)
		if err != nil {
			return fmt.Errorf("projections: list cases: %w", err)
		}
		defer rows.Close()
		page.Cases = []CaseSummary{}
		var lastSeq int64
		for rows.Next() {
			var c CaseSummary
			var seq int64
			var id, agencies, crimeTypes, opened, updated string
			if err := rows.Scan(&seq, &id, &c.Reference, &c.Title, &c.LeadAgency, &agencies, &crimeTypes,
				&c.Location, &c.Status, &c.Version, &opened, &updated); err != nil {
				return fmt.Errorf("projections: list cases: %w", err)
			}
			if len(page.Cases) == limit {
				page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("seq:" + strconv.FormatInt(lastSeq, 10)))
				break
			}
			var perr error
			c.ID, perr = uuid.Parse(id)
			perr = errors.Join(perr, json.Unmarshal([]byte(agencies), &c.Agencies), json.Unmarshal([]byte(crimeTypes), &c.CrimeTypes))
			c.OpenedAt, err = time.Parse(timeLayout, opened)
			perr = errors.Join(perr, err)
			c.UpdatedAt, err = time.Parse(timeLayout, updated)
			if perr = errors.Join(perr, err); perr != nil {
				return fmt.Errorf("projections: list cases: row %d: %w", seq, perr)
			}
			page.Cases = append(page.Cases, c)
			lastSeq = seq
		}
		return rows.Err()
	})
	if err != nil {
		return CasePage{}, err
	}
	page.Position = uint64(snap.pos)
	return page, nil
}

// asciiLower lower-cases ASCII letters only, as SQLite's lower() does, so
// that the needle and the haystack are folded alike.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
