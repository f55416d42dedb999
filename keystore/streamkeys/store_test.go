package streamkeys_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/keystore/keystoretest"
	"github.com/casebook/casebook/keystore/streamkeys"
)

func openKurrent(t *testing.T, url string) *kurrentdb.Store {
	t.Helper()
	opts := kurrentdb.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RetryInterval: 50 * time.Millisecond}
	s, err := kurrentdb.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The conformance suite through the real KurrentDB client against the
// in-process test double; against a real node when CASEBOOK_KURRENTDB_URL
// is set.
func TestConformanceTestDouble(t *testing.T) {
	keystoretest.Run(t, keystoretest.Harness{
		Open: func(t *testing.T) keystore.Store {
			srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
			return streamkeys.New(openKurrent(t, srv.URL()))
		},
	})
}

func TestConformanceKurrentDB(t *testing.T) {
	url := os.Getenv("CASEBOOK_KURRENTDB_URL")
	if url == "" {
		t.Skip("CASEBOOK_KURRENTDB_URL is not set")
	}
	keystoretest.Run(t, keystoretest.Harness{
		Open: func(t *testing.T) keystore.Store {
			return streamkeys.New(openKurrent(t, url)) // every test uses fresh case ids
		},
	})
}

// A destroyed key's stream reads as absent at once; its bytes stay on the
// node until a scavenge, then are gone. Other keys are untouched.
func TestDestroyTombstonesTheKeyStream(t *testing.T) {
	ctx := context.Background()
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	es := openKurrent(t, srv.URL())
	s := streamkeys.New(es)
	victim, kept := domain.PersonKey(uuid.New(), uuid.New()), domain.CaseKey(uuid.New())
	secret := make([]byte, 60)
	_, _ = rand.Read(secret)
	if _, err := s.Create(ctx, victim, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, kept, make([]byte, 60)); err != nil {
		t.Fatal(err)
	}
	// The wrapped key is stored as base64 in the event's JSON.
	needle := []byte(b64(secret))
	if !srv.ContainsBytes(needle) {
		t.Fatal("the key is not on the node before it is destroyed: the search finds nothing")
	}
	if err := s.Destroy(ctx, victim); err != nil {
		t.Fatal(err)
	}
	for _, err := range es.ReadStream(ctx, streamkeys.StreamOf(victim), eventstore.ReadStreamOptions{}) {
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("read of the tombstoned stream: %v", err)
		}
	}
	if !srv.ContainsBytes(needle) {
		t.Fatal("the double dropped the events before a scavenge: it no longer models KurrentDB")
	}
	srv.Scavenge()
	if srv.ContainsBytes(needle) {
		t.Fatal("the destroyed key is on the node after a scavenge")
	}
	if _, err := s.Get(ctx, kept); err != nil {
		t.Fatalf("the other key after the scavenge: %v", err)
	}
	if !streamkeys.IsKeyStream(streamkeys.StreamOf(kept)) || streamkeys.IsKeyStream(domain.StreamName(kept.Case)) {
		t.Error("IsKeyStream")
	}
}

// b64 is how encoding/json writes []byte: standard base64.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
