package domain

import (
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Bounds of free-text fields, in characters (Unicode code points).
const (
	MaxReferenceLength = 64   // case reference, exhibit reference
	MaxNameLength      = 200  // agencies, location details, names, titles, offences, charges, vehicles
	MaxTextLength      = 4000 // intelligence summaries
	MaxReasonLength    = 2000 // outcomes and reasons
	MaxCharges         = 50   // charges in one SuspectCharged
	MaxPeopleDetected  = 10000
)

var gradingPattern = regexp.MustCompile(`^[1-3][A-E][1-2]$`)

// Enumerations, for validation and for API documentation.
var (
	CrimeTypes  = []string{CrimePeopleSmuggling, CrimeClassADrugs, CrimeCannabis, CrimeTobacco, CrimeCash, CrimeFirearms, CrimeMoneyLaundering, CrimeOther}
	Commodities = []string{CommodityClassADrugs, CommodityCannabis, CommodityCash, CommodityCigarettes, CommodityHandRollingTobacco, CommodityFirearms, CommodityOther}
	Units       = []string{UnitKg, UnitGBP, UnitSticks, UnitItems}
	Methods     = []string{MethodCO2Probe, MethodSnifferDog, MethodHeartbeatMonitor, MethodVisualSearch, MethodScanner}
)

// UnitFor is the unit a commodity is measured in ("" for other, which takes
// any unit).
func UnitFor(commodity string) string {
	switch commodity {
	case CommodityCash:
		return UnitGBP
	case CommodityCigarettes:
		return UnitSticks
	case CommodityFirearms:
		return UnitItems
	case CommodityClassADrugs, CommodityCannabis, CommodityHandRollingTobacco:
		return UnitKg
	}
	return ""
}

// normalize trims surrounding whitespace from free text and upper-cases the
// intelligence grading, so that what is stored is tidy and a retried command
// compares equal to what was stored.
func normalize(ev Event) Event {
	t := strings.TrimSpace
	switch e := ev.(type) {
	case CaseOpened:
		e.Reference, e.Title, e.LeadAgency, e.Location, e.LocationDetail = t(e.Reference), t(e.Title), t(e.LeadAgency), t(e.Location), t(e.LocationDetail)
		return e
	case AgencyJoined:
		e.Agency = t(e.Agency)
		return e
	case OrganisedCrimeGroupLinked:
		e.Name = t(e.Name)
		return e
	case SuspectIdentified:
		e.Name, e.DateOfBirth, e.Nationality = t(e.Name), t(e.DateOfBirth), t(e.Nationality)
		return e
	case IntelligenceLogged:
		e.Summary, e.Grading = t(e.Summary), strings.ToUpper(t(e.Grading))
		return e
	case ArrestMade:
		e.Location, e.LocationDetail, e.Offence, e.Agency = t(e.Location), t(e.LocationDetail), t(e.Offence), t(e.Agency)
		return e
	case SuspectCharged:
		cs := make([]string, len(e.Charges))
		for i, c := range e.Charges {
			cs[i] = t(c)
		}
		e.Charges = cs
		return e
	case SeizureRecorded:
		e.Location, e.LocationDetail, e.ExhibitRef = t(e.Location), t(e.LocationDetail), t(e.ExhibitRef)
		return e
	case StowawaysDetected:
		e.Location, e.LocationDetail, e.Vehicle = t(e.Location), t(e.LocationDetail), t(e.Vehicle)
		return e
	case CaseClosed:
		e.Outcome = t(e.Outcome)
		return e
	case CaseReopened:
		e.Reason = t(e.Reason)
		return e
	case EntryRetracted:
		e.Reason = t(e.Reason)
		return e
	case PersonErased:
		e.Reason = t(e.Reason)
		return e
	case RetentionReviewed:
		e.Reason, e.NextReview = t(e.Reason), t(e.NextReview)
		return e
	}
	return ev
}

// validate checks the rules of an event's data that do not depend on the
// case's state. now is the clock (dates of birth are in the past). policy
// says whether personal fields may hold sealed values (recorded events) or
// not (commands); a sealed value is checked by its form, its plaintext
// having been checked when the event was decided.
func validate(ev Event, now time.Time, policy sealedPolicy) *Error {
	var v validator
	sealed := map[string]bool{}
	for _, pf := range PersonalFields(uuid.Nil, ev) {
		sealed[pf.Name] = v.personal(pf, policy)
	}
	if v.err != nil {
		return v.err
	}
	switch e := ev.(type) {
	case CaseOpened:
		v.text("reference", e.Reference, MaxReferenceLength, false)
		v.text("title", e.Title, MaxNameLength, false)
		v.text("lead_agency", e.LeadAgency, MaxNameLength, false)
		v.place(e.Location, e.LocationDetail, sealed)
		if len(e.CrimeTypes) == 0 {
			v.fail("crime_types", "must list at least one crime type")
		}
		for i, c := range e.CrimeTypes {
			v.oneOf("crime_types", c, CrimeTypes)
			if slices.Index(e.CrimeTypes, c) != i {
				v.fail("crime_types", "lists %q twice", c)
			}
		}
	case AgencyJoined:
		v.text("agency", e.Agency, MaxNameLength, false)
	case OrganisedCrimeGroupLinked:
		v.id("group_id", e.GroupID)
		v.text("name", e.Name, MaxNameLength, false)
	case SuspectIdentified:
		v.id("person_id", e.PersonID)
		if !sealed["name"] {
			v.text("name", e.Name, MaxNameLength, false)
		}
		if e.DateOfBirth != "" && !sealed["date_of_birth"] {
			dob, err := time.Parse(time.DateOnly, e.DateOfBirth)
			switch {
			case err != nil:
				v.fail("date_of_birth", "must be a date written YYYY-MM-DD")
			case dob.Before(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)):
				v.fail("date_of_birth", "must not be before 1900-01-01")
			case !dob.Before(now.UTC().Truncate(24 * time.Hour)):
				v.fail("date_of_birth", "must be in the past")
			}
		}
		if e.Nationality != "" && !sealed["nationality"] {
			v.text("nationality", e.Nationality, MaxNameLength, false)
		}
	case IntelligenceLogged:
		if !sealed["summary"] {
			v.text("summary", e.Summary, MaxTextLength, true)
		}
		if !gradingPattern.MatchString(e.Grading) {
			v.fail("grading", "must be a 3x5x2 grading: source evaluation 1-3, intelligence assessment A-E, handling code 1-2 (such as 1A1 or 2B1)")
		}
	case ArrestMade:
		v.id("person_id", e.PersonID)
		v.place(e.Location, e.LocationDetail, sealed)
		v.text("offence", e.Offence, MaxNameLength, false)
		v.text("agency", e.Agency, MaxNameLength, false) // filled from the actor when absent
	case SuspectCharged:
		v.id("person_id", e.PersonID)
		if len(e.Charges) == 0 {
			v.fail("charges", "must list at least one charge")
		}
		if len(e.Charges) > MaxCharges {
			v.fail("charges", "must list at most %d charges", MaxCharges)
		}
		for i, c := range e.Charges {
			v.text("charges", c, MaxNameLength, false)
			if slices.Index(e.Charges, c) != i {
				v.fail("charges", "lists %q twice", c)
			}
		}
	case SeizureRecorded:
		v.oneOf("commodity", e.Commodity, Commodities)
		v.oneOf("unit", e.Unit, Units)
		if want := UnitFor(e.Commodity); want != "" && e.Unit != want && slices.Contains(Units, e.Unit) {
			v.fail("unit", "%s is measured in %s, not %s", e.Commodity, want, e.Unit)
		}
		switch m := e.Quantity.Micros(); {
		case m <= 0:
			v.fail("quantity", "must be greater than 0")
		case m > MaxSeizureQuantity*QuantityScale:
			v.fail("quantity", "must be at most %d", MaxSeizureQuantity)
		case (e.Unit == UnitSticks || e.Unit == UnitItems) && m%QuantityScale != 0:
			v.fail("quantity", "must be a whole number of %s", e.Unit)
		case e.Unit == UnitGBP && m%(QuantityScale/100) != 0:
			v.fail("quantity", "must be whole pence (at most 2 decimal places)")
		}
		v.place(e.Location, e.LocationDetail, sealed)
		if e.ExhibitRef != "" {
			v.text("exhibit_ref", e.ExhibitRef, MaxReferenceLength, false)
		}
	case StowawaysDetected:
		v.place(e.Location, e.LocationDetail, sealed)
		v.oneOf("method", e.Method, Methods)
		if e.People < 1 || e.People > MaxPeopleDetected {
			v.fail("people", "must be from 1 to %d", MaxPeopleDetected)
		}
		if e.Vehicle != "" {
			v.text("vehicle", e.Vehicle, MaxNameLength, false)
		}
	case GangDismantled:
		v.id("group_id", e.GroupID)
	case CaseClosed:
		v.text("outcome", e.Outcome, MaxReasonLength, true)
	case CaseReopened:
		v.text("reason", e.Reason, MaxReasonLength, true)
	case EntryRetracted:
		v.id("event_id", e.EventID)
		v.text("reason", e.Reason, MaxReasonLength, true)
	case PersonErased:
		v.id("person_id", e.PersonID)
		v.text("reason", e.Reason, MaxReasonLength, true)
	case RetentionReviewed:
		v.retentionReviewed(e, now)
	}
	return v.err
}

