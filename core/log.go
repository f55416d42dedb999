package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// LogEvent is a case event of the global log as auditors see it: the
// envelope and the data (in the current schema). An event whose stored
// bytes no longer decode is still shown, with what can be read of it and
// Data nil, so an auditor paging the log sees it rather than an error;
// verify says what is wrong with it.
type LogEvent struct {
	domain.EventView

	caseID uuid.UUID
	entry  *domain.Entry // decoded, for events with personal fields
}

func logEventOf(rec eventstore.RecordedEvent) LogEvent {
	caseID, _ := domain.CaseIDFromStream(rec.Stream)
	if e, err := domain.DecodeStored(storedOf(rec)); err == nil {
		le := LogEvent{EventView: e.View(), caseID: caseID}
		if domain.HasPersonalFields(e.Type) {
			le.entry = &e
		}
		return le
	}
	m, _ := domain.DecodeMetadata(rec.Metadata) // zero values when unreadable
	if m.RecordedAt.IsZero() {
		m.RecordedAt = rec.RecordedAt
	}
	var data json.RawMessage
	if json.Valid(rec.Data) && len(rec.Data) > 0 && rec.Data[0] == '{' {
		data = rec.Data
	}
	return LogEvent{EventView: domain.EventView{ID: rec.ID, Stream: rec.Stream, Type: rec.Type, Version: rec.Revision,
		Position: uint64(rec.Position), OccurredAt: m.OccurredAt.UTC(), RecordedAt: m.RecordedAt.UTC(), Actor: m.Actor,
		CorrelationID: m.CorrelationID, CausationID: m.CausationID, Data: data, PrevHash: m.PrevHash, Hash: m.Hash},
		caseID: caseID}
}

// revealLog opens the sealed personal fields of the log's events, judging
// erasure on each case's current state (loaded once per case in states).
// An event whose data could not be decoded is shown as it is (nil).
func (c *Core) revealLog(ctx context.Context, e *LogEvent, states map[uuid.UUID]*domain.Case) error {
	if e.entry == nil || e.caseID == uuid.Nil {
		return nil
	}
	current := states[e.caseID]
	if current == nil {
		st, err := c.writer.load(ctx, e.caseID)
		if err != nil {
			return err
		}
		current = &st
		states[e.caseID] = current
	}
	opened, err := c.reveal.Entry(ctx, current, *e.entry)
	if err != nil {
		return err
	}
	e.Data, e.ErasedAt, e.Unreadable, e.entry = opened.Data, opened.ErasedAt, opened.Unreadable, nil
	return nil
}

// caseEventsOnly: the global log as the core serves it holds case events
// only. Access-log entries have their own use case, and streaming them
// would make every read of the live log produce more of itself.
var caseEventsOnly = []string{domain.StreamPrefix}

// LogQuery selects a page of the global log.
type LogQuery struct {
	FromPosition uint64   // first position (inclusive)
	Limit        int      // events in the page
	Types        []string // event types; none: all
}

// LogPage is a page of the global log.
type LogPage struct {
	Events []LogEvent
	// NextFromPosition is where the next page starts; nil on the last.
	NextFromPosition *uint64
}

