package domain

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/casebook/casebook/internal/jsontext"
)

// DecodeEventData decodes stored event data of the given type and schema
// version into the current schema's typed event. Older versions go through
// the upcaster chain first (v1 → v2 → … → current), so an event stored years
// ago still loads. Decoding is strict about structure (unknown fields, wrong
// JSON types, missing required fields are errors naming the field) but does
// not apply today's business validation: a fact stored under older, looser
// rules must still load.
//
// Errors are *Error with codes unknown_event_type, unsupported_schema_version,
// malformed_json or validation.
func DecodeEventData(eventType string, schemaVersion int, data []byte) (Event, error) {
	s, ok := registry[eventType]
	if !ok {
		return nil, invalid(CodeUnknownEventType, "type", "unknown event type %q", truncateForMessage(eventType))
	}
	if schemaVersion < 1 || schemaVersion > s.schema {
		return nil, invalid(CodeUnsupportedSchemaVersion, "schema_version",
			"%s schema version %d is not supported (1 to %d)", eventType, schemaVersion, s.schema)
	}
	if schemaVersion < s.schema {
		up, err := upcast(s, schemaVersion, data)
		if err != nil {
			return nil, err
		}
		data = up
	}
	return s.decode(data, s)
}

// DecodeCommand decodes the data of a new event of the current schema (as
// an officer sends it): strict decoding, then the defaults that come from
// the actor (CaseOpened.lead_agency and ArrestMade.agency default to the
// actor's agency), normalisation (surrounding whitespace trimmed, grading
// upper-cased) and validation against the rules that do not depend on the
// case's state. now is the clock, for rules such as "a date of birth is in
// the past".
func DecodeCommand(eventType string, data []byte, actor Actor, now time.Time) (Event, error) {
	return decodeCommand(eventType, data, actor, now, nil, nil)
}

// decodeCommand is DecodeCommand that also puts the agencies and the place
// the event names in their canonical form, refusing agencies and places
// that are not configured (agencies nil: no check; places nil: the default
// list, DefaultPlaces).
func decodeCommand(eventType string, data []byte, actor Actor, now time.Time, agencies *Agencies, places *Places) (Event, error) {
	s, ok := registry[eventType]
	if !ok {
		return nil, invalid(CodeUnknownEventType, "type", "unknown event type %q", truncateForMessage(eventType))
	}
	ev, err := s.decode(data, s)
	if err != nil {
		return nil, err
	}
	ev = normalize(withDefaults(ev, actor))
	if err := validate(ev, now, refuseSealed); err != nil {
		return nil, err
	}
	ev, aerr := canonicalAgencies(ev, agencies)
	if aerr != nil {
		return nil, aerr
	}
	ev, perr := canonicalPlaces(ev, places)
	if perr != nil {
		return nil, perr
	}
	return ev, nil
}

// withDefaults fills the fields that default to the actor's agency.
func withDefaults(ev Event, actor Actor) Event {
	switch e := ev.(type) {
	case CaseOpened:
		if strings.TrimSpace(e.LeadAgency) == "" {
			e.LeadAgency = actor.Agency
		}
		return e
	case ArrestMade:
		if strings.TrimSpace(e.Agency) == "" {
			e.Agency = actor.Agency
		}
		return e
	}
	return ev
}

// EncodeEventData is the canonical JSON of an event's data: what is stored.
func EncodeEventData(ev Event) ([]byte, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("domain: encode %s: %w", ev.EventType(), err)
	}
	return b, nil
}

func upcast(s *eventSpec, from int, data []byte) ([]byte, error) {
	obj, err := topLevelObject(data)
	if err != nil {
		return nil, err
	}
	for v := from; v < s.schema; v++ {
		u, ok := s.upcasters[v]
		if !ok {
			return nil, invalid(CodeUnsupportedSchemaVersion, "schema_version", "no upcaster from schema version %d", v)
		}
		if err := u(obj); err != nil {
			return nil, err
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("domain: re-encode upcast data: %w", err)
	}
	return out, nil
}

// upcastSeizureV1: schema v1 of SeizureRecorded wrote the quantity as a
// string ("12.500"); v2 writes an exact number literal (12.5).
func upcastSeizureV1(obj map[string]json.RawMessage) error {
	raw, ok := obj["quantity"]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return nil // absent or already a number: the strict decode judges it
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return fieldError("quantity", "must be a string holding a number (schema v1)")
	}
	q, err := ParseQuantity(s)
	if err != nil {
		return fieldError("quantity", "%v", err)
	}
	obj["quantity"] = json.RawMessage(q.String())
	return nil
}

