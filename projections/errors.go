package projections

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

var (
	// ErrUnknownProjection: no projection has that name (the error is an
	// *UnknownProjectionError, which lists the names there are).
	ErrUnknownProjection = errors.New("projections: unknown projection")
	// ErrProjectionFailed: a projection a query or a wait depends on has
	// stopped on an event it could not apply.
	ErrProjectionFailed = errors.New("projections: projection failed")
	// ErrClosed: the engine is closed.
	ErrClosed = errors.New("projections: engine closed")
)

// UnknownProjectionError names a projection that does not exist, and the
// ones that do (errors.Is ErrUnknownProjection).
type UnknownProjectionError struct {
	Name  string
	Valid []string // the projections' names
}

func (e *UnknownProjectionError) Error() string {
	return fmt.Sprintf("projections: unknown projection %q (there are: %s)", e.Name, strings.Join(e.Valid, ", "))
}

func (e *UnknownProjectionError) Is(target error) bool { return target == ErrUnknownProjection }

// EventError is the failure to apply one event of the log: the projection
// stops on it. Position and EventID say which event.
type EventError struct {
	Position eventstore.Position
	EventID  uuid.UUID
	Type     string
	Err      error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("event %s (%s) at position %d: %v", e.EventID, e.Type, e.Position, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }

func eventError(ev *eventstore.RecordedEvent, err error) error {
	return &EventError{Position: ev.Position, EventID: ev.ID, Type: ev.Type, Err: err}
}

// QueryError is a report or list query that cannot be answered as asked (an
// unknown group_by, a period that ends before it starts, a bad cursor).
// Field names the offending parameter.
type QueryError struct {
	Field   string
	Message string
}

func (e *QueryError) Error() string { return e.Field + ": " + e.Message }

func queryError(field, format string, args ...any) error {
	return &QueryError{Field: field, Message: fmt.Sprintf(format, args...)}
}
