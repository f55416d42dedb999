package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	main "github.com/casebook/casebook/cmd/casebookd"
	"github.com/casebook/casebook/http/apitest"
)

// The callers of the end-to-end tests: one token per person.
const (
	invUKBA   = "inv-ukba"   // investigator, UK Border Agency
	invUKBA2  = "inv-ukba2"  // a second UKBA investigator
	invSOCA   = "inv-soca"   // investigator, SOCA
	invFrench = "inv-french" // investigator, French police
	auditor   = "auditor"
	analyst   = "analyst"
	admin     = "admin"
	dpoUKBA   = "dpo-ukba" // data protection officer, UK Border Agency
	dpoSOCA   = "dpo-soca" // data protection officer, SOCA
	anonymous = ""         // no token
)

const (
	agencyUKBA   = "UKBA"
	agencySOCA   = "SOCA"
	agencyFrench = "PAF"
)

// tokenOf is each caller's bearer token.
var tokenOf = map[string]string{
	invUKBA:   "tok-inv-ukba-7f3a9c2e5b1d4086",
	invUKBA2:  "tok-inv-ukba2-0c1d2e3f4a5b6c7d",
	invSOCA:   "tok-inv-soca-9e8d7c6b5a4f3e2d",
	invFrench: "tok-inv-french-1a2b3c4d5e6f7a8b",
	auditor:   "tok-auditor-5f6e7d8c9b0a1f2e",
	analyst:   "tok-analyst-3c4d5e6f7a8b9c0d",
	admin:     "tok-admin-8b9c0d1e2f3a4b5c",
	dpoUKBA:   "tok-dpo-ukba-6a7b8c9d0e1f2a3b",
	dpoSOCA:   "tok-dpo-soca-4c5d6e7f8a9b0c1d",
}

func tokensFile() string {
	return fmt.Sprintf(`# token,subject,role,agency
%s,officer.alice,investigator,%s
%s,officer.ahmed,investigator,%s
%s,officer.sam,investigator,%s
%s,officier.camille,investigator,%s
%s,auditor.bea,auditor,HMIC
%s,analyst.dan,analyst,HO
%s,admin.olu,admin,HO
%s,dpo.priya,dpo,UKBA
%s,dpo.sean,dpo,SOCA
`, tokenOf[invUKBA], agencyUKBA, tokenOf[invUKBA2], agencyUKBA, tokenOf[invSOCA], agencySOCA,
		tokenOf[invFrench], agencyFrench, tokenOf[auditor], tokenOf[analyst], tokenOf[admin], tokenOf[dpoUKBA], tokenOf[dpoSOCA])
}

var (
	specOnce sync.Once
	spec     *apitest.Contract
	specErr  error
)

