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
)

// RetentionReviews is the read model behind GET /v1/reviews/due.
const RetentionReviews = "retention_reviews"

// reviewsModel keeps, per case, what its retention review date is made of
// (see domain.Case.ReviewDue): the date its period runs from — its closure,
// or its latest retain decision without a next_review — or the explicit
// next_review of a retain decision, and its crime types as a bit mask. It
// does not store the review date itself: that depends on the retention
// table (--retention), which the query brings, so that a change of table
// (or a CLI opening the same database with the default one) never makes
// the read model wrong. Its tables, per generation:
//
//	{reviews}         one row per case; seq (the rowid) is the position of
//	                  its CaseOpened. anchor and next_review are set only
//	                  while the case waits for a review (closed, not
//	                  disposed of), each under a partial index: the due
//	                  list is two index range scans.
//	{review_agencies} (agency, seq): the lead agency and every agency that
//	                  joined, for need-to-know.
//
// Bit i of crime_mask is domain.CrimeTypes[i]; that list only grows at its
// end (a reordering would need a new version of this model).
type reviewsModel struct{}

func newReviewsModel() *reviewsModel { return &reviewsModel{} }

func (reviewsModel) name() string      { return RetentionReviews }
func (reviewsModel) version() int      { return 1 }
func (reviewsModel) readableFrom() int { return 1 }
func (reviewsModel) tables() []string  { return []string{"reviews", "review_agencies"} }
func (reviewsModel) eventTypes() []string {
	return []string{domain.TypeCaseOpened, domain.TypeAgencyJoined, domain.TypeCaseClosed, domain.TypeCaseReopened, domain.TypeRetentionReviewed}
}

func (reviewsModel) schema() []string {
	return []string{
		`CREATE TABLE {reviews} (
			seq              INTEGER PRIMARY KEY,
			case_id          TEXT NOT NULL,
			reference        TEXT NOT NULL,
			lead_agency      TEXT NOT NULL,
			crime_types      TEXT NOT NULL,
			crime_mask       INTEGER NOT NULL,
			closed_at        TEXT,
			anchor           TEXT,
			next_review      TEXT,
			last_decision    TEXT,
			last_reviewed_at TEXT,
			disposed_at      TEXT)`,
		`CREATE UNIQUE INDEX {reviews}_id ON {reviews} (case_id)`,
		`CREATE INDEX {reviews}_anchor ON {reviews} (anchor, seq) WHERE anchor IS NOT NULL`,
		`CREATE INDEX {reviews}_next ON {reviews} (next_review, seq) WHERE next_review IS NOT NULL`,
		`CREATE TABLE {review_agencies} (
			agency TEXT NOT NULL,
			seq    INTEGER NOT NULL,
			PRIMARY KEY (agency, seq)
		) WITHOUT ROWID`,
	}
}

// crimeMask is the bit mask of crime types.
func crimeMask(crimeTypes []string) int64 {
	var m int64
	for _, ct := range crimeTypes {
		if i := slices.Index(domain.CrimeTypes, ct); i >= 0 {
			m |= 1 << i
		}
	}
	return m
}

