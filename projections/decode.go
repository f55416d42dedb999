package projections

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/internal/jsontext"
)

// entry is one event of the log as the read models see it: the recorded
// event and what decoding it gave. Decoding happens once per event, before
// the models apply it (on the runner's reading goroutine, in parallel with
// the writing one); a model that needs what could not be decoded fails on
// that event, the others go on.
type entry struct {
	eventstore.RecordedEvent
	env    envelope
	envErr error
	// data is the typed event data, for the types some model reads
	// (dataTypes); nil for the others.
	data    domain.Event
	dataErr error
}

// dataTypes are the event types whose data some read model reads. The
// others (intelligence, suspects, charges, groups linked, closings) only
// move a case's version in the case list.
var dataTypes = map[string]bool{
	domain.TypeCaseOpened: true, domain.TypeAgencyJoined: true, domain.TypeArrestMade: true,
	domain.TypeSeizureRecorded: true, domain.TypeStowawaysDetected: true, domain.TypeGangDismantled: true,
	domain.TypeEntryRetracted: true,
}

// decodeEntry decodes what the read models need of one event.
func decodeEntry(ev eventstore.RecordedEvent) entry {
	e := entry{RecordedEvent: ev}
	e.env, e.envErr = decodeEnvelope(ev.Metadata)
	if e.envErr == nil && dataTypes[ev.Type] {
		e.data, e.dataErr = decodeEventData(ev.Type, e.env.SchemaVersion, ev.Data)
	}
	return e
}

// envelope is what the read models need of an event's metadata.
type envelope struct {
	SchemaVersion int
	OccurredAt    time.Time
	RecordedAt    time.Time // as the service stamped it (what as_of means)
	Agency        string    // the logging officer's agency
}

// decodeEnvelope reads the metadata of a case event. The common case (the
// canonical JSON domain.EncodeMetadata writes) goes through a small scanner
// that picks the four fields out without building the whole Metadata, which
// is most of the cost of a rebuild; anything unusual falls back to the
// domain's strict decoder, whose error is the one reported.
func decodeEnvelope(meta []byte) (envelope, error) {
	if env, ok := scanEnvelope(meta); ok {
		return env, nil
	}
	m, err := domain.DecodeMetadata(meta)
	if err != nil {
		return envelope{}, fmt.Errorf("metadata: %w", err)
	}
	if m.SchemaVersion < 1 || m.OccurredAt.IsZero() || m.RecordedAt.IsZero() {
		return envelope{}, fmt.Errorf("metadata: schema_version, occurred_at and recorded_at are required")
	}
	return envelope{SchemaVersion: m.SchemaVersion, OccurredAt: m.OccurredAt.UTC(), RecordedAt: m.RecordedAt.UTC(), Agency: m.Actor.Agency}, nil
}

// decodeEventData decodes an event's data into its typed event. Data of the
// current schema version takes a fast path (a scanner for the frequent fact
// types): stored data was canonical and validated when it was written.
// Older versions, and anything the fast path does not handle, go through
// domain.DecodeEventData and its upcasters, whose answer (and error) is
// authoritative.
func decodeEventData(eventType string, schemaVersion int, data []byte) (domain.Event, error) {
	if schemaVersion == domain.SchemaVersion(eventType) {
		if ev, ok := fastDecode(eventType, data); ok {
			return ev, nil
		}
	}
	ev, err := domain.DecodeEventData(eventType, schemaVersion, data)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return ev, nil
}

// dataAs returns an entry's typed data as T.
func dataAs[T domain.Event](e *entry) (T, error) {
	var zero T
	if e.envErr != nil {
		return zero, e.envErr
	}
	if e.dataErr != nil {
		return zero, e.dataErr
	}
	v, ok := e.data.(T)
	if !ok {
		return zero, fmt.Errorf("data: decoded as %T, want %T", e.data, zero)
	}
	return v, nil
}

