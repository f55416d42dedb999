package casehttp

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/internal/jsontext"
)

// POST /v1/cases/{id}/events is the hot route (every recorded fact goes
// through it), so its body is read, decoded and answered here without the
// general machinery's reflection and allocations. Every shortcut falls back
// to, or is checked by tests against, the general path: the contract is
// the same.
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

// bodyBuffers hold request bodies while they are decoded. encoding/json
// never keeps references into its input, and neither does
// scanRecordEventRequest, so a buffer is reused as soon as its body is
// decoded.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept for reuse: a rare large body
// should not pin its memory in the pool.
const maxPooledBody = 64 << 10

// readBody reads the request body into a pooled buffer; give it back with
// releaseBody once decoded. Its errors are the body reader's:
// *http.MaxBytesError (→ 413) or the client going away.
func readBody(c *gin.Context) (*bytes.Buffer, error) {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(c.Request.Body); err != nil {
		releaseBody(buf)
		return nil, err
	}
	return buf, nil
}

func releaseBody(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		bodyBuffers.Put(buf)
	}
}

// decodeRecordEventRequest decodes the body of POST /v1/cases/{id}/events
// as decodeJSONBytes does. Nearly every body is a plain object of the known
// fields, which scanRecordEventRequest reads directly; anything else goes
// to decodeJSONBytes, which judges it and words the problem.
func decodeRecordEventRequest(body []byte) (recordEventRequest, error) {
	if req, ok := scanRecordEventRequest(body); ok {
		return req, nil
	}
	var req recordEventRequest
	err := decodeJSONBytes(body, &req)
	return req, err
}

// Bits of the fields of recordEventRequest, to notice a repeated one.
const (
	fieldID = 1 << iota
	fieldType
	fieldOccurredAt
	fieldData
)

// scanRecordEventRequest reads body when it is valid JSON and a plain
// object: each known field at most once, spelled exactly, holding null or
// (for the string fields) a string of printable ASCII without escapes.
// Then it returns what decodeJSONBytes would, and ok. Otherwise it returns
// !ok, leaving the body to decodeJSONBytes: a repeated field, a name in
// other case, an escape or a value of the wrong type are all legal or
// worth a precise problem, and encoding/json already knows how to handle
// them. FuzzScanRecordEventRequest holds the two to the same answers.
func scanRecordEventRequest(body []byte) (req recordEventRequest, ok bool) {
	if !json.Valid(body) {
		return req, false
	}
	// Valid JSON from here on: the walk need not check the grammar.
	s := jsonWalk{b: body}
	if s.skipSpace() != '{' {
		return req, false
	}
	s.i++
	if s.skipSpace() == '}' {
		return req, true
	}
	seen := 0
	for {
		key, ok := s.plainString()
		if !ok {
			return req, false
		}
		s.skipSpace() // the colon
		s.i++
		s.skipSpace()
		var field int
		switch string(key) {
		case "id":
			field = fieldID
			req.ID, ok = s.optionalString(false)
		case "type":
			field = fieldType
			req.Type, ok = s.optionalString(true)
		case "occurred_at":
			field = fieldOccurredAt
			req.OccurredAt, ok = s.optionalString(false)
		case "data":
			field = fieldData
			req.Data = bytes.Clone(s.value())
		default:
			return req, false
		}
		if !ok || seen&field != 0 {
			return req, false
		}
		seen |= field
		if s.skipSpace() == '}' {
			return req, true // valid JSON: nothing but space follows
		}
		s.i++ // the comma
		s.skipSpace()
	}
}

// eventTypeNames interns event type names, so that the usual body's type
// costs no string of its own.
var eventTypeNames = func() map[string]string {
	m := make(map[string]string)
	for _, t := range domain.EventTypes() {
		m[t] = t
	}
	return m
}()

// jsonWalk steps through a document already known to be valid JSON.
type jsonWalk struct {
	b []byte
	i int
}

// skipSpace moves past white space and returns the byte there (0 at the
// end).
func (s *jsonWalk) skipSpace() byte {
	s.i = jsontext.SkipSpace(s.b, s.i)
	if s.i == len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// plainString reads the string starting at the current byte when it holds
// printable ASCII only and no escapes, so that its bytes are its value.
func (s *jsonWalk) plainString() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	v, end, ascii, ok := jsontext.PlainString(s.b, s.i)
	if !ok || !ascii {
		return nil, false
	}
	s.i = end
	return v, true
}

// optionalString reads a *string field's value: null (nil) or a plain
// string. intern looks the value up among the event type names.
func (s *jsonWalk) optionalString(intern bool) (*string, bool) {
	if s.i < len(s.b) && s.b[s.i] == 'n' { // null
		s.i += len("null")
		return nil, true
	}
	raw, ok := s.plainString()
	if !ok {
		return nil, false
	}
	v, known := "", false
	if intern {
		v, known = eventTypeNames[string(raw)]
	}
	if !known {
		v = string(raw)
	}
	return &v, true
}

// value skips the value starting at the current byte and returns its
// bytes, as a json.RawMessage would hold them.
func (s *jsonWalk) value() []byte {
	start := s.i
	s.i = jsontext.ValueEnd(s.b, s.i)
	return s.b[start:s.i]
}

// jsonContentType is gin's Content-Type of JSON answers, shared as gin
// shares it.
var jsonContentType = []string{"application/json; charset=utf-8"}

// writeJSONBody answers status with body, already JSON, as c.JSON would.
func writeJSONBody(c *gin.Context, status int, body []byte) {
	c.Status(status)
	c.Writer.Header()["Content-Type"] = jsonContentType
	if _, err := c.Writer.Write(body); err != nil {
		_ = c.Error(err) // as gin's renderers do: the client has gone
	}
}

// appendJSON appends e as encoding/json marshals it.
func (e recordedEvent) appendJSON(b []byte) []byte {
	b = append(b, `{"id":"`...)
	b = jsontext.AppendUUID(b, e.ID)
	b = append(b, `","case_id":"`...)
	b = jsontext.AppendUUID(b, e.CaseID)
	b = append(b, `","version":`...)
	b = strconv.AppendUint(b, e.Version, 10)
	b = append(b, `,"position":`...)
	b = strconv.AppendUint(b, e.Position, 10)
	return append(b, '}')
}

// eventLocation is the Location of a recorded event: the page of the
// case's history holding just that version.
func eventLocation(caseID uuid.UUID, version uint64) string {
	var b [128]byte
	l := append(b[:0], "/v1/cases/"...)
	l = jsontext.AppendUUID(l, caseID)
	l = append(l, "/events?from_version="...)
	l = strconv.AppendUint(l, version, 10)
	l = append(l, "&limit=1"...)
	return string(l)
}
