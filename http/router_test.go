package casehttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	casehttp "github.com/casebook/casebook/http"
	"github.com/casebook/casebook/http/apitest"
)

const (
	investigatorToken = "tok-test-investigator-000001"
	auditorToken      = "tok-test-auditor-00000000002"
)

// lockedBuffer collects logs written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stack is the API over a real SQLite store in a temporary directory.
type stack struct {
	engine *gin.Engine
	store  *sqlitestore.Store
	logs   *lockedBuffer
}

func newStack(t testing.TB) *stack {
	t.Helper()
	store, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "events.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	tokens, err := casehttp.ParseTokens(strings.NewReader(
		investigatorToken+",officer.test,investigator,UKBA\n"+auditorToken+",auditor.test,auditor,HMIC\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	cb, err := core.New(core.Config{Store: store, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cb.Close(context.Background()) })
	e, err := casehttp.New(casehttp.Config{
		Logger: logger,
		Core:   cb,
		Auth:   casehttp.NewAuthenticator(tokens),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &stack{engine: e, store: store, logs: logs}
}

// serve runs one request through the engine.
func (s *stack) serve(method, path, token string, body []byte) *httptest.ResponseRecorder {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	s.engine.ServeHTTP(w, req)
	return w
}

func TestEveryRouteIsDocumentedAndEveryDocumentedRouteExists(t *testing.T) {
	s := newStack(t)
	doc, err := apitest.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var registered []string
	for _, r := range s.engine.Routes() {
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		registered = append(registered, r.Method+" "+strings.Join(parts, "/"))
	}
	slices.Sort(registered)
	documented := doc.Operations()
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("the OpenAPI document describes %s, which is not registered", d)
		}
	}
	if len(registered) < 14 {
		t.Errorf("only %d routes registered", len(registered))
	}
}

func TestPanicIsRecoveredWithRequestID(t *testing.T) {
	s := newStack(t)
	s.engine.GET("/test/panic", func(c *gin.Context) { panic("handler bug") })
	req := httptest.NewRequest("GET", "/test/panic", nil)
	req.Header.Set("X-Request-ID", "trace-panic-1")
	w := httptest.NewRecorder()
	s.engine.ServeHTTP(w, req)
	if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %s: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p["type"] != "/problems/internal" || p["request_id"] != "trace-panic-1" {
		t.Errorf("problem %v", p)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, `"msg":"panic in handler"`) || !strings.Contains(logs, "trace-panic-1") || !strings.Contains(logs, "handler bug") {
		t.Errorf("panic not logged with its request id:\n%s", logs)
	}
	// The server goes on serving.
	if w := s.serve("GET", "/healthz", "", nil); w.Code != http.StatusOK {
		t.Errorf("healthz after panic: %d", w.Code)
	}
}

func TestReadyzIsNotReadyWhileTheStoreIsDown(t *testing.T) {
	s := newStack(t)
	srv := httptest.NewServer(s.engine) // a real loopback listener
	defer srv.Close()
	get := func() int {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(); st != http.StatusOK {
		t.Fatalf("readyz with the store open: %d", st)
	}
	if err := s.store.Close(); err != nil {
		t.Fatal(err)
	}
	if st := get(); st != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the store closed: %d", st)
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz with the store closed: %d (the process is alive)", resp.StatusCode)
	}
}

func TestProblemTypesAreDescribed(t *testing.T) {
	s := newStack(t)
	seen := map[string]bool{}
	for _, pt := range casehttp.ProblemTypes {
		if seen[pt.Slug] {
			t.Errorf("slug %s twice", pt.Slug)
		}
		seen[pt.Slug] = true
		w := s.serve("GET", pt.URI(), "", nil)
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", pt.URI(), w.Code, w.Body)
		}
		if got["type"] != pt.URI() || got["title"] != pt.Title || got["status"] != float64(pt.Status) {
			t.Errorf("%s described as %v", pt.URI(), got)
		}
	}
	if w := s.serve("GET", "/problems/no-such-thing", "", nil); w.Code != http.StatusNotFound {
		t.Errorf("unknown problem type: %d", w.Code)
	}
}
