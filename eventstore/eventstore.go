// Package eventstore defines Casebook's event store: append-only streams of
// events with optimistic concurrency, one global log ordered by position,
// and catch-up subscriptions to that log.
//
// The semantics follow KurrentDB (EventStoreDB) so that its backend is a
// drop-in for the embedded SQLite one. Backends see bytes only: event data
// and metadata are opaque JSON documents here; what they mean is the domain's
// business. Every backend must pass the conformance suite in
// eventstore/storetest.
package eventstore

import (
	"context"
	"iter"
	"time"

	"github.com/google/uuid"
)

// Position is an event's place in the global log. Positions are strictly
// increasing across the whole store but need not be dense (KurrentDB's are
// byte offsets). The zero Position means "before the first event".
type Position uint64

// Start is the position before the first event of the log.
const Start Position = 0

// EventData is an event to append.
type EventData struct {
	ID       uuid.UUID // chosen by the client; makes retries idempotent
	Type     string    // stable type name, e.g. "ArrestMade"
	Data     []byte    // JSON document
	Metadata []byte    // JSON document, or nil
}

// RecordedEvent is an event as the store holds it.
type RecordedEvent struct {
	ID         uuid.UUID
	Type       string
	Data       []byte
	Metadata   []byte
	Stream     string
	Revision   uint64    // 0-based index within its stream
	Position   Position  // place in the global log
	RecordedAt time.Time // the store's clock when the event was committed, UTC
}

// AppendResult tells where an append landed.
type AppendResult struct {
	// Revision is the stream revision of the last event appended.
	Revision uint64
	// Position is the global position of the last event appended.
	Position Position
	// Duplicate is true when the events were already written by an earlier
	// identical append (a retry) and nothing new was written; Revision and
	// Position then describe the original append.
	Duplicate bool
}

// Direction of a read.
type Direction int

const (
	Forward Direction = iota
	Backward
)

// Filter selects events of the global log. An empty filter selects all.
// Prefixes and types are each OR-ed; the two are AND-ed.
type Filter struct {
	StreamPrefixes []string
	EventTypes     []string
}

// Matches reports whether ev passes the filter.
func (f Filter) Matches(stream, eventType string) bool {
	if len(f.StreamPrefixes) > 0 {
		ok := false
		for _, p := range f.StreamPrefixes {
			if len(stream) >= len(p) && stream[:len(p)] == p {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.EventTypes) > 0 {
		for _, t := range f.EventTypes {
			if t == eventType {
				return true
			}
		}
		return false
	}
	return true
}

// ReadStreamOptions shape a read of one stream.
type ReadStreamOptions struct {
	Direction Direction
	// From is the first revision to return (inclusive). For a backward read,
	// FromEnd starts at the stream's last event instead.
	From    uint64
	FromEnd bool
	// Limit caps the number of events; 0 means no limit.
	Limit uint64
}

// ReadAllOptions shape a read of the global log.
type ReadAllOptions struct {
	Direction Direction
	// From is the first position to consider (inclusive). A backward read with
	// FromEnd starts at the newest event instead.
	From    Position
	FromEnd bool
	// Limit caps the number of events returned; 0 means no limit.
	Limit  uint64
	Filter Filter
}

// SubscribeOptions shape a subscription to the global log.
type SubscribeOptions struct {
	// After is the position of the last event the subscriber has already
	// seen; delivery starts with the first matching event after it. Start
	// (zero) delivers the whole log.
	After Position
	// FromEnd ignores After and delivers only events appended from now on.
	FromEnd bool
	Filter  Filter
}

// Store is an event store. Implementations are safe for concurrent use.
//
// Errors: appends return *WrongExpectedRevisionError (errors.Is
// ErrWrongExpectedRevision) on a concurrency conflict, *EventIDReusedError
// (ErrEventIDReused) when an event ID was already used for other content,
// ErrInvalidStreamName, ErrEventTooLarge and ErrInvalidEvent for bad input.
// Any call may return ErrUnavailable (the store cannot be reached), ErrClosed,
// or the context's error.
type Store interface {
	// Append writes events to the end of stream atomically: all or none.
	// Re-appending events whose IDs were all written by one earlier append
	// with the same content succeeds without writing and reports the
	// original result with Duplicate set, whatever expected says. The
	// events' Data and Metadata are the caller's again once Append
	// returns: the store keeps no reference to them.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)

	// ReadStream iterates over one stream's events. A stream that does not
	// exist yields a single ErrStreamNotFound.
	ReadStream(ctx context.Context, stream string, opts ReadStreamOptions) iter.Seq2[RecordedEvent, error]

	// ReadAll iterates over the global log. It does not load the log into
	// memory; breaking out of the loop releases its resources.
	ReadAll(ctx context.Context, opts ReadAllOptions) iter.Seq2[RecordedEvent, error]

	// Subscribe delivers matching events of the global log in order: the
	// history after opts.After first, then live events as they are
	// committed, with no gap and no duplicate across the hand-over. The
	// sequence ends when ctx is done (yielding ctx.Err()), when the store is
	// closed, or when the subscriber falls too far behind: then it yields a
	// *SubscriptionDroppedError saying where to resume.
	Subscribe(ctx context.Context, opts SubscribeOptions) iter.Seq2[RecordedEvent, error]

	// Head returns the position of the newest event in the log (Start when
	// the log is empty).
	Head(ctx context.Context) (Position, error)

	// Ping reports whether the store is open and answering.
	Ping(ctx context.Context) error

	// Close releases the store. Calls in flight finish or fail with ErrClosed.
	Close() error
}