// checkTypes refuses names that are not case event types.
func checkTypes(types []string) error {
	for _, t := range types {
		if !domain.IsEventType(t) {
			return domain.BadParameter("type", "%q is not a case event type (one of %s)",
				truncate(t, 64), strings.Join(domain.EventTypes(), ", "))
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ReadLog returns a page of the global log (auditors). Every case whose
// events the page shows gets an access-log entry before the page is
// answered.
func (c *Core) ReadLog(ctx context.Context, who Identity, q LogQuery, con Consultation) (LogPage, error) {
	con, err := c.checkConsultation(who, OpReadLog, con, false)
	if err != nil {
		return LogPage{}, err
	}
	if err := checkTypes(q.Types); err != nil {
		return LogPage{}, err
	}
	opts := eventstore.ReadAllOptions{
		From:   eventstore.Position(q.FromPosition),
		Limit:  uint64(q.Limit) + 1,
		Filter: eventstore.Filter{StreamPrefixes: caseEventsOnly, EventTypes: q.Types},
	}
	page := LogPage{Events: make([]LogEvent, 0, min(q.Limit, 128))}
	for rec, err := range c.store.ReadAll(ctx, opts) {
		if err != nil {
			return LogPage{}, storeError("read the global log", err)
		}
		if len(page.Events) == q.Limit {
			n := uint64(rec.Position)
			page.NextFromPosition = &n
			break
		}
		page.Events = append(page.Events, logEventOf(rec))
	}
	states := map[uuid.UUID]*domain.Case{}
	for i := range page.Events {
		if err := c.revealLog(ctx, &page.Events[i], states); err != nil {
			return LogPage{}, err
		}
	}
	if err := c.recordShown(ctx, who, domain.AccessReadLog, page.Events, con); err != nil {
		return LogPage{}, err
	}
	return page, nil
}

// recordShown records, for every case whose events were shown, which of
// its versions were.
func (c *Core) recordShown(ctx context.Context, who Identity, op string, events []LogEvent, con Consultation) error {
	type span struct{ from, to uint64 }
	spans := map[uuid.UUID]*span{}
	var order []uuid.UUID
	for _, e := range events {
		if e.caseID == uuid.Nil {
			continue
		}
		s := spans[e.caseID]
		if s == nil {
			spans[e.caseID] = &span{e.Version, e.Version}
			order = append(order, e.caseID)
			continue
		}
		s.from, s.to = min(s.from, e.Version), max(s.to, e.Version)
	}
	// Concurrently, so that the store can commit them in one group.
	const parallel = 16
	sem := make(chan struct{}, parallel)
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for i, id := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s := spans[id]
			a := c.accessEntry(id, op, domain.AccessServed, con)
			from, to := s.from, s.to
			a.FromVersion, a.VersionRead = &from, &to
			errs[i] = c.access.record(ctx, who, a)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// LiveQuery says where the live log starts.
type LiveQuery struct {
	// After is the position of the last event the client has seen
	// (Last-Event-ID); nil starts at the end (only new events) unless
	// FromPosition is set.
	After        *uint64
	FromPosition *uint64 // first position (inclusive)
	Types        []string
}

// Live streams the global log as it grows (auditors): the history after
// the starting point, then each event as it is committed, with no gap or
// duplicate even when the store drops a slow subscriber. Each case gets an
// access-log entry the first time the stream shows one of its events. The
// sequence ends when ctx ends or the store closes (with an error).
func (c *Core) Live(ctx context.Context, who Identity, q LiveQuery, con Consultation) (iter.Seq2[LogEvent, error], error) {
	con, err := c.checkConsultation(who, OpReadLog, con, false)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(q.Types); err != nil {
		return nil, err
	}
	opts := eventstore.SubscribeOptions{FromEnd: true}
	switch {
	case q.After != nil:
		opts = eventstore.SubscribeOptions{After: eventstore.Position(*q.After)}
	case q.FromPosition != nil:
		// from_position is inclusive; the store's After is exclusive.
		opts = eventstore.SubscribeOptions{After: eventstore.Position(max(*q.FromPosition, 1) - 1)}
	}
	opts.Filter = eventstore.Filter{StreamPrefixes: caseEventsOnly, EventTypes: slices.Clone(q.Types)}
	return func(yield func(LogEvent, error) bool) {
		recorded := map[uuid.UUID]bool{}
		for {
			var dropped *eventstore.SubscriptionDroppedError
			resumed := false
			for rec, err := range c.store.Subscribe(ctx, opts) {
				if errors.As(err, &dropped) {
					// Resume where the store says, so the client sees
					// neither a gap nor a duplicate.
					opts = eventstore.SubscribeOptions{After: dropped.ResumeAfter, Filter: opts.Filter}
					resumed = true
					break
				}
				if err != nil {
					yield(LogEvent{}, storeError("follow the global log", err))
					return
				}
				e := logEventOf(rec)
				// A fresh state each time: an erasure may come at any moment.
				if err := c.revealLog(ctx, &e, map[uuid.UUID]*domain.Case{}); err != nil {
					yield(LogEvent{}, err)
					return
				}
				if e.caseID != uuid.Nil && !recorded[e.caseID] {
					a := c.accessEntry(e.caseID, domain.AccessLiveLog, domain.AccessServed, con)
					v := e.Version
					a.FromVersion, a.VersionRead = &v, &v
					if err := c.access.record(ctx, who, a); err != nil {
						yield(LogEvent{}, fmt.Errorf("the read could not be recorded in the access log: %w", err))
						return
					}
					recorded[e.caseID] = true
				}
				if !yield(e, nil) {
					return
				}
			}
			if !resumed {
				if ctx.Err() == nil {
					yield(LogEvent{}, storeError("follow the global log", eventstore.ErrClosed))
				}
				return
			}
		}
	}, nil
}