// validator keeps the first failure.
type validator struct{ err *Error }

func (v *validator) fail(field, format string, args ...any) {
	if v.err == nil {
		v.err = fieldError(field, format, args...)
	}
}

func (v *validator) text(field, s string, max int, multiline bool) {
	switch {
	case strings.TrimSpace(s) == "":
		v.fail(field, "must not be empty")
	case utf8.RuneCountInString(s) > max:
		v.fail(field, "must be at most %d characters", max)
	case !utf8.ValidString(s):
		v.fail(field, "must be valid UTF-8")
	default:
		for _, r := range s {
			if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
				v.fail(field, "must not contain control characters")
				return
			}
		}
	}
}

// place checks a location (a place code, whose membership of the list
// canonicalPlaces judges) and its free-text detail (unless sealed).
func (v *validator) place(code, detail string, sealed map[string]bool) {
	v.text("location", code, MaxPlaceCodeLength, false)
	if detail != "" && !sealed["location_detail"] {
		v.text("location_detail", detail, MaxNameLength, false)
	}
}

func (v *validator) oneOf(field, s string, allowed []string) {
	if !slices.Contains(allowed, s) {
		v.fail(field, "must be one of %s", strings.Join(allowed, ", "))
	}
}

func (v *validator) id(field string, id uuid.UUID) {
	if id == uuid.Nil {
		v.fail(field, "must not be the nil UUID")
	}
}

// ValidateActor checks the actor of a command: who logs an event must be
// named, with a role and an agency.
func ValidateActor(a Actor) error {
	var v validator
	v.text("actor.subject", a.Subject, MaxNameLength, false)
	v.text("actor.role", a.Role, MaxNameLength, false)
	v.text("actor.agency", a.Agency, MaxNameLength, false)
	if v.err != nil {
		return v.err
	}
	return nil
}
