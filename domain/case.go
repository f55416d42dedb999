package domain

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Case statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// Case is the state of one investigation: the fold of its events
// (state = apply(events)). It is what GET /v1/cases/{id} shows, so its JSON
// is the API's: figures with retracted entries subtracted, the suspects and
// organised crime groups of the case, and what was retracted.
//
// The zero Case is the state of a stream with no events (Exists is false).
// Copy with Clone before changing a Case that someone else holds: it has
// maps and slices inside.
type Case struct {
	ID         uuid.UUID `json:"id"`
	Reference  string    `json:"reference"`
	Title      string    `json:"title"`
	LeadAgency string    `json:"lead_agency"`
	// Agencies with access: the lead agency first, then those that joined,
	// in order.
	Agencies   []string `json:"agencies"`
	CrimeTypes []string `json:"crime_types"`
	Location   string   `json:"location"`
	Status     string   `json:"status"` // "open" or "closed"
	// DisposedAt is when the case was disposed of after a retention
	// review (RetentionReviewed dispose): every key of the case destroyed,
	// its personal data and intelligence shown as null.
	DisposedAt *time.Time `json:"disposed_at,omitempty"`
	// Outcome of the closing, while the case is closed.
	Outcome  string     `json:"outcome,omitempty"`
	OpenedAt time.Time  `json:"opened_at"` // occurred_at of CaseOpened
	OpenedBy Actor      `json:"opened_by"`
	ClosedAt *time.Time `json:"closed_at,omitempty"` // occurred_at of the closing, while closed
	// UpdatedAt is when the latest event was recorded (its recorded_at).
	UpdatedAt time.Time `json:"updated_at"`
	// Version is the stream revision of the latest event: 0 after
	// CaseOpened. It is the ETag and the If-Match value.
	Version  uint64 `json:"version"`
	Position uint64 `json:"position"`  // global log position of the latest event
	HeadHash string `json:"head_hash"` // hash of the latest event

	Counts      Counts         `json:"counts"`
	Seizures    []SeizureTotal `json:"seizures"`
	Groups      []Group        `json:"groups"`
	Suspects    []Suspect      `json:"suspects"`
	Retractions []Retraction   `json:"retractions"`

	// entries indexes every event of the case by id: what EntryRetracted
	// and idempotent retries need to find.
	entries map[uuid.UUID]entryRef
	// arrestsOf and chargesOf count what is recorded against a person,
	// whether or not they are (still) an identified suspect.
	arrestsOf map[uuid.UUID]int
	chargesOf map[uuid.UUID][]chargeEvent
	// people is every person whose personal data the log holds, retracted
	// or not: what an erasure needs to know.
	people map[uuid.UUID]personRecord
	// casePlain: some personal field under the case's key (intelligence,
	// a location's detail) is stored in plain text (before encryption).
	casePlain bool
	// lastReview is the latest retention review since the last closure;
	// disposal the case's disposal (never changed in place).
	lastReview *Review
	disposal   *Erasure
}

// personRecord is what the case knows of a person's personal data.
type personRecord struct {
	plain   bool     // some of it is stored in plain text (before encryption)
	erasure *Erasure // the PersonErased event, once erased
}

// Erasure is the erasure of a person's personal data from a case.
type Erasure struct {
	EventID  uuid.UUID // the PersonErased event
	Version  uint64
	Position uint64
	At       time.Time // its recorded_at
}

// entryRef is what the case remembers of each of its events.
type entryRef struct {
	Type      string
	Version   uint64
	Retracted bool
	Event     Event // kept for retractable events (to undo them); nil otherwise
}

type chargeEvent struct {
	EventID uuid.UUID
	Charges []string
}

// Counts are a case's figures, retracted entries subtracted.
type Counts struct {
	Arrests             int `json:"arrests"`
	Suspects            int `json:"suspects"`         // identified, not retracted
	SuspectsCharged     int `json:"suspects_charged"` // identified suspects with at least one charge
	Charges             int `json:"charges"`
	IntelligenceReports int `json:"intelligence_reports"`
	Seizures            int `json:"seizures"`
	Detections          int `json:"detections"`      // StowawaysDetected incidents
	PeopleDetected      int `json:"people_detected"` // people found in them
	GroupsLinked        int `json:"groups_linked"`
	GangsDismantled     int `json:"gangs_dismantled"`
	Retractions         int `json:"retractions"`
}

