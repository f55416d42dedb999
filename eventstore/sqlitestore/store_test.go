package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	"github.com/casebook/casebook/eventstore/storetest"
)

// testLimits are smaller than the defaults so the size tests stay fast.
var testLimits = eventstore.Limits{MaxEventSize: 64 << 10, MaxEventsPerAppend: 2000}

const testSubscriberBuffer = 256

func openStore(t testing.TB, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), path, sqlitestore.Options{
		Limits:           testLimits,
		SubscriberBuffer: testSubscriberBuffer,
	})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) eventstore.Store {
			return openStore(t, filepath.Join(t.TempDir(), "events.db"))
		},
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			path := s.(*sqlitestore.Store).Path()
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			return openStore(t, path)
		},
		Limits:           testLimits,
		SubscriberBuffer: testSubscriberBuffer,
	})
}
