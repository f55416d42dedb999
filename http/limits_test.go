package casehttp_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	casehttp "github.com/casebook/casebook/http"
)

const otherInvestigatorToken = "tok-test-investigator-000003"

// noSuchCase is a case route that answers 404 to a caller let through.
const noSuchCase = "/v1/cases/0b9f0c2e-7c1d-4d8e-9f3a-5b6c7d8e9f01"

// limitedStack is the API with the given limits, three callers
// (investigatorToken, otherInvestigatorToken, auditorToken) and its logs.
func limitedStack(t *testing.T, limits casehttp.Limits) (*gin.Engine, *lockedBuffer) {
	t.Helper()
	store, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "events.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	tokens, err := casehttp.ParseTokens(strings.NewReader(investigatorToken+",officer.test,investigator,UKBA\n"+
		otherInvestigatorToken+",officer.other,investigator,UKBA\n"+auditorToken+",auditor.test,auditor,HMIC\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cb, err := core.New(core.Config{Store: store, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e, err := casehttp.New(casehttp.Config{Logger: logger, Core: cb, Auth: casehttp.NewAuthenticator(tokens), Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	return e, logs
}

// call sends one request from a client address with a token ("" for none).
func call(e http.Handler, method, path, token, remote string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	return w
}

// problemOf decodes a problem answer.
func problemOf(t *testing.T, w *httptest.ResponseRecorder) casehttp.Problem {
	t.Helper()
	var p casehttp.Problem
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q; body %s", ct, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != w.Code || p.RequestID == "" || p.RequestID != w.Header().Get("X-Request-ID") {
		t.Errorf("problem %+v for status %d, X-Request-ID %q", p, w.Code, w.Header().Get("X-Request-ID"))
	}
	return p
}

func TestUnknownMethodsAreRefusedWithBoundedLogs(t *testing.T) {
	e, logs := limitedStack(t, casehttp.Limits{})
	method := "QZXWVUTS" + strings.Repeat("M", 60_000)
	path := "/healthz/" + strings.Repeat("p", 5_000)
	w := call(e, method, path, "", "192.0.2.1:1000", nil)
	if w.Code != http.StatusNotImplemented {
		t.Fatalf("status %d, want 501", w.Code)
	}
	if p := problemOf(t, w); p.Type != "/problems/method-not-implemented" || len(p.Detail) > 200 || len(p.Instance) > 300 {
		t.Errorf("problem %.300v", p)
	}
	// A known method on a route that does not allow it is still 405.
	if w := call(e, "DELETE", "/healthz", "", "192.0.2.1:1000", nil); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /healthz: %d, want 405", w.Code)
	}
	lines := logLines(t, logs.String(), "http request")
	if len(lines) != 2 {
		t.Fatalf("%d request lines:\n%.2000s", len(lines), logs)
	}
	l := lines[0]
	if l["level"] != "INFO" || l["status"] != float64(501) || len(l["method"].(string)) > 20 || len(l["path"].(string)) > 260 ||
		!strings.HasPrefix(l["method"].(string), "QZXWVUTS") {
		t.Errorf("log line %.400v", l)
	}
	if len(logs.String()) > 2000 {
		t.Errorf("two requests wrote %d bytes of logs", len(logs.String()))
	}
}

func TestPrincipalRateLimitAnswers429WithRetryAfter(t *testing.T) {
	e, logs := limitedStack(t, casehttp.Limits{PrincipalRate: 0.5, PrincipalBurst: 3})
	for i := range 3 {
		if w := call(e, "GET", "/v1/events", auditorToken, "192.0.2.1:1000", nil); w.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, w.Code, w.Body)
		}
	}
	w := call(e, "GET", "/v1/events", auditorToken, "192.0.2.1:1000", nil)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("request over the burst: %d, want 429", w.Code)
	}
	if p := problemOf(t, w); p.Type != "/problems/too-many-requests" {
		t.Errorf("problem %+v", p)
	}
	// One token comes back every 2 s.
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
		t.Errorf("Retry-After %q, want 1 or 2", w.Header().Get("Retry-After"))
	}
	// Another principal has a share of its own.
	if w := call(e, "GET", noSuchCase, otherInvestigatorToken, "192.0.2.1:1000", nil); w.Code != http.StatusNotFound {
		t.Errorf("another principal: %d %s", w.Code, w.Body)
	}
	// The refusal is the client's business: logged at info.
	for _, l := range logLines(t, logs.String(), "http request") {
		if l["status"] == float64(429) && l["level"] != "INFO" {
			t.Errorf("429 logged at %v", l["level"])
		}
	}
}

