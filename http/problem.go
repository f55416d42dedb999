package casehttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/domain"
)

// Every error this API answers is an RFC 9457 problem document
// (application/problem+json). Its `type` names the cause and never changes.
//
// Scheme: types are absolute-path URI references of the form
// "/problems/<slug>", served by casebookd itself (GET /problems/{slug}
// describes the problem type), so a client can dereference them against the
// API's base URL. Clients should compare `type` as an opaque string.
const problemPrefix = "/problems/"

// ProblemType is one documented cause of failure.
type ProblemType struct {
	Slug        string // stable name; the problem's type is problemPrefix + Slug
	Title       string // short, human-readable summary; stable per type
	Status      int    // HTTP status answered with this type
	Description string // when it happens and what to do about it
}

// URI is the problem type's `type` member.
func (p ProblemType) URI() string { return problemPrefix + p.Slug }

// The problem types. Adding one is fine; renaming one breaks clients.
var (
	ProblemMalformedJSON = ProblemType{"malformed-json", "Malformed JSON", http.StatusBadRequest,
		"The request body is not one well-formed JSON document of the expected shape (a JSON object)."}
	ProblemInvalidParameter = ProblemType{"invalid-parameter", "Invalid request parameter", http.StatusBadRequest,
		"A path segment, query parameter or header is malformed; `field` names it (e.g. \"id\", \"limit\", \"If-Match\")."}
	ProblemValidation = ProblemType{"validation", "Validation failed", http.StatusUnprocessableEntity,
		"The request is well-formed but breaks a rule: an unknown field, a value of the wrong JSON type, a missing or out-of-range value, or a domain rule. `field` names the offending field; `code` names the rule when a domain rule was broken."}
	ProblemVersionConflict = ProblemType{"version-conflict", "Version conflict", http.StatusConflict,
		"The case has moved on since the version the request was conditional on (If-Match). Nothing was written. `current_version` is the case's version now: reload, decide again, retry."}
	ProblemConflict = ProblemType{"conflict", "Conflict with the case's state", http.StatusConflict,
		"The request conflicts with the current state of the case; `code` names the rule."}
	ProblemReferenceTaken = ProblemType{"reference-taken", "Reference already in use", http.StatusConflict,
		"The lead agency already has a case with this reference (references are unique within an agency, whatever their letter case); the detail names that case. Nothing was written."}
	ProblemIdempotencyConflict = ProblemType{"idempotency-conflict", "Event id already used", http.StatusConflict,
		"An event with this id was already recorded with different content. A retry must repeat the original request exactly; a new event needs a new id."}
	ProblemNotFound = ProblemType{"not-found", "Not found", http.StatusNotFound,
		"No such resource, or none visible to the caller (cases of agencies the caller does not work with are not found)."}
	ProblemMethodNotAllowed = ProblemType{"method-not-allowed", "Method not allowed", http.StatusMethodNotAllowed,
		"The resource exists but does not support this method; the Allow header lists those it does."}
	ProblemUnauthenticated = ProblemType{"unauthenticated", "Authentication required", http.StatusUnauthorized,
		"No bearer token, or one that is not valid (unknown, expired, not yet valid, wrong issuer or audience, bad signature or algorithm). Send `Authorization: Bearer <token>`."}
	ProblemForbidden = ProblemType{"forbidden", "Forbidden", http.StatusForbidden,
		"The caller's role or agency does not allow this request; or (code unmappable_claims) a verified OpenID Connect token whose claims do not give one Casebook role and a configured agency: `field` names the claim."}
	ProblemTooLarge = ProblemType{"too-large", "Request body too large", http.StatusRequestEntityTooLarge,
		"The request body is over the limit (1 MiB)."}
	ProblemUnsupportedMediaType = ProblemType{"unsupported-media-type", "Unsupported media type", http.StatusUnsupportedMediaType,
		"Request bodies must be JSON (Content-Type: application/json)."}
	ProblemOverloaded = ProblemType{"overloaded", "Too many concurrent requests", http.StatusServiceUnavailable,
		"The server is at its cap of concurrent requests. Retry after the number of seconds in Retry-After."}
	ProblemUnavailable = ProblemType{"unavailable", "Service unavailable", http.StatusServiceUnavailable,
		"A dependency (the event store, the read models, or the OpenID Connect issuer of the caller's token) is not answering or not caught up in time. Retry after the number of seconds in Retry-After."}
	ProblemCorruptRecord = ProblemType{"corrupt-record", "Stored record unreadable", http.StatusInternalServerError,
		"A stored event of this case cannot be decoded: the record was damaged outside Casebook. GET /v1/cases/{id}/verify shows where."}
	ProblemInternal = ProblemType{"internal", "Internal server error", http.StatusInternalServerError,
		"An unexpected failure. It was logged with the request id; quote `request_id` when reporting it."}
	ProblemUnknownPlace = ProblemType{"unknown-place", "Unknown place", http.StatusUnprocessableEntity,
		"The location is not a code of the configured list of places (matched whatever its letter case). GET /v1/places lists the codes and their names. Free text about a place (an address, a lay-by) goes in location_detail, never in location: for a place that is not listed, send location OTHER with the detail. Nothing was written."}
	ProblemCaseDisposed = ProblemType{"case-disposed", "Case disposed of", http.StatusUnprocessableEntity,
		"The case was disposed of after a retention review: its keys are destroyed, its personal data and intelligence gone. Its figures and chain stay, but nothing more is recorded on it (no review, reopening, or other event) except retractions. Nothing was written."}
	// ProblemKeyUnavailable is never a whole answer: it describes, inside
	// a 200 answer, personal fields that could not be opened (the
	// `unreadable` member of a suspect, a person or an event), while the
	// rest of the answer stands.
	ProblemKeyUnavailable = ProblemType{"key-unavailable", "Personal fields unreadable", http.StatusOK,
		"Some sealed personal fields of this answer could not be opened: their key is not in the key store though the person was not erased (code key_unavailable: restore a key store that holds it), or they do not decrypt with it (code undecryptable: the stored value or the key was altered outside Casebook). The fields are null; `fields` names them; everything else in the answer is as recorded."}
)