// fastDecode decodes the current schema of the frequent types with the
// scanner; ok is false when it cannot (escapes, unknown or missing fields,
// another type), and the caller decodes the slow way.
func fastDecode(eventType string, data []byte) (domain.Event, bool) {
	s := scanner{b: data}
	var ok bool
	var ev domain.Event
	switch eventType {
	case domain.TypeArrestMade:
		var a domain.ArrestMade
		var person, loc, off bool
		ok = s.object(func(key []byte) bool {
			switch string(key) {
			case "person_id":
				a.PersonID, person = s.uuid()
				return person
			case "location":
				a.Location, loc = s.name()
				return loc
			case "offence":
				a.Offence, off = s.name()
				return off
			case "agency":
				var ok bool
				a.Agency, ok = s.name()
				return ok
			}
			return false
		}) && person && loc && off
		ev = a
	case domain.TypeSeizureRecorded:
		var z domain.SeizureRecorded
		var com, qty, unit, loc bool
		ok = s.object(func(key []byte) bool {
			switch string(key) {
			case "commodity":
				z.Commodity, com = s.name()
				return com
			case "quantity":
				z.Quantity, qty = s.quantity()
				return qty
			case "unit":
				z.Unit, unit = s.name()
				return unit
			case "location":
				z.Location, loc = s.name()
				return loc
			case "exhibit_ref":
				var ok bool
				z.ExhibitRef, ok = s.str()
				return ok
			}
			return false
		}) && com && qty && unit && loc
		ev = z
	case domain.TypeStowawaysDetected:
		var d domain.StowawaysDetected
		var loc, method, people bool
		ok = s.object(func(key []byte) bool {
			switch string(key) {
			case "location":
				d.Location, loc = s.name()
				return loc
			case "method":
				d.Method, method = s.name()
				return method
			case "people":
				d.People, people = s.int()
				return people
			case "vehicle":
				var ok bool
				d.Vehicle, ok = s.str()
				return ok
			}
			return false
		}) && loc && method && people
		ev = d
	case domain.TypeEntryRetracted:
		var r domain.EntryRetracted
		var id, reason bool
		ok = s.object(func(key []byte) bool {
			switch string(key) {
			case "event_id":
				r.EventID, id = s.uuid()
				return id
			case "reason":
				r.Reason, reason = s.str()
				return reason
			}
			return false
		}) && id && reason
		ev = r
	case domain.TypeGangDismantled:
		var g domain.GangDismantled
		var id bool
		ok = s.object(func(key []byte) bool {
			if string(key) == "group_id" {
				g.GroupID, id = s.uuid()
				return id
			}
			return false
		}) && id
		ev = g
	default:
		return nil, false
	}
	s.ws()
	if !ok || s.i != len(s.b) {
		return nil, false
	}
	return ev, true
}

