package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The access log: every consultation of a case — its record, its history,
// its verification, a page of the global log or the live stream that shows
// its events — is an entry in a stream of its own, "access-<case uuid>",
// never in the case's stream (whose versions are the case's facts alone).
// Entries carry the same envelope as case events (actor, times, prev_hash,
// hash) and are chained by the same hash, so an entry changed, removed from
// the middle or moved is found by the same verifier.

// AccessStreamPrefix starts the name of every access-log stream.
const AccessStreamPrefix = "access-"

// AccessStreamName is the access-log stream of a case.
func AccessStreamName(caseID uuid.UUID) string { return AccessStreamPrefix + caseID.String() }

// CaseIDFromAccessStream parses "access-<uuid>".
func CaseIDFromAccessStream(stream string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(stream, AccessStreamPrefix)
	if !ok {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(rest)
	if err != nil || id.String() != rest {
		return uuid.Nil, false
	}
	return id, true
}

// Access-log event types. TypeCaseRead is the first version's unchained
// entry (kept readable); every entry written now is TypeCaseAccessed.
const (
	TypeCaseAccessed = "CaseAccessed"
	TypeCaseRead     = "CaseRead"
)

// AccessSchemaVersion is the schema version of CaseAccessed entries.
const AccessSchemaVersion = 1

// Operations recorded in the access log.
const (
	AccessReadCase    = "read_case"    // GET /v1/cases/{id}, now or at a version or time
	AccessReadHistory = "read_history" // a page of the case's history
	AccessVerifyCase  = "verify_case"  // the case's hash chains checked
	AccessReadLog     = "read_log"     // a page of the global log showing the case's events
	AccessLiveLog     = "live_log"     // the live stream showing the case's events
	AccessReadEvent   = "read_event"   // one of the case's events, found by its id
	AccessReadPeople  = "read_people"  // the people whose personal data the case holds (data protection officers)
)

// AccessOperations lists the operations, for validation and documentation.
var AccessOperations = []string{AccessReadCase, AccessReadHistory, AccessVerifyCase, AccessReadLog, AccessLiveLog, AccessReadEvent, AccessReadPeople}

// Outcomes of a consultation.
const (
	AccessServed = "served"
	AccessDenied = "denied" // the case exists but the caller may not see it
)

// Purposes of a consultation (Data Protection Act 2018 s.62: the log must
// allow the justification of a consultation to be established).
const (
	PurposeInvestigation = "investigation"
	PurposeSupervision   = "supervision"
	PurposeAudit         = "audit"
	PurposeDisclosure    = "disclosure"
	PurposeLegal         = "legal"
	PurposeSubjectAccess = "subject_access"
)

// Purposes lists the purpose codes.
var Purposes = []string{PurposeInvestigation, PurposeSupervision, PurposeAudit, PurposeDisclosure, PurposeLegal, PurposeSubjectAccess}

// MaxPurposeReferenceLength bounds a purpose reference, in characters.
const MaxPurposeReferenceLength = 200

// CaseAccessed is the data of an access-log entry. Who consulted the case is
// the entry's actor, when is its occurred_at (the first read merged into
// it) and recorded_at; this says what was consulted, how, why, and with what
// outcome.
type CaseAccessed struct {
	Operation string    `json:"operation"`
	CaseID    uuid.UUID `json:"case_id"`
	Outcome   string    `json:"outcome"`
	// VersionRead is the latest case version the caller was shown (nil when
	// nothing was shown: a denied attempt). FromVersion is the earliest, for
	// operations that show a range (a history or log page).
	VersionRead *uint64 `json:"version_read"`
	FromVersion *uint64 `json:"from_version,omitempty"`
	// Time travel: the version or the as-of time the caller asked for.
	AtVersion *uint64    `json:"at_version,omitempty"`
	AsOf      *time.Time `json:"as_of,omitempty"`
	// Purpose is the stated reason for the consultation and its reference
	// (a disclosure request number, an operation name); PurposeDefaulted
	// says the caller stated none and the purpose was taken from the role.
	Purpose          string `json:"purpose,omitempty"`
	PurposeReference string `json:"purpose_reference,omitempty"`
	PurposeDefaulted bool   `json:"purpose_defaulted,omitempty"`
	// Count is how many identical consultations (same caller, case,
	// operation, version, time travel, purpose and outcome) this entry
	// stands for; LastAt is when the last of them happened.
	Count     int       `json:"count"`
	LastAt    time.Time `json:"last_at"`
	RequestID string    `json:"request_id,omitempty"`
}

// EventType names the entry's type.
func (CaseAccessed) EventType() string { return TypeCaseAccessed }

// Validate checks an access-log entry's data.
func (a CaseAccessed) Validate() *Error {
	var v validator
	v.oneOf("operation", a.Operation, AccessOperations)
	v.id("case_id", a.CaseID)
	v.oneOf("outcome", a.Outcome, []string{AccessServed, AccessDenied})
	if a.Count < 1 {
		v.fail("count", "must be at least 1")
	}
	if a.LastAt.IsZero() {
		v.fail("last_at", "is required")
	}
	if a.Outcome == AccessDenied && a.VersionRead != nil {
		v.fail("version_read", "a denied attempt read no version")
	}
	if a.FromVersion != nil && (a.VersionRead == nil || *a.FromVersion > *a.VersionRead) {
		v.fail("from_version", "must not be after version_read")
	}
	if a.Purpose != "" && !slices.Contains(Purposes, a.Purpose) {
		v.fail("purpose", "must be one of %s", strings.Join(Purposes, ", "))
	}
	if a.PurposeReference != "" {
		v.text("purpose_reference", a.PurposeReference, MaxPurposeReferenceLength, false)
	}
	if len(a.RequestID) > 128 {
		v.fail("request_id", "must be at most 128 characters")
	}
	return v.err
}

var accessKnown, accessRequired = func() (map[string]bool, []string) {
	known := map[string]bool{}
	for _, k := range []string{"operation", "case_id", "outcome", "version_read", "from_version", "at_version", "as_of",
		"purpose", "purpose_reference", "purpose_defaulted", "count", "last_at", "request_id"} {
		known[k] = true
	}
	return known, []string{"operation", "case_id", "outcome", "count", "last_at"}
}()

// DecodeCaseAccessed reads an access-log entry's data strictly (exact keys,
// required fields present) and validates it.
func DecodeCaseAccessed(data []byte) (CaseAccessed, error) {
	var a CaseAccessed
	if err := decodeStrict(data, &a, accessKnown, accessRequired); err != nil {
		return CaseAccessed{}, err
	}
	if err := a.Validate(); err != nil {
		return CaseAccessed{}, err
	}
	return a, nil
}

// LegacyCaseRead is the data of a first-version access-log entry (type
// CaseRead, no hash chain): still shown, never written.
type LegacyCaseRead struct {
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Agency  string    `json:"agency"`
	Route   string    `json:"route"`
	CaseID  uuid.UUID `json:"case_id"`
	At      time.Time `json:"at"`
}

// AccessEntry is an access-log entry sealed into its stream's chain, ready
// to append.
type AccessEntry struct {
	Stored   StoredEvent
	Metadata Metadata
}

// SealAccess seals an access-log entry at version, after the entry whose
// hash is prevHash. occurred is when the (first) consultation happened,
// recorded when the entry is written.
func SealAccess(id uuid.UUID, version uint64, prevHash string, who Actor, occurred, recorded time.Time, a CaseAccessed) (AccessEntry, error) {
	if err := ValidateActor(who); err != nil {
		return AccessEntry{}, err
	}
	if err := a.Validate(); err != nil {
		return AccessEntry{}, err
	}
	data, err := json.Marshal(a)
	if err != nil {
		return AccessEntry{}, fmt.Errorf("domain: encode access entry: %w", err)
	}
	m := Metadata{SchemaVersion: AccessSchemaVersion, OccurredAt: occurred, RecordedAt: recorded, Actor: who,
		CorrelationID: id, CausationID: id, PrevHash: prevHash}
	se, m, err := Seal(id, AccessStreamName(a.CaseID), version, TypeCaseAccessed, data, m)
	if err != nil {
		return AccessEntry{}, err
	}
	return AccessEntry{Stored: se, Metadata: m}, nil
}