// ProblemTypes lists every problem type, for documentation and tests.
var ProblemTypes = []ProblemType{
	ProblemMalformedJSON, ProblemInvalidParameter, ProblemValidation,
	ProblemVersionConflict, ProblemConflict, ProblemReferenceTaken, ProblemIdempotencyConflict,
	ProblemNotFound, ProblemMethodNotAllowed, ProblemUnauthenticated,
	ProblemForbidden, ProblemTooLarge, ProblemUnsupportedMediaType,
	ProblemTooManyRequests, ProblemOverloaded, ProblemUnavailable, ProblemCorruptRecord, ProblemInternal,
	ProblemKeyUnavailable, ProblemUnknownPlace, ProblemCaseDisposed,
	ProblemRequestTimeout, ProblemMethodNotImplemented, // limits.go
}

// Problem is an RFC 9457 problem document, and also an error a handler can
// return (through abortWithError) to answer it.
type Problem struct {
	Type           string  `json:"type"`
	Title          string  `json:"title"`
	Status         int     `json:"status"`
	Detail         string  `json:"detail"`
	Instance       string  `json:"instance,omitempty"`
	RequestID      string  `json:"request_id"`
	Field          string  `json:"field,omitempty"`
	Code           string  `json:"code"`
	CurrentVersion *uint64 `json:"current_version,omitempty"`

	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
	// cause is the underlying error, logged for 5xx answers, never sent.
	cause error
}

func (p *Problem) Error() string {
	if p.Field != "" {
		return fmt.Sprintf("%s (%d): %s [field %s]", p.Title, p.Status, p.Detail, p.Field)
	}
	return fmt.Sprintf("%s (%d): %s", p.Title, p.Status, p.Detail)
}

func (p *Problem) Unwrap() error { return p.cause }

// newProblem builds a problem of type t with a detail message. Its code is
// the type's slug in snake case until a more precise one is set.
func newProblem(t ProblemType, format string, args ...any) *Problem {
	return &Problem{Type: t.URI(), Title: t.Title, Status: t.Status, Detail: fmt.Sprintf(format, args...),
		Code: strings.ReplaceAll(t.Slug, "-", "_")}
}

// fieldProblem is a problem about one named field or parameter.
func fieldProblem(t ProblemType, field, format string, args ...any) *Problem {
	p := newProblem(t, format, args...)
	p.Field = field
	return p
}

// problemTypeOf is the one table from the core's error kinds to answers:
// each kind has one problem type, and with it one status.
var problemTypeOf = map[domain.Kind]ProblemType{
	domain.KindMalformed:       ProblemInvalidParameter,
	domain.KindInvalid:         ProblemValidation,
	domain.KindConflict:        ProblemConflict,
	domain.KindVersionConflict: ProblemVersionConflict,
	domain.KindNotFound:        ProblemNotFound,
	domain.KindForbidden:       ProblemForbidden,
	domain.KindUnavailable:     ProblemUnavailable,
	domain.KindInternal:        ProblemInternal,
}

