package kurrentdbtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Options configure the test double.
type Options struct {
	// MaxAppendSize bounds the bytes (type + data + metadata) of one append,
	// like KurrentDB's MaxAppendSize setting. Zero means 64 MiB: large enough
	// for the conformance suite's limits, unlike the server's 1 MiB default.
	MaxAppendSize int
	// Version is the server version reported to the client. Default "24.10.0".
	Version string
	// IdempotencyCacheSize is how many recent event IDs the node remembers
	// for "any" appends. Default 10,000. Restart empties it.
	IdempotencyCacheSize int
	// Now is the node's clock. Default time.Now.
	Now func() time.Time
	// ReportEndOfWrite makes append results carry the log position after
	// the write instead of the last event's, to test clients against nodes
	// whose results differ from what their $all reads say.
	ReportEndOfWrite bool
}

// Server is the KurrentDB test double. Create it with New or Start.
type Server struct {
	opts Options
	log  *memLog

	mu       sync.Mutex
	addr     string // 127.0.0.1:port, reserved even while stopped
	grpcSrv  *grpc.Server
	running  bool
	epoch    uint64        // incremented by every start: the idempotency cache is per run
	dropCh   chan struct{} // closed by DropSubscriptions
	before   time.Duration // SetSlow: delay before applying a request
	after    time.Duration // SetSlow: delay after applying, before answering
	appends  int           // Append calls that reached the log decision
	written  int           // Append calls that wrote events
	sysCount int
}

// New returns a stopped double with a port reserved on 127.0.0.1. Call
// Start to serve. Its URL is known before it starts, so a store can be
// opened against a node that is down.
func New(opts Options) (*Server, error) {
	if opts.MaxAppendSize <= 0 {
		opts.MaxAppendSize = 64 << 20
	}
	if opts.Version == "" {
		opts.Version = "24.10.0"
	}
	if opts.IdempotencyCacheSize <= 0 {
		opts.IdempotencyCacheSize = 10_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("kurrentdbtest: reserve a port: %w", err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		return nil, fmt.Errorf("kurrentdbtest: reserve a port: %w", err)
	}
	s := &Server{opts: opts, log: newMemLog(opts.Now), addr: addr, dropCh: make(chan struct{})}
	// A fresh node writes system events before any client does; consumers
	// of $all must skip them.
	s.WriteSystemEvent("$settings", "$settings")
	s.WriteSystemEvent("$stats-"+addr, "$statsCollected")
	return s, nil
}

// Start creates and starts a double for a test and stops it at cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start serves on the reserved port (or, if something else took it, on a new
// one: URL tells which). Starting a running server is a no-op.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		lis, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("kurrentdbtest: listen: %w", err)
		}
		s.addr = lis.Addr().String()
	}
	srv := grpc.NewServer(
		grpc.MaxRecvMsgSize(s.opts.MaxAppendSize+(1<<20)),
		grpc.MaxSendMsgSize(s.opts.MaxAppendSize+(1<<20)),
		// The client pings every 10 s even without streams; grpc-go's default
		// policy would answer with GOAWAY "too_many_pings".
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)
	streams.RegisterStreamsServer(srv, &streamsService{srv: s})
	serverfeatures.RegisterServerFeaturesServer(srv, &featuresService{srv: s})
	s.grpcSrv = srv
	s.running = true
	s.epoch++
	go func() { _ = srv.Serve(lis) }()
	return nil
}

// Stop closes the listener and every connection, failing calls in flight
// (the client sees them as unavailable). The data stays for Start/Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.grpcSrv
	s.grpcSrv = nil
	s.running = false
	s.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// Restart stops and starts the node, keeping its data but, like KurrentDB,
// forgetting its in-memory idempotency cache.
func (s *Server) Restart() error {
	s.Stop()
	return s.Start()
}

// Running reports whether the node is serving.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Addr is the node's host:port on 127.0.0.1.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is a single-node, plaintext connection string for the node.
func (s *Server) URL() string { return "esdb://" + s.Addr() + "?tls=false" }

// SetSlow delays every Streams call: before applies before the request is
// decided (a read or an append not yet written), after between applying an
// append and answering it (so a client that gives up has still written).
// Zero durations turn the fault off.
func (s *Server) SetSlow(before, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before, s.after = before, after
}

func (s *Server) delays() (before, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.before, s.after
}

// DropSubscriptions ends every active subscription with an "unavailable"
// error, as a node does when it shuts a subscription down. The node stays up.
func (s *Server) DropSubscriptions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.dropCh)
	s.dropCh = make(chan struct{})
}

func (s *Server) dropSignal() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropCh
}

// WriteSystemEvent appends a system event (as KurrentDB writes stats,
// settings and projection state) so tests can check it is filtered out.
func (s *Server) WriteSystemEvent(stream, eventType string) {
	s.mu.Lock()
	s.sysCount++
	n := s.sysCount
	epoch := s.epoch
	s.mu.Unlock()
	data := []byte(fmt.Sprintf(`{"n":%d}`, n))
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	s.log.appendLocked(stream, epoch, []proposed{{
		id: newUUID(), eventType: eventType, contentType: "application/json", data: data,
	}})
}

// AppendCalls returns how many appends reached a decision and how many of
// them wrote events (the rest were conflicts or idempotent retries).
func (s *Server) AppendCalls() (decided, wrote int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends, s.written
}

// EventCount returns the number of events in the log, system events included.
func (s *Server) EventCount() int {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return len(s.log.records)
}

// StreamEventIDs returns the IDs of a stream's events in revision order.
func (s *Server) StreamEventIDs(stream string) []string {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	st := s.log.streams[stream]
	if st == nil {
		return nil
	}
	out := make([]string, 0, len(st.events))
	for _, i := range st.events {
		out = append(out, s.log.records[i].id.String())
	}
	return out
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type featuresService struct {
	serverfeatures.UnimplementedServerFeaturesServer
	srv *Server
}

// GetSupportedMethods answers the client's connect-time feature probe. The
// list matches what a node offers for the calls the double implements.
func (f *featuresService) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	const svc = "event_store.client.streams.streams"
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: f.srv.opts.Version,
		Methods: []*serverfeatures.SupportedMethod{
			{ServiceName: svc, MethodName: "read"},
			{ServiceName: svc, MethodName: "append"},
			{ServiceName: svc, MethodName: "delete"},
			{ServiceName: svc, MethodName: "tombstone"},
		},
	}, nil
}

// Scavenge removes the events of deleted (and tombstoned) streams from the
// log, as a KurrentDB scavenge does: they no longer appear in $all reads
// and their bytes are gone from the node. Positions of the other events do
// not change.
func (s *Server) Scavenge() {
	l := s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := make([]*record, 0, len(l.records))
	for _, r := range l.records {
		if st := l.streams[r.stream]; st != nil && st.deleted {
			continue
		}
		kept = append(kept, r)
	}
	for _, st := range l.streams {
		st.events = nil
	}
	for i, r := range kept {
		st := l.streams[r.stream]
		st.events = append(st.events, i)
	}
	l.records = kept
}

// ContainsBytes reports whether any event the node holds (deleted streams'
// included, until a scavenge) has b in its data or metadata: what a byte
// search of a real node's chunk files would find.
func (s *Server) ContainsBytes(b []byte) bool {
	l := s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if bytes.Contains(r.data, b) || bytes.Contains(r.metadata, b) {
			return true
		}
	}
	return false
}
