package casehttp

import (
	"errors"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// Fair shares. One caller must not be able to lock everyone else out, so
// beside the server-wide cap on requests in flight (Config.MaxConcurrent)
// every principal has a share of its own:
//
//   - at most PrincipalConcurrent requests in flight. The limit wraps the
//     whole handler, so a request waiting for its min_position, or reading
//     a body that trickles in, holds its caller's share and nobody else's;
//   - a token bucket of PrincipalBurst requests, refilled at PrincipalRate
//     per second (golang.org/x/time/rate).
//
// Over either, the request is answered 429 too-many-requests with
// Retry-After at once, never queued. Requests that fail authentication are
// limited per client address (their own token bucket of failures): while an
// address is over it, every /v1 request from it is answered 429, so that
// guessing tokens or flooding the logs with 401s is slow work. Live streams
// (GET /v1/events/live) keep their own cap (Config.MaxLiveStreams); they
// draw from the principal's token bucket when they open but hold no share.

// Limits are the per-caller limits; a zero field takes its default.
type Limits struct {
	// PrincipalConcurrent caps one principal's requests in flight
	// (default DefaultPrincipalConcurrent).
	PrincipalConcurrent int
	// PrincipalRate is the sustained request rate of one principal, in
	// requests per second (default DefaultPrincipalRate).
	PrincipalRate float64
	// PrincipalBurst is how many requests a principal may send at once
	// above the sustained rate (default DefaultPrincipalBurst).
	PrincipalBurst int
	// AuthFailureRate is how many failed authentications per second one
	// client address may make in the long run (default
	// DefaultAuthFailureRate); AuthFailureBurst how many in a row
	// (default DefaultAuthFailureBurst).
	AuthFailureRate  float64
	AuthFailureBurst int
}

// The default limits: one principal may run 32 requests at once and 100
// requests a second (bursts of 200), well above what a person behind a
// client does and above the ≥ 50/s an integration may need; one address
// may fail authentication 10 times a second (100 in a row).
const (
	DefaultPrincipalConcurrent = 32
	DefaultPrincipalRate       = 100
	DefaultPrincipalBurst      = 200
	DefaultAuthFailureRate     = 10
	DefaultAuthFailureBurst    = 100
)

func (l Limits) withDefaults() Limits {
	if l.PrincipalConcurrent <= 0 {
		l.PrincipalConcurrent = DefaultPrincipalConcurrent
	}
	if l.PrincipalRate <= 0 {
		l.PrincipalRate = DefaultPrincipalRate
	}
	if l.PrincipalBurst <= 0 {
		l.PrincipalBurst = DefaultPrincipalBurst
	}
	if l.AuthFailureRate <= 0 {
		l.AuthFailureRate = DefaultAuthFailureRate
	}
	if l.AuthFailureBurst <= 0 {
		l.AuthFailureBurst = DefaultAuthFailureBurst
	}
	return l
}

// The problem types of the limits and of the connection's own failures.
var (
	ProblemTooManyRequests = ProblemType{"too-many-requests", "Too many requests", http.StatusTooManyRequests,
		"The caller is over its share: too many requests at once or too many in a short time (per token), or too many failed authentications from its address. Nothing was done. Retry after the number of seconds in Retry-After."}
	ProblemRequestTimeout = ProblemType{"request-timeout", "Request timeout", http.StatusRequestTimeout,
		"The request body did not arrive within the server's read timeout. Nothing was done; send the request again, whole."}
	ProblemMethodNotImplemented = ProblemType{"method-not-implemented", "Method not implemented", http.StatusNotImplemented,
		"The request method is not one this server knows (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE)."}
)

// Reasons a request was refused by a limit: the label values of
// casebook_http_limited_total.
const (
	limitedConcurrency  = "concurrency"
	limitedRate         = "rate"
	limitedAuthFailures = "auth_failures"
)

var limitedReasons = []string{limitedConcurrency, limitedRate, limitedAuthFailures}

// principalShares holds each principal's share. Principals come from the
// tokens file, so the map is bounded by the principals ever configured
// since start.
type principalShares struct {
	limits  Limits
	metrics *Metrics
	mu      sync.RWMutex
	shares  map[Principal]*principalShare
}

type principalShare struct {
	inFlight atomic.Int32
	bucket   *rate.Limiter
}

func newPrincipalShares(l Limits, m *Metrics) *principalShares {
	return &principalShares{limits: l, metrics: m, shares: make(map[Principal]*principalShare)}
}

func (s *principalShares) of(p Principal) *principalShare {
	s.mu.RLock()
	sh := s.shares[p]
	s.mu.RUnlock()
	if sh != nil {
		return sh
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh = s.shares[p]; sh == nil {
		sh = &principalShare{bucket: rate.NewLimiter(rate.Limit(s.limits.PrincipalRate), s.limits.PrincipalBurst)}
		s.shares[p] = sh
	}
	return sh
}

// limitPrincipal enforces the caller's share; it runs after requireToken.
// holdShare is false for live streams, which only draw from the bucket.
func (s *principalShares) limitPrincipal(holdShare bool) gin.HandlerFunc {
	inFlightCap := int32(s.limits.PrincipalConcurrent)
	return func(c *gin.Context) {
		p, ok := principalFrom(c)
		if !ok { // requireToken answered already
			c.Next()
			return
		}
		sh := s.of(p)
		if holdShare {
			if sh.inFlight.Add(1) > inFlightCap {
				sh.inFlight.Add(-1)
				s.refuse(c, limitedConcurrency, 1,
					"You already have %d requests in flight, your maximum; wait for one to finish.", inFlightCap)
				return
			}
			defer sh.inFlight.Add(-1)
		}
		if !sh.bucket.Allow() {
			s.refuse(c, limitedRate, retryAfter(sh.bucket),
				"You are over your rate of %g requests a second (bursts of %d).", s.limits.PrincipalRate, s.limits.PrincipalBurst)
			return
		}
		c.Next()
	}
}

func (s *principalShares) refuse(c *gin.Context, reason string, retry int, format string, args ...any) {
	s.metrics.limited(reason)
	p := newProblem(ProblemTooManyRequests, format, args...)
	p.RetryAfter = retry
	writeProblem(c, p)
}

// retryAfter is the number of whole seconds until the bucket holds a token
// again (at least 1).
func retryAfter(b *rate.Limiter) int {
	missing := 1 - b.Tokens()
	if missing <= 0 || b.Limit() <= 0 {
		return 1
	}
	return max(1, int(math.Ceil(missing/float64(b.Limit()))))
}

// authFailures counts failed authentications per client address. The map
// is bounded: past maxTrackedAddresses, addresses whose bucket is full
// again (they failed nothing lately) are forgotten, and if that frees
// nothing, new addresses share one overflow bucket — a flood from many
// addresses then limits itself rather than growing memory.
type authFailures struct {
	limits   Limits
	metrics  *Metrics
	mu       sync.Mutex
	buckets  map[netip.Prefix]*rate.Limiter
	overflow *rate.Limiter
	// tracked is len(buckets), read without the lock: while no address
	// has failed, a request costs one atomic load here.
	tracked atomic.Int32
}

const maxTrackedAddresses = 10_000

func newAuthFailures(l Limits, m *Metrics) *authFailures {
	return &authFailures{limits: l, metrics: m, buckets: make(map[netip.Prefix]*rate.Limiter),
		overflow: rate.NewLimiter(rate.Limit(l.AuthFailureRate), l.AuthFailureBurst)}
}

// clientKey is the client's address; IPv6 clients are counted per /64,
// the block one subscriber usually holds.
func clientKey(remoteAddr string) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	pfx, _ := addr.Prefix(bits)
	return pfx
}

// bucket returns the address's bucket; nil when it has none (it failed
// nothing lately) and create is false.
func (a *authFailures) bucket(key netip.Prefix, create bool) *rate.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	if b := a.buckets[key]; b != nil || !create {
		return b
	}
	if len(a.buckets) >= maxTrackedAddresses {
		burst := float64(a.limits.AuthFailureBurst)
		for k, b := range a.buckets {
			if b.Tokens() >= burst {
				delete(a.buckets, k)
			}
		}
		a.tracked.Store(int32(len(a.buckets)))
		if len(a.buckets) >= maxTrackedAddresses {
			return a.overflow
		}
	}
	b := rate.NewLimiter(rate.Limit(a.limits.AuthFailureRate), a.limits.AuthFailureBurst)
	a.buckets[key] = b
	a.tracked.Store(int32(len(a.buckets)))
	return b
}

