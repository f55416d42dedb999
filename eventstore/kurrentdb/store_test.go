package kurrentdb_test

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
	"github.com/google/uuid"
)

// TestRestartRecognisesRetries: after the node restarts (forgetting its
// idempotency cache) and the Store is reopened (forgetting its own), whole
// retries are still answered from the stored events, changed content is
// still refused, and the data, head and subscriptions carry on.
func TestRestartRecognisesRetries(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 20*time.Second)
	stream := "case-reopen-" + uuid.NewString()

	three := []eventstore.EventData{newEvent("A", 0), newEvent("B", 1), newEvent("C", 2)}
	r1, err := s.Append(ctx, stream, eventstore.NoStream, three...)
	if err != nil {
		t.Fatal(err)
	}
	single := newEvent("D", 3)
	r2, err := s.Append(ctx, stream, eventstore.Exact(2), single)
	if err != nil {
		t.Fatal(err)
	}
	anyEv := newEvent("E", 4)
	r3, err := s.Append(ctx, stream, eventstore.Any, anyEv)
	if err != nil {
		t.Fatal(err)
	}
	headBefore, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	_ = s.Close()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, srv.URL(), fastOptions())

	for _, tc := range []struct {
		name string
		exp  eventstore.ExpectedRevision
		evs  []eventstore.EventData
		want eventstore.AppendResult
	}{
		{"first append, same expectation", eventstore.NoStream, three, r1},
		{"first append, other expectation", eventstore.Exact(7), three, r1},
		{"exact append", eventstore.Exact(2), []eventstore.EventData{single}, r2},
		{"exact append as any", eventstore.Any, []eventstore.EventData{single}, r2},
		{"any append (node forgot its id)", eventstore.Any, []eventstore.EventData{anyEv}, r3},
		{"any append as stream-exists", eventstore.StreamExists, []eventstore.EventData{anyEv}, r3},
	} {
		res, err := s.Append(ctx, stream, tc.exp, tc.evs...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !res.Duplicate || res.Revision != tc.want.Revision || res.Position != tc.want.Position {
			t.Fatalf("%s: %+v, want the original %+v with Duplicate", tc.name, res, tc.want)
		}
	}
	changed := append([]eventstore.EventData(nil), three...)
	changed[1].Data = []byte(`{"changed":true}`)
	if _, err := s.Append(ctx, stream, eventstore.Any, changed...); !errors.Is(err, eventstore.ErrEventIDReused) {
		t.Fatalf("changed content after restart: %v, want ErrEventIDReused", err)
	}
	if _, err := s.Append(ctx, stream, eventstore.Any, eventstore.EventData{ID: single.ID, Type: "D", Data: []byte(`{"x":1}`)}); !errors.Is(err, eventstore.ErrEventIDReused) {
		t.Fatalf("reused id with new content after restart: %v, want ErrEventIDReused", err)
	}
	if got := streamIDs(t, ctx, s, stream); len(got) != 5 {
		t.Fatalf("stream holds %d events after retries, want 5", len(got))
	}
	if h, err := s.Head(ctx); err != nil || h != headBefore {
		t.Fatalf("head %d (%v) after restart, %d before", h, err, headBefore)
	}
	next, err := s.Append(ctx, stream, eventstore.Exact(4), newEvent("F", 5))
	if err != nil || next.Revision != 5 || next.Position <= headBefore {
		t.Fatalf("append after restart: %+v, %v", next, err)
	}
	sub := startSub(t, ctx, s, eventstore.SubscribeOptions{Filter: eventstore.Filter{StreamPrefixes: []string{stream}}})
	if got := sub.take(t, 6, 10*time.Second); got[5].Position != next.Position {
		t.Fatalf("subscription after restart ended at %d, want %d", got[5].Position, next.Position)
	}
}

