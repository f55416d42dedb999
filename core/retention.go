package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/projections"
)

// ParseRetention reads a retention table file: one `crime_type,years,group`
// per line, `#` comments and blank lines skipped. Every crime type of
// domain.CrimeTypes appears exactly once; years is a whole number from 1 to
// domain.MaxRetentionYears, counted from the case's closure (or from its
// latest retain decision); group names the rule (a lower-case letter, then
// lower-case letters, digits, '_' or '-'), shown with each case due.
func ParseRetention(r io.Reader) (*domain.RetentionTable, error) {
	recs, err := readListFile(r, "retention", "crime_type", "years", "group")
	if err != nil {
		return nil, err
	}
	rules := make([]domain.RetentionRule, len(recs))
	for i, rec := range recs {
		years, err := strconv.Atoi(rec.fields[1])
		if err != nil {
			return nil, fmt.Errorf("retention: line %d: years %q is not a whole number", rec.line, rec.fields[1])
		}
		rules[i] = domain.RetentionRule{CrimeType: rec.fields[0], Years: years, Group: rec.fields[2]}
	}
	return domain.NewRetentionTable(rules)
}

// LoadRetention reads a retention table file; an empty path is the default
// table (domain.DefaultRetentionRules, after MoPI's groups).
func LoadRetention(path string) (*domain.RetentionTable, error) {
	return loadListFile(path, "retention", domain.DefaultRetention, ParseRetention)
}

// isDisposal reports whether a RetentionReviewed command's data asks for
// disposal (bad data is left for Decide to refuse).
func isDisposal(data []byte) bool {
	var r struct {
		Decision string `json:"decision"`
	}
	return json.Unmarshal(data, &r) == nil && strings.TrimSpace(r.Decision) == domain.DecisionDispose
}

// afterReview finishes a RetentionReviewed that Record logged (err nil) or
// refused: a case disposed of — by this event, a retry of it, or earlier
// (a new dispose is refused as case_disposed) — has every key of the case
// destroyed: the case's own and every person's. Destroying is idempotent,
// so a retry finishes a disposal whose key store did not answer the first
// time; casebookd also destroys them when it next starts (ApplyErasures),
// and no read shows the data meanwhile, since reads judge disposal on the
// log.
func (c *Core) afterReview(ctx context.Context, who Identity, caseID uuid.UUID, res Result, err error) (Result, error) {
	var de *domain.Error
	if err != nil && (!errors.As(err, &de) || de.Code != domain.CodeCaseDisposed) {
		return res, err
	}
	state, lerr := c.writer.load(ctx, caseID)
	if lerr != nil {
		return res, errors.Join(err, lerr)
	}
	d, disposed := state.Disposal()
	if !disposed {
		return res, err
	}
	if c.vault != nil {
		if derr := c.vault.Destroy(ctx, state.KeysOf()...); derr != nil {
			e := domain.Unavailable(derr, time.Second,
				"the disposal is recorded (event %s) but the key store did not answer: retry to destroy the case's keys (casebookd also destroys them when it next starts); no read shows the data meanwhile", d.EventID)
			return Result{}, e
		}
	}
	if err == nil && !res.Duplicate {
		c.logger.Info("case disposed of after a retention review", "case", caseID, "event", res.EventID,
			"keys_destroyed", len(state.KeysOf()), "by", who.Subject)
	}
	return res, err
}

// ReviewQuery selects the cases due for a retention review.
type ReviewQuery struct {
	// Before: cases whose review date is before this date; zero means
	// tomorrow (every case due today or earlier).
	Before time.Time
	Cursor string
	Limit  int
	// MinPosition makes the list read-your-writes (see CaseQuery).
	MinPosition uint64
}

// ReviewDue is one case due for a retention review, as the due list shows
// it: what a data protection officer needs to find the case and decide,
// and nothing of its content (no title, people, intelligence or figures).
type ReviewDue struct {
	CaseID     uuid.UUID `json:"case_id"`
	Reference  string    `json:"reference"`
	LeadAgency string    `json:"lead_agency"`
	CrimeTypes []string  `json:"crime_types"`
	ClosedAt   time.Time `json:"closed_at"`
	// ReviewDue is the review date (YYYY-MM-DD); DueFrom says what set it:
	// "closure" or "retain_decision" (a period of the table from either),
	// or "next_review" (a retain decision's own date).
	ReviewDue string `json:"review_due"`
	DueFrom   string `json:"due_from"`
	// RetentionGroup and RetentionYears are the table's rule that applies
	// (the longest of the case's crime types), when DueFrom is not
	// next_review.
	RetentionGroup string `json:"retention_group"`
	RetentionYears int    `json:"retention_years"`
	// LastReview is the latest review since the closure, if any.
	LastReview *LastReview `json:"last_review,omitempty"`
}

// LastReview is a case's latest retention review since its closure.
type LastReview struct {
	Decision   string    `json:"decision"`
	ReviewedAt time.Time `json:"reviewed_at"`
}

// ReviewPage is a page of the due list, earliest review date first.
type ReviewPage struct {
	Cases      []ReviewDue
	NextCursor string
	Position   uint64
}

// ReviewsDue lists the closed cases of the caller's agency (led or joined)
// whose retention review is due before q.Before under the configured
// retention table (data protection officers).
func (c *Core) ReviewsDue(ctx context.Context, who Identity, q ReviewQuery) (ReviewPage, error) {
	if err := requireRole(who, OpReadReviewsDue); err != nil {
		return ReviewPage{}, err
	}
	if err := c.requireReadModels(); err != nil {
		return ReviewPage{}, err
	}
	if len(q.Cursor) > MaxCursorLength*2 {
		return ReviewPage{}, domain.BadParameter("cursor", "cursor is not a cursor this list gave")
	}
	before := q.Before
	if before.IsZero() {
		before = c.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	}
	years := make([]int, len(domain.CrimeTypes))
	for i, ct := range domain.CrimeTypes {
		years[i] = c.retention.Years(ct)
	}
	if err := c.waitFor(ctx, q.MinPosition, projections.RetentionReviews); err != nil {
		return ReviewPage{}, err
	}
	page, err := c.readModels.ReviewsDue(ctx, projections.ReviewQuery{VisibleTo: who.Agency, Before: before, Years: years,
		Cursor: q.Cursor, Limit: q.Limit})
	if err != nil {
		return ReviewPage{}, readModelError("list the cases due for review", err)
	}
	out := ReviewPage{Cases: make([]ReviewDue, 0, len(page.Cases)), NextCursor: page.NextCursor, Position: page.Position}
	for _, d := range page.Cases {
		r := ReviewDue{CaseID: d.CaseID, Reference: d.Reference, LeadAgency: d.LeadAgency, CrimeTypes: d.CrimeTypes,
			ClosedAt: d.ClosedAt.UTC(), ReviewDue: d.ReviewDue}
		r.RetentionYears, r.RetentionGroup = c.retention.Period(d.CrimeTypes)
		switch {
		case d.NextReviewSet:
			r.DueFrom = "next_review"
		case d.LastDecision == domain.DecisionRetain:
			r.DueFrom = "retain_decision"
		default:
			r.DueFrom = "closure"
		}
		if d.LastDecision != "" && d.LastReviewedAt != nil {
			r.LastReview = &LastReview{Decision: d.LastDecision, ReviewedAt: d.LastReviewedAt.UTC()}
		}
		out.Cases = append(out.Cases, r)
	}
	return out, nil
}
