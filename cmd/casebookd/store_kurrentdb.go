package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/casebook/casebook/eventstore"
)

// openKurrentDB opens a KurrentDB (EventStoreDB) store.
func openKurrentDB(ctx context.Context, url string, logger *slog.Logger) (eventstore.Store, error) {
	return nil, errors.New("--store: the KurrentDB backend is not available in this build yet")
}
