package core

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/projections"
)

// AccessRecord is an access-log entry as auditors read it: who consulted
// which case, when, how and why (purpose, reference, whether the purpose
// was defaulted), with what outcome, how many identical consultations it
// stands for, and the entry's place in its hash chain.
type AccessRecord = projections.AccessEntry

// AccessQuery is an auditor's question to the access log: the entries of
// one case, or of one person, or both, narrowed by the other filters.
// Empty filters match anything; at least CaseID or Subject is required.
type AccessQuery struct {
	CaseID  uuid.UUID // uuid.Nil: any case
	Subject string    // who consulted (exact, as recorded)
	Agency  string    // their agency (a configured code, any letter case)
	Purpose string    // one of domain.Purposes
	Outcome string    // domain.AccessServed or domain.AccessDenied
	// From (inclusive) and To (exclusive) bound when the consultation
	// happened (the entry's occurred_at).
	From, To *time.Time
	// Cursor continues a previous page (its NextCursor). FromVersion is the
	// older way to page one case's log (the first entry's version); give
	// one or the other.
	Cursor      string
	FromVersion *uint64
	Limit       int
}

// AccessPage is a page of the access log: one case's entries in version
// order (when the query names a case), else one person's in the order they
// consulted (occurred_at, then log position).
type AccessPage struct {
	CaseID  uuid.UUID // the query's case, if any
	Entries []AccessRecord
	// NextCursor continues with the next page; "" on the last.
	NextCursor string
	// NextFromVersion is the next page's from_version (queries naming a
	// case); nil on the last.
	NextFromVersion *uint64
}

// onlyCase reports whether the query asks for one case's whole log, which
// its own stream answers (exact and current, no read model needed).
func (q AccessQuery) onlyCase() bool {
	return q.CaseID != uuid.Nil && q.Subject == "" && q.Agency == "" && q.Purpose == "" && q.Outcome == "" &&
		q.From == nil && q.To == nil
}

// AccessLog answers a question to the access log (auditors): every
// consultation of a case, served or denied, or everything one person
// consulted, narrowed by agency, purpose, outcome and period. A case's
// whole log is read from its stream; anything else from the access-log
// read model, which is indexed by person and by case (one person's entries
// are found without reading the whole log), after waiting until it holds
// every consultation this server recorded.
func (c *Core) AccessLog(ctx context.Context, who Identity, q AccessQuery) (AccessPage, error) {
	if err := requireRole(who, OpReadAccessLog); err != nil {
		return AccessPage{}, err
	}
	pq, err := c.accessQuery(q)
	if err != nil {
		return AccessPage{}, err
	}
	// An unknown case is not found rather than an empty log, so a mistyped
	// id does not pass for a case nobody read.
	if q.CaseID != uuid.Nil {
		if err := c.requireCase(ctx, q.CaseID); err != nil {
			return AccessPage{}, err
		}
	}
	var rows []AccessRecord
	var more bool
	if q.onlyCase() {
		rows, more, err = c.caseAccessLog(ctx, q.CaseID, pq.FromVersion, pq.Limit)
	} else {
		if err := c.requireReadModels(); err != nil {
			return AccessPage{}, err
		}
		if err := c.waitFor(ctx, c.access.lastPosition.Load(), projections.AccessLog); err != nil {
			return AccessPage{}, err
		}
		var page projections.AccessPage
		page, err = c.readModels.AccessEntries(ctx, pq)
		rows, more = page.Entries, page.More
		err = readModelError("access log", err)
	}
	if err != nil {
		return AccessPage{}, err
	}
	out := AccessPage{CaseID: q.CaseID, Entries: rows}
	if out.Entries == nil {
		out.Entries = []AccessRecord{}
	}
	if more && len(rows) > 0 {
		last := rows[len(rows)-1]
		if pq.ByVersion() {
			n := last.Version + 1
			out.NextFromVersion, out.NextCursor = &n, versionCursor(n)
		} else {
			out.NextCursor = markCursor(last.Mark())
		}
	}
	return out, nil
}

