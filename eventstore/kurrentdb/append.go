package kurrentdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/casebook/casebook/eventstore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tailWindow is how many of a stream's newest events, beyond the last,
// Append looks through for a retried "any" or "stream-exists" append before
// writing.
const tailWindow = 32

// Append writes events atomically to the end of stream. See the package doc
// for how retries are recognised.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := s.opts.Limits.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	op := fmt.Sprintf("append to %q", stream)
	if s.isClosed() {
		return eventstore.AppendResult{}, fmt.Errorf("kurrentdb: %s: %w", op, eventstore.ErrClosed)
	}

	// 0. Some of these IDs were written by this Store: only an exact retry
	// of that append is answered (from the stored events); anything else
	// reuses IDs.
	if rec, known, whole := s.recent.lookup(events); rec != nil {
		if rec.stream != stream || !whole {
			return eventstore.AppendResult{}, &eventstore.EventIDReusedError{EventID: known, Stream: rec.stream}
		}
		res, found, err := s.matchAt(ctx, stream, rec.first, events)
		if err != nil || found {
			return res, s.appendError(ctx, op, err)
		}
		// The events are no longer where they were written (the stream was
		// deleted or truncated in KurrentDB): decide from the store alone.
	}

	// 1. A retry whose events already end the stream: answer the original
	// result without writing (KurrentDB may have forgotten the IDs).
	// An exact or no-stream retry is recognised by KurrentDB itself from the
	// stored events (it answers success without writing, checked below), so
	// only the last event is needed; an "any" or "stream-exists" retry is
	// recognised by the node only while it remembers the IDs, so look
	// further back.
	window := uint64(1)
	if expected.IsAny() || expected.IsStreamExists() {
		window = tailWindow + 1
	}
	tail, err := s.readStream(ctx, stream, esdb.Backwards, esdb.End{}, window)
	if err != nil {
		return eventstore.AppendResult{}, s.translate(ctx, op, err)
	}
	exists := len(tail) > 0
	var current uint64
	if exists {
		current = tail[0].EventNumber
	}
	if res, found, err := s.matchTail(ctx, stream, tail, events); found || err != nil {
		return res, s.appendError(ctx, op, err)
	}

	// 2. Write.
	var wr *esdb.WriteResult
	err = s.call(ctx, func(ctx context.Context, c *esdb.Client) error {
		var err error
		wr, err = c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: expectedFor(expected)}, toEventData(events)...)
		if err != nil && errors.Is(err, io.EOF) {
			// gRPC's Send on a client stream answers io.EOF when the stream
			// broke (the node went away mid-append) and the client wraps it
			// with an unknown code. The outcome is unknown, as for any lost
			// connection: report the node unavailable (which also retires
			// the client), and a retry is recognised by its event IDs.
			err = status.Errorf(codes.Unavailable, "append stream broken: %v", err)
		}
		return err
	})
	if err == nil {
		if exists && wr.NextExpectedVersion <= current {
			// The node recognised a retry that lies deeper than the tail we
			// read, and wrote nothing: check the content and answer it.
			first := wr.NextExpectedVersion + 1 - uint64(len(events))
			res, found, err := s.matchAt(ctx, stream, first, events)
			if err != nil || found {
				return res, s.appendError(ctx, op, err)
			}
			return eventstore.AppendResult{}, fmt.Errorf("kurrentdb: %s: the store reported revision %d without writing, but the events are not there", op, wr.NextExpectedVersion)
		}
		s.recent.add(stream, wr.NextExpectedVersion+1-uint64(len(events)), events)
		pos := s.appendedPosition(ctx, stream, wr)
		return eventstore.AppendResult{Revision: wr.NextExpectedVersion, Position: pos}, nil
	}

	var esErr *esdb.Error
	if !errors.As(err, &esErr) || esErr.Code() != esdb.ErrorCodeWrongExpectedVersion {
		return eventstore.AppendResult{}, s.appendError(ctx, op, err)
	}

	// 3. A wrong expected revision may be a retry of an append that
	// succeeded, whose events sit where that append put them.
	// The client keeps the stream's actual revision only in its message's
	// text, which we do not parse: the stream's tail says it. (Another
	// append landing meanwhile only makes it fresher.)
	tail, rerr := s.readStream(ctx, stream, esdb.Backwards, esdb.End{}, 1)
	if rerr != nil {
		return eventstore.AppendResult{}, s.translate(ctx, op, rerr)
	}
	actualExists := len(tail) > 0
	var actual uint64
	if actualExists {
		actual = tail[0].EventNumber
	}
	if expected.IsAny() {
		// KurrentDB refuses an "any" append whose first event ID it
		// remembers in this stream with other events after it.
		return eventstore.AppendResult{}, &eventstore.EventIDReusedError{EventID: events[0].ID, Stream: stream}
	}
	if !actualExists {
		// Nothing is stored: this cannot be a retry.
		return eventstore.AppendResult{}, &eventstore.WrongExpectedRevisionError{Stream: stream, Expected: expected}
	}
	// A stale exact expectation is the ordinary race between writers: a
	// retry that repeats its original expectation never gets here (KurrentDB
	// answers it with the original success, handled above), so answer the
	// conflict without further reads.
	if r, exact := expected.Revision(); exact && r < actual {
		return eventstore.AppendResult{}, &eventstore.WrongExpectedRevisionError{
			Stream: stream, Expected: expected, ActualExists: true, ActualRevision: actual,
		}
	}
	// Otherwise (no-stream on an existing stream, a revision the stream has
	// not reached) it may be a retry sent with another expectation: look for
	// the events where a no-stream append puts them, then among the newest.
	if expected.IsNoStream() {
		res, found, err := s.matchAt(ctx, stream, 0, events)
		if err != nil || found {
			return res, s.appendError(ctx, op, err)
		}
	}
	if window == 1 {
		tail, err := s.readStream(ctx, stream, esdb.Backwards, esdb.End{}, tailWindow+1)
		if err != nil {
			return eventstore.AppendResult{}, s.translate(ctx, op, err)
		}
		if res, found, err := s.matchTail(ctx, stream, tail, events); found || err != nil {
			return res, s.appendError(ctx, op, err)
		}
	}
	return eventstore.AppendResult{}, &eventstore.WrongExpectedRevisionError{
		Stream: stream, Expected: expected, ActualExists: actualExists, ActualRevision: actual,
	}
}

