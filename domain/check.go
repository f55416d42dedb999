package domain

import (
	"bytes"
	"time"

	"github.com/google/uuid"
)

// CheckRecorded judges an event that was recorded elsewhere — a line of an
// export, an event of another store being migrated — by the rules Decide
// applies to a new one, given the state of its case before it and the
// configured agencies (nil: agencies are not checked) and places (nil: the
// default list). The event's recorded_at stands in for the clock.
//
// It refuses what Decide would never have stored: data that is not in the
// canonical form Decide writes (untrimmed text, a missing default), data
// that breaks a rule of its type (people: -500000, control characters in a
// title), a rule of the case's state (an arrest of a person never
// identified, an event on a closed case), an occurred_at outside what the
// clock allowed, or a recorded_at earlier than the case's previous event.
// Who may log which event is the application core's rule; it checks the
// actor's role and agency itself.
func CheckRecorded(c *Case, e Entry, agencies *Agencies, places *Places) *Error {
	m := e.Metadata
	if err := ValidateActor(m.Actor); err != nil {
		if de, ok := AsError(err); ok {
			return de
		}
		return fieldError("actor", "%v", err)
	}
	recorded := m.RecordedAt.UTC()
	if m.OccurredAt.After(recorded.Add(ClockSkewAllowance)) {
		return invalid(CodeOccurredInFuture, "occurred_at", "%s is after the event was recorded (%s)",
			m.OccurredAt.UTC().Format(time.RFC3339), recorded.Format(time.RFC3339))
	}
	if m.OccurredAt.Before(EarliestOccurredAt) {
		return invalid(CodeOccurredTooEarly, "occurred_at", "must not be before %s", EarliestOccurredAt.Format(time.DateOnly))
	}
	if c.Exists() && recorded.Before(c.UpdatedAt) {
		return fieldError("recorded_at", "%s is before the case's previous event (%s): recorded times never go back along a case",
			recorded.Format(time.RFC3339Nano), c.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	if c.ID != uuid.Nil {
		if id, ok := CaseIDFromStream(e.Stream); !ok || id != c.ID {
			return fieldError("stream", "event of stream %s in case %s", e.Stream, c.ID)
		}
	}
	if _, dup := c.entries[e.ID]; dup {
		return DuplicateEventIDError(e.ID, "in this case")
	}

	// The data must be what Decide would have written for it: the same
	// defaults, normalisation, canonical agencies and place. (An event
	// written before places were codes is judged as upcast: its location a
	// code, its old text the detail.)
	want := normalize(withDefaults(e.Event, m.Actor))
	if err := validate(want, recorded, acceptSealed); err != nil {
		return err
	}
	want, err := canonicalAgencies(want, agencies)
	if err != nil {
		return err
	}
	if m.SchemaVersion < SchemaVersion(e.Type) {
		// Written before places were codes: the upcast chose its code from
		// the built-in list (see upcastPlace), whatever the configuration.
		places = defaultPlaces
	}
	if want, err = canonicalPlaces(want, places); err != nil {
		return err
	}
	canonical, encErr := EncodeEventData(want)
	if encErr != nil {
		return fieldError("data", "%v", encErr)
	}
	if !bytes.Equal(canonical, e.Data) {
		return fieldError("data", "is not in the form Casebook records (want %s)", truncateForMessage(string(canonical)))
	}
	if err := checkRules(c, e.Event); err != nil {
		return err
	}
	return nil
}

// CheckAccessRecorded judges a recorded access-log entry: its data must be a
// valid entry about the stream's case, with a valid actor.
func CheckAccessRecorded(se StoredEvent, m Metadata) (CaseAccessed, *Error) {
	if err := ValidateActor(m.Actor); err != nil {
		de, _ := AsError(err)
		return CaseAccessed{}, de
	}
	if se.Type != TypeCaseAccessed {
		return CaseAccessed{}, invalid(CodeUnknownEventType, "type", "%q is not an access-log entry type (%s)", truncateForMessage(se.Type), TypeCaseAccessed)
	}
	if m.SchemaVersion != AccessSchemaVersion {
		return CaseAccessed{}, invalid(CodeUnsupportedSchemaVersion, "schema_version",
			"%s schema version %d is not supported (%d)", se.Type, m.SchemaVersion, AccessSchemaVersion)
	}
	a, err := DecodeCaseAccessed(se.Data)
	if err != nil {
		de, ok := AsError(err)
		if !ok {
			de = fieldError("data", "%v", err)
		}
		return CaseAccessed{}, de
	}
	if id, ok := CaseIDFromAccessStream(se.Stream); !ok || id != a.CaseID {
		return CaseAccessed{}, fieldError("case_id", "entry about case %s in stream %s", a.CaseID, se.Stream)
	}
	if m.OccurredAt.After(m.RecordedAt.Add(ClockSkewAllowance)) || a.LastAt.Before(m.OccurredAt) {
		return CaseAccessed{}, fieldError("last_at", "the consultation times are out of order")
	}
	return a, nil
}
