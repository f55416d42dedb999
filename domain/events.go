// Package domain is the language of Casebook's investigations: the events
// officers log on a case, the case aggregate folded from them, the rules a
// new event must obey, and the envelope (actor, times, hash chain) every
// event is stored in. It performs no I/O.
package domain

import (
	"time"

	"github.com/google/uuid"
)

// Event type names. They are stored with every event and must never change;
// a new meaning gets a new name or a new schema version with an upcaster.
const (
	TypeCaseOpened                = "CaseOpened"
	TypeAgencyJoined              = "AgencyJoined"
	TypeOrganisedCrimeGroupLinked = "OrganisedCrimeGroupLinked"
	TypeSuspectIdentified         = "SuspectIdentified"
	TypeIntelligenceLogged        = "IntelligenceLogged"
	TypeArrestMade                = "ArrestMade"
	TypeSuspectCharged            = "SuspectCharged"
	TypeSeizureRecorded           = "SeizureRecorded"
	TypeStowawaysDetected         = "StowawaysDetected"
	TypeGangDismantled            = "GangDismantled"
	TypeCaseClosed                = "CaseClosed"
	TypeCaseReopened              = "CaseReopened"
	TypeEntryRetracted            = "EntryRetracted"
	TypePersonErased              = "PersonErased"
)

// StreamPrefix starts the name of every case stream: "case-<uuid>".
const StreamPrefix = "case-"

// StreamName is the event stream of the case with the given id.
func StreamName(caseID uuid.UUID) string { return StreamPrefix + caseID.String() }

// Crime types a case can cover.
const (
	CrimePeopleSmuggling = "people_smuggling"
	CrimeClassADrugs     = "class_a_drugs"
	CrimeCannabis        = "cannabis"
	CrimeTobacco         = "tobacco"
	CrimeCash            = "cash"
	CrimeFirearms        = "firearms"
	CrimeMoneyLaundering = "money_laundering"
	CrimeOther           = "other"
)

// Seized commodities.
const (
	CommodityClassADrugs        = "class_a_drugs"
	CommodityCannabis           = "cannabis"
	CommodityCash               = "cash"
	CommodityCigarettes         = "cigarettes"
	CommodityHandRollingTobacco = "hand_rolling_tobacco"
	CommodityFirearms           = "firearms"
	CommodityOther              = "other"
)

// Units of a seized quantity.
const (
	UnitKg     = "kg"
	UnitGBP    = "gbp"
	UnitSticks = "sticks"
	UnitItems  = "items"
)

// Stowaway detection methods.
const (
	MethodCO2Probe         = "co2_probe"
	MethodSnifferDog       = "sniffer_dog"
	MethodHeartbeatMonitor = "heartbeat_monitor"
	MethodVisualSearch     = "visual_search"
	MethodScanner          = "scanner"
)

// Roles of the people who log and read events.
const (
	RoleInvestigator = "investigator"
	RoleAuditor      = "auditor"
	RoleAnalyst      = "analyst"
	RoleAdmin        = "admin"
	// RoleDPO is the data protection officer: erases a person's personal
	// data from the cases of their agency, and sees of a case only what
	// that needs (see core.Allowed).
	RoleDPO = "dpo"
)

// Actor is who logged an event.
type Actor struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
	Agency  string `json:"agency"`
}

// The data of each event type. JSON field names are the HTTP API's contract.

// Where things happened: Location is a place code of the configured list
// (Places; reports group by it), LocationDetail any free text about the
// place (an address, a lay-by), which no report reads and which is stored
// sealed under the case's key, as intelligence is: it may name a person.

type CaseOpened struct {
	Reference      string   `json:"reference"`
	Title          string   `json:"title"`
	LeadAgency     string   `json:"lead_agency"`
	CrimeTypes     []string `json:"crime_types"`
	Location       string   `json:"location"`
	LocationDetail string   `json:"location_detail,omitempty"`
}

type AgencyJoined struct {
	Agency string `json:"agency"`
}

type OrganisedCrimeGroupLinked struct {
	GroupID uuid.UUID `json:"group_id"`
	Name    string    `json:"name"`
}

type SuspectIdentified struct {
	PersonID    uuid.UUID `json:"person_id"`
	Name        string    `json:"name"`
	DateOfBirth string    `json:"date_of_birth,omitempty"` // YYYY-MM-DD
	Nationality string    `json:"nationality,omitempty"`
}

type IntelligenceLogged struct {
	Summary string `json:"summary"`
	Grading string `json:"grading"` // 3x5x2 code, e.g. "1A1"
}

type ArrestMade struct {
	PersonID       uuid.UUID `json:"person_id"`
	Location       string    `json:"location"`
	LocationDetail string    `json:"location_detail,omitempty"`
	Offence        string    `json:"offence"`
	Agency         string    `json:"agency,omitempty"` // defaults to the logging officer's agency
}

type SuspectCharged struct {
	PersonID uuid.UUID `json:"person_id"`
	Charges  []string  `json:"charges"`
}

type SeizureRecorded struct {
	Commodity      string   `json:"commodity"`
	Quantity       Quantity `json:"quantity"`
	Unit           string   `json:"unit"`
	Location       string   `json:"location"`
	LocationDetail string   `json:"location_detail,omitempty"`
	ExhibitRef     string   `json:"exhibit_ref,omitempty"`
}

type StowawaysDetected struct {
	Location       string `json:"location"`
	LocationDetail string `json:"location_detail,omitempty"`
	Method         string `json:"method"`
	People         int    `json:"people"`
	Vehicle        string `json:"vehicle,omitempty"`
}

type GangDismantled struct {
	GroupID uuid.UUID `json:"group_id"`
}

type CaseClosed struct {
	Outcome string `json:"outcome"`
}

type CaseReopened struct {
	Reason string `json:"reason"`
}

type EntryRetracted struct {
	EventID uuid.UUID `json:"event_id"`
	Reason  string    `json:"reason"`
}

// PersonErased records the erasure of a person's personal data in a case
// (Data Protection Act 2018 Part 3): the key their data was sealed under is
// destroyed once this is recorded. It holds no personal data itself (the
// reason must not name the person).
type PersonErased struct {
	PersonID uuid.UUID `json:"person_id"`
	Reason   string    `json:"reason"`
}

// Metadata is what Casebook stores in an event's metadata JSON beside the
// data: the envelope. The store's own revision is the event's version.
type Metadata struct {
	SchemaVersion int       `json:"schema_version"`
	OccurredAt    time.Time `json:"occurred_at"`
	RecordedAt    time.Time `json:"recorded_at"`
	Actor         Actor     `json:"actor"`
	CorrelationID uuid.UUID `json:"correlation_id"`
	CausationID   uuid.UUID `json:"causation_id"`
	PrevHash      string    `json:"prev_hash"` // hex SHA-256; "" for version 0
	Hash          string    `json:"hash"`      // hex SHA-256
}