func TestFailedAuthenticationIsLimitedPerAddress(t *testing.T) {
	e, _ := limitedStack(t, casehttp.Limits{AuthFailureRate: 0.01, AuthFailureBurst: 2})
	const attacker, neighbour = "198.51.100.7:4000", "198.51.100.8:4000"
	for i, token := range []string{"guess-1", ""} {
		if w := call(e, "GET", "/v1/cases", token, attacker, nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i, w.Code)
		}
	}
	// Out of failures: every request from the address is refused, a good
	// token included (or guessing could go on, learning from 200s).
	for _, token := range []string{"guess-3", investigatorToken} {
		w := call(e, "GET", "/v1/cases", token, attacker, nil)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
			t.Fatalf("token %q from the address out of failures: %d (Retry-After %q)", token, w.Code, w.Header().Get("Retry-After"))
		}
		if p := problemOf(t, w); p.Type != "/problems/too-many-requests" {
			t.Errorf("problem %+v", p)
		}
	}
	// Other addresses, and open routes, are not affected.
	if w := call(e, "GET", noSuchCase, investigatorToken, neighbour, nil); w.Code != http.StatusNotFound {
		t.Errorf("another address: %d", w.Code)
	}
	if w := call(e, "GET", "/healthz", "", attacker, nil); w.Code != http.StatusOK {
		t.Errorf("/healthz from the address: %d", w.Code)
	}
	// IPv6 clients are counted per /64.
	for i := range 2 {
		call(e, "GET", "/v1/cases", "guess", "[2001:db8:1:2::"+strconv.Itoa(i+1)+"]:4000", nil)
	}
	if w := call(e, "GET", "/v1/cases", investigatorToken, "[2001:db8:1:2::99]:4000", nil); w.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64: %d, want 429", w.Code)
	}
	if w := call(e, "GET", noSuchCase, investigatorToken, "[2001:db8:1:3::1]:4000", nil); w.Code != http.StatusNotFound {
		t.Errorf("another /64: %d, want 404", w.Code)
	}
}

// failingBody is a request body whose connection fails after a few bytes.
type failingBody struct {
	sent bool
	err  error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, `{"reference":"SLOW-1",`), nil
	}
	return 0, b.err
}

func TestABodyThatDoesNotArriveIsTheClientsFailure(t *testing.T) {
	e, logs := limitedStack(t, casehttp.Limits{})
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for name, tc := range map[string]struct {
		err      error
		status   int
		wantType string
	}{
		"read deadline passed":  {timeout, http.StatusRequestTimeout, "/problems/request-timeout"},
		"client gone mid-body":  {io.ErrUnexpectedEOF, http.StatusBadRequest, "/problems/malformed-json"},
		"connection reset":      {&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", io.ErrClosedPipe)}, http.StatusBadRequest, "/problems/malformed-json"},
		"timeout on the events": {timeout, http.StatusRequestTimeout, "/problems/request-timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			path := "/v1/cases"
			if name == "timeout on the events" {
				path = "/v1/cases/0b9f0c2e-7c1d-4d8e-9f3a-5b6c7d8e9f01/events"
			}
			w := call(e, "POST", path, investigatorToken, "192.0.2.1:1000", &failingBody{err: tc.err})
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if p := problemOf(t, w); p.Type != tc.wantType {
				t.Errorf("problem %+v", p)
			}
		})
	}
	for _, l := range logLines(t, logs.String(), "http request") {
		if l["level"] != "INFO" {
			t.Errorf("a client's failure logged at %v: %v", l["level"], l)
		}
	}
	if lines := logLines(t, logs.String(), "request failed"); len(lines) > 0 {
		t.Errorf("a client's failure logged as the server's: %v", lines)
	}
}

// BenchmarkCallerLimits is what the per-caller limits add to a request that
// passes them: a minimal engine with and without the two limit middlewares,
// one principal (as in scripts/load/run.sh), many requests in flight.
// Compare cpu-ns/op: on a shared machine ns/op also counts waiting for a
// core.
func BenchmarkCallerLimits(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	who := casehttp.AuthenticateForTest(casehttp.Principal{Subject: "load.investigator", Role: "investigator", Agency: "UKBA"})
	ok := func(c *gin.Context) { c.Status(http.StatusNoContent) }
	for _, limits := range []bool{false, true} {
		b.Run("limits="+strconv.FormatBool(limits), func(b *testing.B) {
			e := gin.New()
			if limits {
				failures, share := casehttp.CallerLimitsForTest(benchLimits, casehttp.NewMetrics(nil))
				e.GET("/v1/x", failures, who, share, ok)
			} else {
				e.GET("/v1/x", who, ok)
			}
			b.ReportAllocs()
			defer reportCPUPerOp(b)()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/v1/x", nil)
				req.RemoteAddr = "127.0.0.1:40000"
				w := httptest.NewRecorder()
				for pb.Next() {
					e.ServeHTTP(w, req)
					if w.Code != http.StatusNoContent {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}