// SeizureTotal is the exact sum of a commodity seized in one unit.
type SeizureTotal struct {
	Commodity string   `json:"commodity"`
	Unit      string   `json:"unit"`
	Quantity  Quantity `json:"quantity"`
	Count     int      `json:"count"`
}

// Group is an organised crime group linked to the case.
type Group struct {
	GroupID            uuid.UUID  `json:"group_id"`
	Name               string     `json:"name"`
	LinkedAt           time.Time  `json:"linked_at"`
	Dismantled         bool       `json:"dismantled"`
	DismantledAt       *time.Time `json:"dismantled_at,omitempty"`
	DismantledEventID  *uuid.UUID `json:"dismantled_event_id,omitempty"`
	DismantledByAgency string     `json:"dismantled_by_agency,omitempty"`
}

// Suspect is a person identified in the case (and not retracted).
type Suspect struct {
	PersonID     uuid.UUID `json:"person_id"`
	Name         string    `json:"name"`
	DateOfBirth  string    `json:"date_of_birth,omitempty"`
	Nationality  string    `json:"nationality,omitempty"`
	IdentifiedAt time.Time `json:"identified_at"`
	EventID      uuid.UUID `json:"event_id"` // the SuspectIdentified event
	Arrests      int       `json:"arrests"`
	Charges      []string  `json:"charges"`
	// ErasedAt is when the person's personal data was erased: name,
	// date_of_birth and nationality are then shown as null.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
	// Unreadable, set by the application core, names the personal fields
	// it could not open (shown as null) and why.
	Unreadable *Unreadable `json:"unreadable,omitempty"`
}

// suspectFieldOrder is the order of a Suspect's JSON fields.
var suspectFieldOrder = jsonFieldOrder(reflect.TypeFor[Suspect]())

// MarshalJSON writes the suspect with erased and unreadable personal
// fields as null (all three once the person is erased, whether or not
// they were given, so that the answer does not tell).
func (s Suspect) MarshalJSON() ([]byte, error) {
	type plain Suspect // the same fields, without this method
	b, err := json.Marshal(plain(s))
	if err != nil || (s.ErasedAt == nil && s.Unreadable == nil) {
		return b, err
	}
	null := map[string]bool{}
	if s.ErasedAt != nil {
		for _, f := range personalFieldNames[TypeSuspectIdentified] {
			null[f] = true
		}
	}
	if s.Unreadable != nil {
		for _, f := range s.Unreadable.Fields {
			null[f] = true
		}
	}
	return withNulls(b, suspectFieldOrder, null)
}

// Retraction is an entry retracted, and why.
type Retraction struct {
	EventID          uuid.UUID `json:"event_id"`
	Type             string    `json:"type"`
	Version          uint64    `json:"version"` // the retracted entry's version
	Reason           string    `json:"reason"`
	RetractedVersion uint64    `json:"retracted_version"` // the EntryRetracted event's version
	RetractedAt      time.Time `json:"retracted_at"`
	RetractedBy      Actor     `json:"retracted_by"`
}

// Exists reports whether the case has been opened (its stream has events).
func (c *Case) Exists() bool { return c.Status != "" }

// NextVersion is the version the next event will have.
func (c *Case) NextVersion() uint64 {
	if !c.Exists() {
		return 0
	}
	return c.Version + 1
}

// Relation is how an agency stands to a case: it leads it, joined it, or
// has nothing to do with it. Need-to-know is decided on it.
type Relation int

const (
	RelationNone Relation = iota
	RelationJoined
	RelationLead
)

func (r Relation) String() string {
	switch r {
	case RelationLead:
		return "lead"
	case RelationJoined:
		return "joined"
	}
	return "none"
}

// RelationOf tells how agency stands to the case. Codes compare
// case-insensitively.
func (c *Case) RelationOf(agency string) Relation {
	switch {
	case sameAgency(c.LeadAgency, agency):
		return RelationLead
	case slices.ContainsFunc(c.Agencies, func(a string) bool { return sameAgency(a, agency) }):
		return RelationJoined
	}
	return RelationNone
}

