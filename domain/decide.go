package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ClockSkewAllowance is how far in the future an occurred_at may be: the
// officer's device clock may run a little ahead of the server's.
const ClockSkewAllowance = 2 * time.Minute

// EarliestOccurredAt is the earliest business time an event may claim.
var EarliestOccurredAt = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// Command asks for one new event on a case.
type Command struct {
	EventID uuid.UUID // required; the service generates one when the client gives none
	Type    string
	Data    json.RawMessage
	// OccurredAt is the business time; nil means now.
	OccurredAt *time.Time
	Actor      Actor
	// CorrelationID and CausationID link the event to what caused it; the
	// zero UUID means "this event starts the chain" and stores the event's
	// own id.
	CorrelationID uuid.UUID
	CausationID   uuid.UUID
	// Now is the clock reading: the default occurred_at and the recorded_at.
	Now time.Time
	// Agencies, when set, is the configured list of agencies: agency fields
	// are stored in canonical form and unknown agencies refused.
	Agencies *Agencies
	// Places is the configured list of places: locations are stored as
	// their canonical codes and unknown places refused; nil is the default
	// list (DefaultPlaces).
	Places *Places
	// Seal, when set, seals the event's personal fields once every rule
	// has been checked on their plaintext (see personal.go); nil stores
	// them in plain text, as events were stored before encryption.
	Seal Sealer
}

// NewCase is the state of a case whose stream is still empty: the state
// CaseOpened is decided on.
func NewCase(id uuid.UUID) Case { return Case{ID: id} }

// Decide is the pure heart of command handling: given the case's state and
// a command, it returns the new event, sealed into the hash chain and ready
// to append at version c.NextVersion(), or an *Error saying which rule the
// command breaks. It performs no I/O and changes nothing; apply the entry
// to the state once the store has accepted it.
func Decide(c Case, cmd Command) (Entry, error) {
	if cmd.EventID == uuid.Nil {
		return Entry{}, fieldError("id", "an event needs an id")
	}
	if c.ID == uuid.Nil {
		return Entry{}, fieldError("case_id", "a case needs an id")
	}
	if err := ValidateActor(cmd.Actor); err != nil {
		return Entry{}, err
	}
	if cmd.Now.IsZero() {
		return Entry{}, fmt.Errorf("domain: decide: the command has no clock reading (Now)")
	}
	now := cmd.Now.UTC().Round(0).Truncate(time.Microsecond)
	ev, err := decodeCommand(cmd.Type, cmd.Data, cmd.Actor, now, cmd.Agencies, cmd.Places)
	if err != nil {
		return Entry{}, err
	}
	occurred := now
	if cmd.OccurredAt != nil {
		occurred = cmd.OccurredAt.UTC().Round(0)
		if occurred.After(now.Add(ClockSkewAllowance)) {
			return Entry{}, invalid(CodeOccurredInFuture, "occurred_at",
				"%s is in the future (now is %s)", occurred.Format(time.RFC3339), now.Format(time.RFC3339))
		}
		if occurred.Before(EarliestOccurredAt) {
			return Entry{}, invalid(CodeOccurredTooEarly, "occurred_at",
				"must not be before %s", EarliestOccurredAt.Format(time.DateOnly))
		}
	}
	if err := checkRules(&c, ev); err != nil {
		return Entry{}, err
	}
	if cmd.Seal != nil {
		if ev, err = sealPersonal(c.ID, cmd.EventID, ev, cmd.Seal); err != nil {
			return Entry{}, err
		}
	}

	data, err := EncodeEventData(ev)
	if err != nil {
		return Entry{}, err
	}
	// recorded_at never goes back along a stream, even if clocks of
	// several nodes disagree, so "the case as known at time t" is a prefix.
	recorded := now
	if c.Exists() && recorded.Before(c.UpdatedAt) {
		recorded = c.UpdatedAt
	}
	corr, caus := cmd.CorrelationID, cmd.CausationID
	if corr == uuid.Nil {
		corr = cmd.EventID
	}
	if caus == uuid.Nil {
		caus = cmd.EventID
	}
	meta := Metadata{
		SchemaVersion: SchemaVersion(cmd.Type),
		OccurredAt:    occurred,
		RecordedAt:    recorded,
		Actor:         cmd.Actor,
		CorrelationID: corr,
		CausationID:   caus,
		PrevHash:      c.HeadHash,
	}
	version := c.NextVersion()
	stream := StreamName(c.ID)
	stored, meta, err := Seal(cmd.EventID, stream, version, cmd.Type, data, meta)
	if err != nil {
		return Entry{}, err
	}
	return Entry{
		ID: cmd.EventID, Stream: stream, Type: cmd.Type, Version: version,
		Metadata: meta, Data: stored.Data, Event: ev, Stored: stored,
	}, nil
}

