package casehttp

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// The data protection officer's routes: the people whose personal data a
// case holds, and their erasure. Who may do either is the core's decision.

// erasureRequest is the body of POST /v1/cases/{id}/people/{person_id}/erasure.
type erasureRequest struct {
	Reason *string `json:"reason"`
}

// erasureAnswer answers it: the PersonErased event and when the data was
// erased.
type erasureAnswer struct {
	ID       uuid.UUID `json:"id"`
	CaseID   uuid.UUID `json:"case_id"`
	PersonID uuid.UUID `json:"person_id"`
	Version  uint64    `json:"version"`
	Position uint64    `json:"position"`
	ErasedAt time.Time `json:"erased_at"`
}

// erasePerson: POST /v1/cases/{id}/people/{person_id}/erasure. 201 with
// the erasure; 200 with the earlier one when the person was erased already.
func (a *api) erasePerson(c *gin.Context) {
	id, err := caseIDParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	personID, err := parseUUIDField("person_id", c.Param("person_id"), domain.KindMalformed)
	if err != nil {
		writeProblem(c, err)
		return
	}
	var body erasureRequest
	if err := decodeJSON(c, &body); err != nil {
		writeProblem(c, err)
		return
	}
	if body.Reason == nil {
		writeProblem(c, badField("reason", "reason is required: why the data must be erased (without naming the person)."))
		return
	}
	er, err := a.core.ErasePerson(c.Request.Context(), identity(c), id, personID, *body.Reason)
	if err != nil {
		writeProblem(c, err)
		return
	}
	status := http.StatusCreated
	if er.Duplicate {
		status = http.StatusOK
	}
	c.Header("Location", eventLocation(id, er.Version))
	c.JSON(status, erasureAnswer{ID: er.EventID, CaseID: id, PersonID: personID, Version: er.Version, Position: er.Position, ErasedAt: er.ErasedAt.UTC()})
}

// casePeople: GET /v1/cases/{id}/people.
func (a *api) casePeople(c *gin.Context) {
	id, err := caseIDParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	people, err := a.core.People(c.Request.Context(), identity(c), id, consultation(c))
	if err != nil {
		writeProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, struct {
		CaseID uuid.UUID     `json:"case_id"`
		People []core.Person `json:"people"`
	}{id, people})
}
