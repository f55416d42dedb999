package kurrentdb

import (
	"context"
	"errors"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// TombstoneStream deletes a stream for good: reads find no stream, appends
// fail with eventstore.ErrStreamDeleted, and it can never be created
// again. Its events stay in the node's files (and in $all reads) until a
// scavenge reclaims them. Tombstoning a stream already tombstoned is not an
// error. It is not part of eventstore.Store (the embedded store never
// deletes): Casebook's KurrentDB key store (keystore/streamkeys) uses it
// to destroy keys.
func (s *Store) TombstoneStream(ctx context.Context, stream string) error {
	err := s.call(ctx, func(ctx context.Context, c *esdb.Client) error {
		_, err := c.TombstoneStream(ctx, stream, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Any{}})
		return err
	})
	var esErr *esdb.Error
	if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeStreamDeleted {
		return nil // tombstoned already
	}
	return s.translate(ctx, "tombstone "+stream, err)
}
