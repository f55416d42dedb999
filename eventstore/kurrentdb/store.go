package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/casebook/casebook/eventstore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Options configure a Store. Zero values take the defaults.
type Options struct {
	// Limits bound what Append accepts; checked before anything is sent.
	Limits eventstore.Limits
	// Logger receives the client's warnings and the Store's reconnection
	// notes. Default: slog.Default().
	Logger *slog.Logger
	// SubscriberBuffer is how many live events a subscription holds for a
	// subscriber that is not keeping up before dropping it with a
	// *eventstore.SubscriptionDroppedError. Default 4096. (While catching up
	// on history the subscription reads only as fast as the subscriber.)
	SubscriberBuffer int
	// SlowSubscriberGrace is how long a live subscription waits for a
	// subscriber with a full buffer to take an event before dropping it.
	// Default 1 s.
	SlowSubscriberGrace time.Duration
	// ResubscribeFor is how long a subscription that lost the store keeps
	// resubscribing, with backoff, before it gives up. Default 1 minute.
	ResubscribeFor time.Duration
	// RetryInterval is the shortest time between two connection attempts
	// while the store is unreachable; calls in between fail at once with
	// ErrUnavailable. Default 500 ms.
	RetryInterval time.Duration
	// ConnectTimeout bounds one connection attempt (node discovery plus a
	// probe read). Default 5 s.
	ConnectTimeout time.Duration
	// RecentAppends is how many event IDs of its own appends the Store
	// remembers to recognise partial retries and IDs reused in another
	// stream (KurrentDB has no index by event ID). Default 100,000.
	RecentAppends int
}