// dateOf is the UTC date of t, as the due list compares dates.
func dateOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func (m reviewsModel) apply(tx *dbtx, events []entry) error {
	for i := range events {
		ev := &events[i]
		if ev.envErr != nil {
			return eventError(&ev.RecordedEvent, ev.envErr)
		}
		id, ok := domain.CaseIDFromStream(ev.Stream)
		if !ok {
			return eventError(&ev.RecordedEvent, fmt.Errorf("stream %q is not a case stream", ev.Stream))
		}
		caseID := id.String()
		var res sql.Result
		var err error
		switch ev.Type {
		case domain.TypeCaseOpened:
			o, derr := dataAs[domain.CaseOpened](ev)
			if derr != nil {
				return eventError(&ev.RecordedEvent, derr)
			}
			pos, perr := sqlPos(ev.Position)
			if perr != nil {
				return eventError(&ev.RecordedEvent, perr)
			}
			cts, _ := json.Marshal(o.CrimeTypes)
			res, err = tx.exec(`INSERT INTO {reviews} (seq, case_id, reference, lead_agency, crime_types, crime_mask)
				VALUES (?, ?, ?, ?, ?, ?)`, pos, caseID, o.Reference, o.LeadAgency, string(cts), crimeMask(o.CrimeTypes))
			if err == nil {
				_, err = tx.exec(`INSERT OR IGNORE INTO {review_agencies} (agency, seq) VALUES (?, ?)`, o.LeadAgency, pos)
			}
		case domain.TypeAgencyJoined:
			j, derr := dataAs[domain.AgencyJoined](ev)
			if derr != nil {
				return eventError(&ev.RecordedEvent, derr)
			}
			var n int
			if err = tx.scanRow(`SELECT count(*) FROM {reviews} WHERE case_id = ?`, []any{caseID}, &n); err == nil && n != 1 {
				return eventError(&ev.RecordedEvent, errors.New("AgencyJoined before CaseOpened"))
			}
			if err == nil {
				_, err = tx.exec(`INSERT OR IGNORE INTO {review_agencies} (agency, seq)
					SELECT ?, seq FROM {reviews} WHERE case_id = ?`, j.Agency, caseID)
			}
		case domain.TypeCaseClosed:
			// The retention clock starts at each closure.
			res, err = tx.exec(`UPDATE {reviews} SET closed_at = ?, anchor = ?, next_review = NULL,
				last_decision = NULL, last_reviewed_at = NULL WHERE case_id = ?`,
				ev.env.OccurredAt.Format(timeLayout), dateOf(ev.env.OccurredAt), caseID)
		case domain.TypeCaseReopened:
			res, err = tx.exec(`UPDATE {reviews} SET closed_at = NULL, anchor = NULL, next_review = NULL,
				last_decision = NULL, last_reviewed_at = NULL WHERE case_id = ?`, caseID)
		case domain.TypeRetentionReviewed:
			r, derr := dataAs[domain.RetentionReviewed](ev)
			if derr != nil {
				return eventError(&ev.RecordedEvent, derr)
			}
			at := ev.env.OccurredAt.Format(timeLayout)
			switch {
			case r.Decision == domain.DecisionDispose:
				res, err = tx.exec(`UPDATE {reviews} SET anchor = NULL, next_review = NULL, last_decision = ?,
					last_reviewed_at = ?, disposed_at = ? WHERE case_id = ?`,
					r.Decision, at, ev.env.RecordedAt.Format(timeLayout), caseID)
			case r.NextReview != "":
				res, err = tx.exec(`UPDATE {reviews} SET anchor = NULL, next_review = ?, last_decision = ?,
					last_reviewed_at = ? WHERE case_id = ?`, r.NextReview, r.Decision, at, caseID)
			default: // retained for another period, from the decision
				res, err = tx.exec(`UPDATE {reviews} SET anchor = ?, next_review = NULL, last_decision = ?,
					last_reviewed_at = ? WHERE case_id = ?`, dateOf(ev.env.OccurredAt), r.Decision, at, caseID)
			}
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("projections: %s: %s of case %s: %w", RetentionReviews, ev.Type, caseID, err)
		}
		if res == nil || ev.Type == domain.TypeCaseOpened {
			continue
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("projections: %s: %w", RetentionReviews, err)
		} else if n != 1 {
			return eventError(&ev.RecordedEvent, fmt.Errorf("%s before CaseOpened", ev.Type))
		}
	}
	return nil
}

// ReviewQuery selects the cases due for a retention review.
type ReviewQuery struct {
	// VisibleTo is the agency asking: only cases it leads or has joined.
	VisibleTo string
	// Before: cases whose review date is before this date (UTC, its time
	// of day ignored).
	Before time.Time
	// Years is the retention table: Years[i] is the period, in whole
	// years, of domain.CrimeTypes[i] (a case takes its crime types'
	// longest). Every entry must be from 1 to domain.MaxRetentionYears.
	Years []int
	// Cursor continues a previous page (its NextCursor); Limit caps the
	// page (default 50, at most 1000).
	Cursor string
	Limit  int
}

// ReviewDue is one case due for a retention review: what a data protection
// officer needs to find it and decide — never its title, people or
// intelligence.
type ReviewDue struct {
	CaseID     uuid.UUID `json:"case_id"`
	Reference  string    `json:"reference"`
	LeadAgency string    `json:"lead_agency"`
	CrimeTypes []string  `json:"crime_types"`
	ClosedAt   time.Time `json:"closed_at"`
	// ReviewDue is the review date (YYYY-MM-DD).
	ReviewDue string `json:"review_due"`
	// NextReviewSet: the date is a retain decision's next_review, not a
	// period of the table.
	NextReviewSet  bool       `json:"-"`
	LastDecision   string     `json:"-"`
	LastReviewedAt *time.Time `json:"-"`
}

// ReviewPage is a page of the due list, earliest review date first (then
// the oldest case). NextCursor is empty on the last page. Position is the
// log position the list reflects.
type ReviewPage struct {
	Cases      []ReviewDue
	NextCursor string
	Position   uint64
}

