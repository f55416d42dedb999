package casehttp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// The case routes: decode the request, call the core (which decides who
// may do what, judges the command and records the consultation), encode
// its answer.

// recordEventRequest is the body of POST /v1/cases/{id}/events. Strings
// rather than typed fields, so that a bad uuid or time is a 422 naming the
// field rather than an anonymous decoding error.
type recordEventRequest struct {
	ID         *string         `json:"id"`
	Type       *string         `json:"type"`
	OccurredAt *string         `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// recordedEvent answers POST /v1/cases/{id}/events.
type recordedEvent struct {
	ID       uuid.UUID `json:"id"`
	CaseID   uuid.UUID `json:"case_id"`
	Version  uint64    `json:"version"`
	Position uint64    `json:"position"`
}

func caseLocation(id uuid.UUID) string { return "/v1/cases/" + id.String() }

// caseIDParam parses the {id} path segment.
func caseIDParam(c *gin.Context) (uuid.UUID, error) {
	return parseUUIDField("id", c.Param("id"), domain.KindMalformed)
}

// identity is the caller, as authenticated.
func identity(c *gin.Context) core.Identity {
	p, _ := principalFrom(c)
	return p
}

// The headers stating why a case is consulted.
const (
	HeaderPurpose          = "Casebook-Purpose"
	HeaderPurposeReference = "Casebook-Purpose-Reference"
)

// consultation is why and through which request the caller reads: the
// purpose headers as sent (the core judges them and fills in defaults).
func consultation(c *gin.Context) core.Consultation {
	h := c.Request.Header
	return core.Consultation{
		Purpose:          strings.TrimSpace(firstHeader(h, HeaderPurpose)),
		PurposeReference: firstHeader(h, HeaderPurposeReference),
		RequestID:        requestID(c),
		PurposeField:     HeaderPurpose,
		ReferenceField:   HeaderPurposeReference,
	}
}

// openCase: POST /v1/cases. The body is the CaseOpened data, plus an
// optional case `id` and `occurred_at`; the core judges the data (and names
// any unknown or ill-typed field).
func (a *api) openCase(c *gin.Context) {
	var body map[string]json.RawMessage
	if err := decodeJSON(c, &body); err != nil {
		writeProblem(c, err)
		return
	}
	var cmd core.OpenCase
	if raw, ok := body["id"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			writeProblem(c, badField("id", "id must be a string holding a UUID."))
			return
		}
		id, err := parseUUIDField("id", s, domain.KindInvalid)
		if err != nil {
			writeProblem(c, err)
			return
		}
		if id == uuid.Nil {
			writeProblem(c, badField("id", "id must not be the nil UUID."))
			return
		}
		cmd.CaseID = id
		delete(body, "id")
	}
	if raw, ok := body["occurred_at"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			writeProblem(c, badField("occurred_at", "occurred_at must be a string holding an RFC 3339 time."))
			return
		}
		t, err := parseTimeField("occurred_at", s, domain.KindInvalid)
		if err != nil {
			writeProblem(c, err)
			return
		}
		cmd.OccurredAt = &t
		delete(body, "occurred_at")
	}
	data, err := json.Marshal(body)
	if err != nil {
		writeProblem(c, err)
		return
	}
	cmd.Data = data
	res, state, err := a.core.OpenCase(c.Request.Context(), identity(c), cmd)
	if err != nil {
		writeProblem(c, err)
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	c.Header("Location", caseLocation(res.CaseID))
	c.Header("ETag", etag(state.Version))
	c.JSON(status, state)
}

// getCase: GET /v1/cases/{id}[?version=N|?as_of=T].
func (a *api) getCase(c *gin.Context) {
	id, err := caseIDParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	at, err := timeTravel(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	state, err := a.core.Case(c.Request.Context(), identity(c), id, at, consultation(c))
	if err != nil {
		writeProblem(c, err)
		return
	}
	c.Header("ETag", etag(state.Version))
	c.JSON(http.StatusOK, state)
}

// timeTravel reads ?version= and ?as_of= (at most one).
func timeTravel(c *gin.Context) (core.At, error) {
	var at core.At
	vs, hasVersion := c.GetQuery("version")
	ts, hasAsOf := c.GetQuery("as_of")
	if hasVersion && hasAsOf {
		return at, domain.BadParameter("as_of", "Give version or as_of, not both.")
	}
	if hasVersion {
		v, err := parseBoundedUint("version", vs, 0, maxQueryInteger)
		if err != nil {
			return at, err
		}
		at.Version = &v
	}
	if hasAsOf {
		t, err := parseQueryTime("as_of", ts)
		if err != nil {
			return at, err
		}
		at.AsOf = &t
	}
	return at, nil
}

// recordEvent: POST /v1/cases/{id}/events.
func (a *api) recordEvent(c *gin.Context) {
	id, err := caseIDParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	expected, err := parseIfMatch(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	body, err := readBody(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	req, err := decodeRecordEventRequest(body.Bytes())
	releaseBody(body)
	if err != nil {
		writeProblem(c, err)
		return
	}
	cmd, err := req.command()
	if err != nil {
		writeProblem(c, err)
		return
	}
	cmd.ExpectedVersion = expected
	res, err := a.core.Record(c.Request.Context(), identity(c), id, cmd)
	if err != nil {
		writeProblem(c, err)
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	// What c.Header does, without canonicalising the keys again and with
	// one slice holding both values.
	values := []string{etag(res.Version), eventLocation(id, res.Version)}
	h := c.Writer.Header()
	h[etagKey], h["Location"] = values[0:1:1], values[1:2:2]
	answer := recordedEvent{ID: res.EventID, CaseID: id, Version: res.Version, Position: res.Position}
	writeJSONBody(c, status, answer.appendJSON(make([]byte, 0, 160)))
}

// command validates the envelope of a new event; the core judges data.
func (r recordEventRequest) command() (core.Command, error) {
	var cmd core.Command
	if r.ID != nil {
		id, err := parseUUIDField("id", *r.ID, domain.KindInvalid)
		if err != nil {
			return cmd, err
		}
		if id == uuid.Nil {
			return cmd, badField("id", "id must not be the nil UUID.")
		}
		cmd.EventID = id
	}
	if r.Type == nil || *r.Type == "" {
		return cmd, badField("type", "type is required.")
	}
	cmd.Type = *r.Type
	if r.OccurredAt != nil {
		t, err := parseTimeField("occurred_at", *r.OccurredAt, domain.KindInvalid)
		if err != nil {
			return cmd, err
		}
		cmd.OccurredAt = &t
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return cmd, badField("data", "data is required: a JSON object.")
	}
	if r.Data[0] != '{' {
		return cmd, badField("data", "data must be a JSON object.")
	}
	cmd.Data = r.Data
	return cmd, nil
}

// caseHistory: GET /v1/cases/{id}/events?from_version=&limit=.
func (a *api) caseHistory(c *gin.Context) {
	id, err := caseIDParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	from, limit, err := pageQuery(c, "from_version")
	if err != nil {
		writeProblem(c, err)
		return
	}
	page, err := a.core.History(c.Request.Context(), identity(c), id, from, limit, consultation(c))
	if err != nil {
		writeProblem(c, err)
		return
	}
	var next *string
	if page.NextFromVersion != nil {
		next = nextPage(c, url.Values{"from_version": {strconv.FormatUint(*page.NextFromVersion, 10)}}, "limit")
	}
	c.JSON(http.StatusOK, gin.H{"case_id": id, "events": page.Events, "next_from_version": page.NextFromVersion, "next": next})
}

// verifyView answers GET /v1/cases/{id}/verify: the case stream's verdict
// at the top level (as the first version answered), valid only when the
// access log holds too, and each stream's verdict under streams.
type verifyView struct {
	CaseID              uuid.UUID      `json:"case_id"`
	Valid               bool           `json:"valid"`
	Checked             int            `json:"checked"`
	HeadHash            string         `json:"head_hash"`
	FirstInvalidVersion *uint64        `json:"first_invalid_version,omitempty"`
	Reason              string         `json:"reason,omitempty"`
	Streams             []streamVerify `json:"streams"`
}

const maxVerifyReason = 2000

type streamVerify struct {
	Stream string `json:"stream"`
	domain.VerifyResult
	Legacy int `json:"legacy_entries,omitempty"`
}

// verifyCase: GET /v1/cases/{id}/verify.
func (a *api) verifyCase(c *gin.Context) {
	id, err := caseIDParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	v, err := a.core.Verify(c.Request.Context(), identity(c), id, consultation(c))
	if err != nil {
		writeProblem(c, err)
		return
	}
	view := verifyView{CaseID: id, Valid: v.Valid(), Checked: v.Case.Checked, HeadHash: v.Case.HeadHash,
		FirstInvalidVersion: v.Case.FirstInvalidVersion, Reason: v.Case.Reason,
		Streams: []streamVerify{
			{Stream: domain.StreamName(id), VerifyResult: v.Case},
			{Stream: v.Access.Stream, VerifyResult: v.Access.VerifyResult, Legacy: v.Access.Legacy},
		}}
	if view.Reason == "" && !v.Access.Valid {
		view.Reason = "the access log's chain is broken: " + v.Access.Reason
	}
	// A reason can quote what it found in a damaged record: bounded, as
	// documented.
	view.Reason = cut(view.Reason, maxVerifyReason)
	for i := range view.Streams {
		view.Streams[i].Reason = cut(view.Streams[i].Reason, maxVerifyReason)
	}
	c.JSON(http.StatusOK, view)
}