func (o Options) withDefaults() Options {
	o.Limits = o.Limits.WithDefaults()
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SubscriberBuffer <= 0 {
		o.SubscriberBuffer = 4096
	}
	if o.SlowSubscriberGrace <= 0 {
		o.SlowSubscriberGrace = time.Second
	}
	if o.ResubscribeFor <= 0 {
		o.ResubscribeFor = time.Minute
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 500 * time.Millisecond
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.RecentAppends <= 0 {
		o.RecentAppends = 100_000
	}
	return o
}

// Store is an eventstore.Store on KurrentDB. It is safe for concurrent use.
type Store struct {
	cfg  esdb.Configuration // template for each client generation
	opts Options
	log  *slog.Logger

	recent        *recentAppends
	positionTrust atomic.Int32 // see appendedPosition

	base   context.Context // cancelled by Close: ends every call in flight
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	gen      *generation // the client new calls use; nil before the first
	gens     map[*generation]struct{}
	nextID   uint64
	probe    *probe    // connection attempt in progress
	lastFail time.Time // when the last connection attempt failed
	lastErr  error
}

var _ eventstore.Store = (*Store)(nil)

// generation is one esdb.Client. A generation is retired after any
// "unavailable" error: the v4.2.0 client would otherwise rediscover the
// node on its next call and, if the node is still down, close itself for
// good while other calls wait on it.
type generation struct {
	id       uint64
	client   *esdb.Client
	ready    bool // a probe reached the node through this client
	retired  bool
	inflight int
	closed   bool
}

// probe is a connection attempt other calls wait for.
type probe struct {
	done chan struct{}
	err  error
}

// Open returns a Store for the KurrentDB node or cluster connString names
// (esdb://, esdb+discover://, kurrentdb:// or kurrentdb+discover://). It
// does not contact the store: an unreachable store makes calls fail with
// eventstore.ErrUnavailable until it answers. Use Ping to check.
func Open(ctx context.Context, connString string, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := ParseURL(connString)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	cfg.Logger = clientLogger(opts.Logger)
	base, cancel := context.WithCancel(context.Background())
	s := &Store{
		cfg:    *cfg,
		opts:   opts,
		log:    opts.Logger,
		base:   base,
		cancel: cancel,
		gens:   make(map[*generation]struct{}),
		recent: newRecentAppends(opts.RecentAppends),
	}
	return s, nil
}

// clientLogger routes the client's log lines into slog. Its "error" lines
// are mostly cancelled calls and dropped connections, which the Store
// reports itself, so they go out as warnings (cancellations as debug).
func clientLogger(l *slog.Logger) esdb.LoggingFunc {
	return func(level esdb.LogLevel, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		lvl := slog.LevelDebug
		switch level {
		case esdb.LogError, esdb.LogWarn:
			lvl = slog.LevelWarn
			// Cancelled calls, refused positions (handled by the Store) and
			// discovery attempts (the Store reports the outcome) are noise.
			if strings.Contains(msg, "context canceled") || strings.Contains(msg, "code = Canceled") ||
				strings.Contains(msg, "invalid position") || strings.Contains(msg, "candidate") ||
				strings.Contains(msg, "discovery") {
				lvl = slog.LevelDebug
			}
		}
		l.Log(context.Background(), lvl, "kurrentdb client: "+msg)
	}
}

// Close ends the calls in flight (they fail with ErrClosed) and closes the
// client connections.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()

	// Closing a client while one of its calls is still inside it can make
	// that call panic (it sends on the client's closed channel), so wait
	// for the cancelled calls to come out first.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		busy := 0
		for g := range s.gens {
			if g.inflight == 0 {
				s.closeGenLocked(g)
			} else {
				busy++
			}
		}
		s.mu.Unlock()
		if busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			s.log.Warn("kurrentdb: closing with client calls still stuck; leaving their clients open", "calls", busy)
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Store) closeGenLocked(g *generation) {
	if g.closed {
		return
	}
	g.closed = true
	delete(s.gens, g)
	_ = g.client.Close()
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// acquire returns a generation whose client reached the node, counting the
// caller in until release. When there is none it starts (or waits for) a
// probe; while the store is down it fails fast for RetryInterval after each
// failed attempt.
func (s *Store) acquire(ctx context.Context) (*generation, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, eventstore.ErrClosed
		}
		if g := s.gen; g != nil && g.ready && !g.retired {
			g.inflight++
			s.mu.Unlock()
			return g, nil
		}
		p := s.probe
		if p == nil {
			if !s.lastFail.IsZero() && time.Since(s.lastFail) < s.opts.RetryInterval {
				err := s.lastErr
				s.mu.Unlock()
				return nil, err
			}
			g := s.gen
			if g == nil || g.retired {
				var err error
				if g, err = s.newGenerationLocked(); err != nil {
					s.mu.Unlock()
					return nil, err
				}
			}
			p = &probe{done: make(chan struct{})}
			s.probe = p
			g.inflight++
			go s.runProbe(p, g)
		}
		s.mu.Unlock()

		select {
		case <-p.done:
			if p.err != nil {
				return nil, p.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Store) newGenerationLocked() (*generation, error) {
	cfg := s.cfg
	c, err := esdb.NewClient(&cfg)
	if err != nil {
		return nil, fmt.Errorf("kurrentdb: create client: %w", err)
	}
	s.nextID++
	g := &generation{id: s.nextID, client: c}
	s.gen = g
	s.gens[g] = struct{}{}
	return g, nil
}

// runProbe is the only call on a new client until it has discovered the
// node: concurrent calls during a failing discovery could block forever.
func (s *Store) runProbe(p *probe, g *generation) {
	ctx, cancel := context.WithTimeout(s.base, s.opts.ConnectTimeout)
	defer cancel()
	err := pingClient(ctx, g.client)

	s.mu.Lock()
	defer s.mu.Unlock()
	g.inflight--
	switch {
	case err == nil:
		g.ready = true
		s.lastFail = time.Time{}
		if g.id > 1 {
			s.log.Info("kurrentdb: connected again", "client", g.id)
		}
	case s.closed:
		p.err = eventstore.ErrClosed
	default:
		// The client may have closed itself after a failed discovery: never
		// use it again.
		g.retired = true
		if g.inflight == 0 {
			s.closeGenLocked(g)
		}
		p.err = fmt.Errorf("kurrentdb: connect: %w: %v", eventstore.ErrUnavailable, err)
		if ctx.Err() != nil && !isUnavailable(err) {
			p.err = fmt.Errorf("kurrentdb: connect: %w: no answer within %s", eventstore.ErrUnavailable, s.opts.ConnectTimeout)
		}
		if s.lastFail.IsZero() {
			s.log.Warn("kurrentdb: store unreachable", "err", err)
		} else {
			s.log.Debug("kurrentdb: store still unreachable", "err", err)
		}
		s.lastFail, s.lastErr = time.Now(), p.err
	}
	s.probe = nil
	close(p.done)
}

// release counts a call out of its generation. An error that says the node
// cannot be reached retires the generation; a retired generation is closed
// once its last call is out.
func (s *Store) release(g *generation, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g.inflight--
	if err != nil && !g.retired && (isUnavailable(err) || isConnectionClosed(err)) && !s.closed {
		g.retired = true
		s.log.Warn("kurrentdb: lost the store; reconnecting on the next call", "err", err)
	}
	if g.retired && g.inflight == 0 {
		s.closeGenLocked(g)
	}
}

// callContext derives a context for a client call that also ends when the
// Store closes.
func (s *Store) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.base, cancel)
	return cctx, func() { stop(); cancel() }
}