// upcastStowawaysV1: schema v1 of StowawaysDetected called the number of
// people found "count"; v2 calls it "people".
func upcastStowawaysV1(obj map[string]json.RawMessage) error {
	c, ok := obj["count"]
	if !ok {
		return nil
	}
	if _, both := obj["people"]; both {
		return fieldError("count", "schema v1 data has both count and people")
	}
	delete(obj, "count")
	obj["people"] = c
	return nil
}

// topLevelObject reads data as one JSON object, rejecting duplicate keys
// and trailing data.
func topLevelObject(data []byte) (map[string]json.RawMessage, error) {
	members, err := scanMembers(data, nil)
	if err != nil {
		return nil, err
	}
	obj := make(map[string]json.RawMessage, len(members))
	for _, m := range members {
		obj[string(m.key)] = m.value
	}
	return obj, nil
}

// decodeStrict decodes a JSON object into target (a pointer to an event
// struct). Keys must match known exactly, appear once, and every required key
// must be present and not null. Errors name the field.
func decodeStrict(data []byte, target any, known map[string]bool, required []string) error {
	var onStack [16]objectMember // event objects have a handful of keys
	members, err := scanMembers(data, onStack[:0])
	if err != nil {
		return err
	}
	for _, m := range members {
		if !known[string(m.key)] {
			return fieldError(string(m.key), "unknown field")
		}
	}
	for _, r := range required {
		if !hasNonNullMember(members, r) {
			return fieldError(r, "is required")
		}
	}
	// The keys are exact and unique now, so one decode of the whole object
	// does what we want; only when it fails do we decode field by field to
	// learn which field failed (errors of UnmarshalJSON/UnmarshalText
	// methods, such as a bad UUID, do not carry the field).
	err = decodeChecked(data, target)
	if err == nil {
		return nil
	}
	if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && te.Field != "" {
		return typeError(reflect.TypeOf(target).Elem(), te)
	}
	return findFailingField(members, target, err)
}

// hasNonNullMember reports whether members has the key, with a value other
// than null.
func hasNonNullMember(members []objectMember, key string) bool {
	for _, m := range members {
		if string(m.key) == key {
			return string(m.value) != "null"
		}
	}
	return false
}

// decodeChecked decodes data, whose top-level keys decodeStrict has
// checked, into target. json.Unmarshal does that in one pass, except that it
// ignores unknown keys of nested objects (encoding/json also matches keys
// case-insensitively, which is why decodeStrict checks the top-level ones
// itself); a target with nested structs (Metadata.Actor) is decoded with
// DisallowUnknownFields, as it always was.
func decodeChecked(data []byte, target any) error {
	if !hasNestedStructs(reflect.TypeOf(target).Elem()) {
		return json.Unmarshal(data, target)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(target)
}

// findFailingField decodes the members one by one into fresh values of
// target's type, to name the field the whole decode (which failed with
// wholeErr) failed on.
func findFailingField(members []objectMember, target any, wholeErr error) error {
	for _, m := range members {
		if string(m.value) == "null" {
			continue
		}
		one := make([]byte, 0, len(m.key)+len(m.value)+8)
		kq, _ := json.Marshal(string(m.key))
		one = append(one, '{')
		one = append(one, kq...)
		one = append(one, ':')
		one = append(one, m.value...)
		one = append(one, '}')
		fresh := reflect.New(reflect.TypeOf(target).Elem()).Interface()
		if err := json.Unmarshal(one, fresh); err != nil {
			return describeFieldError(string(m.key), reflect.TypeOf(target).Elem(), err)
		}
	}
	// Should not happen: the whole failed but no field did.
	return malformedData("event data could not be decoded: %v", wholeErr)
}

// nestedStructs caches hasNestedStructs: reflect.Type → bool.
var nestedStructs sync.Map

// hasNestedStructs reports whether decoding into the struct type t involves
// objects other than the top-level one that encoding/json decodes field by
// field: a field of a struct type (directly, or as the element of a pointer,
// slice, array or map) that does not decode itself through UnmarshalJSON or
// UnmarshalText. Interfaces and embedded fields count too, to be safe.
func hasNestedStructs(t reflect.Type) bool {
	if v, ok := nestedStructs.Load(t); ok {
		return v.(bool)
	}
	nested := false
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous || isPlainStructInside(f.Type) {
			nested = true
			break
		}
	}
	nestedStructs.Store(t, nested)
	return nested
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// isPlainStructInside reports whether a value of type t is, or holds, a
// struct (or interface) that encoding/json decodes field by field.
func isPlainStructInside(t reflect.Type) bool {
	for {
		if reflect.PointerTo(t).Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
			return false
		}
		switch t.Kind() {
		case reflect.Struct, reflect.Interface:
			return true
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		default:
			return false
		}
	}
}

