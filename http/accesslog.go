package casehttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// The access log: every read of a case's record or history is recorded as
// an event in a stream of its own, never in the case's stream (whose
// versions are the case's facts alone).
const (
	// AccessStreamPrefix starts the name of every access-log stream:
	// "access-<case uuid>".
	AccessStreamPrefix = "access-"
	// TypeCaseRead is the type of access-log events.
	TypeCaseRead = "CaseRead"
)

// AccessStream is the access-log stream of a case.
func AccessStream(caseID uuid.UUID) string { return AccessStreamPrefix + caseID.String() }

// CaseRead is the data of an access-log event.
type CaseRead struct {
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Agency  string    `json:"agency"`
	Route   string    `json:"route"` // e.g. "GET /v1/cases/{id}"
	CaseID  uuid.UUID `json:"case_id"`
	At      time.Time `json:"at"`
}

// caseReadMetadata ties an access-log event to the request's logs.
type caseReadMetadata struct {
	RequestID string `json:"request_id"`
}

// routeName is the request's route in OpenAPI spelling.
func routeName(c *gin.Context) string {
	parts := strings.Split(c.FullPath(), "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return c.Request.Method + " " + strings.Join(parts, "/")
}

// reader is who is reading, through which request.
type reader struct {
	principal Principal
	route     string
	requestID string
}

func readerOf(c *gin.Context) reader {
	p, _ := principalFrom(c)
	return reader{principal: p, route: routeName(c), requestID: requestID(c)}
}

// recordRead records that the caller read the case. It runs before the
// answer is written: a read that cannot be recorded is not served.
func (a *api) recordRead(c *gin.Context, caseID uuid.UUID) error {
	return a.appendRead(c.Request.Context(), readerOf(c), caseID)
}

func (a *api) appendRead(ctx context.Context, r reader, caseID uuid.UUID) error {
	p := r.principal
	data, err := json.Marshal(CaseRead{
		Subject: p.Subject, Role: p.Role, Agency: p.Agency,
		Route: r.route, CaseID: caseID, At: a.cfg.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	meta, err := json.Marshal(caseReadMetadata{RequestID: r.requestID})
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	_, err = a.cfg.Store.Append(ctx, AccessStream(caseID), eventstore.Any,
		eventstore.EventData{ID: a.cfg.NewID(), Type: TypeCaseRead, Data: data, Metadata: meta})
	if err != nil {
		return fmt.Errorf("access log: recording a read of case %s: %w", caseID, err)
	}
	return nil
}

// recordReads records reads of several cases at once (a page of the global
// log), concurrently so that the store can commit them in one batch.
func (a *api) recordReads(ctx context.Context, r reader, caseIDs []uuid.UUID) error {
	const parallel = 16
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	errs := make([]error, len(caseIDs))
	for i, id := range caseIDs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = a.appendRead(ctx, r, id)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// accessEntry is one access-log entry as GET /v1/access-log shows it.
type accessEntry struct {
	CaseRead
	RequestID string `json:"request_id,omitempty"`
	Version   uint64 `json:"version"`
	Position  uint64 `json:"position"`
}

// accessLog: GET /v1/access-log?case=&from_version=&limit= (auditors).
func (a *api) accessLog(c *gin.Context) {
	raw, ok := c.GetQuery("case")
	if !ok || raw == "" {
		writeProblem(c, fieldProblem(ProblemInvalidParameter, "case", "case (a case id) is required."))
		return
	}
	id, err := parseUUIDField("case", raw, ProblemInvalidParameter)
	if err != nil {
		writeProblem(c, err)
		return
	}
	from, limit, err := pageQuery(c, "from_version")
	if err != nil {
		writeProblem(c, err)
		return
	}
	ctx := c.Request.Context()
	// An unknown case is 404 rather than an empty log, so a mistyped id
	// does not pass for a case nobody read.
	for _, err := range a.cfg.Store.ReadStream(ctx, domain.StreamName(id), eventstore.ReadStreamOptions{Limit: 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			writeProblem(c, newProblem(ProblemNotFound, "No case %s.", id))
			return
		}
		if err != nil {
			writeProblem(c, err)
			return
		}
	}
	entries := []accessEntry{}
	var next *uint64
	for ev, err := range a.cfg.Store.ReadStream(ctx, AccessStream(id), eventstore.ReadStreamOptions{From: from, Limit: uint64(limit) + 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			break // the case was never read
		}
		if err != nil {
			writeProblem(c, err)
			return
		}
		if len(entries) == limit {
			n := ev.Revision
			next = &n
			break
		}
		e := accessEntry{Version: ev.Revision, Position: uint64(ev.Position)}
		if err := json.Unmarshal(ev.Data, &e.CaseRead); err != nil {
			writeProblem(c, fmt.Errorf("access log %s revision %d: %w", AccessStream(id), ev.Revision, err))
			return
		}
		var meta caseReadMetadata
		if json.Unmarshal(ev.Metadata, &meta) == nil {
			e.RequestID = meta.RequestID
		}
		entries = append(entries, e)
	}
	c.JSON(http.StatusOK, gin.H{"case_id": id, "entries": entries, "next_from_version": next})
}