// contract is http/openapi.yaml, loaded once: every request the tests send
// through do and every answer is checked against it (TestMain reports the
// count).
func contract(t testing.TB) *apitest.Contract {
	specOnce.Do(func() { spec, specErr = apitest.Load(context.Background()) })
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

// server is a casebookd started in-process on a loopback port with a real
// SQLite store in a temporary directory.
type server struct {
	t       testing.TB
	m       *main.Main
	url     string
	dataDir string
	client  *http.Client
	logs    *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs casebookd; configure adjusts its configuration.
func startServer(t testing.TB, configure ...func(*main.Config)) *server {
	t.Helper()
	dir := t.TempDir()
	return startServerIn(t, dir, configure...)
}

func startServerIn(t testing.TB, dir string, configure ...func(*main.Config)) *server {
	t.Helper()
	tokens := filepath.Join(dir, "tokens.csv")
	if _, err := os.Stat(tokens); err != nil {
		if err := os.WriteFile(tokens, []byte(tokensFile()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := main.NewMain()
	logs := &syncBuffer{}
	m.LogOutput = logs
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--tokens", tokens, "--log-level", "debug"},
		func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	m.Config.ShutdownTimeout = 5 * time.Second
	for _, f := range configure {
		f(&m.Config)
	}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, m: m, url: m.URL(), dataDir: filepath.Join(dir, "data"), logs: logs,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(func() {
		// A connection the client dialled but never used is "new" to the
		// server, and Shutdown waits up to 5s for such a one to send a
		// request: close the client's spare connections first.
		s.client.CloseIdleConnections()
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", tail(logs.String(), 8000))
		}
	})
	return s
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// response is an answer, already checked against the OpenAPI document.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// problem decodes a problem document and checks its invariants.
func (r *response) problem(t testing.TB) problemDoc {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p problemDoc
	r.decode(t, &p)
	if p.Status != r.Status {
		t.Errorf("problem status %d, HTTP status %d", p.Status, r.Status)
	}
	if p.RequestID == "" || p.RequestID != r.Header.Get("X-Request-ID") {
		t.Errorf("problem request_id %q, X-Request-ID %q", p.RequestID, r.Header.Get("X-Request-ID"))
	}
	return p
}

type problemDoc struct {
	Type           string  `json:"type"`
	Title          string  `json:"title"`
	Status         int     `json:"status"`
	Detail         string  `json:"detail"`
	Instance       string  `json:"instance"`
	RequestID      string  `json:"request_id"`
	Field          string  `json:"field"`
	Code           string  `json:"code"`
	CurrentVersion *uint64 `json:"current_version"`
}

// req describes one request.
type req struct {
	method  string
	path    string
	as      string // caller (key of tokenOf), or anonymous
	body    any    // marshalled as JSON unless a string or []byte (sent as is)
	headers map[string]string
}

// do sends a request and validates the answer against the OpenAPI document.
func (s *server) do(t testing.TB, r req) *response {
	t.Helper()
	var body io.Reader
	var sent []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	case []byte:
		sent = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		sent = j
	}
	if r.body != nil {
		body = bytes.NewReader(sent)
	}
	hr, err := http.NewRequestWithContext(t.Context(), r.method, s.url+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.as != anonymous {
		tok, ok := tokenOf[r.as]
		if !ok {
			tok = r.as // a literal (bad) token
		}
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range r.headers {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := s.client.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", r.method, r.path, err)
	}
	out := &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s %s: %d %s", r.method, r.path, resp.StatusCode, b)
	}
	checkContract(t, hr, sent, out)
	return out
}

// checkContract validates a request and its answer against openapi.yaml.
func checkContract(t testing.TB, hr *http.Request, sent []byte, r *response) {
	t.Helper()
	c := contract(t)
	err := c.Check(t.Context(), apitest.Exchange{Request: hr, RequestBody: sent, Status: r.Status, Header: r.Header, Body: r.Body})
	if errors.Is(err, apitest.ErrNoOperation) && (r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed) {
		// Unknown routes and methods answer a problem document.
		err = c.CheckProblem(r.Body)
	}
	if err != nil {
		t.Errorf("%v\nbody: %s", err, tail(string(r.Body), 2000))
	}
}

// mustStatus fails unless the answer has the status.
func mustStatus(t testing.TB, r *response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
}

// caseView is the part of a case the tests look at.
type caseView struct {
	ID         string   `json:"id"`
	Reference  string   `json:"reference"`
	Title      string   `json:"title"`
	LeadAgency string   `json:"lead_agency"`
	Agencies   []string `json:"agencies"`
	Status     string   `json:"status"`
	Version    uint64   `json:"version"`
	Position   uint64   `json:"position"`
	Counts     struct {
		Arrests             int `json:"arrests"`
		Suspects            int `json:"suspects"`
		IntelligenceReports int `json:"intelligence_reports"`
	} `json:"counts"`
}

type recorded struct {
	ID       string `json:"id"`
	CaseID   string `json:"case_id"`
	Version  uint64 `json:"version"`
	Position uint64 `json:"position"`
}

// openCase opens a case as the caller and returns it.
func (s *server) openCase(t testing.TB, as, reference string) caseView {
	t.Helper()
	r := s.do(t, req{method: "POST", path: "/v1/cases", as: as, body: map[string]any{
		"reference": reference, "title": "Operation " + reference, "crime_types": []string{"people_smuggling"},
		"location": "Calais",
	}})
	mustStatus(t, r, http.StatusCreated)
	var c caseView
	r.decode(t, &c)
	if got := r.Header.Get("Location"); got != "/v1/cases/"+c.ID {
		t.Errorf("Location %q, want /v1/cases/%s", got, c.ID)
	}
	return c
}

// intelligence is a valid IntelligenceLogged body.
func intelligence(summary string) map[string]any {
	return map[string]any{"type": "IntelligenceLogged", "data": map[string]any{"summary": summary, "grading": "2B1"}}
}

// record posts an event and requires 201.
func (s *server) record(t testing.TB, as, caseID string, body any) recorded {
	t.Helper()
	r := s.do(t, req{method: "POST", path: "/v1/cases/" + caseID + "/events", as: as, body: body})
	mustStatus(t, r, http.StatusCreated)
	var rec recorded
	r.decode(t, &rec)
	return rec
}