// objectMember is one member of a JSON object: its key, unescaped, and the
// raw bytes of its value (without surrounding whitespace). Both may share
// the bytes of the scanned data.
type objectMember struct {
	key   []byte
	value []byte
}

// scanMembers splits data, one JSON object, into its members in order,
// appending them to dst. It rejects non-objects, malformed JSON, trailing
// data and duplicate keys, with the errors the json.Decoder walk of
// scanObjectSlow gives.
//
// Valid JSON, the usual case, is checked by json.Valid (fast, no
// allocation) and then only needs its spans found; invalid JSON goes
// through scanObjectSlow, which says precisely what is wrong where.
//
// Kept by measurement (scripts/load/ab.sh, builds alternated, medians,
// 2026-12-02, shared 2-core machine): a build with the hand-written JSON
// paths (this one, the domain's object scan and metadata encoder, the
// record-event body and answer in http/recordbody.go, sqlitestore's
// recorded_at and event id parsing) replaced by encoding/json and the
// standard parsers reached 0.81x the previous release's durable POST rate
// (4,140 vs 5,131 req/s, 7 rounds, every one lower), against 1.00x for the
// same build with them (5 rounds), and 0.91x of the build with them in a
// direct A/B (5 rounds). Together they are worth more than the 10% a speed
// trick must earn; the noise of this machine did not allow telling the
// pieces apart.
func scanMembers(data []byte, dst []objectMember) ([]objectMember, error) {
	i := jsontext.SkipSpace(data, 0)
	if i == len(data) || data[i] != '{' || !json.Valid(data) {
		// Not an object, or not JSON: an error, which the slow walk
		// words (it refuses a number too large for a float64 as such).
		return scanMembersSlow(data, dst)
	}
	start := len(dst)
	var seen keySet
	i = jsontext.SkipSpace(data, i+1)
	if data[i] == '}' {
		return dst, nil
	}
	for {
		keyEnd := jsontext.StringEnd(data, i)
		key, err := unquoteKey(data[i:keyEnd])
		if err != nil {
			return nil, malformed(err)
		}
		i = jsontext.SkipSpace(data, jsontext.SkipSpace(data, keyEnd)+1) // past the ':'
		valueEnd := jsontext.ValueEnd(data, i)
		if seen.contains(dst[start:], key) {
			return nil, fieldError(string(key), "appears more than once")
		}
		dst = append(dst, objectMember{key: key, value: data[i:valueEnd]})
		seen.added(dst[start:])
		i = jsontext.SkipSpace(data, valueEnd)
		if data[i] == '}' {
			return dst, nil
		}
		i = jsontext.SkipSpace(data, i+1) // past the ','
	}
}

// scanMembersSlow is scanMembers for input that is not a valid JSON object.
func scanMembersSlow(data []byte, dst []objectMember) ([]objectMember, error) {
	keys, values, err := scanObjectSlow(data)
	if err != nil {
		return nil, err
	}
	for i, k := range keys { // not expected: the walk accepts only valid JSON
		dst = append(dst, objectMember{key: []byte(k), value: values[i]})
	}
	return dst, nil
}

// keySet finds duplicate keys among an object's members. Event objects have
// a handful of keys, for which a linear search beats hashing; a map takes
// over in large (hostile) objects so that the work stays linear.
type keySet struct {
	index map[string]struct{} // the keys, once there are many
}

const keySetLinearMax = 16

// contains reports whether key is the key of one of members, the object's
// members so far.
func (s *keySet) contains(members []objectMember, key []byte) bool {
	if s.index != nil {
		_, ok := s.index[string(key)]
		return ok
	}
	for _, m := range members {
		if bytes.Equal(m.key, key) {
			return true
		}
	}
	return false
}

