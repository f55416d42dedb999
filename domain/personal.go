package domain

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Personal data in the log.
//
// A few fields name people: SuspectIdentified's name, date_of_birth and
// nationality, IntelligenceLogged's summary (intelligence names people)
// and the location_detail of the events that say where something
// happened (an address names its occupants). The application core stores them sealed — encrypted under a
// data key of the person (in that case) or of the case — so that
// destroying the key erases them while the events, their hash chain and
// every figure stay. The domain knows which fields these are, under which
// key each one goes and what a sealed value looks like; it never holds a
// key (the core passes a Sealer to Decide and opens what it reads).
//
// A sealed value takes the place of the plaintext string in the event's
// data JSON, so that the event's JSON shape, the strict decoding and the
// hash chain (over the stored bytes) stay as they are:
//
//	"cbk:enc:v1:<key name>:<base64url, no padding: nonce ‖ ciphertext ‖ tag>"
//
// where <key name> is "person-<person uuid>" or "case" (the case is the
// stream's), and the ciphertext is AES-256-GCM with a 12-byte nonce and a
// 16-byte tag (see package keystore). A plaintext value never starts with
// "cbk:enc:" (commands that try are refused), so the two forms cannot be
// confused. Events written before encryption hold plaintext; they stay
// readable, and `casebook migrate --encrypt` seals them into a new store.

// SealedPrefix starts every sealed value.
const SealedPrefix = "cbk:enc:v1:"

// reservedPrefix is what no plaintext personal field may start with.
const reservedPrefix = "cbk:enc:"

// Sizes of a sealed value's binary part around the ciphertext.
const (
	SealNonceSize = 12
	SealTagSize   = 16
)

// KeyRef names the data key a personal field is sealed under: the key of
// one person in one case, or the case's own key.
type KeyRef struct {
	Case   uuid.UUID
	Person uuid.UUID // uuid.Nil: the case's key
}

// CaseKey is the case's own key (intelligence summaries).
func CaseKey(caseID uuid.UUID) KeyRef { return KeyRef{Case: caseID} }

// PersonKey is the key of one person's data in one case.
func PersonKey(caseID, personID uuid.UUID) KeyRef { return KeyRef{Case: caseID, Person: personID} }

const (
	caseKeyName     = "case"
	personKeyPrefix = "person-"
)

// Name is the key's name inside its case, as written in a sealed value:
// "case" or "person-<uuid>".
func (k KeyRef) Name() string {
	if k.Person == uuid.Nil {
		return caseKeyName
	}
	return personKeyPrefix + k.Person.String()
}

// String is "<case uuid>/<name>".
func (k KeyRef) String() string { return k.Case.String() + "/" + k.Name() }

// FormatSealed writes a sealed value: the key's name and the binary part
// (nonce ‖ ciphertext ‖ tag).
func FormatSealed(key KeyRef, blob []byte) string {
	name := key.Name()
	var b strings.Builder
	b.Grow(len(SealedPrefix) + len(name) + 1 + base64.RawURLEncoding.EncodedLen(len(blob)))
	b.WriteString(SealedPrefix)
	b.WriteString(name)
	b.WriteByte(':')
	b.WriteString(base64.RawURLEncoding.EncodeToString(blob))
	return b.String()
}

// ParseSealed reads a sealed value: the key's name and the binary part.
// ok is false when s is not a well-formed sealed value.
func ParseSealed(s string) (keyName string, blob []byte, ok bool) {
	rest, found := strings.CutPrefix(s, SealedPrefix)
	if !found {
		return "", nil, false
	}
	keyName, enc, found := strings.Cut(rest, ":")
	if !found || !validKeyName(keyName) {
		return "", nil, false
	}
	blob, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(blob) < SealNonceSize+SealTagSize {
		return "", nil, false
	}
	return keyName, blob, true
}