// problemTypeOfCode names the few codes whose problems have a type of their
// own (with their kind's status): clients branch on these.
var problemTypeOfCode = map[string]ProblemType{
	domain.CodeMalformedJSON:    ProblemMalformedJSON,
	domain.CodeDuplicateEventID: ProblemIdempotencyConflict,
	domain.CodeReferenceTaken:   ProblemReferenceTaken,
	domain.CodeCorruptRecord:    ProblemCorruptRecord,
	domain.CodeUnknownPlace:     ProblemUnknownPlace,
	domain.CodeCaseDisposed:     ProblemCaseDisposed,
}

// problemFor maps any error to the problem answering it. It is the one
// place where the causes of failure meet HTTP statuses.
func problemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		cp := *p
		return &cp
	}
	if bp, ok := bodyReadProblem(err); ok {
		return bp
	}
	var tooBig *http.MaxBytesError
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		t, ok := problemTypeOfCode[de.Code]
		if !ok {
			t, ok = problemTypeOf[de.Kind]
		}
		if !ok {
			t = ProblemInternal
		}
		p := newProblem(t, "%s", sentence(de.Message))
		if t == ProblemInternal {
			p.Detail = "An unexpected error occurred; it was logged with the request id."
		}
		p.Code, p.Field, p.cause = de.Code, de.Field, de.Cause
		if t.Status >= 500 && p.cause == nil {
			p.cause = err
		}
		if de.CurrentVersion != nil {
			v := *de.CurrentVersion
			p.CurrentVersion = &v
		}
		if de.RetryAfter > 0 {
			p.RetryAfter = max(1, int((de.RetryAfter+time.Second-1)/time.Second))
		}
		return p
	case errors.As(err, &tooBig):
		return newProblem(ProblemTooLarge, "The request body is over the limit of %d bytes.", tooBig.Limit)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client went away, or its request ran out of time (or the
		// server is shutting down); whatever we answer is unlikely to be
		// read.
		p := newProblem(ProblemUnavailable, "The request was cancelled or timed out.")
		p.RetryAfter = 1
		p.cause = err
		return p
	}
	p = newProblem(ProblemInternal, "An unexpected error occurred; it was logged with the request id.")
	p.cause = err
	return p
}

// sentence makes a core message (lower case, no full stop) read as the
// problem's detail sentence.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	r, size := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[size:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// Bounds of a problem's members that can echo the request (an unknown
// field's name, a path, a header's value), as openapi.yaml documents them:
// longer ones are cut.
const (
	maxProblemDetail   = 2000
	maxProblemField    = 200
	maxProblemInstance = 2048
)

// cut shortens s to at most n characters, marking the cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// writeProblem answers err as a problem document, logging server-side
// failures with the request id. It aborts the handler chain.
func writeProblem(c *gin.Context, err error) {
	p := problemFor(err)
	p.RequestID = requestID(c)
	if p.Instance == "" {
		p.Instance = c.Request.URL.Path
	}
	if p.Code == "" { // every problem has a code: its type's, at least
		p.Code = strings.ReplaceAll(strings.TrimPrefix(p.Type, problemPrefix), "-", "_")
	}
	p.Detail, p.Field, p.Instance = cut(p.Detail, maxProblemDetail), cut(p.Field, maxProblemField), cut(p.Instance, maxProblemInstance)
	if p.Status >= 500 && p.cause != nil && !errors.Is(p.cause, context.Canceled) {
		loggerFrom(c).LogAttrs(c.Request.Context(), failureLogLevel(p), "request failed",
			slog.String("request_id", p.RequestID),
			slog.String("route", routeLabel(c)),
			slog.String("problem", p.Type),
			slog.String("error", p.cause.Error()))
	}
	renderProblem(c, p)
}

// renderProblem writes p as it is.
func renderProblem(c *gin.Context, p *Problem) {
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: every field marshals
		body = []byte(`{"type":"` + ProblemInternal.URI() + `","title":"Internal server error","status":500,"detail":"","request_id":""}`)
	}
	h := c.Writer.Header()
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="casebook"`)
	}
	h.Del("ETag")
	h.Set("Cache-Control", "no-store")
	c.Abort()
	c.Data(p.Status, "application/problem+json", body)
}

// problemTypeBySlug finds a documented problem type.
func problemTypeBySlug(slug string) (ProblemType, bool) {
	for _, t := range ProblemTypes {
		if t.Slug == slug {
			return t, true
		}
	}
	return ProblemType{}, false
}

// serveProblemType documents one problem type: GET /problems/{slug}.
func serveProblemType(c *gin.Context) {
	t, ok := problemTypeBySlug(c.Param("slug"))
	if !ok {
		writeProblem(c, newProblem(ProblemNotFound, "No such problem type."))
		return
	}
	c.JSON(http.StatusOK, gin.H{"type": t.URI(), "title": t.Title, "status": t.Status, "description": t.Description})
}
