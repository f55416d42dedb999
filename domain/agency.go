package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Agency is one agency Casebook knows: a short code (stored on every event
// that names the agency) and its name, for people.
type Agency struct {
	Code string
	Name string
}

// codePattern is what a code of a configured list (an agency, a place) may
// look like: 2 to 32 letters, digits, '_' and '-', starting with a letter.
var codePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{1,31}$`)

// Agencies is the configured list of agencies. Codes match
// case-insensitively ("ukba" is UKBA) and are stored in their canonical,
// configured form, so that one agency is never two ("UKBA" and "ukba") in a
// case's list, a filter or a token.
type Agencies struct {
	list   []Agency
	byFold map[string]string // upper-cased code → canonical code
}

// NewAgencies checks and indexes a list of agencies.
func NewAgencies(list []Agency) (*Agencies, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("agencies: the list is empty")
	}
	a := &Agencies{byFold: make(map[string]string, len(list))}
	for _, ag := range list {
		ag.Code, ag.Name = strings.TrimSpace(ag.Code), strings.TrimSpace(ag.Name)
		if !codePattern.MatchString(ag.Code) {
			return nil, fmt.Errorf("agencies: code %q: want 2 to 32 letters, digits, '_' or '-', starting with a letter", truncateForMessage(ag.Code))
		}
		if ag.Name == "" {
			ag.Name = ag.Code
		}
		fold := strings.ToUpper(ag.Code)
		if prev, dup := a.byFold[fold]; dup {
			return nil, fmt.Errorf("agencies: code %s is listed twice (as %s)", ag.Code, prev)
		}
		a.byFold[fold] = ag.Code
		a.list = append(a.list, ag)
	}
	return a, nil
}

// DefaultAgencyList is the agencies a deployment knows unless configured
// otherwise: those of the 2011 release's border controls at Dover, Calais
// and Coquelles, and of the bodies that read their figures.
var DefaultAgencyList = []Agency{
	{"UKBA", "UK Border Agency"},
	{"BF", "Border Force"},
	{"SOCA", "Serious Organised Crime Agency"},
	{"NCA", "National Crime Agency"},
	{"HMRC", "HM Revenue & Customs"},
	{"HO", "Home Office"},
	{"HMIC", "HM Inspectorate of Constabulary"},
	{"KENT", "Kent Police"},
	{"PAF", "Police aux frontières"},
	{"DGDDI", "Direction générale des douanes et droits indirects"},
	{"GN", "Gendarmerie nationale"},
	{"JOCC", "Joint Operational Coordination Centre, Calais"},
}

// DefaultAgencies is DefaultAgencyList, indexed.
func DefaultAgencies() *Agencies {
	a, err := NewAgencies(DefaultAgencyList)
	if err != nil {
		panic(err) // the list above is valid; a test checks it
	}
	return a
}

// Canonical returns the configured code that s names (matched
// case-insensitively, surrounding spaces ignored).
func (a *Agencies) Canonical(s string) (string, bool) {
	code, ok := a.byFold[strings.ToUpper(strings.TrimSpace(s))]
	return code, ok
}

// Codes lists the configured codes, in configuration order.
func (a *Agencies) Codes() []string {
	codes := make([]string, len(a.list))
	for i, ag := range a.list {
		codes[i] = ag.Code
	}
	return codes
}

// List returns the configured agencies.
func (a *Agencies) List() []Agency { return slices.Clone(a.list) }

// UnknownAgency is the error of an agency that is not configured.
func (a *Agencies) UnknownAgency(field, s string) *Error {
	return &Error{Code: CodeUnknownAgency, Kind: KindInvalid, Field: field,
		Message: fmt.Sprintf("%q is not a known agency (one of %s)", truncateForMessage(s), strings.Join(a.Codes(), ", "))}
}

// canonicalAgencies rewrites the agency fields of an event in canonical form,
// or says which one names no configured agency. A nil list checks nothing.
func canonicalAgencies(ev Event, a *Agencies) (Event, *Error) {
	if a == nil {
		return ev, nil
	}
	canon := func(field string, s *string) *Error {
		code, ok := a.Canonical(*s)
		if !ok {
			return a.UnknownAgency(field, *s)
		}
		*s = code
		return nil
	}
	var err *Error
	switch e := ev.(type) {
	case CaseOpened:
		err = canon("lead_agency", &e.LeadAgency)
		ev = e
	case AgencyJoined:
		err = canon("agency", &e.Agency)
		ev = e
	case ArrestMade:
		err = canon("agency", &e.Agency)
		ev = e
	}
	return ev, err
}

// sameAgency compares agency codes as Casebook does: case-insensitively,
// so that a record written before codes were canonical still matches.
func sameAgency(a, b string) bool { return a != "" && strings.EqualFold(a, b) }
