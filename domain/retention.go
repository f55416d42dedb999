package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Retention reviews (Management of Police Information, MoPI).
//
// A closed case is reviewed when its retention period, counted from its
// closure, runs out: the period comes from its crime types by a retention
// table (RetentionTable; the longest period of its crime types applies). A
// data protection officer of an agency that leads or joined the case then
// records RetentionReviewed: retain (until next_review, or for another
// period from the decision) or dispose. Disposal destroys the case's key
// and every person's key of the case — all its personal data and
// intelligence text are gone — while its events, chain and figures stay.
// Reopening a case stops its clock; closing it again starts a new one.

// TypeRetentionReviewed is the type of a retention review's decision.
const TypeRetentionReviewed = "RetentionReviewed"

// Retention decisions.
const (
	DecisionRetain  = "retain"
	DecisionDispose = "dispose"
)

// RetentionDecisions lists the decisions, for validation and the API.
var RetentionDecisions = []string{DecisionRetain, DecisionDispose}

// MaxRetentionYears bounds a retention period and a next_review (from the
// decision): longer than a life is not a review date.
const MaxRetentionYears = 100

// RetentionReviewed is the decision of a retention review of a closed case.
type RetentionReviewed struct {
	Decision string `json:"decision"` // retain or dispose
	// Reason is the lawful ground; like an erasure's, it must not name
	// anyone: it is kept.
	Reason string `json:"reason"`
	// NextReview (YYYY-MM-DD, only with retain) is when to review again;
	// absent, the case's period runs again from the decision.
	NextReview string `json:"next_review,omitempty"`
}

func (RetentionReviewed) EventType() string { return TypeRetentionReviewed }

// retentionReviewed checks a decision's data. now is the clock.
func (v *validator) retentionReviewed(e RetentionReviewed, now time.Time) {
	v.oneOf("decision", e.Decision, RetentionDecisions)
	v.text("reason", e.Reason, MaxReasonLength, true)
	if e.NextReview == "" {
		return
	}
	if e.Decision != DecisionRetain {
		v.fail("next_review", "is only given with the decision %s (a disposed case is never reviewed again)", DecisionRetain)
		return
	}
	d, err := time.Parse(time.DateOnly, e.NextReview)
	today := now.UTC().Truncate(24 * time.Hour)
	switch {
	case err != nil:
		v.fail("next_review", "must be a date written YYYY-MM-DD")
	case !d.After(today):
		v.fail("next_review", "must be after today (%s)", today.Format(time.DateOnly))
	case d.After(today.AddDate(MaxRetentionYears, 0, 0)):
		v.fail("next_review", "must be at most %d years ahead", MaxRetentionYears)
	}
}

// NextReviewTime is the explicit next review of a retain decision, as a
// time (the start of that day, UTC); ok is false when there is none.
func (e RetentionReviewed) NextReviewTime() (time.Time, bool) {
	if e.NextReview == "" {
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, e.NextReview)
	return d, err == nil
}

// checkRetentionReviewed applies the rules of a decision that depend on
// the case: only a closed case is reviewed, a disposed one never again, and
// disposal destroys keys, so no personal data of the case may be stored in
// plain text (written before encryption).
func (c *Case) checkRetentionReviewed(e RetentionReviewed) *Error {
	if c.disposal != nil {
		return invalid(CodeCaseDisposed, "", "the case was disposed of (at %s): its retention was decided for good",
			c.disposal.At.Format(time.RFC3339))
	}
	if c.Status != StatusClosed {
		return invalid(CodeCaseNotClosed, "", "the case is open: a retention review decides on a closed case (its period runs from its closure)")
	}
	if e.Decision == DecisionDispose && c.holdsPlaintext() {
		return invalid(CodePersonalDataUnsealed, "decision",
			"some personal data of this case was recorded before encryption and is stored in plain text: "+
				"it cannot be disposed of by destroying keys until the store is re-sealed (casebook migrate --encrypt)")
	}
	return nil
}

// holdsPlaintext reports whether the case's log holds personal data in
// plain text (recorded before encryption).
func (c *Case) holdsPlaintext() bool {
	if c.casePlain {
		return true
	}
	for _, p := range c.people {
		if p.plain {
			return true
		}
	}
	return false
}

// review folds a RetentionReviewed.
func (c *Case) review(e RetentionReviewed, ent Entry) {
	m := ent.Metadata
	r := &Review{Decision: e.Decision, ReviewedAt: m.OccurredAt.UTC(), Version: ent.Version}
	if t, ok := e.NextReviewTime(); ok {
		r.NextReview = &t
	}
	c.lastReview = r
	if e.Decision != DecisionDispose || c.disposal != nil {
		return
	}
	c.disposal = &Erasure{EventID: ent.ID, Version: ent.Version, Position: ent.Position, At: m.RecordedAt.UTC()}
	at := c.disposal.At
	c.DisposedAt = &at
	for i := range c.Suspects {
		if c.Suspects[i].ErasedAt == nil {
			c.Suspects[i].scrub(&at)
		}
	}
}

// Review is the latest retention review of a case since its closure.
type Review struct {
	Decision   string
	ReviewedAt time.Time  // the decision's occurred_at
	NextReview *time.Time // explicit, with retain
	Version    uint64
}

// LastReview is the latest retention review since the case was last
// closed, if any.
func (c *Case) LastReview() (Review, bool) {
	if c.lastReview == nil {
		return Review{}, false
	}
	return *c.lastReview, true
}

// Disposal is the disposal of the case (its RetentionReviewed dispose), if
// any: when every key of the case was destroyed.
func (c *Case) Disposal() (Erasure, bool) {
	if c.disposal == nil {
		return Erasure{}, false
	}
	return *c.disposal, true
}

