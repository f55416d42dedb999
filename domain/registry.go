package domain

import (
	"encoding/json"
	"reflect"
	"slices"
)

// Event is the data of one case event: one of the structs of events.go
// (always a value, never a pointer: CaseOpened, ArrestMade, …).
type Event interface {
	// EventType is the stable type name stored with the event.
	EventType() string
}

func (CaseOpened) EventType() string                { return TypeCaseOpened }
func (AgencyJoined) EventType() string              { return TypeAgencyJoined }
func (OrganisedCrimeGroupLinked) EventType() string { return TypeOrganisedCrimeGroupLinked }
func (SuspectIdentified) EventType() string         { return TypeSuspectIdentified }
func (IntelligenceLogged) EventType() string        { return TypeIntelligenceLogged }
func (ArrestMade) EventType() string                { return TypeArrestMade }
func (SuspectCharged) EventType() string            { return TypeSuspectCharged }
func (SeizureRecorded) EventType() string           { return TypeSeizureRecorded }
func (StowawaysDetected) EventType() string         { return TypeStowawaysDetected }
func (GangDismantled) EventType() string            { return TypeGangDismantled }
func (CaseClosed) EventType() string                { return TypeCaseClosed }
func (CaseReopened) EventType() string              { return TypeCaseReopened }
func (EntryRetracted) EventType() string            { return TypeEntryRetracted }
func (PersonErased) EventType() string              { return TypePersonErased }

// upcaster turns the data of schema version n of an event type into version
// n+1, working on the top-level JSON object.
type upcaster func(obj map[string]json.RawMessage) error

// eventSpec is what the domain knows about one event type.
type eventSpec struct {
	schema      int  // current schema version
	retractable bool // may be named by EntryRetracted
	// required fields (JSON names) of the current schema, in the order
	// errors report them.
	required []string
	// known is every JSON field name of the current schema (from the
	// struct tags), matched exactly: encoding/json alone would accept
	// "Agency" for "agency".
	known map[string]bool
	// order is every JSON field name of the current schema, in the
	// struct's order (the order the data is encoded in).
	order []string
	// upcasters[n] turns version n into n+1, for 1 ≤ n < schema.
	upcasters map[int]upcaster
	// decode strictly decodes current-schema data into the typed event.
	decode func(data []byte, s *eventSpec) (Event, error)
}

var registry = map[string]*eventSpec{
	// lead_agency defaults to the actor's agency (see DecodeCommand).
	TypeCaseOpened: spec[CaseOpened](2, false,
		"reference", "title", "crime_types", "location").with(1, upcastPlace),
	TypeAgencyJoined: spec[AgencyJoined](1, false, "agency"),
	TypeOrganisedCrimeGroupLinked: spec[OrganisedCrimeGroupLinked](1, false,
		"group_id", "name"),
	TypeSuspectIdentified:  spec[SuspectIdentified](1, true, "person_id", "name"),
	TypeIntelligenceLogged: spec[IntelligenceLogged](1, true, "summary", "grading"),
	TypeArrestMade:         spec[ArrestMade](2, true, "person_id", "location", "offence").with(1, upcastPlace),
	TypeSuspectCharged:     spec[SuspectCharged](1, true, "person_id", "charges"),
	TypeSeizureRecorded: spec[SeizureRecorded](3, true,
		"commodity", "quantity", "unit", "location").with(1, upcastSeizureV1).with(2, upcastPlace),
	TypeStowawaysDetected: spec[StowawaysDetected](3, true,
		"location", "method", "people").with(1, upcastStowawaysV1).with(2, upcastPlace),
	TypeGangDismantled:    spec[GangDismantled](1, true, "group_id"),
	TypeCaseClosed:        spec[CaseClosed](1, false, "outcome"),
	TypeCaseReopened:      spec[CaseReopened](1, false, "reason"),
	TypeEntryRetracted:    spec[EntryRetracted](1, false, "event_id", "reason"),
	TypePersonErased:      spec[PersonErased](1, false, "person_id", "reason"),
	TypeRetentionReviewed: spec[RetentionReviewed](1, false, "decision", "reason"),
}

func spec[T Event](schema int, retractable bool, required ...string) *eventSpec {
	var zero T
	order := jsonFieldOrder(reflect.TypeOf(zero))
	known := map[string]bool{}
	for _, name := range order {
		known[name] = true
	}
	for _, r := range required {
		if !known[r] {
			panic("domain: required field " + r + " is not a field of " + zero.EventType())
		}
	}
	return &eventSpec{
		schema:      schema,
		retractable: retractable,
		required:    required,
		known:       known,
		order:       order,
		upcasters:   map[int]upcaster{},
		decode: func(data []byte, s *eventSpec) (Event, error) {
			var v T
			if err := decodeStrict(data, &v, s.known, s.required); err != nil {
				return nil, err
			}
			return v, nil
		},
	}
}

func (s *eventSpec) with(from int, u upcaster) *eventSpec {
	s.upcasters[from] = u
	return s
}

// EventTypes lists every case event type, sorted.
func EventTypes() []string {
	ts := make([]string, 0, len(registry))
	for t := range registry {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// IsEventType reports whether t is a case event type.
func IsEventType(t string) bool { _, ok := registry[t]; return ok }

// SchemaVersion is the current schema version of event type t (0 if t is
// not a case event type). New events are stored with it.
func SchemaVersion(t string) int {
	if s, ok := registry[t]; ok {
		return s.schema
	}
	return 0
}

// IsRetractable reports whether events of type t may be retracted by
// EntryRetracted: ArrestMade, SeizureRecorded, StowawaysDetected,
// SuspectIdentified, SuspectCharged, IntelligenceLogged, GangDismantled.
func IsRetractable(t string) bool {
	s, ok := registry[t]
	return ok && s.retractable
}
