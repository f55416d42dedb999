package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/internal/jsontext"
)

// HashInput is everything an event's hash covers.
type HashInput struct {
	PrevHash      string
	Stream        string
	Version       uint64
	EventID       uuid.UUID
	Type          string
	SchemaVersion int
	OccurredAt    time.Time
	RecordedAt    time.Time
	Actor         Actor
	CorrelationID uuid.UUID
	CausationID   uuid.UUID
	Data          []byte // the event data JSON as stored
}

// hashDomain separates Casebook event hashes from any other SHA-256 use and
// names this encoding; a different encoding would get a new tag.
const hashDomain = "casebook/event-hash/v1"

// ComputeHash returns the event's hash: lowercase hex SHA-256 of the
// canonical encoding below. It fails only when Data is not valid JSON.
//
// Canonical encoding. The hash covers every field of the stored event except
// the hash itself, so that no byte of meaning can change unnoticed (that
// includes recorded_at, which "as known then" reports depend on, and the
// schema version, which decides how the data is read). The input is the
// concatenation of 16 fields, each written as
//
//	uint64 big-endian byte length ‖ the field's UTF-8 bytes
//
// in this order:
//
//  1. the tag "casebook/event-hash/v1"
//  2. prev_hash: the previous event's hash, lowercase hex; "" for version 0
//  3. stream name, e.g. "case-0f8fad5b-d9cb-469f-a165-70867728950e"
//  4. version (stream revision) in decimal, e.g. "0"
//  5. event id, lowercase hyphenated UUID
//  6. event type, e.g. "ArrestMade"
//  7. schema_version in decimal, e.g. "1"
//  8. occurred_at in UTC, RFC 3339 with nanoseconds and trailing zeros
//     dropped (Go's time.RFC3339Nano), e.g. "2011-06-06T09:30:00Z"
//  9. recorded_at, likewise
//  10. actor subject   11. actor role   12. actor agency
//  13. correlation_id  14. causation_id (lowercase hyphenated UUIDs)
//  15. data: the event's data JSON as stored, compacted (insignificant
//     whitespace removed, as by encoding/json.Compact; nothing else —
//     key order and escapes are as stored)
//  16. the literal "end"
//
// Length prefixes make the encoding unambiguous: no two different field
// lists produce the same bytes.
func ComputeHash(in HashInput) (string, error) {
	data, err := compactJSON(in.Data)
	if err != nil {
		return "", fmt.Errorf("domain: event data is not valid JSON: %w", err)
	}
	return hashCompacted(in, data), nil
}

// hashCompacted is ComputeHash for data already compacted (in.Data is
// ignored): the canonical encoding is built in one buffer, on the stack
// for the usual sizes, and hashed in one call.
func hashCompacted(in HashInput, data []byte) string {
	var onStack [1024]byte
	b := onStack[:0]
	b = appendStringField(b, hashDomain)
	b = appendStringField(b, in.PrevHash)
	b = appendStringField(b, in.Stream)
	b = appendUintField(b, in.Version)
	b = appendUUIDField(b, in.EventID)
	b = appendStringField(b, in.Type)
	b = appendIntField(b, int64(in.SchemaVersion))
	b = appendTimeField(b, in.OccurredAt)
	b = appendTimeField(b, in.RecordedAt)
	b = appendStringField(b, in.Actor.Subject)
	b = appendStringField(b, in.Actor.Role)
	b = appendStringField(b, in.Actor.Agency)
	b = appendUUIDField(b, in.CorrelationID)
	b = appendUUIDField(b, in.CausationID)
	b = appendBytesField(b, data)
	b = appendStringField(b, "end")
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// The append…Field functions append one field of the canonical encoding:
// its length (uint64, big-endian), then its bytes.

func appendStringField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytesField(b []byte, f []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
	return append(b, f...)
}

// appendUintField and appendIntField write n in decimal.
func appendUintField(b []byte, n uint64) []byte {
	var digits [20]byte
	return appendBytesField(b, strconv.AppendUint(digits[:0], n, 10))
}

func appendIntField(b []byte, n int64) []byte {
	var digits [20]byte
	return appendBytesField(b, strconv.AppendInt(digits[:0], n, 10))
}

// appendTimeField writes t in UTC, RFC 3339 with nanoseconds, trailing
// zeros dropped.
func appendTimeField(b []byte, t time.Time) []byte {
	var text [64]byte
	return appendBytesField(b, t.UTC().AppendFormat(text[:0], time.RFC3339Nano))
}

func appendUUIDField(b []byte, id uuid.UUID) []byte {
	b = binary.BigEndian.AppendUint64(b, 36)
	return jsontext.AppendUUID(b, id)
}

// compactJSON returns data with insignificant whitespace removed, as
// json.Compact writes it, or json.Compact's error when data is not valid
// JSON. Data that is compact already (what json.Marshal writes) is
// returned as it is, without a copy.
func compactJSON(data []byte) ([]byte, error) {
	if isCompact(data) && json.Valid(data) {
		return data, nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, data); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// isCompact reports whether data has no JSON whitespace outside strings,
// assuming it is valid JSON.
func isCompact(data []byte) bool {
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++ // the escaped byte cannot end the string
		case c == '"':
			inString = !inString
		case !inString && jsontext.IsSpace(c):
			return false
		}
	}
	return true
}