// call runs fn with a connected client. fn runs in its own goroutine so
// that ctx bounds the caller's wait even if the client blocks. A call that
// failed because its client had already closed itself sent nothing, and is
// tried once more on a new client.
func (s *Store) call(ctx context.Context, fn func(ctx context.Context, c *esdb.Client) error) error {
	for attempt := 0; ; attempt++ {
		g, err := s.acquire(ctx)
		if err != nil {
			return err
		}
		cctx, cancel := s.callContext(ctx)
		done := make(chan error, 1)
		go func() { done <- fn(cctx, g.client) }()
		select {
		case err = <-done:
			cancel()
			s.release(g, err)
		case <-cctx.Done():
			cancel()
			go func() { s.release(g, <-done) }()
			return cctx.Err()
		}
		if err != nil && attempt == 0 && isConnectionClosed(err) && !s.isClosed() {
			continue
		}
		return err
	}
}

// translate turns a client or context error into the Store's errors.
func (s *Store) translate(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, eventstore.ErrClosed) || s.isClosed():
		return fmt.Errorf("kurrentdb: %s: %w", op, eventstore.ErrClosed)
	case ctx.Err() != nil:
		return fmt.Errorf("kurrentdb: %s: %w", op, ctx.Err())
	case errors.Is(err, eventstore.ErrUnavailable):
		return fmt.Errorf("kurrentdb: %s: %w", op, err)
	case isUnavailable(err) || isConnectionClosed(err):
		return fmt.Errorf("kurrentdb: %s: %w: %v", op, eventstore.ErrUnavailable, err)
	}
	var esErr *esdb.Error
	if (errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeDeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
		if d, ok := ctx.Deadline(); ok && time.Until(d) < time.Second {
			// The node enforced the caller's own deadline (gRPC sends it
			// along), a moment before the caller's context noticed.
			return fmt.Errorf("kurrentdb: %s: %w", op, context.DeadlineExceeded)
		}
		// The client's own default deadline: the node is not answering.
		return fmt.Errorf("kurrentdb: %s: %w: %v", op, eventstore.ErrUnavailable, err)
	}
	return fmt.Errorf("kurrentdb: %s: %w", op, err)
}

// isUnavailable reports whether err says the node cannot be reached.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var esErr *esdb.Error
	if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorUnavailable {
		return true
	}
	return status.Code(err) == codes.Unavailable
}

// isConnectionClosed reports whether err is the client refusing a call
// because it has closed itself (or was closed).
func isConnectionClosed(err error) bool {
	var esErr *esdb.Error
	return errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeConnectionClosed
}

// Ping reports whether the store answers: it reads the newest record of
// the log.
func (s *Store) Ping(ctx context.Context) error {
	return s.translate(ctx, "ping", s.call(ctx, pingClient))
}

// pingClient reads one record of $all: it needs a live node (and read
// access to $all, which the Store needs anyway).
func pingClient(ctx context.Context, c *esdb.Client) error {
	rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return err
	}
	defer rs.Close()
	for {
		if _, err := rs.Recv(); err != nil {
			if isEOF(err) {
				return nil
			}
			return err
		}
	}
}