func validKeyName(name string) bool {
	if name == caseKeyName {
		return true
	}
	id, ok := strings.CutPrefix(name, personKeyPrefix)
	if !ok {
		return false
	}
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// IsSealed reports whether s is in the sealed form (well-formed or not):
// it starts with the reserved prefix.
func IsSealed(s string) bool { return strings.HasPrefix(s, reservedPrefix) }

// PersonalField is one personal field of an event.
type PersonalField struct {
	Name  string // the JSON field name
	Key   KeyRef // the key it is (to be) sealed under
	Value string // as the event holds it: plaintext or sealed
	// maxChars bounds the plaintext (its validation rule).
	maxChars int
}

// HasPersonalFields reports whether events of type t may carry personal
// fields (PersonalFields says whether one event holds any).
func HasPersonalFields(t string) bool {
	_, ok := personalFieldNames[t]
	return ok
}

// PersonalEventTypes lists the event types that may carry personal fields,
// sorted.
func PersonalEventTypes() []string {
	out := make([]string, 0, len(personalFieldNames))
	for t := range personalFieldNames {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// PersonalFields lists ev's personal fields that hold a value, in schema
// order. caseID is the event's case (the keys are per case).
func PersonalFields(caseID uuid.UUID, ev Event) []PersonalField {
	var out []PersonalField
	add := func(name string, key KeyRef, v string, max int) {
		if v != "" {
			out = append(out, PersonalField{Name: name, Key: key, Value: v, maxChars: max})
		}
	}
	switch e := ev.(type) {
	case SuspectIdentified:
		k := PersonKey(caseID, e.PersonID)
		add("name", k, e.Name, MaxNameLength)
		add("date_of_birth", k, e.DateOfBirth, len(time.DateOnly))
		add("nationality", k, e.Nationality, MaxNameLength)
	case IntelligenceLogged:
		add("summary", CaseKey(caseID), e.Summary, MaxTextLength)
	case CaseOpened:
		add("location_detail", CaseKey(caseID), e.LocationDetail, MaxNameLength)
	case ArrestMade:
		add("location_detail", CaseKey(caseID), e.LocationDetail, MaxNameLength)
	case SeizureRecorded:
		add("location_detail", CaseKey(caseID), e.LocationDetail, MaxNameLength)
	case StowawaysDetected:
		add("location_detail", CaseKey(caseID), e.LocationDetail, MaxNameLength)
	}
	return out
}

// personalFieldNames are the personal fields of each type, set or not, in
// schema order.
var personalFieldNames = map[string][]string{
	TypeSuspectIdentified:  {"name", "date_of_birth", "nationality"},
	TypeIntelligenceLogged: {"summary"},
	TypeCaseOpened:         {"location_detail"},
	TypeArrestMade:         {"location_detail"},
	TypeSeizureRecorded:    {"location_detail"},
	TypeStowawaysDetected:  {"location_detail"},
}

// PersonalFieldNames lists the personal fields of event type t.
func PersonalFieldNames(t string) []string { return personalFieldNames[t] }

// WithPersonalFields returns ev with each personal field that holds a value
// replaced by what f returns for it.
func WithPersonalFields(caseID uuid.UUID, ev Event, f func(PersonalField) (string, error)) (Event, error) {
	fields := PersonalFields(caseID, ev)
	if len(fields) == 0 {
		return ev, nil
	}
	values := make(map[string]string, len(fields))
	for _, pf := range fields {
		v, err := f(pf)
		if err != nil {
			return nil, err
		}
		values[pf.Name] = v
	}
	set := func(name string, dst *string) {
		if v, ok := values[name]; ok {
			*dst = v
		}
	}
	switch e := ev.(type) {
	case SuspectIdentified:
		set("name", &e.Name)
		set("date_of_birth", &e.DateOfBirth)
		set("nationality", &e.Nationality)
		return e, nil
	case IntelligenceLogged:
		set("summary", &e.Summary)
		return e, nil
	case CaseOpened:
		set("location_detail", &e.LocationDetail)
		return e, nil
	case ArrestMade:
		set("location_detail", &e.LocationDetail)
		return e, nil
	case SeizureRecorded:
		set("location_detail", &e.LocationDetail)
		return e, nil
	case StowawaysDetected:
		set("location_detail", &e.LocationDetail)
		return e, nil
	}
	return ev, nil
}

// Sealer seals the plaintext of a personal field under key, bound to the
// event's id and the field's name, and returns the sealed value. The
// application core supplies it to Decide (it holds the keys); errors it
// returns are returned by Decide as they are.
type Sealer func(key KeyRef, eventID uuid.UUID, field, plaintext string) (string, error)

// sealPersonal seals every personal field of a decided event.
func sealPersonal(caseID, eventID uuid.UUID, ev Event, seal Sealer) (Event, error) {
	return WithPersonalFields(caseID, ev, func(pf PersonalField) (string, error) {
		return seal(pf.Key, eventID, pf.Name, pf.Value)
	})
}

// sealedPolicy says whether a personal field may hold a sealed value: not
// in a command (an officer sends plaintext), yes in a recorded event.
type sealedPolicy bool

const (
	refuseSealed sealedPolicy = false
	acceptSealed sealedPolicy = true
)

// personal validates a personal field: a sealed value (when accepted) by
// its form — the key it names must be the field's, and its size fit the
// plaintext's bound; the plaintext's own rules were applied when the event
// was decided — and a plaintext by check. It reports whether the value
// was a sealed one.
func (v *validator) personal(pf PersonalField, policy sealedPolicy) bool {
	if !IsSealed(pf.Value) {
		return false
	}
	if policy == refuseSealed {
		v.fail(pf.Name, "must not start with %q (reserved for sealed values)", reservedPrefix)
		return true
	}
	name, blob, ok := ParseSealed(pf.Value)
	switch {
	case !ok:
		v.fail(pf.Name, "is not a well-formed sealed value (%s<key>:<base64url>)", SealedPrefix)
	case name != pf.Key.Name():
		v.fail(pf.Name, "is sealed under the key %q, not the field's key %q", name, pf.Key.Name())
	case len(blob)-SealNonceSize-SealTagSize > pf.maxChars*utf8.UTFMax:
		v.fail(pf.Name, "sealed value is longer than the field's plaintext may be")
	}
	return true
}

// Unreadable says which sealed fields of an event or a person could not be
// opened, and why: a problem for those fields only, shown in place of
// their values (which are null) while the rest of the answer stands.
type Unreadable struct {
	Type   string   `json:"type"`   // a problem type: ProblemKeyUnavailable
	Code   string   `json:"code"`   // CodeKeyUnavailable or CodeUndecryptable
	Fields []string `json:"fields"` // the JSON names of the fields
	Detail string   `json:"detail"`
}

// ProblemKeyUnavailable is the problem type of sealed fields that cannot
// be opened (the HTTP API documents it at this address).
const ProblemKeyUnavailable = "/problems/key-unavailable"

// ViewData is the JSON an event's data is shown as once its sealed fields
// are opened: ev (holding plaintext) in canonical form, with the fields
// named in nulls written as null — in schema order, present even when ev
// leaves them out.
func ViewData(ev Event, nulls []string) ([]byte, error) {
	data, err := EncodeEventData(ev)
	if err != nil || len(nulls) == 0 {
		return data, err
	}
	s, ok := registry[ev.EventType()]
	if !ok {
		return data, nil
	}
	isNull := make(map[string]bool, len(nulls))
	for _, n := range nulls {
		isNull[n] = true
	}
	return withNulls(data, s.order, isNull)
}

// JSONWithNulls is v (a struct) as json.Marshal writes it, with the fields
// named in null written as null, present even where v's tags would leave
// them out.
func JSONWithNulls(v any, null []string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(null) == 0 {
		return b, err
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	isNull := make(map[string]bool, len(null))
	for _, n := range null {
		isNull[n] = true
	}
	return withNulls(b, jsonFieldOrder(t), isNull)
}

// withNulls rewrites the JSON object data (as json.Marshal wrote it) with
// the members named in null set to null, in the given field order, present
// even where data leaves them out.
func withNulls(data []byte, order []string, null map[string]bool) ([]byte, error) {
	members, err := scanMembers(data, nil)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(data)+16*len(null))
	out = append(out, '{')
	for _, name := range order {
		var value []byte
		if null[name] {
			value = []byte("null")
		} else {
			for _, m := range members {
				if string(m.key) == name {
					value = m.value
					break
				}
			}
		}
		if value == nil {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = appendJSONString(out, name)
		out = append(out, ':')
		out = append(out, value...)
	}
	return append(out, '}'), nil
}

// jsonFieldOrder lists the JSON names of a struct type's fields, in order.
func jsonFieldOrder(t reflect.Type) []string {
	var order []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			order = append(order, name)
		}
	}
	return order
}