// ReviewsDue answers a due-list query from the retention_reviews read
// model. Bad parameters are *QueryError.
func (e *Engine) ReviewsDue(ctx context.Context, q ReviewQuery) (ReviewPage, error) {
	if q.VisibleTo == "" {
		return ReviewPage{}, queryError("agency", "a due list is for an agency")
	}
	if len(q.Years) != len(domain.CrimeTypes) {
		return ReviewPage{}, queryError("retention", "want a period for each of the %d crime types", len(domain.CrimeTypes))
	}
	minYears := 0
	var yearsExpr strings.Builder
	yearsExpr.WriteString("max(0")
	for i, y := range q.Years {
		if y < 1 || y > domain.MaxRetentionYears {
			return ReviewPage{}, queryError("retention", "%s: %d years", domain.CrimeTypes[i], y)
		}
		if minYears == 0 || y < minYears {
			minYears = y
		}
		// Whole numbers checked above: written into the SQL as they are.
		fmt.Fprintf(&yearsExpr, ", CASE WHEN r.crime_mask & %d THEN %d ELSE 0 END", int64(1)<<i, y)
	}
	yearsExpr.WriteString(")")
	limit := q.Limit
	if limit <= 0 {
		limit = defaultCaseLimit
	}
	limit = min(limit, maxCaseLimit)
	before := dateOf(q.Before)
	// A case waiting on its period is due only if its anchor is older
	// than the shortest period: a range of the anchor index (a day's
	// slack for 29 February), the exact date then computed per row.
	cutoff := dateOf(q.Before.AddDate(-minYears, 0, 1))
	var afterDue string
	var afterSeq int64
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		ok := err == nil
		if ok {
			var seq string
			afterDue, seq, ok = strings.Cut(strings.TrimPrefix(string(b), "due:"), ":")
			afterSeq, err = strconv.ParseInt(seq, 10, 64)
			_, derr := time.Parse(time.DateOnly, afterDue)
			ok = ok && err == nil && derr == nil && strings.HasPrefix(string(b), "due:") && afterSeq > 0
		}
		if !ok {
			return ReviewPage{}, queryError("cursor", "is not a cursor this list gave")
		}
	}
	due := `CASE WHEN r.next_review IS NOT NULL THEN r.next_review ELSE date(r.anchor, '+' || ` + yearsExpr.String() + ` || ' years') END`
	var page ReviewPage
	snap, err := e.readLive(ctx, []string{RetentionReviews}, func(src *source) error {
		tx := src.tx(RetentionReviews)
		where := []string{
			"((r.next_review IS NOT NULL AND r.next_review < ?) OR (r.anchor IS NOT NULL AND r.anchor < ?))",
			"r.seq IN (SELECT seq FROM {review_agencies} WHERE agency = ?)",
			"due < ?",
		}
		args := []any{before, cutoff, q.VisibleTo, before}
		if q.Cursor != "" {
			where = append(where, "(due > ? OR (due = ? AND r.seq > ?))")
			args = append(args, afterDue, afterDue, afterSeq)
		}
		args = append(args, limit+1)
		rows, err := tx.query(`SELECT r.seq, r.case_id, r.reference, r.lead_agency, r.crime_types, r.closed_at,
			r.next_review IS NOT NULL, r.last_decision, r.last_reviewed_at, `+due+` AS due
			FROM {reviews} r WHERE `+strings.Join(where, " AND ")+` ORDER BY due, r.seq LIMIT ?`, args...)
		if err != nil {
			return fmt.Errorf("projections: reviews due: %w", err)
		}
		defer rows.Close()
		page.Cases = []ReviewDue{}
		var last ReviewDue
		var lastSeq int64
		for rows.Next() {
			var d ReviewDue
			var seq int64
			var id, cts, closed string
			var decision, reviewed sql.NullString
			if err := rows.Scan(&seq, &id, &d.Reference, &d.LeadAgency, &cts, &closed, &d.NextReviewSet,
				&decision, &reviewed, &d.ReviewDue); err != nil {
				return fmt.Errorf("projections: reviews due: %w", err)
			}
			if len(page.Cases) == limit {
				page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("due:" + last.ReviewDue + ":" + strconv.FormatInt(lastSeq, 10)))
				break
			}
			var perr error
			d.CaseID, perr = uuid.Parse(id)
			perr = errors.Join(perr, json.Unmarshal([]byte(cts), &d.CrimeTypes))
			d.ClosedAt, err = time.Parse(timeLayout, closed)
			perr = errors.Join(perr, err)
			d.LastDecision = decision.String
			if reviewed.Valid {
				t, err := time.Parse(timeLayout, reviewed.String)
				perr = errors.Join(perr, err)
				d.LastReviewedAt = &t
			}
			if perr != nil {
				return fmt.Errorf("projections: reviews due: row %d: %w", seq, perr)
			}
			page.Cases = append(page.Cases, d)
			last, lastSeq = d, seq
		}
		return rows.Err()
	})
	if err != nil {
		return ReviewPage{}, err
	}
	page.Position = uint64(snap.pos)
	return page, nil
}