// scanEnvelope is the fast path of decodeEnvelope: a strict little scanner
// over one JSON object that reads schema_version, occurred_at, recorded_at
// and actor.agency and skips every other member. ok is false for anything it
// does not handle (escapes in the strings it reads, a missing field, bad
// syntax): the slow path then decides.
func scanEnvelope(b []byte) (env envelope, ok bool) {
	s := scanner{b: b}
	var haveSV, haveOcc, haveRec, haveAgency bool
	if s.peek() != '{' {
		return env, false
	}
	s.i++
	for {
		key, ok := s.plainString()
		if !ok || s.peek() != ':' {
			return env, false
		}
		s.i++
		switch string(key) {
		case "schema_version":
			n, ok := s.int()
			if !ok || n < 1 {
				return env, false
			}
			env.SchemaVersion, haveSV = n, true
		case "occurred_at":
			if env.OccurredAt, haveOcc = s.time(); !haveOcc {
				return env, false
			}
		case "recorded_at":
			if env.RecordedAt, haveRec = s.time(); !haveRec {
				return env, false
			}
		case "actor":
			if !s.object(func(k []byte) bool {
				if string(k) == "agency" {
					env.Agency, haveAgency = s.name()
					return haveAgency
				}
				return s.skip()
			}) {
				return env, false
			}
		default:
			if !s.skip() {
				return env, false
			}
		}
		if haveSV && haveOcc && haveRec && haveAgency {
			// The rest (ids, hashes) is not needed, and the store checked
			// on append that the metadata is valid JSON.
			return env, true
		}
		switch s.peek() {
		case ',':
			s.i++
		default:
			return env, false // the end, without every field: the slow path decides
		}
	}
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object walks the members of an object, calling member with each key; member
// must consume the value.
func (s *scanner) object(member func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		key, ok := s.plainString()
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !member(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// plainString reads a string without escapes (the fast path gives up on
// escapes) and returns its bytes.
func (s *scanner) plainString() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	v, end, _, ok := jsontext.PlainString(s.b, s.i)
	if !ok {
		return nil, false
	}
	s.i = end
	return v, true
}

func (s *scanner) int() (int, bool) {
	s.ws()
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i == start || s.i-start > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(string(s.b[start:s.i]))
	return n, err == nil
}

func (s *scanner) time() (time.Time, bool) {
	v, ok := s.plainString()
	if !ok {
		return time.Time{}, false
	}
	if t, ok := parseUTC(v); ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// parseUTC parses the canonical form times are stored in,
// 2006-01-02T15:04:05[.fraction]Z, without time.Parse's generality.
func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	ns := 0
	rest := b[19 : len(b)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		f, ok := num(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(rest) {
			f *= 10
		}
		ns = f
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC)
	if t.Day() != d { // 31 April and the like
		return time.Time{}, false
	}
	return t, true
}

// str reads a string without escapes.
func (s *scanner) str() (string, bool) {
	v, ok := s.plainString()
	return string(v), ok
}

// name reads a string without escapes that is one of few values (an
// agency, a location, a commodity, …), interned: a rebuild reads the same
// few names a million times.
func (s *scanner) name() (string, bool) {
	v, ok := s.plainString()
	if !ok {
		return "", false
	}
	return names.get(v), true
}

// interner shares the strings of frequent names.
type interner struct {
	mu sync.RWMutex
	m  map[string]string
}

var names = &interner{m: map[string]string{}}

// maxInterned bounds the interner; past it names are simply copied.
const maxInterned = 100_000

func (in *interner) get(b []byte) string {
	in.mu.RLock()
	v, ok := in.m[string(b)]
	in.mu.RUnlock()
	if ok {
		return v
	}
	v = string(b)
	in.mu.Lock()
	if len(in.m) < maxInterned {
		in.m[v] = v
	}
	in.mu.Unlock()
	return v
}

func (s *scanner) uuid() (uuid.UUID, bool) {
	v, ok := s.plainString()
	if !ok || len(v) != 36 {
		return uuid.Nil, false
	}
	id, err := uuid.ParseBytes(v)
	return id, err == nil
}

// quantity reads a number literal as an exact Quantity.
func (s *scanner) quantity() (domain.Quantity, bool) {
	s.ws()
	start := s.i
	for s.i < len(s.b) && isNumberByte(s.b[s.i]) {
		s.i++
	}
	if s.i == start {
		return domain.Quantity{}, false
	}
	q, err := domain.ParseQuantity(string(s.b[start:s.i]))
	return q, err == nil
}

// skip consumes one JSON value of any kind.
func (s *scanner) skip() bool {
	switch c := s.peek(); {
	case c == '"':
		s.i++
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '\\':
				s.i += 2
			case '"':
				s.i++
				return true
			default:
				if s.b[s.i] < 0x20 {
					return false
				}
				s.i++
			}
		}
		return false
	case c == '{':
		return s.object(func([]byte) bool { return s.skip() })
	case c == '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			if !s.skip() {
				return false
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		start := s.i
		for s.i < len(s.b) && isNumberByte(s.b[s.i]) {
			s.i++
		}
		return json.Valid(s.b[start:s.i])
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}