// ReviewDue is when the case is due for its retention review under the
// table: its explicit next_review, else its period from the latest retain
// decision or, with none since, from its closure. ok is false while the
// case is open and once it is disposed of.
func (c *Case) ReviewDue(t *RetentionTable) (time.Time, bool) {
	if c.Status != StatusClosed || c.ClosedAt == nil || c.disposal != nil {
		return time.Time{}, false
	}
	from := *c.ClosedAt
	if r := c.lastReview; r != nil {
		if r.NextReview != nil {
			return *r.NextReview, true
		}
		from = r.ReviewedAt
	}
	years, _ := t.Period(c.CrimeTypes)
	return from.UTC().AddDate(years, 0, 0), true
}

// RetentionRule is one row of a retention table: the period of a crime
// type, and the group (after MoPI's) it belongs to.
type RetentionRule struct {
	CrimeType string
	Years     int
	Group     string
}

// RetentionTable gives each crime type its retention period before review.
// Every crime type has one; a case takes the longest of its crime types'.
type RetentionTable struct {
	rules map[string]RetentionRule
}

// retentionGroupPattern is what a group's name may look like.
var retentionGroupPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// NewRetentionTable checks a table: every crime type exactly once, each
// with 1 to MaxRetentionYears years and a group name (a lower-case letter,
// then lower-case letters, digits, '_' or '-').
func NewRetentionTable(rules []RetentionRule) (*RetentionTable, error) {
	t := &RetentionTable{rules: map[string]RetentionRule{}}
	for _, r := range rules {
		r.CrimeType, r.Group = strings.TrimSpace(r.CrimeType), strings.TrimSpace(r.Group)
		switch {
		case !slices.Contains(CrimeTypes, r.CrimeType):
			return nil, fmt.Errorf("retention: %q is not a crime type (one of %s)", truncateForMessage(r.CrimeType), strings.Join(CrimeTypes, ", "))
		case r.Years < 1 || r.Years > MaxRetentionYears:
			return nil, fmt.Errorf("retention: %s: %d years: want 1 to %d", r.CrimeType, r.Years, MaxRetentionYears)
		case !retentionGroupPattern.MatchString(r.Group):
			return nil, fmt.Errorf("retention: %s: group %q: want lower-case letters, digits, '_' or '-'", r.CrimeType, truncateForMessage(r.Group))
		}
		if _, dup := t.rules[r.CrimeType]; dup {
			return nil, fmt.Errorf("retention: %s is listed twice", r.CrimeType)
		}
		t.rules[r.CrimeType] = r
	}
	for _, ct := range CrimeTypes {
		if _, ok := t.rules[ct]; !ok {
			return nil, fmt.Errorf("retention: %s has no period (every crime type needs one)", ct)
		}
	}
	return t, nil
}

// Retention groups of the default table, after the College of Policing's
// MoPI groups (Authorised Professional Practice, "Information management:
// retention, review and disposal").
const (
	// RetentionSerious: MoPI group 2, other sexual, violent or serious
	// offences — here the serious organised crimes of the Serious Crime Act
	// 2007, Schedule 1 (drug, people and arms trafficking, money
	// laundering): reviewed 10 years after closure.
	RetentionSerious = "serious"
	// RetentionOther: MoPI group 3, all other offences: reviewed 6 years
	// after closure.
	RetentionOther = "other"
)

// DefaultRetentionRules is the retention table a deployment uses unless
// configured otherwise. (MoPI's group 1, certain public protection matters,
// kept until the subject is 100, has no crime type of Casebook's; a
// deployment that needs it names it in its own table.) No period exceeds
// 75 years.
var DefaultRetentionRules = []RetentionRule{
	{CrimePeopleSmuggling, 10, RetentionSerious},
	{CrimeClassADrugs, 10, RetentionSerious},
	{CrimeCannabis, 10, RetentionSerious},
	{CrimeFirearms, 10, RetentionSerious},
	{CrimeMoneyLaundering, 10, RetentionSerious},
	{CrimeTobacco, 6, RetentionOther},
	{CrimeCash, 6, RetentionOther},
	{CrimeOther, 6, RetentionOther},
}

// DefaultRetention is DefaultRetentionRules as a table.
func DefaultRetention() *RetentionTable {
	t, err := NewRetentionTable(DefaultRetentionRules)
	if err != nil {
		panic(err) // the rules above are valid; a test checks it
	}
	return t
}

// Period is the retention period, in years, of a case with these crime
// types (the longest of theirs), and its group. A crime type the table
// does not know (none in a valid case) counts as other.
func (t *RetentionTable) Period(crimeTypes []string) (years int, group string) {
	for _, ct := range crimeTypes {
		r, ok := t.rules[ct]
		if !ok {
			r = t.rules[CrimeOther]
		}
		if r.Years > years {
			years, group = r.Years, r.Group
		}
	}
	if years == 0 { // no crime type (none in a valid case): the other offences' period
		r := t.rules[CrimeOther]
		years, group = r.Years, r.Group
	}
	return years, group
}

// Years is the period of one crime type.
func (t *RetentionTable) Years(crimeType string) int {
	years, _ := t.Period([]string{crimeType})
	return years
}

// Rules lists the table's rules in the order of CrimeTypes.
func (t *RetentionTable) Rules() []RetentionRule {
	out := make([]RetentionRule, 0, len(CrimeTypes))
	for _, ct := range CrimeTypes {
		out = append(out, t.rules[ct])
	}
	return out
}

// KeysOf are the keys a disposal of the case destroys: the case's own and
// every person's whose personal data the log holds.
func (c *Case) KeysOf() []KeyRef {
	refs := []KeyRef{CaseKey(c.ID)}
	for _, p := range c.People() {
		refs = append(refs, PersonKey(c.ID, p))
	}
	return refs
}