// checkRules applies the rules that depend on the case's state.
func checkRules(c *Case, ev Event) *Error {
	if _, opening := ev.(CaseOpened); opening {
		if c.Exists() {
			return &Error{Code: CodeCaseExists, Kind: KindConflict, Message: "the case is already open; CaseOpened only starts a case"}
		}
		return nil
	}
	if !c.Exists() {
		return &Error{Code: CodeCaseNotFound, Kind: KindNotFound, Message: "no such case: it must be opened first"}
	}
	switch ev.(type) {
	case CaseReopened:
		if c.disposal != nil {
			return invalid(CodeCaseDisposed, "", "the case was disposed of after a retention review: its personal data and intelligence are gone, and it cannot be reopened")
		}
		if c.Status != StatusClosed {
			return invalid(CodeCaseNotClosed, "", "the case is open; only a closed case can be reopened")
		}
	case EntryRetracted:
		// allowed on a closed case: an error found after closing is still corrected
	case PersonErased, RetentionReviewed:
		// allowed on a closed case: the law's retention limits bite after
		// closing (a review is only of a closed case: see below)
	default:
		if c.Status == StatusClosed {
			return invalid(CodeCaseClosed, "", "the case is closed: reopen it first (only CaseReopened, EntryRetracted, PersonErased and RetentionReviewed are accepted)")
		}
	}
	switch e := ev.(type) {
	case AgencyJoined:
		if c.VisibleTo(e.Agency) {
			return invalid(CodeAgencyAlreadyJoined, "agency", "%s already has access to the case", e.Agency)
		}
	case OrganisedCrimeGroupLinked:
		if c.groupIndex(e.GroupID) >= 0 {
			return invalid(CodeGroupAlreadyLinked, "group_id", "group %s is already linked to the case", e.GroupID)
		}
	case SuspectIdentified:
		if p, ok := c.people[e.PersonID]; ok && p.erasure != nil {
			return invalid(CodePersonErased, "person_id",
				"person %s was erased from this case; identify them under a new person id if there is a lawful basis", e.PersonID)
		}
		if c.suspectIndex(e.PersonID) >= 0 {
			return invalid(CodeSuspectAlreadyIdentified, "person_id",
				"person %s is already identified in the case (retract that entry to correct it)", e.PersonID)
		}
	case ArrestMade:
		if c.suspectIndex(e.PersonID) < 0 {
			return invalid(CodeSuspectNotIdentified, "person_id", "person %s is not an identified suspect of the case", e.PersonID)
		}
	case SuspectCharged:
		if c.suspectIndex(e.PersonID) < 0 {
			return invalid(CodeSuspectNotIdentified, "person_id", "person %s is not an identified suspect of the case", e.PersonID)
		}
	case SeizureRecorded:
		for _, t := range c.Seizures {
			if t.Commodity == e.Commodity && t.Unit == e.Unit {
				if _, err := t.Quantity.Add(e.Quantity); err != nil {
					return invalid(CodeQuantityOverflow, "quantity", "the case's total of %s would exceed what can be recorded", e.Commodity)
				}
			}
		}
	case GangDismantled:
		i := c.groupIndex(e.GroupID)
		if i < 0 {
			return invalid(CodeGroupNotLinked, "group_id", "group %s is not linked to the case", e.GroupID)
		}
		if c.Groups[i].Dismantled {
			return invalid(CodeGroupAlreadyDismantled, "group_id", "group %s is already dismantled in this case", e.GroupID)
		}
	case RetentionReviewed:
		if err := c.checkRetentionReviewed(e); err != nil {
			return err
		}
	case PersonErased:
		p, ok := c.people[e.PersonID]
		switch {
		case ok && p.erasure == nil && c.disposal != nil:
			return invalid(CodePersonAlreadyErased, "person_id", "person %s's data was already erased with the whole case's, when it was disposed of (at %s)",
				e.PersonID, c.disposal.At.Format(time.RFC3339))
		case !ok:
			return invalid(CodeSuspectNotIdentified, "person_id", "person %s has no personal data in this case", e.PersonID)
		case p.erasure != nil:
			return invalid(CodePersonAlreadyErased, "person_id", "person %s was already erased from this case (at %s)",
				e.PersonID, p.erasure.At.Format(time.RFC3339))
		case p.plain:
			return invalid(CodePersonalDataUnsealed, "person_id",
				"person %s's data in this case was recorded before encryption and is stored in plain text: "+
					"it cannot be erased by destroying a key until the store is re-sealed (casebook migrate --encrypt)", e.PersonID)
		}
	case EntryRetracted:
		ref, ok := c.entries[e.EventID]
		switch {
		case !ok:
			return invalid(CodeEntryNotFound, "event_id", "the case has no event %s", e.EventID)
		case !IsRetractable(ref.Type):
			return invalid(CodeEntryNotRetractable, "event_id", "%s entries cannot be retracted", ref.Type)
		case ref.Retracted:
			return invalid(CodeEntryAlreadyRetracted, "event_id", "event %s is already retracted", e.EventID)
		}
	}
	return nil
}

// Matches reports whether the stored entry is what cmd asks for: the same
// type, the same data once decoded and normalised (defaults from cmd's actor
// included), and — when cmd gives one — the same occurred_at. A retried
// command (same event id) that matches gets the original result; one that
// does not is a duplicate_event_id conflict. Hashes and recorded_at are not
// compared: they differ on every attempt.
func (e Entry) Matches(cmd Command) bool {
	if e.Type != cmd.Type {
		return false
	}
	ev, err := decodeCommand(cmd.Type, cmd.Data, cmd.Actor, cmd.Now, cmd.Agencies, cmd.Places)
	if err != nil {
		return false
	}
	data, err := EncodeEventData(ev)
	if err != nil || !bytes.Equal(data, e.Data) {
		return false
	}
	if cmd.OccurredAt != nil && !cmd.OccurredAt.Equal(e.Metadata.OccurredAt) {
		return false
	}
	return true
}

// DuplicateEventIDError is the conflict of an event id already used for
// other content.
func DuplicateEventIDError(id uuid.UUID, where string) *Error {
	return &Error{Code: CodeDuplicateEventID, Kind: KindConflict, Field: "id",
		Message: fmt.Sprintf("event id %s is already used %s for other content", id, where)}
}
