package projections

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

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

// decodeData decodes an event's data into its typed event T. Data of the
// current schema version is decoded directly (stored data was canonical and
// validated when it was written); older versions, and anything the direct
// decode refuses, go through domain.DecodeEventData and its upcasters.
func decodeData[T domain.Event](ev *eventstore.RecordedEvent, env envelope) (T, error) {
	var v T
	if env.SchemaVersion == domain.SchemaVersion(ev.Type) {
		if err := json.Unmarshal(ev.Data, &v); err == nil {
			return v, nil
		}
		v = *new(T)
	}
	d, err := domain.DecodeEventData(ev.Type, env.SchemaVersion, ev.Data)
	if err != nil {
		return v, fmt.Errorf("data: %w", err)
	}
	t, ok := d.(T)
	if !ok {
		return v, fmt.Errorf("data: decoded as %T, want %T", d, v)
	}
	return t, nil
}

// scanEnvelope is the fast path of decodeEnvelope: a strict little scanner
// over one JSON object that reads schema_version, occurred_at, recorded_at
// and actor.agency and skips every other member. ok is false for anything it
// does not handle (escapes in the strings it reads, a missing field, bad
// syntax): the slow path then decides.
func scanEnvelope(b []byte) (env envelope, ok bool) {
	s := scanner{b: b}
	var haveSV, haveOcc, haveRec bool
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "schema_version":
			n, ok := s.int()
			if !ok || n < 1 {
				return false
			}
			env.SchemaVersion, haveSV = n, true
			return true
		case "occurred_at":
			t, ok := s.time()
			env.OccurredAt, haveOcc = t, ok
			return ok
		case "recorded_at":
			t, ok := s.time()
			env.RecordedAt, haveRec = t, ok
			return ok
		case "actor":
			return s.object(func(k []byte) bool {
				if string(k) == "agency" {
					v, ok := s.plainString()
					env.Agency = string(v)
					return ok
				}
				return s.skip()
			})
		}
		return s.skip()
	})
	s.ws()
	return env, ok && s.i == len(s.b) && haveSV && haveOcc && haveRec
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
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
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
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
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