// Position trust states: whether the node's write result carries the last
// event's $all position (KurrentDB ≥ 20.6 does), learnt from the first append.
const (
	positionUnchecked int32 = iota
	positionTrusted
	positionReadBack
)

// appendedPosition returns the $all position of the last event an append
// wrote. The first append checks the node's write result against the event
// as read back; should they differ (or the result carry none), every later
// append reads its position back, so that Position always means the
// event's place in $all (read-your-writes waits on it).
func (s *Store) appendedPosition(ctx context.Context, stream string, wr *esdb.WriteResult) eventstore.Position {
	state := s.positionTrust.Load()
	if state == positionTrusted && wr.CommitPosition != 0 {
		return eventstore.Position(wr.CommitPosition)
	}
	last, err := s.readStream(ctx, stream, esdb.Forwards, esdb.Revision(wr.NextExpectedVersion), 1)
	if err != nil || len(last) == 0 || last[0].Position.Commit == 0 || last[0].Position.Commit == math.MaxUint64 {
		// Cannot tell (an old node leaves positions out of stream reads):
		// keep the node's answer.
		return eventstore.Position(wr.CommitPosition)
	}
	read := last[0].Position.Commit
	if state == positionUnchecked {
		if read == wr.CommitPosition {
			s.positionTrust.CompareAndSwap(positionUnchecked, positionTrusted)
		} else if s.positionTrust.CompareAndSwap(positionUnchecked, positionReadBack) {
			s.log.Warn("kurrentdb: the node's append results do not carry the last event's position; reading it back after every append",
				"reported", wr.CommitPosition, "event", read)
		}
	}
	return eventstore.Position(read)
}

