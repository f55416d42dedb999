package casehttp

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/domain/cases"
)

// CaseService is what the case routes need of the application service
// (*cases.Service satisfies it).
type CaseService interface {
	Open(ctx context.Context, actor domain.Actor, cmd cases.OpenCase) (cases.Result, error)
	Record(ctx context.Context, actor domain.Actor, caseID uuid.UUID, cmd cases.Command) (cases.Result, error)
	Load(ctx context.Context, caseID uuid.UUID, at cases.At) (domain.Case, error)
	History(ctx context.Context, caseID uuid.UUID, fromVersion uint64, limit int) ([]domain.Entry, error)
	Verify(ctx context.Context, caseID uuid.UUID) (domain.VerifyResult, error)
}

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
	return parseUUIDField("id", c.Param("id"), ProblemInvalidParameter)
}

// openEventNamespace derives the CaseOpened event id from a client-chosen
// case id, so that retrying POST /v1/cases with the same id and content is
// idempotent (the store recognises the event) rather than a conflict.
var openEventNamespace = uuid.MustParse("5b0f3c3e-58a4-4f0e-9a53-0c6a4c1f7d21")

// openCase: POST /v1/cases. The body is the CaseOpened data, plus an
// optional case `id` and `occurred_at`; the domain judges the data (and
// names any unknown or ill-typed field).
func (a *api) openCase(c *gin.Context) {
	p, _ := principalFrom(c)
	var body map[string]json.RawMessage
	if err := decodeJSON(c, &body); err != nil {
		writeProblem(c, err)
		return
	}
	cmd := cases.OpenCase{}
	if raw, ok := body["id"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			writeProblem(c, fieldProblem(ProblemValidation, "id", "id must be a string holding a UUID."))
			return
		}
		id, err := parseUUIDField("id", s, ProblemValidation)
		if err != nil {
			writeProblem(c, err)
			return
		}
		if id == uuid.Nil {
			writeProblem(c, fieldProblem(ProblemValidation, "id", "id must not be the nil UUID."))
			return
		}
		cmd.CaseID = id
		cmd.EventID = uuid.NewSHA1(openEventNamespace, id[:])
		delete(body, "id")
	}
	if raw, ok := body["occurred_at"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			writeProblem(c, fieldProblem(ProblemValidation, "occurred_at", "occurred_at must be a string holding an RFC 3339 time."))
			return
		}
		t, err := parseTimeField("occurred_at", s, ProblemValidation)
		if err != nil {
			writeProblem(c, err)
			return
		}
		cmd.OccurredAt = &t
		delete(body, "occurred_at")
	}
	lead := p.Agency
	if raw, ok := body["lead_agency"]; ok {
		if err := json.Unmarshal(raw, &lead); err != nil {
			writeProblem(c, fieldProblem(ProblemValidation, "lead_agency", "lead_agency must be a string."))
			return
		}
	}
	if lead != p.Agency {
		writeProblem(c, fieldProblem(ProblemForbidden, "lead_agency",
			"An investigator of %s cannot open a case for another agency.", p.Agency))
		return
	}
	leadJSON, _ := json.Marshal(lead)
	body["lead_agency"] = leadJSON
	data, err := json.Marshal(body)
	if err != nil {
		writeProblem(c, err)
		return
	}
	cmd.Data = data
	res, err := a.cfg.Cases.Open(c.Request.Context(), p.Actor(), cmd)
	if err != nil {
		writeProblem(c, err)
		return
	}
	// Answer the case as the open left it (for a retry, the original
	// answer, whatever was recorded since), read back from its stream.
	state, err := a.cfg.Cases.Load(c.Request.Context(), res.CaseID, cases.At{Version: &res.Version})
	if err != nil {
		writeProblem(c, err)
		return
	}
	a.visible.remember(res.CaseID, p.Agency)
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	c.Header("Location", caseLocation(res.CaseID))
	c.Header("ETag", etag(state.Version))
	c.JSON(status, state)
}

// visibleCase loads the case's current state and checks that the caller
// may see it: investigators only cases their agency leads or joined (others
// are "not found", so their existence does not leak); auditors every case.
func (a *api) visibleCase(c *gin.Context, id uuid.UUID) (domain.Case, error) {
	p, _ := principalFrom(c)
	state, err := a.cfg.Cases.Load(c.Request.Context(), id, cases.At{})
	if err != nil {
		return domain.Case{}, err
	}
	if p.Role == domain.RoleInvestigator {
		if !state.VisibleTo(p.Agency) {
			return domain.Case{}, newProblem(ProblemNotFound, "No case %s visible to %s.", id, p.Agency)
		}
		a.visible.remember(id, p.Agency)
	}
	return state, nil
}

