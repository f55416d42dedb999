package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// AccessRecord is an access-log entry as auditors read it: who consulted
// which case, when, how and why, with what outcome, and the entry's place
// in its hash chain.
type AccessRecord struct {
	CaseID   uuid.UUID `json:"case_id"`
	Version  uint64    `json:"version"` // the entry's place in the case's access log
	Position uint64    `json:"position"`
	Type     string    `json:"type"` // CaseAccessed; CaseRead for first-version entries

	Subject string `json:"subject"`
	Role    string `json:"role"`
	Agency  string `json:"agency"`

	Operation        string     `json:"operation"`
	Outcome          string     `json:"outcome"`
	VersionRead      *uint64    `json:"version_read"`
	FromVersion      *uint64    `json:"from_version,omitempty"`
	AtVersion        *uint64    `json:"at_version,omitempty"`
	AsOf             *time.Time `json:"as_of,omitempty"`
	Purpose          string     `json:"purpose,omitempty"`
	PurposeReference string     `json:"purpose_reference,omitempty"`
	PurposeDefaulted bool       `json:"purpose_defaulted"`
	Count            int        `json:"count"`
	// OccurredAt is the (first) consultation, LastAt the last one merged
	// into the entry, RecordedAt when the entry was written.
	OccurredAt time.Time `json:"occurred_at"`
	LastAt     time.Time `json:"last_at"`
	RecordedAt time.Time `json:"recorded_at"`
	// At is RecordedAt under the name the first version used; deprecated.
	At        time.Time `json:"at"`
	Route     string    `json:"route,omitempty"` // first-version entries only
	RequestID string    `json:"request_id,omitempty"`
	PrevHash  string    `json:"prev_hash"`
	Hash      string    `json:"hash"`
}

// AccessPage is a page of a case's access log.
type AccessPage struct {
	CaseID  uuid.UUID
	Entries []AccessRecord
	// NextFromVersion is where the next page starts; nil on the last.
	NextFromVersion *uint64
}

// AccessLog returns a page of a case's access log (auditors): every
// consultation of the case, served or denied.
func (c *Core) AccessLog(ctx context.Context, who Identity, caseID uuid.UUID, fromVersion uint64, limit int) (AccessPage, error) {
	if err := requireRole(who, OpReadAccessLog); err != nil {
		return AccessPage{}, err
	}
	// An unknown case is not found rather than an empty log, so a mistyped
	// id does not pass for a case nobody read.
	for _, err := range c.store.ReadStream(ctx, domain.StreamName(caseID), eventstore.ReadStreamOptions{Limit: 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return AccessPage{}, caseNotFound(caseID)
		}
		if err != nil {
			return AccessPage{}, storeError("read case "+caseID.String(), err)
		}
	}
	page := AccessPage{CaseID: caseID, Entries: []AccessRecord{}}
	stream := domain.AccessStreamName(caseID)
	for rec, err := range c.store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: fromVersion, Limit: uint64(limit) + 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			break // the case was never consulted
		}
		if err != nil {
			return AccessPage{}, storeError("read "+stream, err)
		}
		if len(page.Entries) == limit {
			n := rec.Revision
			page.NextFromVersion = &n
			break
		}
		r, err := accessRecordOf(rec)
		if err != nil {
			return AccessPage{}, &domain.Error{Kind: domain.KindInternal, Code: domain.CodeCorruptRecord, Cause: err,
				Message: fmt.Sprintf("entry %d of the access log of case %s cannot be read; verify the case", rec.Revision, caseID)}
		}
		page.Entries = append(page.Entries, r)
	}
	return page, nil
}

// accessRecordOf reads a stored access-log entry.
func accessRecordOf(rec eventstore.RecordedEvent) (AccessRecord, error) {
	caseID, _ := domain.CaseIDFromAccessStream(rec.Stream)
	r := AccessRecord{CaseID: caseID, Version: rec.Revision, Position: uint64(rec.Position), Type: rec.Type}
	if rec.Type == domain.TypeCaseRead {
		var old domain.LegacyCaseRead
		if err := json.Unmarshal(rec.Data, &old); err != nil {
			return AccessRecord{}, fmt.Errorf("%s version %d: %w", rec.Stream, rec.Revision, err)
		}
		var meta struct {
			RequestID string `json:"request_id"`
		}
		_ = json.Unmarshal(rec.Metadata, &meta)
		r.Subject, r.Role, r.Agency, r.Route, r.RequestID = old.Subject, old.Role, old.Agency, old.Route, meta.RequestID
		r.Operation, r.Outcome, r.Count = legacyOperation(old.Route), domain.AccessServed, 1
		r.OccurredAt, r.LastAt, r.RecordedAt, r.At = old.At.UTC(), old.At.UTC(), old.At.UTC(), old.At.UTC()
		return r, nil
	}
	m, err := domain.DecodeMetadata(rec.Metadata)
	if err != nil {
		return AccessRecord{}, fmt.Errorf("%s version %d metadata: %w", rec.Stream, rec.Revision, err)
	}
	a, err := domain.DecodeCaseAccessed(rec.Data)
	if err != nil {
		return AccessRecord{}, fmt.Errorf("%s version %d: %w", rec.Stream, rec.Revision, err)
	}
	r.Subject, r.Role, r.Agency = m.Actor.Subject, m.Actor.Role, m.Actor.Agency
	r.Operation, r.Outcome, r.VersionRead, r.FromVersion, r.AtVersion, r.AsOf = a.Operation, a.Outcome, a.VersionRead, a.FromVersion, a.AtVersion, a.AsOf
	r.Purpose, r.PurposeReference, r.PurposeDefaulted, r.Count = a.Purpose, a.PurposeReference, a.PurposeDefaulted, a.Count
	r.OccurredAt, r.LastAt, r.RecordedAt, r.At = m.OccurredAt.UTC(), a.LastAt.UTC(), m.RecordedAt.UTC(), m.RecordedAt.UTC()
	r.RequestID, r.PrevHash, r.Hash = a.RequestID, m.PrevHash, m.Hash
	return r, nil
}

// legacyOperation names the operation of a first-version entry's route.
func legacyOperation(route string) string {
	switch {
	case strings.HasSuffix(route, "/verify"):
		return domain.AccessVerifyCase
	case strings.HasSuffix(route, "/events/live"):
		return domain.AccessLiveLog
	case strings.HasSuffix(route, "{id}/events"):
		return domain.AccessReadHistory
	case strings.HasSuffix(route, "/v1/events"):
		return domain.AccessReadLog
	}
	return domain.AccessReadCase
}