// TestSystemEventsNeverShow: KurrentDB's own events ($-streams) stay out of
// ReadAll, Head and Subscribe, even when they are the newest in the log.
func TestSystemEventsNeverShow(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 20*time.Second)

	if h, err := s.Head(ctx); err != nil || h != eventstore.Start {
		t.Fatalf("head of a node with only system events: %d, %v; want Start", h, err)
	}
	a, err := s.Append(ctx, "case-sys", eventstore.NoStream, newEvent("A", 0))
	if err != nil {
		t.Fatal(err)
	}
	srv.WriteSystemEvent("$stats-127.0.0.1:2113", "$statsCollected")
	srv.WriteSystemEvent("$$case-sys", "$metadata")
	if h, err := s.Head(ctx); err != nil || h != a.Position {
		t.Fatalf("head %d (%v), want the last user event at %d", h, err, a.Position)
	}
	sub := startSub(t, ctx, s, eventstore.SubscribeOptions{})
	b, err := s.Append(ctx, "case-sys", eventstore.Exact(0), newEvent("B", 1))
	if err != nil {
		t.Fatal(err)
	}
	srv.WriteSystemEvent("$stats-127.0.0.1:2113", "$statsCollected")
	c, err := s.Append(ctx, "case-sys", eventstore.Exact(1), newEvent("C", 2))
	if err != nil {
		t.Fatal(err)
	}
	got := sub.take(t, 3, 10*time.Second)
	for i, want := range []eventstore.Position{a.Position, b.Position, c.Position} {
		if got[i].Position != want || got[i].Stream != "case-sys" {
			t.Fatalf("subscription element %d: %s at %d, want case-sys at %d", i, got[i].Stream, got[i].Position, want)
		}
	}
	for _, dir := range []eventstore.Direction{eventstore.Forward, eventstore.Backward} {
		var n int
		for ev, err := range s.ReadAll(ctx, eventstore.ReadAllOptions{Direction: dir, FromEnd: dir == eventstore.Backward}) {
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(ev.Stream, "$") || strings.HasPrefix(ev.Type, "$") {
				t.Fatalf("ReadAll (direction %d) returned system event %s %s", dir, ev.Stream, ev.Type)
			}
			n++
		}
		if n != 3 {
			t.Fatalf("ReadAll (direction %d) returned %d events, want 3", dir, n)
		}
	}
	for _, err := range s.ReadStream(ctx, "$stats-127.0.0.1:2113", eventstore.ReadStreamOptions{}) {
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("reading a system stream: %v, want ErrStreamNotFound", err)
		}
	}
	if _, err := s.Append(ctx, "$stats-x", eventstore.Any, newEvent("X", 0)); !errors.Is(err, eventstore.ErrInvalidStreamName) {
		t.Fatalf("append to a system stream: %v, want ErrInvalidStreamName", err)
	}
}

// TestEventsAreJSONWithMetadataAsIs: other clients see Casebook's events
// as JSON, with Casebook's metadata as the event metadata, byte for byte.
func TestEventsAreJSONWithMetadataAsIs(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 20*time.Second)
	ev := eventstore.EventData{ID: uuid.New(), Type: "ArrestMade", Data: []byte(`{"count": 3}`),
		Metadata: []byte(`{"actor":{"agency":"SOCA"},"occurredAt":"2011-06-01T10:00:00Z"}`)}
	if _, err := s.Append(ctx, "case-json", eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}
	cfg, err := esdb.ParseConnectionString(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	raw, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = raw.Close() }()
	rs, err := raw.ReadStream(ctx, "case-json", esdb.ReadStreamOptions{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	got, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	e := got.Event
	if e.ContentType != "application/json" || e.EventType != "ArrestMade" || e.EventID != ev.ID ||
		string(e.UserMetadata) != string(ev.Metadata) || string(e.Data) != string(ev.Data) {
		t.Fatalf("stored as %+v", e)
	}
}

func TestConnectionStrings(t *testing.T) {
	for _, tc := range []struct {
		in       string
		addr     string
		tls      bool
		seeds    int
		discover bool
		err      string
	}{
		{in: "esdb://127.0.0.1:2113?tls=false", addr: "127.0.0.1:2113"},
		{in: "kurrentdb://127.0.0.1:2113?tls=false", addr: "127.0.0.1:2113"},
		{in: "KurrentDB://localhost", addr: "localhost:2113", tls: true},
		{in: "kurrentdb+discover://cluster.local:2113", addr: "cluster.local:2113", tls: true, discover: true},
		{in: "esdb://a:2113,b:2113,c:2113?tls=false", seeds: 3},
		{in: "esdb://admin:changeit@127.0.0.1:2113?keepAliveInterval=-1&tls=false", addr: "127.0.0.1:2113"},
		{in: "http://127.0.0.1:2113", err: "unsupported scheme"},
		{in: "127.0.0.1:2113", err: "missing scheme"},
		{in: "esdb://127.0.0.1:2113?tls=false&colour=blue", err: `unknown setting "colour"`},
		{in: "esdb://admin:secret@127.0.0.1:2113/path", err: "xxxxx"},
	} {
		cfg, err := kurrentdb.ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want one mentioning %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%q: error leaks the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if cfg.Address != tc.addr && tc.seeds == 0 {
			t.Errorf("%q: address %q, want %q", tc.in, cfg.Address, tc.addr)
		}
		if len(cfg.GossipSeeds) != tc.seeds || cfg.DnsDiscover != tc.discover || cfg.DisableTLS == tc.tls {
			t.Errorf("%q: seeds %d discover %v tls %v", tc.in, len(cfg.GossipSeeds), cfg.DnsDiscover, !cfg.DisableTLS)
		}
		if cfg.Logger != nil {
			// The client's console logger must never be the one used; Open
			// replaces it, ParseURL leaves the client default only until then.
			_ = cfg.Logger
		}
	}
	if _, err := kurrentdb.Open(context.Background(), "esdb://127.0.0.1:1?tls=false&nope=1", kurrentdb.Options{}); err == nil {
		t.Error("Open accepted an unknown setting")
	}
}

// TestClientV420StaysClosedAfterFailedDiscovery documents why the Store
// replaces its client after a failure. In v4.2.0 a read that fails while
// streaming makes the client rediscover the node on its next call; if the
// node is still down then, discovery fails and the client closes itself for
// good, refusing every later call even once the node is back. (A call that
// fails before streaming does not even trigger the rediscovery: the client
// then waits out gRPC's reconnect backoff, up to two minutes after a long
// outage.)
func TestClientV420StaysClosedAfterFailedDiscovery(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	cfg, err := esdb.ParseConnectionString(srv.URL() + "&maxDiscoverAttempts=2&discoveryInterval=10")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx := ctxTimeout(t, 20*time.Second)
	read := func() error {
		rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
		if err != nil {
			return err
		}
		defer rs.Close()
		if _, err := rs.Recv(); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	}
	if err := read(); err != nil {
		t.Fatal(err)
	}
	// A read in flight when the node goes away fails while streaming.
	srv.SetSlow(time.Second, 0)
	failed := make(chan error, 1)
	go func() { failed <- read() }()
	time.Sleep(100 * time.Millisecond)
	srv.Stop()
	if err := <-failed; err == nil {
		t.Fatal("read in flight survived the node stopping")
	}
	// The next call rediscovers while the node is down, and fails.
	if err := read(); err == nil {
		t.Fatal("read with the node down succeeded")
	}
	srv.SetSlow(0, 0)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	err = read()
	var esErr *esdb.Error
	if !errors.As(err, &esErr) || esErr.Code() != esdb.ErrorCodeConnectionClosed {
		t.Fatalf("client after a failed discovery and the node's return: %v; if v4 now reconnects, the Store's workaround can go", err)
	}
}

// TestTestDoubleOnlyInTests keeps the test double out of the server: no
// non-test Go file of the module imports it.
func TestTestDoubleOnlyInTests(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	const double = "github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if strings.Contains(filepath.ToSlash(path), "/eventstore/kurrentdb/kurrentdbtest/") {
			return nil // the double itself
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return nil // someone's half-written file; not ours to judge
		}
		checked++
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == double {
				t.Errorf("%s imports the KurrentDB test double; only _test.go files may", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go files checked")
	}
}

var _ = context.Background

func TestIsConnectionString(t *testing.T) {
	for s, want := range map[string]bool{
		"esdb://h:2113": true, "esdb+discover://h": true, "kurrentdb://h": true, "KurrentDB+Discover://h": true,
		"/var/lib/casebook": false, "file:///x": false, "": false,
	} {
		if got := kurrentdb.IsConnectionString(s); got != want {
			t.Errorf("IsConnectionString(%q) = %v", s, got)
		}
	}
}

// TestNodeAppendSizeLimit: a node whose MaxAppendSize is below the Store's
// limits refuses the append; the Store says the event is too large.
func TestNodeAppendSizeLimit(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{MaxAppendSize: 1000})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 10*time.Second)
	big := eventstore.EventData{ID: uuid.New(), Type: "Big", Data: []byte(`"` + strings.Repeat("x", 2000) + `"`)}
	if _, err := s.Append(ctx, "case-big", eventstore.NoStream, big); !errors.Is(err, eventstore.ErrEventTooLarge) {
		t.Fatalf("append over the node's limit: %v, want ErrEventTooLarge", err)
	}
}

