package main

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
	casehttp "github.com/casebook/casebook/http"
	"github.com/casebook/casebook/projections"
)

// instrumentStore wraps the store so that append latency reaches the
// metrics.
func instrumentStore(s eventstore.Store, m *casehttp.Metrics) eventstore.Store {
	return &instrumentedStore{Store: s, m: m}
}

// instrumentedStore passes every other call through to the store it embeds.
type instrumentedStore struct {
	eventstore.Store
	m *casehttp.Metrics
}

func (s *instrumentedStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	start := time.Now()
	res, err := s.Store.Append(ctx, stream, expected, events...)
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, eventstore.ErrWrongExpectedRevision):
		outcome = "conflict"
	default:
		outcome = "error"
	}
	s.m.ObserveAppend(outcome, time.Since(start))
	return res, err
}

// FindEvent passes the wrapped store's EventFinder through (embedding the
// Store interface alone would hide it).
func (s *instrumentedStore) FindEvent(ctx context.Context, id uuid.UUID) (eventstore.RecordedEvent, error) {
	return eventstore.FindEvent(ctx, s.Store, id)
}

// projectionLag adapts the engine's status for the metrics.
func projectionLag(e *projections.Engine) func(ctx context.Context) []casehttp.ProjectionLag {
	return func(ctx context.Context) []casehttp.ProjectionLag {
		st, err := e.Status(ctx)
		if err != nil {
			return nil
		}
		out := make([]casehttp.ProjectionLag, 0, len(st))
		for _, s := range st {
			out = append(out, casehttp.ProjectionLag{Name: s.Name, LagEvents: s.LagEvents, LagSeconds: s.LagSeconds,
				Failed: s.State == projections.StateFailed})
		}
		return out
	}
}
