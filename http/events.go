package casehttp

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// The global log as the API serves it holds case events only: access-log
// events have their own route, and streaming them would make every read
// of the live log produce more of itself.
var caseEventsOnly = []string{domain.StreamPrefix}

// logEventJSON renders a stored case event as in a case's history. An event
// whose stored bytes no longer decode is still shown, with what can be
// read of it and `data` null, so an auditor paging the log sees it rather
// than an error; verify says what is wrong with it.
func logEventJSON(ev eventstore.RecordedEvent) (json.RawMessage, uuid.UUID) {
	caseID, _ := domain.CaseIDFromStream(ev.Stream)
	se := domain.StoredEvent{ID: ev.ID, Stream: ev.Stream, Type: ev.Type, Version: ev.Revision,
		Position: uint64(ev.Position), Data: ev.Data, Metadata: ev.Metadata}
	if entry, err := domain.DecodeStored(se); err == nil {
		if b, err := json.Marshal(entry); err == nil {
			return b, caseID
		}
	}
	meta, _ := domain.DecodeMetadata(ev.Metadata) // zero values when unreadable
	if meta.RecordedAt.IsZero() {
		meta.RecordedAt = ev.RecordedAt
	}
	var data json.RawMessage
	if json.Valid(ev.Data) && len(ev.Data) > 0 && ev.Data[0] == '{' {
		data = ev.Data
	}
	b, _ := json.Marshal(struct {
		ID            uuid.UUID       `json:"id"`
		Stream        string          `json:"stream"`
		Type          string          `json:"type"`
		Version       uint64          `json:"version"`
		Position      uint64          `json:"position"`
		OccurredAt    time.Time       `json:"occurred_at"`
		RecordedAt    time.Time       `json:"recorded_at"`
		Actor         domain.Actor    `json:"actor"`
		CorrelationID uuid.UUID       `json:"correlation_id"`
		CausationID   uuid.UUID       `json:"causation_id"`
		Data          json.RawMessage `json:"data"`
		PrevHash      string          `json:"prev_hash"`
		Hash          string          `json:"hash"`
	}{ev.ID, ev.Stream, ev.Type, ev.Revision, uint64(ev.Position), meta.OccurredAt.UTC(), meta.RecordedAt.UTC(),
		meta.Actor, meta.CorrelationID, meta.CausationID, data, meta.PrevHash, meta.Hash})
	return b, caseID
}

// eventTypesParam reads `type` (repeated or comma-separated), refusing
// names that are not case event types.
func eventTypesParam(c *gin.Context) ([]string, error) {
	var types []string
	for _, v := range c.QueryArray("type") {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !domain.IsEventType(t) {
				return nil, fieldProblem(ProblemInvalidParameter, "type", "%q is not a case event type (one of %s).",
					truncate(t, 64), strings.Join(domain.EventTypes(), ", "))
			}
			types = append(types, t)
		}
	}
	return types, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// globalLog: GET /v1/events?from_position=&limit=&type= (auditors).
func (a *api) globalLog(c *gin.Context) {
	from, limit, err := pageQuery(c, "from_position")
	if err != nil {
		writeProblem(c, err)
		return
	}
	types, err := eventTypesParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	ctx := c.Request.Context()
	opts := eventstore.ReadAllOptions{
		From:   eventstore.Position(from),
		Limit:  uint64(limit) + 1,
		Filter: eventstore.Filter{StreamPrefixes: caseEventsOnly, EventTypes: types},
	}
	events := make([]json.RawMessage, 0, min(limit, 128))
	var cases []uuid.UUID
	seen := map[uuid.UUID]bool{}
	var next *uint64
	for ev, err := range a.cfg.Store.ReadAll(ctx, opts) {
		if err != nil {
			writeProblem(c, err)
			return
		}
		if len(events) == limit {
			n := uint64(ev.Position)
			next = &n
			break
		}
		b, caseID := logEventJSON(ev)
		events = append(events, b)
		if caseID != uuid.Nil && !seen[caseID] {
			seen[caseID] = true
			cases = append(cases, caseID)
		}
	}
	if err := a.recordReads(ctx, readerOf(c), cases); err != nil {
		writeProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"events": events, "next_from_position": next})
}
