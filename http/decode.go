package casehttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
)

// decodeJSON reads the request body as exactly one JSON object into v,
// refusing unknown fields. Its errors are problems: a body that is not JSON
// is 400 malformed-json; well-formed JSON of the wrong shape (an unknown
// field, a wrong type) is 422 validation naming the field; an oversize body
// is 413.
func decodeJSON(c *gin.Context, v any) error {
	body, err := readBody(c)
	if err != nil {
		return err // *http.MaxBytesError → 413; other read errors → client gone
	}
	defer releaseBody(body)
	return decodeJSONBytes(body.Bytes(), v)
}

func decodeJSONBytes(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return malformedBody("The request body is empty; a JSON object is expected.")
	}
	if trimmed[0] != '{' {
		if json.Valid(trimmed) {
			return malformedBody("The request body must be a JSON object.")
		}
		return malformedBody("The request body is not valid JSON.")
	}
	if field, ok := unknownField(trimmed, v); ok {
		return badField(field, "Unknown field %q.", field)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	err := dec.Decode(v)
	if err == nil {
		if dec.InputOffset() != int64(len(trimmed)) {
			return malformedBody("The request body holds more than one JSON value.")
		}
		return nil
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return malformedBody("The request body is not valid JSON (at byte %d).", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformedBody("The request body ends in the middle of a JSON value.")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return malformedBody("The request body must be a JSON object.")
		}
		return badField(typeErr.Field, "%s must be %s, not %s.",
			typeErr.Field, domain.JSONTypeName(typeErr.Type), jsonValueKind(typeErr.Value))
	}
	// Anything else is an UnmarshalJSON method rejecting its value; the
	// request types here have none, so treat it as a malformed body.
	if !json.Valid(trimmed) {
		return malformedBody("The request body is not valid JSON.")
	}
	return badField("", "The request body could not be read: %v.", err)
}

// unknownField finds a top-level key of the JSON object body that is not
// a field of the struct v points to (keys match exactly, as the API's field
// names are spelled). Other targets (a map) know no fields: none is unknown.
func unknownField(body []byte, v any) (string, bool) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return "", false
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return "", false // not an object: the decoder says why
	}
	known := map[string]bool{}
	st := t.Elem()
	for i := range st.NumField() {
		if name, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", false
	}
	slices.Sort(keys)
	return keys[0], true
}

// jsonValueKind turns encoding/json's description of the offending value
// ("number 1.5", "string") into a phrase.
func jsonValueKind(v string) string {
	kind, _, _ := strings.Cut(v, " ")
	switch kind {
	case "number":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "array":
		return "an array"
	case "object":
		return "an object"
	}
	return v
}

// parseUUIDField parses a uuid given in the field (path segment, query
// parameter or body field) named field.
func parseUUIDField(field, s string, kind domain.Kind) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, fieldError(kind, field, "%s must be a UUID like 123e4567-e89b-12d3-a456-426614174000.", field)
	}
	return id, nil
}

// parseTimeField parses an RFC 3339 time given in the field named field.
func parseTimeField(field, s string, kind domain.Kind) (time.Time, error) {
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || len(s) > maxTimeLength {
		return time.Time{}, fieldError(kind, field, "%s must be an RFC 3339 time like 2011-06-06T09:30:00Z.", field)
	}
	return at.UTC(), nil
}

// parseQueryTime parses a time query parameter: an RFC 3339 time, or a date
// meaning its start in UTC — the same forms on every route.
func parseQueryTime(field, s string) (time.Time, error) {
	if len(s) > maxTimeLength {
		return time.Time{}, domain.BadParameter(field, "%s must be at most %d characters: a date or an RFC 3339 time.", field, maxTimeLength)
	}
	if len(s) == len(time.DateOnly) {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t.UTC(), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, domain.BadParameter(field,
			"%s must be a date like 2010-06-06 (its start, UTC) or an RFC 3339 time like 2010-06-06T09:30:00Z.", field)
	}
	return t.UTC(), nil
}

