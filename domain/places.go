package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Place is one place Casebook knows: a short code (stored on every event
// that says where something happened, and the key reports group by) and its
// name, for people.
type Place struct {
	Code string
	Name string
}

// PlaceOther is the code of a place that is not in the list, or not known:
// the event's location_detail says what is known of it. Every list of
// places holds it, whether the configuration names it or not, because the
// upcasting of events written before places were codes needs it.
const PlaceOther = "OTHER"

// placeOtherName is OTHER's name unless the configuration gives another.
const placeOtherName = "Other or unknown place"

// MaxPlaceCodeLength bounds a place code (and an agency code).
const MaxPlaceCodeLength = 32

// MaxPlaces bounds the list (GET /v1/places answers it whole).
const MaxPlaces = 10000

// Places is the configured list of places: a controlled vocabulary, so that
// what reports group by can never be free text (an address that names a
// person). Codes match case-insensitively ("dover" is DOVER) and are stored
// in their canonical, configured form, exactly as agency codes are.
type Places struct {
	list   []Place
	byFold map[string]string // upper-cased code → canonical code
}

// NewPlaces checks and indexes a list of places, adding OTHER when the list
// does not name it.
func NewPlaces(list []Place) (*Places, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("places: the list is empty")
	}
	if len(list) > MaxPlaces-1 {
		return nil, fmt.Errorf("places: %d places: at most %d (OTHER included)", len(list), MaxPlaces)
	}
	p := &Places{byFold: make(map[string]string, len(list)+1)}
	for _, pl := range list {
		pl.Code, pl.Name = strings.TrimSpace(pl.Code), strings.TrimSpace(pl.Name)
		if !codePattern.MatchString(pl.Code) {
			return nil, fmt.Errorf("places: code %q: want 2 to 32 letters, digits, '_' or '-', starting with a letter", truncateForMessage(pl.Code))
		}
		if pl.Name == "" {
			pl.Name = pl.Code
		}
		fold := strings.ToUpper(pl.Code)
		if prev, dup := p.byFold[fold]; dup {
			return nil, fmt.Errorf("places: code %s is listed twice (as %s)", pl.Code, prev)
		}
		if fold == PlaceOther {
			pl.Code = PlaceOther // its spelling is fixed: upcast events store it so
		}
		p.byFold[fold] = pl.Code
		p.list = append(p.list, pl)
	}
	if _, ok := p.byFold[PlaceOther]; !ok {
		p.byFold[PlaceOther] = PlaceOther
		p.list = append(p.list, Place{PlaceOther, placeOtherName})
	}
	return p, nil
}

// DefaultPlaceList is the places a deployment knows unless configured
// otherwise: the border controls of the 2011 release (Dover, the Channel
// Tunnel at Coquelles and Folkestone, the Calais ferry port), the ports and
// airports of the Channel and North Sea routes, and the towns the demo data
// set and the scale generator make arrests in.
var DefaultPlaceList = []Place{
	{"DOVER", "Dover"},
	{"FOLKESTONE", "Folkestone (Channel Tunnel)"},
	{"COQUELLES", "Coquelles (Channel Tunnel)"},
	{"CALAIS", "Calais (ferry port)"},
	{"DUNKIRK", "Dunkirk"},
	{"GRANDE-SYNTHE", "Grande-Synthe"},
	{"CHERBOURG", "Cherbourg"},
	{"LE_HAVRE", "Le Havre"},
	{"OSTEND", "Ostend"},
	{"ZEEBRUGGE", "Zeebrugge"},
	{"ROTTERDAM", "Rotterdam"},
	{"HARWICH", "Harwich"},
	{"FELIXSTOWE", "Felixstowe"},
	{"HULL", "Hull"},
	{"PORTSMOUTH", "Portsmouth"},
	{"THURROCK", "Thurrock"},
	{"HEATHROW", "London Heathrow Airport"},
	{"LONDON", "London"},
	{"BIRMINGHAM", "Birmingham"},
	{"LIVERPOOL", "Liverpool"},
	{"MANCHESTER", "Manchester"},
	{"NOTTINGHAM", "Nottingham"},
	{"LILLE", "Lille"},
	{"PARIS", "Paris"},
	{PlaceOther, placeOtherName},
}

// DefaultPlaces is DefaultPlaceList, indexed.
func DefaultPlaces() *Places {
	p, err := NewPlaces(DefaultPlaceList)
	if err != nil {
		panic(err) // the list above is valid; a test checks it
	}
	return p
}