// added is told of each member added to members, the object's members.
func (s *keySet) added(members []objectMember) {
	switch {
	case len(members) <= keySetLinearMax:
	case s.index == nil:
		s.index = make(map[string]struct{}, 2*len(members))
		for _, m := range members {
			s.index[string(m.key)] = struct{}{}
		}
	default:
		s.index[string(members[len(members)-1].key)] = struct{}{}
	}
}

// unquoteKey returns the text of the quoted key, decoded as encoding/json
// decodes it (escapes resolved, invalid UTF-8 replaced by U+FFFD).
func unquoteKey(quoted []byte) ([]byte, error) {
	text := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(text, '\\') < 0 && utf8.Valid(text) {
		return text, nil
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, fmt.Errorf("object key %s: %w", quoted, err) // not expected: json.Valid accepted it
	}
	return []byte(s), nil
}

// scanObjectSlow splits a JSON object into its keys and raw values, in
// order, walking it token by token with a json.Decoder. It is slow (an
// allocation per token) but its errors say what is wrong and where, so it
// reports on the input json.Valid refuses.
func scanObjectSlow(data []byte) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, malformed(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, malformedData("event data must be a JSON object")
	}
	var keys []string
	var values []json.RawMessage
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, malformed(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, malformedData("object key expected")
		}
		if seen[key] {
			return nil, nil, fieldError(key, "appears more than once")
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, malformed(err)
		}
		keys = append(keys, key)
		values = append(values, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, malformedData("unexpected data after the JSON object")
	}
	return keys, values, nil
}

func malformed(err error) *Error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return malformedData("event data is not valid JSON: unexpected end")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return malformedData("event data is not valid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return malformedData("event data is not valid JSON: %s", err.Error())
}

// describeFieldError says why a field's value could not be decoded into the
// struct type structType.
func describeFieldError(field string, structType reflect.Type, err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			te.Field = field
		}
		return typeError(nil, te)
	}
	var qe *quantityError
	if errors.As(err, &qe) {
		return fieldError(field, "%s", qe.msg)
	}
	if holdsUUID(structType, field) {
		// uuid.UUID's own errors are untyped; the field's type says it all.
		return fieldError(field, "must be a UUID (such as 0f8fad5b-d9cb-469f-a165-70867728950e)")
	}
	return fieldError(field, "%s", err.Error())
}

// holdsUUID reports whether the field of structType whose JSON name is
// field holds UUIDs (a UUID, a pointer to one, or a slice of them).
func holdsUUID(structType reflect.Type, field string) bool {
	uuidType := reflect.TypeFor[uuid.UUID]()
	for i := range structType.NumField() {
		f := structType.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != field {
			continue
		}
		t := f.Type
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		return t == uuidType
	}
	return false
}

// typeError describes a JSON value of the wrong type. For an element of an
// array field (te.Type is the element's type) it says what the array holds.
func typeError(structType reflect.Type, te *json.UnmarshalTypeError) *Error {
	top, _, _ := strings.Cut(te.Field, ".")
	if structType != nil && structType.Kind() == reflect.Struct {
		for i := range structType.NumField() {
			f := structType.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == top && f.Type.Kind() == reflect.Slice && f.Type != te.Type {
				return fieldError(top, "must be an array whose items are each %s", JSONTypeName(te.Type))
			}
		}
	}
	return fieldError(top, "must be %s", JSONTypeName(te.Type))
}

var uuidType = reflect.TypeOf(uuid.UUID{})
var quantityType = reflect.TypeOf(Quantity{})

// JSONTypeName names, for an error message, the JSON type that values of the
// Go type t are decoded from ("a string", "a UUID string", "an object"…).
func JSONTypeName(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	switch t {
	case uuidType:
		return "a UUID string"
	case quantityType:
		return "a number"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return JSONTypeName(t.Elem())
	}
	return "of type " + t.String()
}

// truncateForMessage shortens untrusted input quoted in an error message.
func truncateForMessage(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// malformedData is the error of event data that is not one JSON object.
func malformedData(format string, args ...any) *Error {
	return &Error{Code: CodeMalformedJSON, Kind: KindMalformed, Message: fmt.Sprintf(format, args...)}
}
