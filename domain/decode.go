package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
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
	s, ok := registry[eventType]
	if !ok {
		return nil, invalid(CodeUnknownEventType, "type", "unknown event type %q", truncateForMessage(eventType))
	}
	ev, err := s.decode(data, s)
	if err != nil {
		return nil, err
	}
	ev = normalize(withDefaults(ev, actor))
	if err := validate(ev, now); err != nil {
		return nil, err
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
	keys, values, err := scanObject(data)
	if err != nil {
		return nil, err
	}
	obj := make(map[string]json.RawMessage, len(keys))
	for i, k := range keys {
		obj[k] = values[i]
	}
	return obj, nil
}

// scanObject splits a JSON object into its keys and raw values, in order.
func scanObject(data []byte) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, malformed(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, invalid(CodeMalformedJSON, "", "event data must be a JSON object")
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
			return nil, nil, invalid(CodeMalformedJSON, "", "object key expected")
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
		return nil, nil, invalid(CodeMalformedJSON, "", "unexpected data after the JSON object")
	}
	return keys, values, nil
}

func malformed(err error) *Error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid(CodeMalformedJSON, "", "event data is not valid JSON: unexpected end")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalid(CodeMalformedJSON, "", "event data is not valid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return invalid(CodeMalformedJSON, "", "event data is not valid JSON: %s", err.Error())
}

// decodeStrict decodes a JSON object into target (a pointer to an event
// struct). Keys must match known exactly, appear once, and every required key
// must be present and not null. Errors name the field.
func decodeStrict(data []byte, target any, known map[string]bool, required []string) error {
	keys, values, err := scanObject(data)
	if err != nil {
		return err
	}
	present := make(map[string]bool, len(keys))
	for i, k := range keys {
		if !known[k] {
			return fieldError(k, "unknown field")
		}
		if string(values[i]) != "null" {
			present[k] = true
		}
	}
	for _, r := range required {
		if !present[r] {
			return fieldError(r, "is required")
		}
	}
	// The keys are exact and unique now, so one decode of the whole object
	// does what we want; only when it fails do we decode field by field to
	// learn which field failed (errors of UnmarshalJSON/UnmarshalText
	// methods, such as a bad UUID, do not carry the field).
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err == nil {
		return nil
	} else if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && te.Field != "" {
		return typeError(reflect.TypeOf(target).Elem(), te)
	}
	for i, k := range keys {
		if string(values[i]) == "null" {
			continue
		}
		one := make([]byte, 0, len(k)+len(values[i])+8)
		kq, _ := json.Marshal(k)
		one = append(one, '{')
		one = append(one, kq...)
		one = append(one, ':')
		one = append(one, values[i]...)
		one = append(one, '}')
		fresh := reflect.New(reflect.TypeOf(target).Elem()).Interface()
		if err := json.Unmarshal(one, fresh); err != nil {
			return describeFieldError(k, err)
		}
	}
	// Should not happen: the whole failed but no field did.
	return invalid(CodeMalformedJSON, "", "event data could not be decoded: %v", err)
}

func describeFieldError(field string, err error) *Error {
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
	if strings.Contains(err.Error(), "UUID") || strings.Contains(err.Error(), "uuid") {
		return fieldError(field, "must be a UUID (such as 0f8fad5b-d9cb-469f-a165-70867728950e)")
	}
	return fieldError(field, "%s", err.Error())
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