// limitAuthFailures runs before requireToken: it refuses every request
// from an address that has used up its failures, and charges the address
// for each request that ends 401.
func (a *authFailures) limitAuthFailures(c *gin.Context) {
	if a.tracked.Load() > 0 {
		if b := a.bucket(clientKey(c.Request.RemoteAddr), false); b != nil && b.Tokens() < 1 {
			a.metrics.limited(limitedAuthFailures)
			p := newProblem(ProblemTooManyRequests, "Too many failed authentications from this address; retry later.")
			p.RetryAfter = retryAfter(b)
			writeProblem(c, p)
			return
		}
	}
	c.Next()
	if c.Writer.Status() == http.StatusUnauthorized {
		a.bucket(clientKey(c.Request.RemoteAddr), true).Allow()
	}
}

// bodyReadProblem maps a request body that did not arrive within the
// connection's read deadline (http.Server.ReadTimeout) to 408, the
// client's failure, not the server's; problemFor calls it. Any other error
// of the connection while reading the body (the client went away mid-body)
// is answered 400: the body is incomplete. Neither is logged as an error.
func bodyReadProblem(err error) (*Problem, bool) {
	var be *bodyReadError
	if !errors.As(err, &be) {
		return nil, false
	}
	if be.timeout() {
		return newProblem(ProblemRequestTimeout, "The request body did not arrive in time; nothing was done."), true
	}
	return newProblem(ProblemMalformedJSON, "The request body ended before it was complete (the connection failed); nothing was done."), true
}

// bodyReadError is an error of the connection while a handler read the
// request body, as opposed to an error of what the body says.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "reading the request body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

func (e *bodyReadError) timeout() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}