// checkVisible is visibleCase for routes that do not need the state: a
// case once visible to an agency stays visible (see visibilityCache), so a
// remembered answer spares loading the case.
func (a *api) checkVisible(c *gin.Context, id uuid.UUID) error {
	p, _ := principalFrom(c)
	if p.Role == domain.RoleInvestigator && a.visible.known(id, p.Agency) {
		return nil
	}
	_, err := a.visibleCase(c, id)
	return err
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
	// Need-to-know is judged on the current state (an agency that joined
	// later sees the case's earlier versions too).
	state, err := a.visibleCase(c, id)
	if err != nil {
		writeProblem(c, err)
		return
	}
	if at.Version != nil || at.AsOf != nil {
		if state, err = a.cfg.Cases.Load(c.Request.Context(), id, at); err != nil {
			writeProblem(c, err)
			return
		}
	}
	if err := a.recordRead(c, id); err != nil {
		writeProblem(c, err)
		return
	}
	c.Header("ETag", etag(state.Version))
	c.JSON(http.StatusOK, state)
}

// timeTravel reads ?version= and ?as_of= (at most one).
func timeTravel(c *gin.Context) (cases.At, error) {
	var at cases.At
	vs, hasVersion := c.GetQuery("version")
	ts, hasAsOf := c.GetQuery("as_of")
	if hasVersion && hasAsOf {
		return at, fieldProblem(ProblemInvalidParameter, "as_of", "Give version or as_of, not both.")
	}
	if hasVersion {
		v, err := queryUint(c, "version", 0, 0)
		if err != nil || vs == "" {
			return at, fieldProblem(ProblemInvalidParameter, "version", "version must be a non-negative integer.")
		}
		at.Version = &v
	}
	if hasAsOf {
		t, err := parseTimeField("as_of", ts, ProblemInvalidParameter)
		if err != nil {
			return at, err
		}
		at.AsOf = &t
	}
	return at, nil
}

// recordEvent: POST /v1/cases/{id}/events.
func (a *api) recordEvent(c *gin.Context) {
	p, _ := principalFrom(c)
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
	if err := a.checkVisible(c, id); err != nil {
		writeProblem(c, err)
		return
	}
	res, err := a.cfg.Cases.Record(c.Request.Context(), p.Actor(), id, cmd)
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
	answer := recordedEvent{ID: res.EventID, CaseID: id, Version: res.Version, Position: uint64(res.Position)}
	writeJSONBody(c, status, answer.appendJSON(make([]byte, 0, 160)))
}

// command validates the envelope of a new event; the domain judges data.
func (r recordEventRequest) command() (cases.Command, error) {
	var cmd cases.Command
	if r.ID != nil {
		id, err := parseUUIDField("id", *r.ID, ProblemValidation)
		if err != nil {
			return cmd, err
		}
		if id == uuid.Nil {
			return cmd, fieldProblem(ProblemValidation, "id", "id must not be the nil UUID.")
		}
		cmd.EventID = id
	}
	if r.Type == nil || *r.Type == "" {
		return cmd, fieldProblem(ProblemValidation, "type", "type is required.")
	}
	cmd.Type = *r.Type
	if r.OccurredAt != nil {
		t, err := parseTimeField("occurred_at", *r.OccurredAt, ProblemValidation)
		if err != nil {
			return cmd, err
		}
		cmd.OccurredAt = &t
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return cmd, fieldProblem(ProblemValidation, "data", "data is required: a JSON object.")
	}
	if r.Data[0] != '{' {
		return cmd, fieldProblem(ProblemValidation, "data", "data must be a JSON object.")
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
	if err := a.checkVisible(c, id); err != nil {
		writeProblem(c, err)
		return
	}
	// One more than asked tells whether another page follows.
	entries, err := a.cfg.Cases.History(c.Request.Context(), id, from, limit+1)
	if err != nil {
		writeProblem(c, err)
		return
	}
	var next *uint64
	if len(entries) > limit {
		entries = entries[:limit]
		n := entries[len(entries)-1].Version + 1
		next = &n
	}
	if entries == nil {
		entries = []domain.Entry{}
	}
	if err := a.recordRead(c, id); err != nil {
		writeProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"case_id": id, "events": entries, "next_from_version": next})
}

// verifyView answers GET /v1/cases/{id}/verify.
type verifyView struct {
	CaseID uuid.UUID `json:"case_id"`
	domain.VerifyResult
}

// verifyCase: GET /v1/cases/{id}/verify.
func (a *api) verifyCase(c *gin.Context) {
	id, err := caseIDParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	p, _ := principalFrom(c)
	if p.Role == domain.RoleInvestigator {
		// Need-to-know needs the state. A case too damaged to fold cannot
		// be judged, so investigators are refused (fail closed); auditors,
		// who see every case, still get the verdict.
		if err := a.checkVisible(c, id); err != nil {
			writeProblem(c, err)
			return
		}
	}
	res, err := a.cfg.Cases.Verify(c.Request.Context(), id)
	if err != nil {
		writeProblem(c, err)
		return
	}
	if err := a.recordRead(c, id); err != nil {
		writeProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, verifyView{CaseID: id, VerifyResult: res})
}