// Canonical returns the configured code that s names (matched
// case-insensitively, surrounding spaces ignored).
func (p *Places) Canonical(s string) (string, bool) {
	code, ok := p.byFold[strings.ToUpper(strings.TrimSpace(s))]
	return code, ok
}

// Codes lists the configured codes, in configuration order (OTHER last
// unless configured elsewhere).
func (p *Places) Codes() []string {
	codes := make([]string, len(p.list))
	for i, pl := range p.list {
		codes[i] = pl.Code
	}
	return codes
}

// List returns the configured places.
func (p *Places) List() []Place { return slices.Clone(p.list) }

// Name is the name of the place with the code (canonical or not); "" when
// the list has no such place.
func (p *Places) Name(code string) string {
	c, ok := p.Canonical(code)
	if !ok {
		return ""
	}
	for _, pl := range p.list {
		if pl.Code == c {
			return pl.Name
		}
	}
	return ""
}

// UnknownPlace is the error of a place that is not configured.
func (p *Places) UnknownPlace(field, s string) *Error {
	return &Error{Code: CodeUnknownPlace, Kind: KindInvalid, Field: field,
		Message: fmt.Sprintf("%q is not a known place code (one of %s; put what is known of another place in location_detail with %s)",
			truncateForMessage(s), strings.Join(p.Codes(), ", "), PlaceOther)}
}

// canonicalPlaces rewrites the location of an event in canonical form, or
// says that it names no configured place. A nil list is the default one:
// a report's groups never come from free text, whatever the caller.
func canonicalPlaces(ev Event, p *Places) (Event, *Error) {
	if p == nil {
		p = defaultPlaces
	}
	canon := func(s *string) *Error {
		code, ok := p.Canonical(*s)
		if !ok {
			return p.UnknownPlace("location", *s)
		}
		*s = code
		return nil
	}
	var err *Error
	switch e := ev.(type) {
	case CaseOpened:
		err = canon(&e.Location)
		ev = e
	case ArrestMade:
		err = canon(&e.Location)
		ev = e
	case SeizureRecorded:
		err = canon(&e.Location)
		ev = e
	case StowawaysDetected:
		err = canon(&e.Location)
		ev = e
	}
	return ev, err
}

// defaultPlaces is DefaultPlaces, indexed once.
var defaultPlaces = DefaultPlaces()

// Reading events written before places were codes.
//
// Until schema v2 of CaseOpened and ArrestMade, and v3 of SeizureRecorded
// and StowawaysDetected, `location` was free text. Such an event is read
// (never rewritten: its stored bytes and hash stay) through upcastPlace:
// a location that is a code or the name of a place of DefaultPlaceList —
// matched case-insensitively, surrounding spaces ignored ("Dover",
// "dover ", "Le Havre", "COQUELLES") — becomes that code; any other text
// becomes OTHER with the text as location_detail, which no report reads.
// The mapping is the built-in list's, not the configured one's, so that
// an old event reads the same on every deployment and after every change
// of configuration: reports built from it never depend on the flags.

// legacyPlaceByFold maps the upper-cased code and name of every place of
// DefaultPlaceList to its code.
var legacyPlaceByFold = func() map[string]string {
	m := map[string]string{}
	for _, pl := range DefaultPlaceList {
		m[strings.ToUpper(pl.Code)] = pl.Code
		m[strings.ToUpper(pl.Name)] = pl.Code
	}
	return m
}()

// LegacyPlace is how a free-text location written before places were codes
// is read: its code and the detail kept beside it (see upcastPlace).
func LegacyPlace(text string) (code, detail string) {
	if code, ok := legacyPlaceByFold[strings.ToUpper(strings.TrimSpace(text))]; ok {
		return code, ""
	}
	return PlaceOther, strings.TrimSpace(text)
}

// upcastPlace turns a free-text location into a place code and a detail
// (see LegacyPlace). Data whose location is absent or not a string is left
// for the strict decode to judge.
func upcastPlace(obj map[string]json.RawMessage) error {
	raw, ok := obj["location"]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return nil
	}
	if _, clash := obj["location_detail"]; clash {
		return fieldError("location_detail", "is not a field of this schema version")
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return fieldError("location", "must be a string")
	}
	code, detail := LegacyPlace(text)
	c, _ := json.Marshal(code)
	obj["location"] = c
	if detail != "" {
		d, _ := json.Marshal(detail)
		obj["location_detail"] = d
	}
	return nil
}