func hashInputOf(se StoredEvent, m Metadata) HashInput {
	return HashInput{
		PrevHash: m.PrevHash, Stream: se.Stream, Version: se.Version, EventID: se.ID, Type: se.Type,
		SchemaVersion: m.SchemaVersion, OccurredAt: m.OccurredAt, RecordedAt: m.RecordedAt, Actor: m.Actor,
		CorrelationID: m.CorrelationID, CausationID: m.CausationID, Data: se.Data,
	}
}

// VerifyResult is the outcome of checking a stream's hash chain.
type VerifyResult struct {
	Valid bool `json:"valid"`
	// Checked is the number of events examined: all of them when the chain
	// is valid, up to and including the first invalid one otherwise.
	Checked int `json:"checked"`
	// HeadHash is the hash of the last event that verified ("" if none).
	HeadHash string `json:"head_hash"`
	// FirstInvalidVersion is the version (stream revision) at which the
	// chain breaks: the first event whose hash, prev_hash or version does
	// not match what its predecessors imply. nil when valid.
	FirstInvalidVersion *uint64 `json:"first_invalid_version,omitempty"`
	// Reason says what did not match, for people.
	Reason string `json:"reason,omitempty"`
}

// ChainVerifier checks a stream's hash chain event by event, in version
// order, without holding the stream in memory (the CLI verifies whole stores
// with it).
type ChainVerifier struct {
	stream string
	next   uint64
	prev   string
	res    VerifyResult
	broken bool
	// legacyPrefix lets an access-log stream start with first-version
	// entries (TypeCaseRead), written before the access log was chained:
	// they are counted, not hashed; the chain starts at the first hashed
	// entry, and an unhashed entry after it breaks the chain.
	legacyPrefix bool
	legacy       int
}

// NewChainVerifier verifies the stream named stream ("" to take the name of
// the first event added). An access-log stream ("access-<uuid>") may start
// with unchained first-version entries (see ChainVerifier.legacyPrefix).
func NewChainVerifier(stream string) *ChainVerifier {
	_, access := CaseIDFromAccessStream(stream)
	return &ChainVerifier{stream: stream, res: VerifyResult{Valid: true}, legacyPrefix: access}
}

// Legacy is the number of unchained first-version entries at the start of
// an access-log stream.
func (v *ChainVerifier) Legacy() int { return v.legacy }

// Add checks the next event. It returns false once the chain is broken
// (at this event or before); later events are then ignored.
func (v *ChainVerifier) Add(se StoredEvent) bool {
	return v.AddLinked(CheckLink(se))
}

// AddLinked is Add for an event whose own link was checked already
// (CheckLink, which needs no state of the chain, so that a caller may run it
// for many events at once, on every core).
func (v *ChainVerifier) AddLinked(l Link) bool {
	if v.broken {
		return false
	}
	se := l.Event
	if v.stream == "" {
		v.stream = se.Stream
		_, v.legacyPrefix = CaseIDFromAccessStream(se.Stream)
	}
	v.res.Checked++
	if v.legacyPrefix && v.prev == "" && se.Type == TypeCaseRead && se.Version == v.next && se.Stream == v.stream {
		v.legacy++
		v.next++
		return true
	}
	if reason := v.check(l); reason != "" {
		at := v.next
		v.broken = true
		v.res.Valid = false
		v.res.FirstInvalidVersion = &at
		v.res.Reason = reason
		return false
	}
	v.res.HeadHash = v.prev
	v.next++
	return true
}

