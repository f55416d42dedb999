package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/casebook/casebook/eventstore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// readAhead is how many events a read fetches ahead of its consumer.
const readAhead = 64

type readItem struct {
	ev  *esdb.ResolvedEvent
	err error
}

type openFunc func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error)

// read runs a client read in its own goroutine and hands each event to fn
// in the caller's goroutine until fn says stop, the read ends (nil), it
// fails, or ctx ends. Leaving early cancels the read.
func (s *Store) read(ctx context.Context, open openFunc, fn func(*esdb.ResolvedEvent) (more bool, err error)) error {
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	ch := make(chan readItem, readAhead)
	go s.produce(cctx, open, ch)
	for {
		select {
		case it, ok := <-ch:
			if !ok {
				return nil
			}
			if it.err != nil {
				return it.err
			}
			more, err := fn(it.ev)
			if err != nil || !more {
				return err
			}
		case <-cctx.Done():
			return cctx.Err()
		}
	}
}

func (s *Store) produce(ctx context.Context, open openFunc, ch chan<- readItem) {
	defer close(ch)
	send := func(it readItem) bool {
		select {
		case ch <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for attempt := 0; ; attempt++ {
		g, err := s.acquire(ctx)
		if err != nil {
			send(readItem{err: err})
			return
		}
		rs, err := open(ctx, g.client)
		if err != nil {
			s.release(g, err)
			if attempt == 0 && isConnectionClosed(err) && !s.isClosed() {
				continue // the client had closed itself; nothing was sent
			}
			send(readItem{err: err})
			return
		}
		for {
			ev, err := rs.Recv()
			if err != nil {
				rs.Close()
				if isEOF(err) {
					err = nil
				}
				s.release(g, err)
				if err != nil {
					send(readItem{err: err})
				}
				return
			}
			if !send(readItem{ev: ev}) {
				rs.Close()
				s.release(g, nil)
				return
			}
		}
	}
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

// isStreamNotFound tells the client's "stream not found" read reply (and a
// deleted stream, which KurrentDB reads as gone) from a NotFound status.
func isStreamNotFound(err error) bool {
	var esErr *esdb.Error
	if !errors.As(err, &esErr) {
		return false
	}
	switch esErr.Code() {
	case esdb.ErrorCodeResourceNotFound:
		return status.Code(esErr.Err()) != codes.NotFound
	case esdb.ErrorCodeStreamDeleted:
		return true
	}
	return false
}

// isSystem reports whether an event belongs to KurrentDB itself: a
// "$"-stream (stats, settings, projections, metadata) or a "$"-type (links
// and other system records).
func isSystem(ev *esdb.RecordedEvent) bool {
	return strings.HasPrefix(ev.StreamID, "$") || strings.HasPrefix(ev.EventType, "$")
}

func toRecorded(ev *esdb.RecordedEvent) eventstore.RecordedEvent {
	var meta []byte
	if len(ev.UserMetadata) > 0 {
		meta = ev.UserMetadata
	}
	return eventstore.RecordedEvent{
		ID:         ev.EventID,
		Type:       ev.EventType,
		Data:       ev.Data,
		Metadata:   meta,
		Stream:     ev.StreamID,
		Revision:   ev.EventNumber,
		Position:   eventstore.Position(ev.Position.Commit),
		RecordedAt: ev.CreatedDate.UTC(),
	}
}

// allPosition is the client position of our Position (see the package doc).
func allPosition(p eventstore.Position) esdb.AllPosition {
	if p == eventstore.Start {
		return esdb.Start{}
	}
	return esdb.Position{Commit: uint64(p), Prepare: uint64(p)}
}

// ReadStream iterates over one stream's events.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		if stream == "" || strings.HasPrefix(stream, "$") {
			// System streams are KurrentDB's, not Casebook's.
			yield(eventstore.RecordedEvent{}, fmt.Errorf("kurrentdb: read stream %q: %w", stream, eventstore.ErrStreamNotFound))
			return
		}
		ro := esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(opts.From)}
		if opts.Direction == eventstore.Backward {
			ro.Direction = esdb.Backwards
			if opts.FromEnd {
				ro.From = esdb.End{}
			}
		}
		count := opts.Limit
		if count == 0 {
			count = math.MaxUint64
		}
		stopped := false
		err := s.read(ctx, func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
			return c.ReadStream(ctx, stream, ro, count)
		}, func(ev *esdb.ResolvedEvent) (bool, error) {
			if ev.Event == nil {
				return true, nil
			}
			if !yield(toRecorded(ev.Event), nil) {
				stopped = true
				return false, nil
			}
			return true, nil
		})
		if err == nil || stopped {
			return
		}
		if isStreamNotFound(err) {
			yield(eventstore.RecordedEvent{}, fmt.Errorf("kurrentdb: read stream %q: %w", stream, eventstore.ErrStreamNotFound))
			return
		}
		yield(eventstore.RecordedEvent{}, s.translate(ctx, fmt.Sprintf("read stream %q", stream), err))
	}
}