// VisibleTo reports whether investigators of agency may see the case: the
// lead agency and every agency that joined it.
func (c *Case) VisibleTo(agency string) bool { return c.RelationOf(agency) != RelationNone }

// Entry returns what the case knows of its event id: its type, version and
// whether it was retracted.
func (c *Case) Entry(id uuid.UUID) (eventType string, version uint64, retracted bool, ok bool) {
	r, ok := c.entries[id]
	return r.Type, r.Version, r.Retracted, ok
}

// Suspect returns the identified suspect with that person id.
func (c *Case) Suspect(personID uuid.UUID) (Suspect, bool) {
	i := c.suspectIndex(personID)
	if i < 0 {
		return Suspect{}, false
	}
	return c.Suspects[i], true
}

// Group returns the linked group with that id.
func (c *Case) Group(groupID uuid.UUID) (Group, bool) {
	i := c.groupIndex(groupID)
	if i < 0 {
		return Group{}, false
	}
	return c.Groups[i], true
}

func (c *Case) suspectIndex(id uuid.UUID) int {
	return slices.IndexFunc(c.Suspects, func(s Suspect) bool { return s.PersonID == id })
}

func (c *Case) groupIndex(id uuid.UUID) int {
	return slices.IndexFunc(c.Groups, func(g Group) bool { return g.GroupID == id })
}

// Clone returns a deep copy.
func (c Case) Clone() Case {
	c.Agencies = slices.Clone(c.Agencies)
	c.CrimeTypes = slices.Clone(c.CrimeTypes)
	if c.ClosedAt != nil {
		t := *c.ClosedAt
		c.ClosedAt = &t
	}
	if c.DisposedAt != nil {
		t := *c.DisposedAt
		c.DisposedAt = &t
	}
	c.Seizures = slices.Clone(c.Seizures)
	c.Groups = slices.Clone(c.Groups)
	for i := range c.Groups {
		if g := c.Groups[i]; g.DismantledAt != nil {
			t, id := *g.DismantledAt, *g.DismantledEventID
			c.Groups[i].DismantledAt, c.Groups[i].DismantledEventID = &t, &id
		}
	}
	c.Suspects = slices.Clone(c.Suspects)
	for i := range c.Suspects {
		c.Suspects[i].Charges = slices.Clone(c.Suspects[i].Charges)
	}
	c.Retractions = slices.Clone(c.Retractions)
	c.entries = maps.Clone(c.entries)
	c.arrestsOf = maps.Clone(c.arrestsOf)
	c.chargesOf = maps.Clone(c.chargesOf) // its slices are never changed in place
	c.people = maps.Clone(c.people)       // an erasure is never changed in place
	return c
}

// Replay folds a case's entries, in version order, into its state.
func Replay(entries []Entry) (Case, error) {
	var c Case
	for _, e := range entries {
		if err := c.Apply(e); err != nil {
			return Case{}, err
		}
	}
	return c, nil
}

// StateAtVersion is the case as it stood after version v: the fold of
// entries[0..v]. A version the case has not reached is version_not_found.
func StateAtVersion(entries []Entry, v uint64) (Case, error) {
	var c Case
	for _, e := range entries {
		if e.Version > v {
			break
		}
		if err := c.Apply(e); err != nil {
			return Case{}, err
		}
	}
	if !c.Exists() || c.Version != v {
		return Case{}, &Error{Code: CodeVersionNotFound, Kind: KindNotFound, Field: "version",
			Message: fmt.Sprintf("the case has no version %d", v)}
	}
	return c, nil
}

// StateAsOf is the case as it was known at recorded time t: the fold of
// its events recorded at or before t. (The service stamps recorded_at so
// that it never decreases along a stream, so this is a prefix.) A case not
// yet opened at t is case_not_found.
func StateAsOf(entries []Entry, t time.Time) (Case, error) {
	var c Case
	for _, e := range entries {
		if e.Metadata.RecordedAt.After(t) {
			break
		}
		if err := c.Apply(e); err != nil {
			return Case{}, err
		}
	}
	if !c.Exists() {
		return Case{}, &Error{Code: CodeCaseNotFound, Kind: KindNotFound, Field: "as_of",
			Message: fmt.Sprintf("the case had not been opened by %s", t.UTC().Format(time.RFC3339))}
	}
	return c, nil
}