// appendError translates an append failure, saying when the outcome is
// unknown.
func (s *Store) appendError(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var reused *eventstore.EventIDReusedError
	if errors.As(err, &reused) {
		return err
	}
	var esErr *esdb.Error
	if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeStreamDeleted {
		return fmt.Errorf("kurrentdb: %s: the stream was deleted in KurrentDB and takes no more events: %w (%w)", op, eventstore.ErrStreamDeleted, err)
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && strings.Contains(st.Message(), "Append") && strings.Contains(st.Message(), "Size") {
		return fmt.Errorf("kurrentdb: %s: %w: %s (raise the node's MaxAppendSize or lower Limits)", op, eventstore.ErrEventTooLarge, st.Message())
	}
	out := s.translate(ctx, op, err)
	if errors.Is(out, eventstore.ErrUnavailable) || ctx.Err() != nil {
		return fmt.Errorf("%w; the append may or may not have been written: retrying with the same event IDs is safe", out)
	}
	return out
}

// matchTail looks for one of events among the stream's newest events
// (tail, newest first) and, when one is there, answers the append from
// where its events must have landed.
func (s *Store) matchTail(ctx context.Context, stream string, tail []*esdb.RecordedEvent, events []eventstore.EventData) (eventstore.AppendResult, bool, error) {
	index := make(map[[16]byte]int, len(events))
	for i, e := range events {
		index[e.ID] = i
	}
	for _, rec := range tail {
		i, ok := index[rec.EventID]
		if !ok {
			continue
		}
		if rec.EventNumber < uint64(i) {
			return eventstore.AppendResult{}, true, &eventstore.EventIDReusedError{EventID: rec.EventID, Stream: stream}
		}
		res, found, err := s.matchAt(ctx, stream, rec.EventNumber-uint64(i), events)
		if err != nil || found {
			return res, true, err
		}
		return eventstore.AppendResult{}, true, &eventstore.EventIDReusedError{EventID: rec.EventID, Stream: stream}
	}
	return eventstore.AppendResult{}, false, nil
}

// matchAt checks whether events were stored from revision first on. found
// is false when the event at first is not events[0]; when it is, the
// answer is the original result (Duplicate) if every event matches in ID
// and content, else *EventIDReusedError.
func (s *Store) matchAt(ctx context.Context, stream string, first uint64, events []eventstore.EventData) (eventstore.AppendResult, bool, error) {
	stored, err := s.readStream(ctx, stream, esdb.Forwards, esdb.Revision(first), uint64(len(events)))
	if err != nil {
		return eventstore.AppendResult{}, false, err
	}
	if len(stored) == 0 || stored[0].EventID != events[0].ID {
		return eventstore.AppendResult{}, false, nil
	}
	for i, e := range events {
		if i >= len(stored) || !sameEvent(stored[i], e) {
			return eventstore.AppendResult{}, true, &eventstore.EventIDReusedError{EventID: e.ID, Stream: stream}
		}
	}
	last := stored[len(stored)-1]
	return eventstore.AppendResult{
		Revision:  last.EventNumber,
		Position:  eventstore.Position(last.Position.Commit),
		Duplicate: true,
	}, true, nil
}

func sameEvent(r *esdb.RecordedEvent, e eventstore.EventData) bool {
	return r.EventID == e.ID && r.EventType == e.Type && bytes.Equal(r.Data, e.Data) && bytes.Equal(r.UserMetadata, e.Metadata)
}

// readStream reads up to count events of stream into memory (small reads
// only). A missing stream gives no events and no error.
func (s *Store) readStream(ctx context.Context, stream string, dir esdb.Direction, from esdb.StreamPosition, count uint64) ([]*esdb.RecordedEvent, error) {
	var out []*esdb.RecordedEvent
	err := s.read(ctx, func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
		return c.ReadStream(ctx, stream, esdb.ReadStreamOptions{Direction: dir, From: from}, count)
	}, func(ev *esdb.ResolvedEvent) (bool, error) {
		if ev.Event != nil {
			out = append(out, ev.Event)
		}
		return true, nil
	})
	if err != nil && !isStreamNotFound(err) {
		return nil, err
	}
	return out, nil
}

func expectedFor(e eventstore.ExpectedRevision) esdb.ExpectedRevision {
	if r, ok := e.Revision(); ok {
		return esdb.Revision(r)
	}
	switch {
	case e.IsNoStream():
		return esdb.NoStream{}
	case e.IsStreamExists():
		return esdb.StreamExists{}
	default:
		return esdb.Any{}
	}
}

func toEventData(events []eventstore.EventData) []esdb.EventData {
	out := make([]esdb.EventData, len(events))
	for i, e := range events {
		out[i] = esdb.EventData{
			EventID:     e.ID,
			EventType:   e.Type,
			ContentType: esdb.ContentTypeJson,
			Data:        e.Data,
			Metadata:    e.Metadata,
		}
	}
	return out
}