// accessQuery checks q and translates it for the read model.
func (c *Core) accessQuery(q AccessQuery) (projections.AccessQuery, error) {
	pq := projections.AccessQuery{CaseID: q.CaseID, Subject: q.Subject, Purpose: q.Purpose, Outcome: q.Outcome,
		From: q.From, To: q.To, Limit: q.Limit}
	if q.CaseID == uuid.Nil && q.Subject == "" {
		return pq, domain.BadParameter("case", "name a case or a subject (or both): the access log answers who consulted a case, or what a person consulted")
	}
	if q.Purpose != "" && !slices.Contains(domain.Purposes, q.Purpose) {
		return pq, domain.BadParameter("purpose", "purpose must be one of %s", strings.Join(domain.Purposes, ", "))
	}
	if q.Outcome != "" && q.Outcome != domain.AccessServed && q.Outcome != domain.AccessDenied {
		return pq, domain.BadParameter("outcome", "outcome must be %s or %s", domain.AccessServed, domain.AccessDenied)
	}
	if n := utf8.RuneCountInString(q.Subject); n > domain.MaxNameLength {
		return pq, domain.BadParameter("subject", "subject must be at most %d characters (no subject is longer)", domain.MaxNameLength)
	}
	if q.Agency != "" {
		code, err := c.agencyFilter(q.Agency)
		if err != nil {
			return pq, err
		}
		pq.Agency = code
	}
	if q.From != nil && q.To != nil && !q.From.Before(*q.To) {
		return pq, domain.BadParameter("to", "to must be after from")
	}
	if q.Limit <= 0 {
		pq.Limit = 100
	}
	pq.Limit = min(pq.Limit, 1000)
	switch {
	case q.Cursor != "" && q.FromVersion != nil:
		return pq, domain.BadParameter("cursor", "give cursor or from_version, not both")
	case q.FromVersion != nil && q.CaseID == uuid.Nil:
		return pq, domain.BadParameter("from_version", "from_version pages one case's log: give case too, or use cursor")
	case q.FromVersion != nil:
		pq.FromVersion = *q.FromVersion
	case q.Cursor != "":
		version, mark, err := parseAccessCursor(q.Cursor)
		switch {
		case err != nil:
			return pq, err
		case pq.ByVersion() && mark == nil:
			pq.FromVersion = version
		case !pq.ByVersion() && mark != nil:
			pq.After = mark
		default:
			return pq, domain.BadParameter("cursor", "the cursor belongs to another kind of access-log query (by case or by subject)")
		}
	}
	return pq, nil
}

// Cursors are opaque to clients: "c:<version>" continues a case's log at
// that version, "s:<occurred_at ns>:<position>" a subject's after that
// entry.
func versionCursor(v uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("c:" + strconv.FormatUint(v, 10)))
}

func markCursor(m projections.AccessMark) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s:" + strconv.FormatInt(m.OccurredAt, 10) + ":" + strconv.FormatUint(m.Position, 10)))
}

func parseAccessCursor(s string) (version uint64, mark *projections.AccessMark, err error) {
	bad := domain.BadParameter("cursor", "not a cursor the access log gave")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, nil, bad
	}
	kind, rest, _ := strings.Cut(string(b), ":")
	switch kind {
	case "c":
		v, err := strconv.ParseUint(rest, 10, 63)
		if err != nil {
			return 0, nil, bad
		}
		return v, nil, nil
	case "s":
		t, p, ok := strings.Cut(rest, ":")
		occurred, err1 := strconv.ParseInt(t, 10, 64)
		pos, err2 := strconv.ParseUint(p, 10, 63)
		if !ok || err1 != nil || err2 != nil {
			return 0, nil, bad
		}
		return 0, &projections.AccessMark{OccurredAt: occurred, Position: pos}, nil
	}
	return 0, nil, bad
}

// requireCase answers not found for a case that does not exist.
func (c *Core) requireCase(ctx context.Context, caseID uuid.UUID) error {
	for _, err := range c.store.ReadStream(ctx, domain.StreamName(caseID), eventstore.ReadStreamOptions{Limit: 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return caseNotFound(caseID)
		}
		if err != nil {
			return storeError("read case "+caseID.String(), err)
		}
	}
	return nil
}

// caseAccessLog reads a page of one case's access log from its stream.
func (c *Core) caseAccessLog(ctx context.Context, caseID uuid.UUID, fromVersion uint64, limit int) ([]AccessRecord, bool, error) {
	entries := []AccessRecord{}
	stream := domain.AccessStreamName(caseID)
	for rec, err := range c.store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: fromVersion, Limit: uint64(limit) + 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			break // the case was never consulted
		}
		if err != nil {
			return nil, false, storeError("read "+stream, err)
		}
		if len(entries) == limit {
			return entries, true, nil
		}
		r, err := projections.DecodeAccessEntry(rec)
		if err != nil {
			return nil, false, &domain.Error{Kind: domain.KindInternal, Code: domain.CodeCorruptRecord, Cause: err,
				Message: fmt.Sprintf("entry %d of the access log of case %s cannot be read; verify the case", rec.Revision, caseID)}
		}
		entries = append(entries, r)
	}
	return entries, false, nil
}