// TestSubscribeAfterAnyPosition: After need not be an event's position
// (KurrentDB refuses those); the subscription starts after it all the same.
func TestSubscribeAfterAnyPosition(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 10*time.Second)
	stream := "case-pos-" + uuid.NewString()
	var res []eventstore.AppendResult
	for i := range 3 {
		r, err := s.Append(ctx, stream, eventstore.Any, newEvent("P", i))
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	sub := startSub(t, ctx, s, eventstore.SubscribeOptions{After: res[0].Position + 1,
		Filter: eventstore.Filter{StreamPrefixes: []string{stream}}})
	got := sub.take(t, 2, 5*time.Second)
	if got[0].Position != res[1].Position || got[1].Position != res[2].Position {
		t.Fatalf("subscription after %d delivered %d, %d", res[0].Position+1, got[0].Position, got[1].Position)
	}
}

// TestAppendPositionReadBack: a node whose append results do not name the
// last event's $all position still gives Append the event's position.
func TestAppendPositionReadBack(t *testing.T) {
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{ReportEndOfWrite: true})
	s := openStore(t, srv.URL(), fastOptions())
	ctx := ctxTimeout(t, 10*time.Second)
	for i := range 3 {
		res, err := s.Append(ctx, "case-readback", eventstore.Any, newEvent("R", i), newEvent("R", i+10))
		if err != nil {
			t.Fatal(err)
		}
		var last eventstore.RecordedEvent
		for ev, err := range s.ReadStream(ctx, "case-readback", eventstore.ReadStreamOptions{Direction: eventstore.Backward, FromEnd: true, Limit: 1}) {
			if err != nil {
				t.Fatal(err)
			}
			last = ev
		}
		if res.Position != last.Position {
			t.Fatalf("append %d: position %d, last event at %d", i, res.Position, last.Position)
		}
	}
}