// Apply folds one recorded event into the state. History is fact: Apply
// does not judge an event by today's rules (Decide does that before it is
// stored); it only refuses what cannot be a stream of this case — a version
// out of sequence, an event before CaseOpened, a second CaseOpened — since
// folding those would give a state that means nothing.
//
// Apply changes c in place; Clone first if c is shared.
func (c *Case) Apply(e Entry) error {
	if e.Version != c.NextVersion() {
		return fmt.Errorf("%w: %s: version %d applied to a case at version %d", ErrCorruptEvent, e.Stream, e.Version, c.Version)
	}
	if e.Event == nil {
		return fmt.Errorf("%w: %s version %d: entry has no decoded event", ErrCorruptEvent, e.Stream, e.Version)
	}
	if _, isOpen := e.Event.(CaseOpened); isOpen == c.Exists() {
		if isOpen {
			return fmt.Errorf("%w: %s version %d: CaseOpened on an open case", ErrCorruptEvent, e.Stream, e.Version)
		}
		return fmt.Errorf("%w: %s version %d: %s before CaseOpened", ErrCorruptEvent, e.Stream, e.Version, e.Type)
	}
	if c.entries == nil {
		c.entries = map[uuid.UUID]entryRef{}
		c.arrestsOf = map[uuid.UUID]int{}
		c.chargesOf = map[uuid.UUID][]chargeEvent{}
		c.people = map[uuid.UUID]personRecord{}
	}
	if _, dup := c.entries[e.ID]; dup {
		return fmt.Errorf("%w: %s version %d: event id %s appears twice", ErrCorruptEvent, e.Stream, e.Version, e.ID)
	}
	m := e.Metadata
	ref := entryRef{Type: e.Type, Version: e.Version}
	if IsRetractable(e.Type) {
		ref.Event = e.Event
	}
	switch ev := e.Event.(type) {
	case CaseOpened:
		if id, ok := CaseIDFromStream(e.Stream); ok {
			c.ID = id
		}
		c.Reference, c.Title, c.LeadAgency, c.Location = ev.Reference, ev.Title, ev.LeadAgency, ev.Location
		c.Agencies = []string{ev.LeadAgency}
		c.CrimeTypes = slices.Clone(ev.CrimeTypes)
		c.Status = StatusOpen
		c.OpenedAt = m.OccurredAt
		c.OpenedBy = m.Actor
		c.Seizures, c.Groups, c.Suspects, c.Retractions = []SeizureTotal{}, []Group{}, []Suspect{}, []Retraction{}
	case AgencyJoined:
		if !c.VisibleTo(ev.Agency) {
			c.Agencies = append(c.Agencies, ev.Agency)
		}
	case OrganisedCrimeGroupLinked:
		if c.groupIndex(ev.GroupID) < 0 {
			c.Groups = append(c.Groups, Group{GroupID: ev.GroupID, Name: ev.Name, LinkedAt: m.OccurredAt})
			c.Counts.GroupsLinked++
		}
	case SuspectIdentified:
		c.identify(ev, e.ID, m.OccurredAt)
	case IntelligenceLogged:
		c.Counts.IntelligenceReports++
	case ArrestMade:
		c.arrest(ev.PersonID, +1)
	case SuspectCharged:
		c.charge(ev, e.ID)
	case SeizureRecorded:
		c.seize(ev, +1)
	case StowawaysDetected:
		c.Counts.Detections++
		c.Counts.PeopleDetected += ev.People
	case GangDismantled:
		c.dismantle(ev.GroupID, &e.ID, m.OccurredAt, m.Actor.Agency)
	case CaseClosed:
		c.Status = StatusClosed
		c.Outcome = ev.Outcome
		t := m.OccurredAt
		c.ClosedAt = &t
		c.lastReview = nil // the retention clock starts at each closure
	case CaseReopened:
		c.Status = StatusOpen
		c.Outcome = ""
		c.ClosedAt = nil
		c.lastReview = nil
	case EntryRetracted:
		c.retract(ev, e, m)
	case PersonErased:
		c.erase(ev.PersonID, Erasure{EventID: e.ID, Version: e.Version, Position: e.Position, At: m.RecordedAt.UTC()})
	case RetentionReviewed:
		c.review(ev, e)
	default:
		return fmt.Errorf("%w: %s version %d: no fold for %T", ErrCorruptEvent, e.Stream, e.Version, e.Event)
	}
	c.notePersonal(e.Event)
	c.entries[e.ID] = ref
	c.Version = e.Version
	c.Position = e.Position
	c.HeadHash = m.Hash
	c.UpdatedAt = m.RecordedAt
	return nil
}