// ReadAll iterates over the global log without system events. The filter
// is applied here: the v4.2.0 client cannot send one with a read.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		var returned uint64
		stopped := false
		accept := func(e *esdb.RecordedEvent) (bool, error) {
			if isSystem(e) || !opts.Filter.Matches(e.StreamID, e.EventType) {
				return true, nil
			}
			if !yield(toRecorded(e), nil) {
				stopped = true
				return false, nil
			}
			returned++
			return opts.Limit == 0 || returned < opts.Limit, nil
		}
		var err error
		switch {
		case opts.Direction != eventstore.Backward:
			err = s.readAllForward(ctx, opts.From, accept)
		case opts.FromEnd:
			err = s.readAllBackward(ctx, esdb.End{}, accept)
		case opts.From == eventstore.Start:
			// Nothing lies before the start.
		default:
			// KurrentDB's backward reads start before their position; ours
			// include it. Find the first record at or after From: if it is at
			// From it comes first, and the backward read starts there.
			var at *esdb.RecordedEvent
			err = s.readAllForward(ctx, opts.From, func(e *esdb.RecordedEvent) (bool, error) {
				at = e
				return false, nil
			})
			if err != nil || at == nil {
				if err == nil {
					err = s.readAllBackward(ctx, esdb.End{}, accept)
				}
				break
			}
			more := true
			if at.Position.Commit == uint64(opts.From) {
				more, _ = accept(at)
			}
			if more && !stopped {
				err = s.readAllBackward(ctx, esdb.Position{Commit: at.Position.Commit, Prepare: at.Position.Prepare}, accept)
			}
		}
		if err != nil && !stopped {
			yield(eventstore.RecordedEvent{}, s.translate(ctx, "read all", err))
		}
	}
}

// readAllBackward hands fn every record of $all before from, newest first.
func (s *Store) readAllBackward(ctx context.Context, from esdb.AllPosition, fn func(*esdb.RecordedEvent) (bool, error)) error {
	return s.read(ctx, func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
		return c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: from}, math.MaxUint64)
	}, func(ev *esdb.ResolvedEvent) (bool, error) {
		if ev.Event == nil {
			return true, nil
		}
		return fn(ev.Event)
	})
}

// readAllForward hands fn every record of $all at or after from (system
// records included). Positions need not be the start of a record, which
// KurrentDB refuses: then the read starts one byte earlier (a common case:
// a known position plus one) or, failing that, at the last record before
// from, and skips what lies before from.
func (s *Store) readAllForward(ctx context.Context, from eventstore.Position, fn func(*esdb.RecordedEvent) (bool, error)) error {
	try := func(start eventstore.Position) error {
		return s.read(ctx, func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
			return c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: allPosition(start)}, math.MaxUint64)
		}, func(ev *esdb.ResolvedEvent) (bool, error) {
			if ev.Event == nil || ev.Event.Position.Commit < uint64(from) {
				return true, nil
			}
			return fn(ev.Event)
		})
	}
	err := try(from)
	if from == eventstore.Start || !isInvalidPosition(err) {
		return err
	}
	if err = try(from - 1); !isInvalidPosition(err) {
		return err
	}
	before, err := s.lastRecordBefore(ctx, from)
	if err != nil {
		return err
	}
	return try(before)
}

// lastRecordBefore returns the position of the newest record of $all
// before p (Start when there is none), scanning back from the end.
func (s *Store) lastRecordBefore(ctx context.Context, p eventstore.Position) (eventstore.Position, error) {
	var found eventstore.Position
	err := s.readAllBackward(ctx, esdb.End{}, func(e *esdb.RecordedEvent) (bool, error) {
		if e.Position.Commit < uint64(p) {
			found = eventstore.Position(e.Position.Commit)
			return false, nil
		}
		return true, nil
	})
	return found, err
}

// isInvalidPosition reports KurrentDB refusing a $all position that is not
// the start of a record.
func isInvalidPosition(err error) bool {
	if err == nil {
		return false
	}
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.InvalidArgument && strings.Contains(strings.ToLower(st.Message()), "invalid position")
}

// Head returns the position of the newest non-system event (Start when
// there is none).
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var head eventstore.Position
	err := s.read(ctx, func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
		return c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, math.MaxUint64)
	}, func(ev *esdb.ResolvedEvent) (bool, error) {
		if ev.Event == nil || isSystem(ev.Event) {
			return true, nil
		}
		head = eventstore.Position(ev.Event.Position.Commit)
		return false, nil
	})
	if err != nil {
		return 0, s.translate(ctx, "head", err)
	}
	return head, nil
}

// rawHead returns the position of the newest record of $all, system events
// included: where a subscription "from now on" starts.
func (s *Store) rawHead(ctx context.Context) (eventstore.Position, error) {
	var head eventstore.Position
	err := s.read(ctx, func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
		return c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	}, func(ev *esdb.ResolvedEvent) (bool, error) {
		if ev.Event != nil {
			head = eventstore.Position(ev.Event.Position.Commit)
		}
		return false, nil
	})
	return head, err
}
