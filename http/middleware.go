package casehttp

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// ctxRequest is the gin context key of the request's *requestState.
const ctxRequest = "casebook.request"

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

// requestIDKey is HeaderRequestID as net/http keys its header maps
// ("X-Request-Id"): indexing the maps with it directly spares the
// canonicalisation (and its allocation) that Header.Get and Set do.
var requestIDKey = http.CanonicalHeaderKey(HeaderRequestID)

// MaxBodyBytes is the largest request body accepted (1 MiB).
const MaxBodyBytes = 1 << 20

// requestState is what the middleware learns about a request, kept behind
// one gin context value so that it costs a request one allocation.
type requestState struct {
	id     string
	logger *slog.Logger
	// idHeader backs the X-Request-ID response header's value slice, which
	// then needs no allocation of its own.
	idHeader [1]string

	principal     Principal // set by requireToken
	authenticated bool
}

// stateOf returns the request's state, attaching an empty one if the
// middleware that makes it did not run (an engine built without it, in
// tests).
func stateOf(c *gin.Context) *requestState {
	if v, ok := c.Get(ctxRequest); ok {
		if rs, ok := v.(*requestState); ok {
			return rs
		}
	}
	rs := &requestState{}
	c.Set(ctxRequest, rs)
	return rs
}

// requestID returns the request's id ("" before the middleware ran).
func requestID(c *gin.Context) string { return stateOf(c).id }

func loggerFrom(c *gin.Context) *slog.Logger {
	if l := stateOf(c).logger; l != nil {
		return l
	}
	return slog.Default()
}

// routeLabel is the matched route template ("/v1/cases/:id"), or
// "unmatched" for unknown routes, so labels and logs stay low-cardinality
// and free of ids.
func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// validRequestID accepts a client's request id when it is short and made of
// harmless characters, so that it cannot forge log lines.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case b == '-' || b == '_' || b == '.' || b == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// observeRequests is the outermost middleware. It takes the client's
// X-Request-ID or makes one, echoes it in the response and gives the
// handlers a logger that carries it; then, once the request is answered,
// counts and times it in the metrics and writes its log line. One
// middleware rather than three, so that a request reads the clock, its
// status and its route once.
func observeRequests(logger *slog.Logger, m *Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		rs := &requestState{logger: logger}
		if id := firstHeader(c.Request.Header, requestIDKey); validRequestID(id) {
			rs.id = id
		} else {
			rs.id = newRequestID()
		}
		c.Set(ctxRequest, rs)
		rs.idHeader[0] = rs.id
		c.Writer.Header()[requestIDKey] = rs.idHeader[:]

		m.inFlight.Inc()
		defer m.inFlight.Dec()
		c.Next()

		elapsed := time.Since(start)
		status, route := c.Writer.Status(), routeLabel(c)
		m.observeRequest(c.Request.Method, route, status, elapsed)
		logRequest(c, logger, rs, route, status, elapsed)
	}
}

// firstHeader is h.Get(key) for a key already in canonical form.
func firstHeader(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// logRequest writes one structured line per request: no query string (it
// can hold search text), no headers (they hold tokens), no client address;
// the caller's subject, role and agency once authenticated (who did what
// is what an operator investigating a request needs; the access log
// records what they read).
//
// It hands the record to the handler itself rather than through
// Logger.LogAttrs, which would also walk the stack for the caller's program
// counter: the source of this line is always this function, and casebookd
// does not log sources (with HandlerOptions.AddSource, this line would show
// an empty one).
func logRequest(c *gin.Context, logger *slog.Logger, rs *requestState, route string, status int, elapsed time.Duration) {
	ctx := c.Request.Context()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := [...]slog.Attr{
		slog.String("request_id", rs.id),
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", status),
		slog.Int("bytes", c.Writer.Size()),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.String("subject", rs.principal.Subject),
		slog.String("role", rs.principal.Role),
		slog.String("agency", rs.principal.Agency),
	}
	n := len(attrs)
	if !rs.authenticated {
		n -= 3 // no subject, role and agency
	}
	r := slog.NewRecord(time.Now(), level, "http request", 0)
	r.AddAttrs(attrs[:n]...)
	_ = logger.Handler().Handle(ctx, r)
}

// recoverPanics turns a panic in a handler into a logged 500 problem, so no
// input can crash the process.
func recoverPanics(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
			panic(r) // net/http's way of aborting a response on purpose
		}
		loggerFrom(c).LogAttrs(c.Request.Context(), slog.LevelError, "panic in handler",
			slog.String("request_id", requestID(c)),
			slog.String("route", routeLabel(c)),
			slog.String("panic", fmt.Sprint(r)),
			slog.String("stack", string(debug.Stack())))
		if c.Writer.Written() {
			c.Abort()
			return
		}
		p := newProblem(ProblemInternal, "An unexpected error occurred; it was logged with the request id.")
		writeProblem(c, p)
	}()
	c.Next()
}

// limitConcurrency caps the requests being handled at once. Over the cap a
// request is refused at once with 503 and Retry-After rather than queued, so
// a flood cannot pile up goroutines and memory.
func limitConcurrency(max int) gin.HandlerFunc {
	slots := make(chan struct{}, max)
	return func(c *gin.Context) {
		select {
		case slots <- struct{}{}:
		default:
			p := newProblem(ProblemOverloaded, "The server is handling its maximum of %d concurrent requests.", max)
			p.RetryAfter = 1
			writeProblem(c, p)
			return
		}
		defer func() { <-slots }()
		c.Next()
	}
}

// limitBody caps request bodies at MaxBodyBytes: a declared length over the
// cap is refused before reading; an undeclared one fails while reading.
func limitBody(c *gin.Context) {
	if c.Request.ContentLength > MaxBodyBytes {
		writeProblem(c, newProblem(ProblemTooLarge, "The request body is %d bytes; the limit is %d.", c.Request.ContentLength, MaxBodyBytes))
		return
	}
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	}
	c.Next()
}

// requireJSONBody refuses bodies declared as something other than JSON. A
// missing Content-Type is tolerated (curl -d sends a form type, so that one
// is refused, but scripts that send none get the benefit of the doubt).
func requireJSONBody(c *gin.Context) {
	ct := firstHeader(c.Request.Header, "Content-Type")
	if ct == "" || ct == "application/json" { // the common cases, without parsing
		c.Next()
		return
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		writeProblem(c, fieldProblem(ProblemUnsupportedMediaType, "Content-Type",
			"The request body must be application/json, not %q.", ct))
		return
	}
	c.Next()
}

// noRoute and noMethod answer unknown routes and methods as problems.
func noRoute(c *gin.Context) {
	writeProblem(c, newProblem(ProblemNotFound, "No route %s %s.", c.Request.Method, c.Request.URL.Path))
}

func noMethod(c *gin.Context) {
	writeProblem(c, newProblem(ProblemMethodNotAllowed, "%s is not allowed here; allowed: %s.",
		c.Request.Method, c.Writer.Header().Get("Allow")))
}
