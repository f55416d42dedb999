package casehttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	"github.com/casebook/casebook/projections"
)

// reportsStack serves the report routes over a real SQLite store and a
// real projection engine, behind the real token check.
type reportsStack struct {
	t      *testing.T
	srv    *httptest.Server
	store  *sqlitestore.Store
	engine *projections.Engine
	cases  map[uuid.UUID]uint64 // next version
	hashes map[uuid.UUID]string
}

var reportTokens = map[string]string{
	domain.RoleInvestigator: "tok-reports-investigator-0001",
	domain.RoleAnalyst:      "tok-reports-analyst-000000002",
	domain.RoleAuditor:      "tok-reports-auditor-000000003",
	domain.RoleAdmin:        "tok-reports-admin-00000000004",
}

func newReportsStack(t *testing.T, wait time.Duration) *reportsStack {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "events.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	engine, err := projections.Open(context.Background(), dir, store, projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	var lines []string
	for role, tok := range reportTokens {
		lines = append(lines, fmt.Sprintf("%s,%s-1,%s,UKBA", tok, role, role))
	}
	set, err := ParseTokens(strings.NewReader(strings.Join(lines, "\n")), nil)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := core.New(core.Config{Store: store, ReadModels: engine, ReadModelWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Logger: slog.New(slog.DiscardHandler), Core: cb, Auth: NewAuthenticator(set)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &reportsStack{t: t, srv: srv, store: store, engine: engine, cases: map[uuid.UUID]uint64{}, hashes: map[uuid.UUID]string{}}
}

// record appends one event to a case as the case service would, and
// returns its global position.
func (s *reportsStack) record(caseID uuid.UUID, ev domain.Event, occurred time.Time) eventstore.Position {
	s.t.Helper()
	version, exists := s.cases[caseID]
	expected := eventstore.NoStream
	if exists {
		expected = eventstore.Exact(version - 1)
	}
	body, err := domain.EncodeEventData(ev)
	if err != nil {
		s.t.Fatal(err)
	}
	id := uuid.New()
	se, m, err := domain.Seal(id, domain.StreamName(caseID), version, ev.EventType(), body, domain.Metadata{
		SchemaVersion: domain.SchemaVersion(ev.EventType()), OccurredAt: occurred, RecordedAt: time.Now().UTC(),
		Actor:         domain.Actor{Subject: "officer-1", Role: domain.RoleInvestigator, Agency: "UKBA"},
		CorrelationID: uuid.New(), CausationID: id, PrevHash: s.hashes[caseID],
	})
	if err != nil {
		s.t.Fatal(err)
	}
	res, err := s.store.Append(context.Background(), domain.StreamName(caseID), expected,
		eventstore.EventData{ID: id, Type: ev.EventType(), Data: se.Data, Metadata: se.Metadata})
	if err != nil {
		s.t.Fatal(err)
	}
	s.cases[caseID], s.hashes[caseID] = version+1, m.Hash
	return res.Position
}

func (s *reportsStack) do(method, path, role string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if tok, ok := reportTokens[role]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestReportRoutesRoles(t *testing.T) {
	s := newReportsStack(t, time.Second)
	paths := []string{"/v1/reports/arrests", "/v1/reports/gangs-dismantled", "/v1/reports/seizures",
		"/v1/reports/detections", "/v1/reports/summary"}
	for _, p := range paths {
		for role, want := range map[string]int{
			domain.RoleInvestigator: 403, domain.RoleAnalyst: 200, domain.RoleAuditor: 200, domain.RoleAdmin: 200, "": 401,
		} {
			resp, body := s.do("GET", p, role)
			if resp.StatusCode != want {
				t.Errorf("GET %s as %q: %d, want %d: %s", p, role, resp.StatusCode, want, body)
			}
		}
	}
	for role, want := range map[string]int{domain.RoleAnalyst: 403, domain.RoleAuditor: 403, domain.RoleAdmin: 200} {
		if resp, body := s.do("GET", "/v1/projections", role); resp.StatusCode != want {
			t.Errorf("GET /v1/projections as %s: %d, want %d: %s", role, resp.StatusCode, want, body)
		}
	}
	for role, want := range map[string]int{domain.RoleAnalyst: 403, domain.RoleAuditor: 403, domain.RoleAdmin: 202} {
		if resp, body := s.do("POST", "/v1/projections/arrests/rebuild", role); resp.StatusCode != want {
			t.Errorf("POST rebuild as %s: %d, want %d: %s", role, resp.StatusCode, want, body)
		}
	}
	if resp, body := s.do("POST", "/v1/projections/no_such/rebuild", domain.RoleAdmin); resp.StatusCode != 404 ||
		!strings.Contains(string(body), "/problems/not-found") || !strings.Contains(string(body), "gangs_dismantled") {
		t.Errorf("rebuild of an unknown projection: %d %s, want a 404 problem naming the projections", resp.StatusCode, body)
	}
	// The report routes' spelling names the projection too.
	if resp, body := s.do("POST", "/v1/projections/gangs-dismantled/rebuild", domain.RoleAdmin); resp.StatusCode != 202 ||
		!strings.Contains(string(body), `"name":"gangs_dismantled"`) {
		t.Errorf("rebuild of gangs-dismantled: %d %s, want 202 for gangs_dismantled", resp.StatusCode, body)
	}
}

func TestReportRoutesAnswer(t *testing.T) {
	s := newReportsStack(t, 200*time.Millisecond)
	caseID := uuid.New()
	s.record(caseID, domain.CaseOpened{Reference: "R-1", Title: "T", LeadAgency: "UKBA",
		CrimeTypes: []string{domain.CrimeCash}, Location: "Dover"}, time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC))
	s.record(caseID, domain.SeizureRecorded{Commodity: domain.CommodityCash, Unit: domain.UnitGBP, Location: "Dover",
		Quantity: domain.QuantityFromMicros(100_000)}, time.Date(2011, 2, 1, 0, 0, 0, 0, time.UTC))
	pos := s.record(caseID, domain.SeizureRecorded{Commodity: domain.CommodityCash, Unit: domain.UnitGBP, Location: "Dover",
		Quantity: domain.QuantityFromMicros(200_000)}, time.Date(2011, 2, 2, 0, 0, 0, 0, time.UTC))

	// Read-your-writes: with min_position, the write is in the answer.
	resp, body := s.do("GET", "/v1/reports/seizures?from=2011-01-01&to=2011-06-06T00:00:00Z&group_by=location&min_position="+
		strconv.FormatUint(uint64(pos), 10), domain.RoleAnalyst)
	if resp.StatusCode != 200 {
		t.Fatalf("seizures: %d %s", resp.StatusCode, body)
	}
	var rep struct {
		Position uint64 `json:"position"`
		Totals   []struct {
			Commodity string          `json:"commodity"`
			Quantity  json.RawMessage `json:"quantity"`
			Count     int             `json:"count"`
		} `json:"totals"`
		Groups []struct {
			Key string `json:"key"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Totals) != 1 || string(rep.Totals[0].Quantity) != "0.3" || rep.Totals[0].Count != 2 {
		t.Errorf("totals %s, want cash 0.3 (exact) from 2 seizures", body)
	}
	if len(rep.Groups) != 1 || rep.Groups[0].Key != "Dover" {
		t.Errorf("groups %s, want Dover", body)
	}
	if h := resp.Header.Get(HeaderPosition); h != strconv.FormatUint(rep.Position, 10) || rep.Position < uint64(pos) {
		t.Errorf("Casebook-Position %q, body position %d, write at %d", h, rep.Position, pos)
	}

	// A position the log has not reached: 503 with Retry-After, past the bound.
	start := time.Now()
	resp, body = s.do("GET", "/v1/reports/summary?min_position=999999", domain.RoleAuditor)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "/problems/unavailable") {
		t.Errorf("summary beyond the head: %d %v %s, want 503 problem with Retry-After", resp.StatusCode, resp.Header, body)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Errorf("the bounded wait took %s, want about 200ms", d)
	}

	// Bad parameters: 400 problems naming the parameter.
	for _, c := range []struct{ query, field string }{
		{"from=yesterday", "from"},
		{"to=2011-13-01", "to"},
		{"from=2011-02-01&to=2011-01-01", "to"},
		{"group_by=planet", "group_by"},
		{"explain=perhaps", "explain"},
		{"as_of=noon", "as_of"},
		{"min_position=-1", "min_position"},
		{"explain=true&limit=abc", "limit"},
		{"explain=true&limit=0", "limit"},
		{"explain=true&cursor=bogus", "cursor"},
	} {
		resp, body := s.do("GET", "/v1/reports/arrests?"+c.query, domain.RoleAnalyst)
		var p Problem
		_ = json.Unmarshal(body, &p)
		if resp.StatusCode != 400 || p.Field != c.field || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("?%s: %d %s, want a 400 problem on %s", c.query, resp.StatusCode, body, c.field)
		}
	}
	if resp, body := s.do("GET", "/v1/reports/summary?group_by=month", domain.RoleAnalyst); resp.StatusCode != 400 {
		t.Errorf("summary takes no group_by: %d %s", resp.StatusCode, body)
	}

	// A page of one event id, then the next: the figures stay whole.
	var ids []string
	cursor := ""
	for page := 0; page < 3; page++ {
		resp, body = s.do("GET", "/v1/reports/seizures?explain=true&limit=1&cursor="+cursor, domain.RoleAuditor)
		var rep struct {
			Totals []struct {
				Count    int      `json:"count"`
				EventIDs []string `json:"event_ids"`
			} `json:"totals"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &rep); err != nil || resp.StatusCode != 200 || len(rep.Totals) != 1 || rep.Totals[0].Count != 2 {
			t.Fatalf("explained page %d: %d %s", page, resp.StatusCode, body)
		}
		ids = append(ids, rep.Totals[0].EventIDs...)
		if cursor = rep.NextCursor; cursor == "" {
			break
		}
	}
	if len(ids) != 2 || ids[0] == ids[1] || cursor != "" {
		t.Errorf("pages of one event id: %v (last cursor %q), want the two seizures, one a page", ids, cursor)
	}

	// as_of before the second seizure was recorded.
	resp, body = s.do("GET", "/v1/reports/seizures?as_of=2000-01-01T00:00:00Z&explain=true", domain.RoleAuditor)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"totals":[]`) {
		t.Errorf("as_of 2000: %d %s, want no seizures", resp.StatusCode, body)
	}

	// The projections' state.
	resp, body = s.do("GET", "/v1/projections", domain.RoleAdmin)
	var st []projections.Status
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != 200 || len(st) != len(projections.Names()) {
		t.Fatalf("projections: %d %s", resp.StatusCode, body)
	}
	for _, p := range st {
		if p.State != projections.StateLive || p.Position != uint64(pos) || p.Head != uint64(pos) || p.LagEvents != 0 {
			t.Errorf("projection %+v, want live at the head %d", p, pos)
		}
	}
}
