package casehttp_test

import (
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/casebook/casebook/core"
	casehttp "github.com/casebook/casebook/http"
)

// openTestCase opens a case and returns its id.
func openTestCase(t *testing.T, s *stack) string {
	t.Helper()
	return createdCaseID(t, s.serve("POST", "/v1/cases", investigatorToken, []byte(
		`{"reference":"REC-1","title":"Recording","crime_types":["people_smuggling"],"location":"Calais"}`)))
}

// createdCaseID returns the id of the case that w, the answer to
// POST /v1/cases, created; anything but 201 fails the test.
func createdCaseID(tb testing.TB, w *httptest.ResponseRecorder) string {
	tb.Helper()
	if w.Code != http.StatusCreated {
		tb.Fatalf("open case: %d %s", w.Code, w.Body)
	}
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
		tb.Fatal(err)
	}
	return c.ID
}

// logLines returns the decoded log lines with the given message.
func logLines(t *testing.T, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func TestRecordEventAnswer(t *testing.T) {
	s := newStack(t)
	id := openTestCase(t, s)
	body := `{"id":"0b9f0c2e-7c1d-4d8e-9f3a-5b6c7d8e9f01","type":"IntelligenceLogged","data":{"summary":"Van at Dunkirk","grading":"2B1"}}`
	for _, want := range []int{http.StatusCreated, http.StatusOK} { // then a retry
		req := httptest.NewRequest("POST", "/v1/cases/"+id+"/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+investigatorToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-ID", "rec-1")
		w := httptest.NewRecorder()
		s.engine.ServeHTTP(w, req)
		if w.Code != want {
			t.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
		}
		h := w.Header()
		for name, value := range map[string]string{
			"ETag":          `"1"`,
			"Location":      "/v1/cases/" + id + "/events?from_version=1&limit=1",
			"Content-Type":  "application/json; charset=utf-8",
			"Cache-Control": "no-store",
			"X-Request-ID":  "rec-1",
		} {
			if got := h.Values(name); len(got) != 1 || got[0] != value {
				t.Errorf("%s: %q, want %q", name, got, value)
			}
		}
		wantBody := `{"id":"0b9f0c2e-7c1d-4d8e-9f3a-5b6c7d8e9f01","case_id":"` + id + `","version":1,"position":2}`
		if w.Body.String() != wantBody {
			t.Errorf("body %s, want %s", w.Body, wantBody)
		}
	}
}

func TestRequestLogLines(t *testing.T) {
	s := newStack(t)
	id := openTestCase(t, s)
	w := s.serve("POST", "/v1/cases/"+id+"/events", investigatorToken,
		[]byte(`{"type":"IntelligenceLogged","data":{"summary":"Van at Dunkirk","grading":"2B1"}}`))
	if w.Code != http.StatusCreated {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	s.serve("GET", "/v1/cases/"+id, "", nil) // 401: no principal to log

	lines := logLines(t, s.logs.String(), "http request")
	if len(lines) != 3 {
		t.Fatalf("%d request lines, want 3:\n%s", len(lines), s.logs)
	}
	rec, anon := lines[1], lines[2]
	want := map[string]any{
		"level": "INFO", "request_id": w.Header().Get("X-Request-ID"), "method": "POST", "route": "/v1/cases/:id/events",
		"path": "/v1/cases/" + id + "/events", "status": float64(201), "bytes": float64(w.Body.Len()),
		"subject": "officer.test", "role": "investigator", "agency": "UKBA",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s: %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["duration_ms"].(float64); !ok || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(rec["request_id"].(string)) {
		t.Errorf("line %v", rec)
	}
	if len(rec) != len(want)+3 { // + time, msg, duration_ms
		t.Errorf("fields %v", rec)
	}
	if anon["status"] != float64(401) || anon["subject"] != nil || anon["role"] != nil || anon["agency"] != nil {
		t.Errorf("unauthenticated line %v", anon)
	}
}

// counterValue is casebook_http_requests_total for the labels.
func counterValue(t *testing.T, reg *prometheus.Registry, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "casebook_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, p := range m.GetLabel() {
				got[p.GetName()] = p.GetValue()
			}
			if maps.Equal(got, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestRequestMetricsByRouteAndStatus(t *testing.T) {
	s := newStack(t)
	metrics := casehttp.NewMetrics(nil)
	cb, err := core.New(core.Config{Store: s.store})
	if err != nil {
		t.Fatal(err)
	}
	e, err := casehttp.New(casehttp.Config{Logger: slog.New(slog.DiscardHandler), Core: cb,
		Auth: casehttp.NewAuthenticator(nil), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, path string) {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}
	for range 3 {
		serve("GET", "/healthz")
	}
	serve("GET", "/v1/cases")
	serve("GET", "/no/such/route")
	serve("DELETE", "/healthz") // a method HTTP defines, not allowed here
	for i := range 600 {        // invented methods: one series between them
		serve("M"+strings.Repeat("X", i), "/healthz")
	}
	for _, tc := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"method": "GET", "route": "/healthz", "status": "200"}, 3},
		{map[string]string{"method": "GET", "route": "/v1/cases", "status": "401"}, 1},
		{map[string]string{"method": "GET", "route": "unmatched", "status": "404"}, 1},
		{map[string]string{"method": "DELETE", "route": "unmatched", "status": "405"}, 1},
		{map[string]string{"method": "other", "route": "unmatched", "status": "501"}, 600},
		{map[string]string{"method": "M", "route": "unmatched", "status": "405"}, 0},
		{map[string]string{"method": "M" + strings.Repeat("X", 599), "route": "unmatched", "status": "501"}, 0},
	} {
		if got := counterValue(t, metrics.Registry, tc.labels); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.labels, got, tc.want)
		}
	}
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" && strings.HasPrefix(l.GetValue(), "M") {
					t.Fatalf("%s has a series for the invented method %.20q…", f.GetName(), l.GetValue())
				}
			}
		}
	}
}
