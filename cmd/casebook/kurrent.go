package main

import (
	"context"
	"fmt"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb"
)

// openKurrentDB opens a KurrentDB (EventStoreDB) store by connection string
// (esdb://, esdb+discover://, or kurrentdb:// which the backend translates).
func openKurrentDB(ctx context.Context, url string, a *app) (eventstore.Store, error) {
	st, err := kurrentdb.Open(ctx, url, kurrentdb.Options{Logger: a.logger()})
	if err != nil {
		return nil, fmt.Errorf("open KurrentDB %s: %w", redactURL(url), err)
	}
	// Fail now, clearly, rather than at the first read.
	if err := st.Ping(ctx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("KurrentDB %s does not answer: %w", redactURL(url), err)
	}
	return st, nil
}
