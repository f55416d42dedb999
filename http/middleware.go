package casehttp

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

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
	return routeUnmatched
}

// routeUnmatched labels requests that matched no route.
const routeUnmatched = "unmatched"

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
		m.observeRequest(methodLabel(c.Request.Method), route, status, elapsed)
		logRequest(c, logger, rs, route, status, elapsed)
	}
}

// methodOther labels, in metrics and logs, any method not in knownMethods.
const methodOther = "other"

// methodLabel is the method as metrics and logs name it: one of the
// methods HTTP defines, or "other". Labels come from this fixed set only,
// so that clients inventing methods cannot add series (each one grew
// /metrics by the method's length times the histogram's lines).
func methodLabel(method string) string {
	if knownMethods[method] {
		return method
	}
	return methodOther
}

// knownMethods are the methods HTTP defines.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodHead: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodOptions: true, http.MethodConnect: true, http.MethodTrace: true,
}

// refuseUnknownMethods is the first middleware: a method HTTP does not
// define is answered 501 before anything is kept about the request (no
// request state, no authentication, no limits). It is counted under the
// method "other" of the one series made for it in advance (so /metrics
// does not grow) and logged with the method and path cut short.
func refuseUnknownMethods(logger *slog.Logger, m *Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		if methodLabel(c.Request.Method) != methodOther {
			c.Next()
			return
		}
		start := time.Now()
		id := firstHeader(c.Request.Header, requestIDKey)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Writer.Header()[requestIDKey] = []string{id}
		p := newProblem(ProblemMethodNotImplemented, "The method %s is not one this server knows.", clip(c.Request.Method, maxLoggedMethod))
		p.RequestID = id
		p.Instance = clip(c.Request.URL.Path, maxLoggedPath)
		renderProblem(c, p)
		elapsed := time.Since(start)
		m.observeRequest(methodOther, routeUnmatched, http.StatusNotImplemented, elapsed)
		if logger.Enabled(c.Request.Context(), slog.LevelInfo) {
			logger.LogAttrs(c.Request.Context(), slog.LevelInfo, "http request",
				slog.String("request_id", id),
				slog.String("method", clip(c.Request.Method, maxLoggedMethod)),
				slog.String("route", routeUnmatched),
				slog.String("path", clip(c.Request.URL.Path, maxLoggedPath)),
				slog.Int("status", http.StatusNotImplemented),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000))
		}
	}
}

// Longest method and path written to a log line or a problem; longer ones
// are cut (and marked with "…"), so that a client cannot make the logs
// grow by the size of its request line.
const (
	maxLoggedMethod = 16
	maxLoggedPath   = 256
)

// clip cuts s to at most n bytes, at a UTF-8 boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
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
	level := requestLogLevel(status)
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := [...]slog.Attr{
		slog.String("request_id", rs.id),
		slog.String("method", methodLabel(c.Request.Method)),
		slog.String("route", route),
		slog.String("path", clip(c.Request.URL.Path, maxLoggedPath)),
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

// requestLogLevel is the level of a request's log line. Error is kept for
// what an operator must look at: a client's own mistake (4xx, including
// 408 and 429) is info, and a 503 — an expected wait (min_position not
// reached in time), an overload, or a dependency down, whose cause
// writeProblem logs on its own line — is a warning.
func requestLogLevel(status int) slog.Level {
	switch {
	case status == http.StatusServiceUnavailable:
		return slog.LevelWarn
	case status >= 500:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// failureLogLevel is the level a failed request is logged at: a 503 is an
// expected wait (a dependency busy or closing, read models not caught up
// yet) that an operator need not act on; any other 5xx is an error.
func failureLogLevel(p *Problem) slog.Level {
	if p.Status == http.StatusServiceUnavailable {
		return slog.LevelWarn
	}
	return slog.LevelError
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
// cap is refused before reading; an undeclared one fails while reading
// (with *http.MaxBytesError, as http.MaxBytesReader would). It also marks
// the connection's own failures while the body is read (a read deadline
// passed, the client went away) as *bodyReadError, so that they are
// answered as the client's (408, 400) and not as the server's (500).
func limitBody(c *gin.Context) {
	if c.Request.ContentLength > MaxBodyBytes {
		writeProblem(c, newProblem(ProblemTooLarge, "The request body is %d bytes; the limit is %d.", c.Request.ContentLength, MaxBodyBytes))
		return
	}
	if c.Request.Body != nil && c.Request.Body != http.NoBody {
		c.Request.Body = &limitedBody{rc: c.Request.Body, left: MaxBodyBytes}
	}
	c.Next()
}

// limitedBody is http.MaxBytesReader with the connection's errors marked.
type limitedBody struct {
	rc   io.ReadCloser
	left int64 // bytes still allowed
	err  error // sticky
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Read one byte more than allowed, to tell "exactly at the limit"
	// from "over it".
	if int64(len(p))-1 > b.left {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n, b.left = int(b.left), 0
		b.err = &http.MaxBytesError{Limit: MaxBodyBytes}
		return n, b.err
	}
	b.left -= int64(n)
	if err != nil && err != io.EOF { //nolint:errorlint // io.EOF is returned unwrapped by contract
		b.err = &bodyReadError{err: err}
		return n, b.err
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

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
	writeProblem(c, newProblem(ProblemNotFound, "No route %s %s.", c.Request.Method, clip(c.Request.URL.Path, maxLoggedPath)))
}

func noMethod(c *gin.Context) {
	writeProblem(c, newProblem(ProblemMethodNotAllowed, "%s is not allowed here; allowed: %s.",
		c.Request.Method, c.Writer.Header().Get("Allow")))
}