// malformedBody is the error of a request body that is not one JSON
// object.
func malformedBody(format string, args ...any) error {
	return &domain.Error{Kind: domain.KindMalformed, Code: domain.CodeMalformedJSON, Message: fmt.Sprintf(format, args...)}
}

// badField is the error of a body field of the wrong form ("" for the
// body as a whole).
func badField(field, format string, args ...any) error {
	return domain.FieldErrorf(domain.KindInvalid, domain.CodeValidation, field, format, args...)
}

// fieldError is badField (kind invalid) or domain.BadParameter (kind
// malformed): a body field, or a path segment, query parameter or header.
func fieldError(kind domain.Kind, field, format string, args ...any) error {
	if kind == domain.KindInvalid {
		return badField(field, format, args...)
	}
	return domain.BadParameter(field, format, args...)
}

// maxQueryInteger bounds every integer parameter (positions, versions):
// 2^53-1, the largest integer a JSON client in JavaScript holds exactly.
// openapi.yaml documents it as their maximum.
const maxQueryInteger = 1<<53 - 1

// maxTimeLength bounds a time parameter: the longest RFC 3339 time with
// nanoseconds and an offset (2006-01-02T15:04:05.999999999-07:00).
const maxTimeLength = len(time.RFC3339Nano)

// queryUint reads an optional integer query parameter from 0 to
// maxQueryInteger.
func queryUint(c *gin.Context, name string, def uint64) (uint64, error) {
	s, ok := c.GetQuery(name)
	if !ok || s == "" {
		return def, nil
	}
	return parseBoundedUint(name, s, 0, maxQueryInteger)
}

// parseBoundedUint parses a parameter holding an integer from lo to hi;
// every failure says the same thing.
func parseBoundedUint(name, s string, lo, hi uint64) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, domain.BadParameter(name, "%s must be an integer from %d to %d.", name, lo, hi)
	}
	return n, nil
}

// pageQuery reads a page's start (the query parameter fromParam, default 0)
// and its limit, the paging every history and log route shares.
func pageQuery(c *gin.Context, fromParam string) (from uint64, limit int, err error) {
	if from, err = queryUint(c, fromParam, 0); err != nil {
		return 0, 0, err
	}
	if limit, err = queryLimit(c); err != nil {
		return 0, 0, err
	}
	return from, limit, nil
}

// queryLimit reads `limit`: 1 to maxPageLimit, default defaultPageLimit.
// Values out of range are refused (they were capped before version 1.1.0
// of the API: a client now learns the bound rather than getting less than
// it asked for).
func queryLimit(c *gin.Context) (int, error) {
	s, ok := c.GetQuery("limit")
	if !ok || s == "" {
		return defaultPageLimit, nil
	}
	n, err := parseBoundedUint("limit", s, 1, maxPageLimit)
	return int(n), err
}

// parseIfMatch reads If-Match: `"<version>"`. It returns nil when the
// header is absent or `*`. Weak tags never match (RFC 9110 §13.1.1).
func parseIfMatch(c *gin.Context) (*uint64, error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	bad := domain.BadParameter("If-Match",
		`If-Match must be one case version as a quoted entity tag, e.g. If-Match: "3" (from the ETag of GET /v1/cases/{id}).`)
	if len(h) < 3 || len(h) > 18 || h[0] != '"' || h[len(h)-1] != '"' {
		return nil, bad
	}
	v, err := strconv.ParseUint(h[1:len(h)-1], 10, 64)
	if err != nil || v > maxQueryInteger {
		return nil, bad
	}
	return &v, nil
}

// etag is a case version as an entity tag.
func etag(version uint64) string {
	var b [22]byte // two quotes and up to 20 digits
	return string(append(strconv.AppendUint(append(b[:0], '"'), version, 10), '"'))
}

// etagKey is "ETag" in the canonical form net/http keys header maps with.
const etagKey = "Etag"