// notePersonal records that the log holds personal data of the person an
// event identifies, and whether some personal data — a person's or under
// the case's key — is in plain text.
func (c *Case) notePersonal(ev Event) {
	if si, ok := ev.(SuspectIdentified); ok {
		if _, known := c.people[si.PersonID]; !known {
			c.people[si.PersonID] = personRecord{}
		}
	}
	for _, pf := range PersonalFields(c.ID, ev) {
		if IsSealed(pf.Value) {
			continue
		}
		if pf.Key.Person == uuid.Nil {
			c.casePlain = true
			continue
		}
		p := c.people[pf.Key.Person]
		p.plain = true
		c.people[pf.Key.Person] = p
	}
}

// erase folds a PersonErased: the person's personal fields are gone from
// the state (the key that sealed them is destroyed).
func (c *Case) erase(person uuid.UUID, er Erasure) {
	p := c.people[person]
	if p.erasure != nil {
		return
	}
	p.erasure = &er
	c.people[person] = p
	for i := range c.Suspects {
		if c.Suspects[i].PersonID == person {
			c.Suspects[i].scrub(&er.At)
		}
	}
}

// scrub forgets the suspect's personal fields.
func (s *Suspect) scrub(erasedAt *time.Time) {
	s.Name, s.DateOfBirth, s.Nationality = "", "", ""
	s.ErasedAt = erasedAt
}

// ErasedAt tells whether, and when, the person's personal data was erased
// from the case.
func (c *Case) ErasedAt(person uuid.UUID) (time.Time, bool) {
	if er, ok := c.Erasure(person); ok {
		return er.At, true
	}
	return time.Time{}, false
}

// Erasure returns the erasure of the person's personal data, if any: their
// own (PersonErased), else the case's disposal.
func (c *Case) Erasure(person uuid.UUID) (Erasure, bool) {
	if p, ok := c.people[person]; ok && p.erasure != nil {
		return *p.erasure, true
	}
	if c.disposal != nil {
		return *c.disposal, true
	}
	return Erasure{}, false
}

