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

// Keys of values kept in the gin context.
const (
	ctxRequestID = "casebook.request_id"
	ctxLogger    = "casebook.logger"
	ctxPrincipal = "casebook.principal"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

// MaxBodyBytes is the largest request body accepted (1 MiB).
const MaxBodyBytes = 1 << 20

// requestID returns the request's id ("" before the middleware ran).
func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

func loggerFrom(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		if logger, ok := l.(*slog.Logger); ok && logger != nil {
			return logger
		}
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

// withRequestID takes the client's X-Request-ID or makes one, echoes it in
// the response, and gives the handlers a logger that carries it.
func withRequestID(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(ctxRequestID, id)
		c.Set(ctxLogger, logger)
		c.Header(HeaderRequestID, id)
		c.Next()
	}
}

// logRequests writes one structured line per request: no query string (it
// can hold search text), no headers (they hold tokens), no subject or client
// address (personal data) — the access log records who read what.
func logRequests(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		if !logger.Enabled(c.Request.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", routeLabel(c)),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Int("bytes", c.Writer.Size()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if p, ok := principalFrom(c); ok {
			attrs = append(attrs, slog.String("role", p.Role), slog.String("agency", p.Agency))
		}
		logger.LogAttrs(c.Request.Context(), level, "http request", attrs...)
	}
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
	ct := c.GetHeader("Content-Type")
	if ct == "" {
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
