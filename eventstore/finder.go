package eventstore

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// EventFinder is a store that finds one event by its id. It is optional: the
// embedded SQLite store has a unique index on event ids and implements it;
// KurrentDB keeps no index of event ids that its client can query, so its
// backend does not.
type EventFinder interface {
	// FindEvent returns the stored event with that id, or an error
	// wrapping ErrEventNotFound.
	FindEvent(ctx context.Context, id uuid.UUID) (RecordedEvent, error)
}

// FindEvent finds an event by id in s, or answers errors.ErrUnsupported when
// s is not an EventFinder. Wrappers of a Store call it to pass the ability
// through.
func FindEvent(ctx context.Context, s Store, id uuid.UUID) (RecordedEvent, error) {
	f, ok := s.(EventFinder)
	if !ok {
		return RecordedEvent{}, errors.ErrUnsupported
	}
	return f.FindEvent(ctx, id)
}