// People lists the people whose personal data the case's log holds
// (identified, retracted or not), sorted by id.
func (c *Case) People() []uuid.UUID {
	out := make([]uuid.UUID, 0, len(c.people))
	for id := range c.people {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Erasures lists the people erased from the case.
func (c *Case) Erasures() []uuid.UUID {
	var out []uuid.UUID
	for id, p := range c.people {
		if p.erasure != nil {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func (c *Case) identify(ev SuspectIdentified, eventID uuid.UUID, at time.Time) {
	if c.suspectIndex(ev.PersonID) >= 0 {
		return // a second identification of the same person: the first stands
	}
	s := Suspect{PersonID: ev.PersonID, Name: ev.Name, DateOfBirth: ev.DateOfBirth, Nationality: ev.Nationality,
		IdentifiedAt: at, EventID: eventID, Arrests: c.arrestsOf[ev.PersonID], Charges: []string{}}
	if er, erased := c.Erasure(ev.PersonID); erased {
		s.scrub(&er.At)
	}
	for _, ce := range c.chargesOf[ev.PersonID] {
		s.Charges = append(s.Charges, ce.Charges...)
	}
	c.Suspects = append(c.Suspects, s)
	c.recountSuspects()
}

func (c *Case) unidentify(eventID uuid.UUID) {
	c.Suspects = slices.DeleteFunc(c.Suspects, func(s Suspect) bool { return s.EventID == eventID })
	c.recountSuspects()
}

func (c *Case) arrest(person uuid.UUID, delta int) {
	c.Counts.Arrests += delta
	c.arrestsOf[person] += delta
	if i := c.suspectIndex(person); i >= 0 {
		c.Suspects[i].Arrests = c.arrestsOf[person]
	}
}

func (c *Case) charge(ev SuspectCharged, eventID uuid.UUID) {
	c.chargesOf[ev.PersonID] = append(slices.Clip(c.chargesOf[ev.PersonID]), chargeEvent{EventID: eventID, Charges: slices.Clone(ev.Charges)})
	c.Counts.Charges += len(ev.Charges)
	c.refreshCharges(ev.PersonID)
}

func (c *Case) uncharge(ev SuspectCharged, eventID uuid.UUID) {
	c.chargesOf[ev.PersonID] = slices.DeleteFunc(slices.Clone(c.chargesOf[ev.PersonID]),
		func(ce chargeEvent) bool { return ce.EventID == eventID })
	c.Counts.Charges -= len(ev.Charges)
	c.refreshCharges(ev.PersonID)
}

func (c *Case) refreshCharges(person uuid.UUID) {
	if i := c.suspectIndex(person); i >= 0 {
		cs := []string{}
		for _, ce := range c.chargesOf[person] {
			cs = append(cs, ce.Charges...)
		}
		c.Suspects[i].Charges = cs
	}
	c.recountSuspects()
}

func (c *Case) recountSuspects() {
	c.Counts.Suspects = len(c.Suspects)
	c.Counts.SuspectsCharged = 0
	for _, s := range c.Suspects {
		if len(s.Charges) > 0 {
			c.Counts.SuspectsCharged++
		}
	}
}

func (c *Case) seize(ev SeizureRecorded, sign int) {
	c.Counts.Seizures += sign
	i := slices.IndexFunc(c.Seizures, func(t SeizureTotal) bool { return t.Commodity == ev.Commodity && t.Unit == ev.Unit })
	if i < 0 {
		if sign < 0 {
			return
		}
		c.Seizures = append(c.Seizures, SeizureTotal{Commodity: ev.Commodity, Unit: ev.Unit})
		i = len(c.Seizures) - 1
	}
	t := &c.Seizures[i]
	var err error
	var q Quantity
	if sign > 0 {
		q, err = t.Quantity.Add(ev.Quantity)
	} else {
		q, err = t.Quantity.Sub(ev.Quantity)
	}
	if err == nil { // Decide refuses seizures that would overflow; history is kept as it is
		t.Quantity = q
	}
	t.Count += sign
	if t.Count == 0 {
		c.Seizures = slices.Delete(c.Seizures, i, i+1)
	}
}

func (c *Case) dismantle(group uuid.UUID, eventID *uuid.UUID, at time.Time, agency string) {
	i := c.groupIndex(group)
	if i < 0 || c.Groups[i].Dismantled {
		return
	}
	g := &c.Groups[i]
	id := *eventID
	g.Dismantled, g.DismantledAt, g.DismantledEventID, g.DismantledByAgency = true, &at, &id, agency
	c.Counts.GangsDismantled++
}

func (c *Case) undismantle(eventID uuid.UUID) {
	for i := range c.Groups {
		g := &c.Groups[i]
		if g.Dismantled && g.DismantledEventID != nil && *g.DismantledEventID == eventID {
			g.Dismantled, g.DismantledAt, g.DismantledEventID, g.DismantledByAgency = false, nil, nil, ""
			c.Counts.GangsDismantled--
		}
	}
}

func (c *Case) retract(ev EntryRetracted, e Entry, m Metadata) {
	ref, ok := c.entries[ev.EventID]
	if !ok || ref.Retracted || ref.Event == nil {
		return // Decide refuses these; a stored one changes nothing
	}
	ref.Retracted = true
	c.entries[ev.EventID] = ref
	switch x := ref.Event.(type) {
	case SuspectIdentified:
		c.unidentify(ev.EventID)
	case IntelligenceLogged:
		c.Counts.IntelligenceReports--
	case ArrestMade:
		c.arrest(x.PersonID, -1)
	case SuspectCharged:
		c.uncharge(x, ev.EventID)
	case SeizureRecorded:
		c.seize(x, -1)
	case StowawaysDetected:
		c.Counts.Detections--
		c.Counts.PeopleDetected -= x.People
	case GangDismantled:
		c.undismantle(ev.EventID)
	}
	c.Counts.Retractions++
	c.Retractions = append(c.Retractions, Retraction{
		EventID: ev.EventID, Type: ref.Type, Version: ref.Version, Reason: ev.Reason,
		RetractedVersion: e.Version, RetractedAt: m.OccurredAt, RetractedBy: m.Actor,
	})
}
