package eventstore

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Sentinel errors. Backends translate their own failures into these so that
// callers can use errors.Is whatever store runs.
var (
	ErrWrongExpectedRevision = errors.New("eventstore: wrong expected revision")
	ErrEventIDReused         = errors.New("eventstore: event id reused for different content")
	ErrStreamNotFound        = errors.New("eventstore: stream not found")
	ErrInvalidStreamName     = errors.New("eventstore: invalid stream name")
	ErrInvalidEvent          = errors.New("eventstore: invalid event")
	ErrEventTooLarge         = errors.New("eventstore: event too large")
	ErrSubscriptionDropped   = errors.New("eventstore: subscription dropped")
	ErrUnavailable           = errors.New("eventstore: store unavailable")
	ErrClosed                = errors.New("eventstore: store closed")
	// ErrStreamDeleted: an append to a stream that was deleted for good
	// (KurrentDB's tombstone) and takes no more events.
	ErrStreamDeleted = errors.New("eventstore: stream deleted")
)

// WrongExpectedRevisionError is returned when an append's expected revision
// does not match the stream. ActualExists is false when the stream does not
// exist; ActualRevision is then meaningless.
type WrongExpectedRevisionError struct {
	Stream         string
	Expected       ExpectedRevision
	ActualExists   bool
	ActualRevision uint64
}

func (e *WrongExpectedRevisionError) Error() string {
	actual := "no stream"
	if e.ActualExists {
		actual = fmt.Sprintf("revision %d", e.ActualRevision)
	}
	return fmt.Sprintf("eventstore: stream %q: expected %s, actual %s", e.Stream, e.Expected, actual)
}

func (e *WrongExpectedRevisionError) Is(target error) bool { return target == ErrWrongExpectedRevision }

// EventIDReusedError is returned when an appended event's ID already belongs
// to a stored event with other content (or to a different append).
type EventIDReusedError struct {
	EventID uuid.UUID
	Stream  string // the stream that holds the existing event
}

func (e *EventIDReusedError) Error() string {
	return fmt.Sprintf("eventstore: event id %s already used in stream %q for different content", e.EventID, e.Stream)
}

func (e *EventIDReusedError) Is(target error) bool { return target == ErrEventIDReused }

// SubscriptionDroppedError ends a subscription that cannot go on (the
// subscriber fell too far behind, or the store dropped it). Resubscribing
// with SubscribeOptions.After = ResumeAfter continues with no gap.
type SubscriptionDroppedError struct {
	ResumeAfter Position
	Reason      string
}

func (e *SubscriptionDroppedError) Error() string {
	return fmt.Sprintf("eventstore: subscription dropped (%s); resume after position %d", e.Reason, e.ResumeAfter)
}

func (e *SubscriptionDroppedError) Is(target error) bool { return target == ErrSubscriptionDropped }

// ErrEventNotFound is what EventFinder.FindEvent returns for an id no
// stored event has.
var ErrEventNotFound = errors.New("eventstore: event not found")
