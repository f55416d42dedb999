package main

import (
	"context"
	"log/slog"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb"
)

// openKurrentDB opens a KurrentDB (EventStoreDB) store by connection string.
func openKurrentDB(ctx context.Context, url string, logger *slog.Logger) (eventstore.Store, error) {
	s, err := kurrentdb.Open(ctx, url, kurrentdb.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	return s, nil
}