// check returns why l does not continue the chain, or "".
func (v *ChainVerifier) check(l Link) string {
	se := l.Event
	if se.Version != v.next {
		return fmt.Sprintf("found version %d where version %d was expected: an event is missing or out of order", se.Version, v.next)
	}
	if se.Stream != v.stream {
		return fmt.Sprintf("event of stream %q in stream %q", se.Stream, v.stream)
	}
	if l.envelopeProblem != "" {
		return l.envelopeProblem
	}
	if l.prevHash != v.prev {
		return fmt.Sprintf("prev_hash %q does not match the hash of the previous event %q", l.prevHash, v.prev)
	}
	if l.contentProblem != "" {
		return l.contentProblem
	}
	v.prev = l.hash
	return ""
}

// Link is one stored event's link of its chain, checked on its own: its
// envelope is canonical and its hash matches its content. Whether it
// follows its predecessor is for ChainVerifier.AddLinked to say.
type Link struct {
	Event          StoredEvent
	prevHash, hash string
	// The problems found, in the order a chain reports them: the
	// envelope's before the link to the predecessor, the content's after.
	envelopeProblem, contentProblem string
}

// CheckLink checks what one event says of itself. It is the costly part of
// verifying a chain (a decode, an encode and a hash per event) and depends
// on nothing but the event.
func CheckLink(se StoredEvent) Link {
	l := Link{Event: se}
	// Metadata stored as Casebook stores it is read fast and is canonical
	// by construction; any other is decoded leniently, and must then
	// re-encode to the stored bytes (compacted): the canonical encoding has
	// every key once, in its own spelling, and no other.
	m, canonicalAsStored := decodeCanonicalMetadata(se.Metadata)
	if !canonicalAsStored {
		if err := json.Unmarshal(se.Metadata, &m); err != nil {
			l.envelopeProblem = fmt.Sprintf("metadata cannot be read: %v", err)
			return l
		}
		canonical, err := EncodeMetadata(m)
		if err != nil {
			l.envelopeProblem = fmt.Sprintf("metadata cannot be re-encoded: %v", err)
			return l
		}
		if stored, err := compactJSON(se.Metadata); err != nil || !bytes.Equal(stored, canonical) {
			// Covers edits that decode to the same values, such as a key
			// whose letter case changed ("Hash" is read as "hash"), or a
			// key given twice.
			l.envelopeProblem = "metadata is not in its canonical form: it was edited"
			return l
		}
	}
	l.prevHash, l.hash = m.PrevHash, m.Hash
	h, err := ComputeHash(hashInputOf(se, m))
	switch {
	case err != nil:
		l.contentProblem = err.Error()
	case h != m.Hash:
		l.contentProblem = "hash does not match the event's content: the event was altered"
	}
	return l
}

// Result is the verdict so far.
func (v *ChainVerifier) Result() VerifyResult { return v.res }

// Verify checks a whole stream's hash chain, given its events in the order
// read (version order). It finds the first version whose hash does not match
// its content, whose prev_hash does not match its predecessor's hash, or
// that is not the next in sequence — so a changed byte, a deleted event and
// a reordering are each detected at the version where they happened.
func Verify(events []StoredEvent) VerifyResult {
	v := NewChainVerifier("")
	for _, se := range events {
		if !v.Add(se) {
			break
		}
	}
	return v.Result()
}

// VerifyEntries checks the chain of decoded entries, over their stored bytes.
func VerifyEntries(entries []Entry) VerifyResult {
	v := NewChainVerifier("")
	for _, e := range entries {
		if !v.Add(e.Stored) {
			break
		}
	}
	return v.Result()
}

// Seal fills in the hash of an event about to be appended: given the
// metadata (with PrevHash set) and the data, it computes Hash and returns
// the stored form.
//
// The stored Data shares data's bytes when data is compact already (as
// EncodeEventData writes it).
func Seal(id uuid.UUID, stream string, version uint64, eventType string, data []byte, m Metadata) (StoredEvent, Metadata, error) {
	m.OccurredAt = m.OccurredAt.UTC()
	m.RecordedAt = m.RecordedAt.UTC()
	compact, err := compactJSON(data)
	if err != nil {
		return StoredEvent{}, Metadata{}, fmt.Errorf("domain: seal: data is not valid JSON: %w", err)
	}
	se := StoredEvent{ID: id, Stream: stream, Type: eventType, Version: version, Data: compact}
	m.Hash = hashCompacted(hashInputOf(se, m), compact)
	meta, err := EncodeMetadata(m)
	if err != nil {
		return StoredEvent{}, Metadata{}, err
	}
	se.Metadata = meta
	return se, m, nil
}
