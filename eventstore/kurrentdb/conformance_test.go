package kurrentdb_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
	"github.com/casebook/casebook/eventstore/storetest"
)

// testLogger discards the Store's logs unless CASEBOOK_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("CASEBOOK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fastOptions are Store options for tests: short waits between connection
// attempts and resubscriptions, so fault tests finish quickly.
func fastOptions() kurrentdb.Options {
	return kurrentdb.Options{
		Logger:         testLogger(),
		RetryInterval:  50 * time.Millisecond,
		ConnectTimeout: 3 * time.Second,
		ResubscribeFor: 10 * time.Second,
	}
}

func openStore(t *testing.T, url string, opts kurrentdb.Options) *kurrentdb.Store {
	t.Helper()
	s, err := kurrentdb.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// conformanceBuffer and conformanceGrace make "too slow" mean a subscriber
// that leaves 256 live events untaken for 10 ms: the slow-subscriber
// subtest stalls far longer, while a busy but live subscriber (the hand-over
// subtest, under -race on two cores) is never that far behind for that long.
const (
	conformanceBuffer = 256
	conformanceGrace  = 10 * time.Millisecond
)

// TestConformanceTestDouble runs the conformance suite through the real
// client against the in-process KurrentDB test double (always; CI has no
// KurrentDB).
func TestConformanceTestDouble(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	opts := fastOptions()
	opts.SubscriberBuffer = conformanceBuffer
	opts.SlowSubscriberGrace = conformanceGrace
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) eventstore.Store {
			return openStore(t, srv.URL(), opts)
		},
		// Reopen restarts the node too, so KurrentDB's in-memory memory of
		// event IDs is gone and only the adapter's durable recognition of
		// retries is left. After a restart KurrentDB cannot tell a retry of
		// part of an earlier append from a retry of a whole one (it keeps
		// no append boundaries), hence NoAppendBoundariesAfterReopen.
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			_ = s.Close()
			if err := srv.Restart(); err != nil {
				t.Fatalf("restart the test double: %v", err)
			}
			return openStore(t, srv.URL(), opts)
		},
		NoAppendBoundariesAfterReopen: true,
		SubscriberBuffer:              conformanceBuffer,
	})
}

// TestConformanceKurrentDB runs the suite against a real KurrentDB named by
// CASEBOOK_KURRENTDB_URL, e.g. "esdb://localhost:2113?tls=false" after
// `docker compose up kurrentdb`. The suite uses names unique to each run,
// so a shared node is fine.
func TestConformanceKurrentDB(t *testing.T) {
	url := os.Getenv("CASEBOOK_KURRENTDB_URL")
	if url == "" {
		t.Skip("CASEBOOK_KURRENTDB_URL is not set: skipping the conformance suite against a real KurrentDB " +
			"(set it to e.g. esdb://localhost:2113?tls=false; the test double run covers CI)")
	}
	opts := fastOptions()
	opts.SubscriberBuffer = conformanceBuffer
	opts.SlowSubscriberGrace = conformanceGrace
	// KurrentDB refuses appends over its MaxAppendSize (1 MiB by default),
	// which an event at the suite's default 1 MiB limit exceeds.
	opts.Limits = eventstore.Limits{MaxEventSize: 512 << 10}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) eventstore.Store {
			s := openStore(t, url, opts)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("KurrentDB at CASEBOOK_KURRENTDB_URL does not answer: %v", err)
			}
			return s
		},
		// Reopen restarts our side only (the node keeps running), which
		// still drops everything the adapter remembers in memory.
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			_ = s.Close()
			return openStore(t, url, opts)
		},
		NoAppendBoundariesAfterReopen: true,
		Limits:                        opts.Limits,
		SubscriberBuffer:              conformanceBuffer,
	})
}
