package main_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	main "github.com/casebook/casebook/cmd/casebookd"
)

const badToken = "tok-that-nobody-issued-000000"

// suspectOfMatrix is the person the authorization matrix erases.
const suspectOfMatrix = "5e5e5e5e-0000-4000-8000-000000000001"

// matrixRow is one route of the authorization matrix: the status expected
// for each caller, in the order invUKBA, invSOCA, auditor, analyst, admin,
// anonymous, bad token, then dpoUKBA, dpoSOCA. A row that stops after the
// bad token expects the data protection officers to be refused like the
// analyst on /v1 routes (they see nothing but the people of their
// agency's cases) and served like anyone on the public ones.
type matrixRow struct {
	op     string // METHOD /template, as documented
	req    func(as string) req
	want   []int
	stream bool // a stream: only the status is read
}

// TestAuthorizationMatrix calls every route as every role and checks the
// status: the authorization matrix as a table. It also checks that the
// table covers every route the OpenAPI document describes.
func TestAuthorizationMatrix(t *testing.T) {
	s := startServer(t)
	ukba := s.openCase(t, invUKBA, "UKBA-AUTH-1")
	logged := s.record(t, invUKBA, ukba.ID, intelligence("Lorry seen at Coquelles"))
	s.record(t, invUKBA, ukba.ID, suspect(suspectOfMatrix, "Matrix Person"))

	callers := []string{invUKBA, invSOCA, auditor, analyst, admin, anonymous, badToken, dpoUKBA, dpoSOCA}
	type row = matrixRow
	const (
		ok  = http.StatusOK
		cr  = http.StatusCreated
		nf  = http.StatusNotFound
		fb  = http.StatusForbidden
		una = http.StatusUnauthorized
	)
	n := 0
	rows := []row{
		{"GET /healthz", func(as string) req { return req{method: "GET", path: "/healthz", as: as} },
			[]int{ok, ok, ok, ok, ok, ok, ok}, false},
		{"GET /readyz", func(as string) req { return req{method: "GET", path: "/readyz", as: as} },
			[]int{ok, ok, ok, ok, ok, ok, ok}, false},
		{"GET /metrics", func(as string) req { return req{method: "GET", path: "/metrics", as: as} },
			[]int{ok, ok, ok, ok, ok, ok, ok}, false},
		{"GET /openapi.json", func(as string) req { return req{method: "GET", path: "/openapi.json", as: as} },
			[]int{ok, ok, ok, ok, ok, ok, ok}, false},
		{"GET /openapi.yaml", func(as string) req { return req{method: "GET", path: "/openapi.yaml", as: as} },
			[]int{ok, ok, ok, ok, ok, ok, ok}, false},
		{"GET /problems/{slug}", func(as string) req { return req{method: "GET", path: "/problems/version-conflict", as: as} },
			[]int{ok, ok, ok, ok, ok, ok, ok}, false},
		{"POST /v1/cases", func(as string) req {
			n++
			return req{method: "POST", path: "/v1/cases", as: as, body: map[string]any{
				"reference": fmt.Sprintf("AUTH-%d", n), "title": "t", "crime_types": []string{"cash"}, "location": "Dover"}}
		}, []int{cr, cr, fb, fb, fb, una, una}, false},
		{"GET /v1/cases", func(as string) req { return req{method: "GET", path: "/v1/cases", as: as} },
			[]int{ok, ok, ok, fb, fb, una, una}, false},
		{"GET /v1/cases/{id}", func(as string) req { return req{method: "GET", path: "/v1/cases/" + ukba.ID, as: as} },
			[]int{ok, nf, ok, fb, fb, una, una}, false},
		{"POST /v1/cases/{id}/events", func(as string) req {
			return req{method: "POST", path: "/v1/cases/" + ukba.ID + "/events", as: as, body: intelligence("x")}
		}, []int{cr, nf, fb, fb, fb, una, una}, false},
		{"GET /v1/cases/{id}/events", func(as string) req { return req{method: "GET", path: "/v1/cases/" + ukba.ID + "/events", as: as} },
			[]int{ok, nf, ok, fb, fb, una, una}, false},
		{"GET /v1/cases/{id}/verify", func(as string) req { return req{method: "GET", path: "/v1/cases/" + ukba.ID + "/verify", as: as} },
			[]int{ok, nf, ok, fb, fb, una, una}, false},
		{"GET /v1/events", func(as string) req { return req{method: "GET", path: "/v1/events", as: as} },
			[]int{fb, fb, ok, fb, fb, una, una}, false},
		{"GET /v1/events/{id}", func(as string) req { return req{method: "GET", path: "/v1/events/" + logged.ID, as: as} },
			[]int{fb, fb, ok, fb, fb, una, una}, false},
		{"GET /v1/events/live", func(as string) req { return req{method: "GET", path: "/v1/events/live?from_position=0", as: as} },
			[]int{fb, fb, ok, fb, fb, una, una}, true},
		{"GET /v1/access-log", func(as string) req { return req{method: "GET", path: "/v1/access-log?case=" + ukba.ID, as: as} },
			[]int{fb, fb, ok, fb, fb, una, una}, false},
		{"GET /v1/cases/{id}/people", func(as string) req { return req{method: "GET", path: "/v1/cases/" + ukba.ID + "/people", as: as} },
			[]int{fb, fb, fb, fb, fb, una, una, ok, nf}, false},
		{"POST /v1/cases/{id}/people/{person_id}/erasure", func(as string) req {
			return req{method: "POST", path: "/v1/cases/" + ukba.ID + "/people/" + suspectOfMatrix + "/erasure", as: as, body: map[string]any{"reason": "retention period over"}}
		}, []int{fb, fb, fb, fb, fb, una, una, cr, nf}, false},
		// The due list holds only the dpo's agency's cases: no case to hide.
		{"GET /v1/reviews/due", func(as string) req { return req{method: "GET", path: "/v1/reviews/due", as: as} },
			[]int{fb, fb, fb, fb, fb, una, una, ok, ok}, false},
		{"GET /v1/places", func(as string) req { return req{method: "GET", path: "/v1/places", as: as} },
			[]int{ok, ok, ok, ok, ok, una, una, ok, ok}, false},
	}
	rows = append(rows, reportRows(ukba.ID)...)

	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.op] = true
		for i, as := range callers {
			name := as
			if name == anonymous {
				name = "no-token"
			}
			t.Run(strings.ReplaceAll(r.op, "/", "_")+"/"+name, func(t *testing.T) {
				var got *response
				if r.stream {
					got = s.streamStatus(t, r.req(as))
				} else {
					got = s.do(t, r.req(as))
				}
				want := fb
				switch {
				case i < len(r.want):
					want = r.want[i]
				case r.want[5] == ok: // a public route
					want = ok
				}
				if got.Status != want {
					t.Fatalf("%s as %s: status %d, want %d; body %s", r.op, name, got.Status, want, got.Body)
				}
				if got.Status >= 400 {
					p := got.problem(t)
					wantType := map[int]string{nf: "/problems/not-found", fb: "/problems/forbidden", una: "/problems/unauthenticated"}[got.Status]
					if wantType != "" && p.Type != wantType {
						t.Errorf("problem type %q, want %q", p.Type, wantType)
					}
					if got.Status == una && got.Header.Get("WWW-Authenticate") == "" {
						t.Error("401 without WWW-Authenticate")
					}
				}
			})
		}
	}
	for _, op := range contract(t).Operations() {
		if !covered[op] {
			t.Errorf("the authorization matrix has no row for %s", op)
		}
	}
}

// streamStatus opens a streaming request, returns its status and headers
// (and, for errors, the body), and closes it.
func (s *server) streamStatus(t testing.TB, r req) *response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, r.method, s.url+r.path, nil)
	if r.as != anonymous {
		tok, ok := tokenOf[r.as]
		if !ok {
			tok = r.as
		}
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	resp, err := s.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := &response{Status: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		out.Body, _ = io.ReadAll(resp.Body)
	}
	checkContract(t, hr, nil, out)
	return out
}

func TestNeedToKnowAcrossAgencies(t *testing.T) {
	s := startServer(t)
	ukba := s.openCase(t, invUKBA, "UKBA-NTK-1")
	soca := s.openCase(t, invSOCA, "SOCA-NTK-1")

	// Another agency's case is not found, for every case route.
	for _, path := range []string{"", "/events", "/verify"} {
		r := s.do(t, req{method: "GET", path: "/v1/cases/" + ukba.ID + path, as: invSOCA})
		mustStatus(t, r, http.StatusNotFound)
	}
	r := s.do(t, req{method: "POST", path: "/v1/cases/" + ukba.ID + "/events", as: invFrench, body: intelligence("x")})
	mustStatus(t, r, http.StatusNotFound)

	// Nor can an investigator open a case for another agency.
	r = s.do(t, req{method: "POST", path: "/v1/cases", as: invSOCA, body: map[string]any{
		"reference": "X", "title": "t", "crime_types": []string{"cash"}, "location": "Dover", "lead_agency": agencyUKBA}})
	mustStatus(t, r, http.StatusForbidden)
	if p := r.problem(t); p.Field != "lead_agency" {
		t.Errorf("field %q, want lead_agency", p.Field)
	}

	// A colleague of the same agency sees the case.
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + ukba.ID, as: invUKBA2}), http.StatusOK)

	// Joint working: once the French police join, their investigators see
	// the case and log events on it; SOCA still does not.
	s.record(t, invUKBA, ukba.ID, map[string]any{"type": "AgencyJoined", "data": map[string]any{"agency": agencyFrench}})
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + ukba.ID, as: invFrench})
	mustStatus(t, r, http.StatusOK)
	var c caseView
	r.decode(t, &c)
	if !slices.Equal(c.Agencies, []string{agencyUKBA, agencyFrench}) {
		t.Errorf("agencies %v", c.Agencies)
	}
	s.record(t, invFrench, ukba.ID, intelligence("Vehicle registered in Lille"))
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + ukba.ID, as: invSOCA}), http.StatusNotFound)

	// Lists: each sees only their cases; auditors see all.
	visible := func(as string) []string {
		r := s.do(t, req{method: "GET", path: "/v1/cases?limit=1000&min_position=" + strconv.FormatUint(c.Position+2, 10), as: as})
		mustStatus(t, r, http.StatusOK)
		var page struct {
			Cases []caseView `json:"cases"`
		}
		r.decode(t, &page)
		var ids []string
		for _, c := range page.Cases {
			ids = append(ids, c.ID)
		}
		sort.Strings(ids)
		return ids
	}
	both := []string{ukba.ID, soca.ID}
	sort.Strings(both)
	for as, want := range map[string][]string{
		invUKBA: {ukba.ID}, invFrench: {ukba.ID}, invSOCA: {soca.ID}, auditor: both,
	} {
		if got := visible(as); !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", as, got, want)
		}
	}
}

func TestConcurrentWriters(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-CONC-1")
	const writers = 32

	// Without If-Match every writer succeeds, each at its own version.
	var wg sync.WaitGroup
	versions := make([]uint64, writers)
	statuses := make([]int, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			as := invUKBA
			if i%2 == 1 {
				as = invUKBA2
			}
			r := s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/events", as: as, body: intelligence(fmt.Sprintf("report %d", i))})
			statuses[i] = r.Status
			var rec recorded
			if r.Status == http.StatusCreated {
				r.decode(t, &rec)
				versions[i] = rec.Version
			}
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusCreated {
			t.Fatalf("writer %d: status %d", i, st)
		}
	}
	slices.Sort(versions)
	for i, v := range versions {
		if v != uint64(i+1) {
			t.Fatalf("versions %v, want 1..%d each once", versions, writers)
		}
	}

	// With the same If-Match exactly one wins; the others get 409 with the
	// current version, and nothing of theirs is written.
	var wins, conflicts int
	var mu sync.Mutex
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/events", as: invUKBA,
				body: intelligence(fmt.Sprintf("conditional %d", i)), headers: map[string]string{"If-Match": `"32"`}})
			mu.Lock()
			defer mu.Unlock()
			switch r.Status {
			case http.StatusCreated:
				wins++
			case http.StatusConflict:
				conflicts++
				p := r.problem(t)
				if p.Type != "/problems/version-conflict" || p.CurrentVersion == nil || *p.CurrentVersion != 33 {
					t.Errorf("conflict problem %+v", p)
				}
			default:
				t.Errorf("status %d: %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != writers-1 {
		t.Fatalf("%d wins and %d conflicts, want 1 and %d", wins, conflicts, writers-1)
	}
	r := s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
	mustStatus(t, r, http.StatusOK)
	if got := r.Header.Get("ETag"); got != `"33"` {
		t.Errorf("ETag %s, want \"33\"", got)
	}
	var state caseView
	r.decode(t, &state)
	if state.Counts.IntelligenceReports != 33 {
		t.Errorf("%d intelligence reports, want 33", state.Counts.IntelligenceReports)
	}
}

func TestIdempotentRetries(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-IDEM-1")
	id := uuid.NewString()
	body := map[string]any{"id": id, "type": "IntelligenceLogged", "occurred_at": "2011-03-01T10:00:00Z",
		"data": map[string]any{"summary": "Tip-off about a van at Dunkirk", "grading": "1A1"}}
	path := "/v1/cases/" + c.ID + "/events"

	first := s.do(t, req{method: "POST", path: path, as: invUKBA, body: body})
	mustStatus(t, first, http.StatusCreated)
	var a recorded
	first.decode(t, &a)
	// The same request again (a client retrying after a timeout), also
	// with an If-Match that is stale by now: the original answer.
	for _, h := range []map[string]string{nil, {"If-Match": `"0"`}} {
		again := s.do(t, req{method: "POST", path: path, as: invUKBA, body: body, headers: h})
		mustStatus(t, again, http.StatusOK)
		var b recorded
		again.decode(t, &b)
		if a != b {
			t.Errorf("retry answered %+v, first %+v", b, a)
		}
	}
	// Stored once.
	r := s.do(t, req{method: "GET", path: path, as: invUKBA})
	mustStatus(t, r, http.StatusOK)
	var page struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	r.decode(t, &page)
	count := 0
	for _, e := range page.Events {
		if e.ID == id {
			count++
		}
	}
	if count != 1 || len(page.Events) != 2 {
		t.Errorf("event stored %d times; %d events", count, len(page.Events))
	}
	// The same id with other content is a conflict, and writes nothing.
	body["data"] = map[string]any{"summary": "Something else", "grading": "1A1"}
	r = s.do(t, req{method: "POST", path: path, as: invUKBA, body: body})
	mustStatus(t, r, http.StatusConflict)
	if p := r.problem(t); p.Type != "/problems/idempotency-conflict" {
		t.Errorf("type %q", p.Type)
	}
}

func TestOpenCaseIsIdempotentWithAnID(t *testing.T) {
	s := startServer(t)
	id := uuid.NewString()
	body := map[string]any{"id": id, "reference": "UKBA-IDEM-OPEN", "title": "Retry me", "crime_types": []string{"cash"},
		"location": "Dover", "occurred_at": "2011-01-10T08:00:00Z"}
	first := s.do(t, req{method: "POST", path: "/v1/cases", as: invUKBA, body: body})
	mustStatus(t, first, http.StatusCreated)
	again := s.do(t, req{method: "POST", path: "/v1/cases", as: invUKBA, body: body})
	mustStatus(t, again, http.StatusOK)
	var a, b caseView
	first.decode(t, &a)
	again.decode(t, &b)
	if a.ID != id || b.ID != id || b.Version != 0 || again.Header.Get("Location") != "/v1/cases/"+id {
		t.Errorf("first %+v, retry %+v", a, b)
	}
	body["title"] = "Something else"
	r := s.do(t, req{method: "POST", path: "/v1/cases", as: invUKBA, body: body})
	mustStatus(t, r, http.StatusConflict)
	// Validation of the case's data is the domain's, naming the field.
	r = s.do(t, req{method: "POST", path: "/v1/cases", as: invUKBA, body: map[string]any{
		"reference": "X", "title": "t", "crime_types": []string{"tea"}, "location": "Dover"}})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if p := r.problem(t); p.Field == "" || !strings.HasPrefix(p.Field, "crime_types") {
		t.Errorf("problem %+v", p)
	}
	r = s.do(t, req{method: "POST", path: "/v1/cases", as: invUKBA, body: map[string]any{
		"reference": "X", "title": "t", "crime_types": []string{"cash"}, "location": "Dover", "colour": "red"}})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if p := r.problem(t); p.Field != "colour" {
		t.Errorf("problem %+v", p)
	}
}

func TestBadInput(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-BAD-1")
	events := "/v1/cases/" + c.ID + "/events"
	big := `{"type":"IntelligenceLogged","data":{"summary":"` + strings.Repeat("x", 1<<20) + `","grading":"1A1"}}`
	for _, tc := range []struct {
		name    string
		r       req
		status  int
		typ     string
		field   string
		code    string
		allowed string
	}{
		{"malformed JSON", req{method: "POST", path: events, body: `{"type": "IntelligenceLogged", "data": {`}, 400, "/problems/malformed-json", "", "", ""},
		{"not JSON", req{method: "POST", path: events, body: `type=IntelligenceLogged`}, 400, "/problems/malformed-json", "", "", ""},
		{"empty body", req{method: "POST", path: events, body: ``}, 400, "/problems/malformed-json", "", "", ""},
		{"array body", req{method: "POST", path: events, body: `[1,2]`}, 400, "/problems/malformed-json", "", "", ""},
		{"two documents", req{method: "POST", path: events, body: `{"type":"CaseClosed","data":{"outcome":"x"}} {}`}, 400, "/problems/malformed-json", "", "", ""},
		{"unknown field", req{method: "POST", path: events, body: `{"type":"CaseClosed","data":{"outcome":"x"},"colour":"red"}`}, 422, "/problems/validation", "colour", "", ""},
		{"unknown data field", req{method: "POST", path: events, body: `{"type":"CaseClosed","data":{"outcome":"x","colour":"red"}}`}, 422, "/problems/validation", "colour", "validation", ""},
		{"wrong type", req{method: "POST", path: events, body: `{"type":5,"data":{}}`}, 422, "/problems/validation", "type", "", ""},
		{"wrong data type", req{method: "POST", path: events, body: `{"type":"StowawaysDetected","data":{"location":"Coquelles","method":"co2_probe","people":"three"}}`}, 422, "/problems/validation", "people", "validation", ""},
		{"data not an object", req{method: "POST", path: events, body: `{"type":"CaseClosed","data":"closed"}`}, 422, "/problems/validation", "data", "", ""},
		{"missing data", req{method: "POST", path: events, body: `{"type":"CaseClosed"}`}, 422, "/problems/validation", "data", "", ""},
		{"unknown type", req{method: "POST", path: events, body: `{"type":"TeaBreak","data":{}}`}, 422, "/problems/validation", "type", "unknown_event_type", ""},
		{"bad event id", req{method: "POST", path: events, body: `{"id":"not-a-uuid","type":"CaseClosed","data":{"outcome":"x"}}`}, 422, "/problems/validation", "id", "", ""},
		{"bad occurred_at", req{method: "POST", path: events, body: `{"type":"CaseClosed","occurred_at":"yesterday","data":{"outcome":"x"}}`}, 422, "/problems/validation", "occurred_at", "", ""},
		{"future occurred_at", req{method: "POST", path: events, body: `{"type":"CaseClosed","occurred_at":"2999-01-01T00:00:00Z","data":{"outcome":"x"}}`}, 422, "/problems/validation", "occurred_at", "occurred_in_future", ""},
		{"rule broken", req{method: "POST", path: events, body: `{"type":"ArrestMade","data":{"person_id":"` + uuid.NewString() + `","location":"Dover","offence":"smuggling"}}`}, 422, "/problems/validation", "person_id", "suspect_not_identified", ""},
		{"oversize body", req{method: "POST", path: events, body: big}, 413, "/problems/too-large", "", "", ""},
		{"bad case uuid", req{method: "POST", path: "/v1/cases/not-a-uuid/events", body: intelligence("x")}, 400, "/problems/invalid-parameter", "id", "", ""},
		{"bad case uuid on read", req{method: "GET", path: "/v1/cases/123"}, 400, "/problems/invalid-parameter", "id", "", ""},
		{"unknown case", req{method: "GET", path: "/v1/cases/" + uuid.NewString()}, 404, "/problems/not-found", "", "", ""},
		{"unknown case write", req{method: "POST", path: "/v1/cases/" + uuid.NewString() + "/events", body: intelligence("x")}, 404, "/problems/not-found", "", "", ""},
		{"bad If-Match", req{method: "POST", path: events, body: intelligence("x"), headers: map[string]string{"If-Match": "3"}}, 400, "/problems/invalid-parameter", "If-Match", "", ""},
		{"weak If-Match", req{method: "POST", path: events, body: intelligence("x"), headers: map[string]string{"If-Match": `W/"0"`}}, 400, "/problems/invalid-parameter", "If-Match", "", ""},
		{"stale If-Match", req{method: "POST", path: events, body: intelligence("x"), headers: map[string]string{"If-Match": `"7"`}}, 409, "/problems/version-conflict", "", "", ""},
		{"form content type", req{method: "POST", path: events, body: intelligence("x"), headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "/problems/unsupported-media-type", "Content-Type", "", ""},
		{"bad limit", req{method: "GET", path: events + "?limit=lots"}, 400, "/problems/invalid-parameter", "limit", "", ""},
		{"zero limit", req{method: "GET", path: events + "?limit=0"}, 400, "/problems/invalid-parameter", "limit", "", ""},
		{"bad version", req{method: "GET", path: "/v1/cases/" + c.ID + "?version=-1"}, 400, "/problems/invalid-parameter", "version", "", ""},
		{"bad as_of", req{method: "GET", path: "/v1/cases/" + c.ID + "?as_of=last+week"}, 400, "/problems/invalid-parameter", "as_of", "", ""},
		{"unknown route", req{method: "GET", path: "/v1/nothing-here"}, 404, "/problems/not-found", "", "", ""},
		{"trailing slash", req{method: "GET", path: "/v1/cases/" + c.ID + "/"}, 404, "/problems/not-found", "", "", ""},
		{"wrong method", req{method: "DELETE", path: "/v1/cases/" + c.ID}, 405, "/problems/method-not-allowed", "", "", "GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.as = invUKBA
			r := s.do(t, tc.r)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			p := r.problem(t)
			if p.Type != tc.typ || p.Field != tc.field || (tc.code != "" && p.Code != tc.code) {
				t.Errorf("problem %+v, want type %s field %q code %q", p, tc.typ, tc.field, tc.code)
			}
			if p.Detail == "" || p.Title == "" {
				t.Errorf("problem without title or detail: %+v", p)
			}
			if tc.allowed != "" && r.Header.Get("Allow") != tc.allowed {
				t.Errorf("Allow %q, want %q", r.Header.Get("Allow"), tc.allowed)
			}
		})
	}
	// Nothing of all that was written.
	r := s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
	if r.Header.Get("ETag") != `"0"` {
		t.Errorf("ETag %s after bad input, want \"0\"", r.Header.Get("ETag"))
	}
}

func TestTimeTravel(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-TT-1")
	s.record(t, invUKBA, c.ID, intelligence("first"))
	time.Sleep(20 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	s.record(t, invUKBA, c.ID, intelligence("second"))
	s.record(t, invUKBA, c.ID, map[string]any{"type": "CaseClosed", "data": map[string]any{"outcome": "No further action"}})

	get := func(query string) (caseView, *response) {
		r := s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + query, as: auditor})
		var v caseView
		if r.Status == http.StatusOK {
			r.decode(t, &v)
		}
		return v, r
	}
	now, r := get("")
	mustStatus(t, r, http.StatusOK)
	if now.Version != 3 || now.Status != "closed" || now.Counts.IntelligenceReports != 2 {
		t.Errorf("current state %+v", now)
	}
	v1, r := get("?version=1")
	mustStatus(t, r, http.StatusOK)
	if v1.Version != 1 || v1.Status != "open" || v1.Counts.IntelligenceReports != 1 || r.Header.Get("ETag") != `"1"` {
		t.Errorf("state at version 1: %+v, ETag %s", v1, r.Header.Get("ETag"))
	}
	then, r := get("?as_of=" + between.Format(time.RFC3339Nano))
	mustStatus(t, r, http.StatusOK)
	if then.Version != 1 || then.Counts.IntelligenceReports != 1 {
		t.Errorf("state as of %s: %+v", between, then)
	}
	_, r = get("?version=99")
	mustStatus(t, r, http.StatusNotFound)
	_, r = get("?as_of=2000-01-01T00:00:00Z")
	mustStatus(t, r, http.StatusNotFound)
	_, r = get("?version=1&as_of=2000-01-01T00:00:00Z")
	mustStatus(t, r, http.StatusBadRequest)
}

func TestHistoryPagingAndAccessLog(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-HIST-1")
	for i := range 4 {
		s.record(t, invUKBA, c.ID, intelligence(fmt.Sprintf("report %d", i)))
	}
	type page struct {
		CaseID string `json:"case_id"`
		Events []struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Version  uint64 `json:"version"`
			PrevHash string `json:"prev_hash"`
			Hash     string `json:"hash"`
			Actor    struct {
				Subject string `json:"subject"`
			} `json:"actor"`
		} `json:"events"`
		Next *uint64 `json:"next_from_version"`
	}
	var versions []uint64
	prevHash := ""
	from := uint64(0)
	for {
		r := s.do(t, req{method: "GET", path: fmt.Sprintf("/v1/cases/%s/events?from_version=%d&limit=2", c.ID, from), as: invUKBA2})
		mustStatus(t, r, http.StatusOK)
		var p page
		r.decode(t, &p)
		for _, e := range p.Events {
			versions = append(versions, e.Version)
			if e.PrevHash != prevHash || e.Hash == "" || e.Actor.Subject != "officer.alice" {
				t.Errorf("event %d: prev_hash %q (want %q), hash %q, actor %q", e.Version, e.PrevHash, prevHash, e.Hash, e.Actor.Subject)
			}
			prevHash = e.Hash
		}
		if p.Next == nil {
			break
		}
		from = *p.Next
	}
	if !slices.Equal(versions, []uint64{0, 1, 2, 3, 4}) {
		t.Errorf("versions %v", versions)
	}

	// Reads by everyone are in the access log; writes are not; the case's
	// own stream holds only its facts.
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: auditor}), http.StatusOK)
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/verify", as: invUKBA}), http.StatusOK)
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invSOCA}), http.StatusNotFound) // not a read
	r := s.do(t, req{method: "GET", path: "/v1/access-log?case=" + c.ID, as: auditor})
	mustStatus(t, r, http.StatusOK)
	var log struct {
		Entries []struct {
			Subject     string  `json:"subject"`
			Role        string  `json:"role"`
			Agency      string  `json:"agency"`
			Operation   string  `json:"operation"`
			Outcome     string  `json:"outcome"`
			VersionRead *uint64 `json:"version_read"`
			CaseID      string  `json:"case_id"`
			RecordedAt  string  `json:"recorded_at"`
			Count       int     `json:"count"`
			RequestID   string  `json:"request_id"`
		} `json:"entries"`
	}
	r.decode(t, &log)
	var got []string
	for _, e := range log.Entries {
		read := "-"
		if e.VersionRead != nil {
			read = strconv.FormatUint(*e.VersionRead, 10)
		}
		got = append(got, e.Subject+" "+e.Operation+" "+e.Outcome+" "+read)
		if e.CaseID != c.ID || e.RecordedAt == "" || e.RequestID == "" || e.Agency == "" || e.Role == "" || e.Count != 1 {
			t.Errorf("entry %+v", e)
		}
	}
	// The denied attempt is on record for auditors (the caller was told
	// the case does not exist).
	want := []string{
		"officer.ahmed read_history served 1", "officer.ahmed read_history served 3", "officer.ahmed read_history served 4",
		"auditor.bea read_case served 4", "officer.alice verify_case served 4", "officer.sam read_case denied -",
	}
	if !slices.Equal(got, want) {
		t.Errorf("access log\n got %q\nwant %q", got, want)
	}
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
	if r.Header.Get("ETag") != `"4"` {
		t.Errorf("reads changed the case's version: ETag %s", r.Header.Get("ETag"))
	}
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/access-log?case=" + uuid.NewString(), as: auditor}), http.StatusNotFound)
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/access-log", as: auditor}), http.StatusBadRequest)
}

func TestGlobalLogAndLiveStream(t *testing.T) {
	s := startServer(t)
	a := s.openCase(t, invUKBA, "UKBA-LOG-1")
	b := s.openCase(t, invSOCA, "SOCA-LOG-1")
	s.record(t, invUKBA, a.ID, intelligence("one"))
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + a.ID, as: auditor}), http.StatusOK) // an access-log event in the log

	type logPage struct {
		Events []struct {
			ID       string `json:"id"`
			Stream   string `json:"stream"`
			Type     string `json:"type"`
			Position uint64 `json:"position"`
		} `json:"events"`
		Next *uint64 `json:"next_from_position"`
	}
	r := s.do(t, req{method: "GET", path: "/v1/events?limit=2", as: auditor})
	mustStatus(t, r, http.StatusOK)
	var p1 logPage
	r.decode(t, &p1)
	if len(p1.Events) != 2 || p1.Next == nil || p1.Events[0].Stream != "case-"+a.ID || p1.Events[1].Stream != "case-"+b.ID {
		t.Fatalf("first page %+v", p1)
	}
	r = s.do(t, req{method: "GET", path: fmt.Sprintf("/v1/events?from_position=%d", *p1.Next), as: auditor})
	mustStatus(t, r, http.StatusOK)
	var p2 logPage
	r.decode(t, &p2)
	if len(p2.Events) != 1 || p2.Events[0].Type != "IntelligenceLogged" || p2.Next != nil {
		t.Fatalf("second page %+v (access-log events must not appear)", p2)
	}
	r = s.do(t, req{method: "GET", path: "/v1/events?type=CaseOpened", as: auditor})
	var p3 logPage
	r.decode(t, &p3)
	if len(p3.Events) != 2 {
		t.Errorf("type filter: %+v", p3)
	}
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/events?type=TeaBreak", as: auditor}), http.StatusBadRequest)

	// Reading the global log is reading those cases' history: each case
	// whose events were served has the read in its access log. The type
	// filter's page shows case a's version 0 again, as the first page did:
	// an identical consultation within a second, merged into one entry
	// whose count is written when the second is over.
	for _, id := range []string{a.ID, b.ID} {
		want := map[string]int{a.ID: 3, b.ID: 2}[id] // pages 1, 2 and the type filter; b is not on page 2
		n := 0
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := s.do(t, req{method: "GET", path: "/v1/access-log?case=" + id, as: auditor})
			var log struct {
				Entries []struct {
					Subject   string `json:"subject"`
					Operation string `json:"operation"`
					Count     int    `json:"count"`
				} `json:"entries"`
			}
			r.decode(t, &log)
			n = 0
			for _, e := range log.Entries {
				if e.Operation == "read_log" && e.Subject == "auditor.bea" {
					n += e.Count
				}
			}
			if n >= want || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n != want {
			t.Errorf("case %s: %d global-log reads in its access log, want %d", id, n, want)
		}
	}

	// Live: history from a position, then new events as they come; then
	// a reconnection with Last-Event-ID resumes after the last one seen.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream := s.openStream(t, ctx, "/v1/events/live?from_position=0", "")
	got := stream.next(t, 3)
	if got[0].event != "CaseOpened" || got[1].event != "CaseOpened" || got[2].event != "IntelligenceLogged" {
		t.Fatalf("history %+v", got)
	}
	rec := s.record(t, invUKBA, a.ID, intelligence("two"))
	live := stream.next(t, 1)[0]
	if live.id != strconv.FormatUint(rec.Position, 10) || live.event != "IntelligenceLogged" || !strings.Contains(live.data, `"two"`) {
		t.Fatalf("live event %+v, want position %d", live, rec.Position)
	}
	stream.close()
	s.record(t, invSOCA, b.ID, intelligence("three"))
	resumed := s.openStream(t, ctx, "/v1/events/live", live.id)
	next := resumed.next(t, 1)[0]
	if next.event != "IntelligenceLogged" || !strings.Contains(next.data, `"three"`) {
		t.Fatalf("resumed with %+v", next)
	}
	resumed.close()
}

type sseEvent struct{ id, event, data string }

type sseStream struct {
	resp *http.Response
	sc   *bufio.Scanner
}

func (s *server) openStream(t *testing.T, ctx context.Context, path, lastEventID string) *sseStream {
	t.Helper()
	hr, _ := http.NewRequestWithContext(ctx, "GET", s.url+path, nil)
	hr.Header.Set("Authorization", "Bearer "+tokenOf[auditor])
	if lastEventID != "" {
		hr.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := s.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseStream{resp: resp, sc: bufio.NewScanner(resp.Body)}
}

func (st *sseStream) next(t *testing.T, n int) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	for len(out) < n && st.sc.Scan() {
		line := st.sc.Text()
		switch {
		case line == "":
			if cur.event != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	if len(out) < n {
		t.Fatalf("stream ended after %d events: %v", len(out), st.sc.Err())
	}
	return out
}

func (st *sseStream) close() { st.resp.Body.Close() }

func TestVerifyDetectsAlteredByte(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir)
	c := s.openCase(t, invUKBA, "UKBA-VERIFY-1")
	s.record(t, invUKBA, c.ID, intelligence("Lorry seen at Coquelles"))
	s.record(t, invUKBA, c.ID, intelligence("Second sighting at Calais"))
	s.record(t, invUKBA, c.ID, intelligence("Third sighting at Dover"))

	verify := func(s *server) map[string]any {
		r := s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/verify", as: auditor})
		mustStatus(t, r, http.StatusOK)
		var v map[string]any
		r.decode(t, &v)
		return v
	}
	if v := verify(s); v["valid"] != true || v["checked"] != float64(4) {
		t.Fatalf("before: %v", v)
	}
	if err := s.m.Close(); err != nil {
		t.Fatal(err)
	}

	// Alter one byte of the stored data of version 2, as someone with
	// write access to the file could (the append-only trigger is dropped
	// first, as they would).
	db, err := sql.Open("sqlite", filepath.Join(s.dataDir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`DROP TRIGGER events_no_update`,
		// The summary is sealed: alter a byte of its sealed value.
		`UPDATE events SET data = replace(data, 'cbk:enc:v1:case:', 'cbk:enc:v1:case:A') WHERE stream = 'case-` + c.ID + `' AND revision = 2`,
	} {
		res, err := db.Exec(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n, _ := res.RowsAffected(); strings.HasPrefix(q, "UPDATE") && n != 1 {
			t.Fatalf("%d rows altered", n)
		}
	}
	db.Close()

	s2 := startServerIn(t, dir)
	v := verify(s2)
	if v["valid"] != false || v["first_invalid_version"] != float64(2) || v["checked"] != float64(3) {
		t.Fatalf("after altering version 2: %v", v)
	}
}

func TestRequestIDs(t *testing.T) {
	s := startServer(t)
	r := s.do(t, req{method: "GET", path: "/healthz", headers: map[string]string{"X-Request-ID": "client-chose-this-42"}})
	if r.Header.Get("X-Request-ID") != "client-chose-this-42" {
		t.Errorf("X-Request-ID %q", r.Header.Get("X-Request-ID"))
	}
	r = s.do(t, req{method: "GET", path: "/healthz", headers: map[string]string{"X-Request-ID": "evil\" id with spaces"}})
	if id := r.Header.Get("X-Request-ID"); len(id) != 32 {
		t.Errorf("unsafe X-Request-ID kept: %q", id)
	}
	r = s.do(t, req{method: "GET", path: "/v1/cases", as: badToken})
	p := r.problem(t)
	if !strings.Contains(s.logs.String(), p.RequestID) {
		t.Error("request id not in the logs")
	}
	// Tokens never reach the logs.
	for _, tok := range tokenOf {
		if strings.Contains(s.logs.String(), tok) {
			t.Errorf("token %s… logged", tok[:8])
		}
	}
	if strings.Contains(s.logs.String(), badToken) {
		t.Error("unknown token logged")
	}
}

func TestMetrics(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-MET-1")
	s.record(t, invUKBA, c.ID, intelligence("x"))
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invSOCA}), http.StatusNotFound)
	r := s.do(t, req{method: "GET", path: "/metrics"})
	mustStatus(t, r, http.StatusOK)
	body := string(r.Body)
	for _, want := range []string{
		`casebook_http_requests_total{method="POST",route="/v1/cases/:id/events",status="201"} 1`,
		`casebook_http_requests_total{method="GET",route="/v1/cases/:id",status="404"} 1`,
		`casebook_http_request_duration_seconds_bucket{method="POST",route="/v1/cases",status="201",le=`,
		`casebook_store_append_duration_seconds_count{outcome="ok"}`,
		`casebook_projection_lag_events{projection="case_list"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, c.ID) {
		t.Error("a case id is in the metrics labels")
	}
}

// slowPost starts a POST of body over a raw connection, sending the headers
// and the first part of the body only; finish sends the rest and returns
// the status line. The request is in a handler (holding a concurrency
// slot, in flight for shutdown) until finish is called.
func (s *server) slowPost(t *testing.T, path string, first, rest string) (finish func() string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: casebook\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, tokenOf[invUKBA], len(first)+len(rest), first)
	return func() string {
		if _, err := conn.Write([]byte(rest)); err != nil {
			return "write: " + err.Error()
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			return "read: " + err.Error()
		}
		return strings.TrimSpace(line)
	}
}

func TestConcurrencyCapAndTimeouts(t *testing.T) {
	s := startServer(t, func(c *main.Config) {
		c.MaxRequests = 1
		c.ReadHeaderTimeout = 300 * time.Millisecond
	})
	c := s.openCase(t, invUKBA, "UKBA-CAP-1")

	// A request whose body trickles in holds the only slot, so another is
	// refused at once with 503 and Retry-After. The slow request travels
	// on a new connection: a probe sent right after it on a warm one can
	// reach the server first and take the slot itself (the slow request
	// then gets the 503); start over when that happens.
	var finish func() string
	var r *response
	for attempt := 0; attempt < 5; attempt++ {
		finish = s.slowPost(t, "/v1/cases/"+c.ID+"/events", `{"type":"IntelligenceLogged",`, `"data":{"summary":"slow","grading":"1A1"}}`)
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
			if r.Status == http.StatusServiceUnavailable {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if r.Status == http.StatusServiceUnavailable {
			break
		}
		if st := finish(); st != "HTTP/1.1 503 Service Unavailable" {
			t.Fatalf("no 503 while the slow request was in flight, and the slow request got %s", st)
		}
	}
	mustStatus(t, r, http.StatusServiceUnavailable)
	if p := r.problem(t); p.Type != "/problems/overloaded" || r.Header.Get("Retry-After") == "" {
		t.Errorf("overload answer %+v, Retry-After %q", p, r.Header.Get("Retry-After"))
	}
	// Probes are not capped.
	mustStatus(t, s.do(t, req{method: "GET", path: "/healthz"}), http.StatusOK)
	if st := finish(); st != "HTTP/1.1 201 Created" {
		t.Errorf("slow request: %s", st)
	}
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA}), http.StatusOK)

	// A client that never finishes its headers is disconnected.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = conn.Read(make([]byte, 1))
	if err == nil || time.Since(start) > 4*time.Second {
		t.Errorf("slow-header client not disconnected (err %v after %v)", err, time.Since(start))
	}
}

func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-SHUT-1")
	finish := s.slowPost(t, "/v1/cases/"+c.ID+"/events", `{"type":"IntelligenceLogged",`, `"data":{"summary":"last words","grading":"1A1"}}`)
	time.Sleep(100 * time.Millisecond) // the request is in its handler

	closed := make(chan error, 1)
	go func() { closed <- s.m.Close() }()
	time.Sleep(100 * time.Millisecond)
	// New connections are refused while the in-flight request finishes.
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), time.Second); err == nil {
		conn.Close()
		t.Error("still accepting connections while shutting down")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) before the in-flight request finished", err)
	default:
	}
	if st := finish(); st != "HTTP/1.1 201 Created" {
		t.Fatalf("in-flight request: %s", st)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	// And the event it wrote is durable.
	s2 := startServerIn(t, filepath.Dir(s.dataDir))
	r := s2.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
	if r.Header.Get("ETag") != `"1"` {
		t.Errorf("after restart ETag %s, want \"1\"", r.Header.Get("ETag"))
	}
}

func TestParseFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{
		"CASEBOOK_ADDR": "127.0.0.1:9999", "CASEBOOK_DATA": "/srv/casebook", "CASEBOOK_TOKENS_FILE": "/etc/casebook/tokens",
		"CASEBOOK_READ_MODEL_WAIT": "5s", "CASEBOOK_STORE": "esdb://localhost:2113?tls=false",
	}
	m := main.NewMain()
	m.LogOutput = io.Discard
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:7777"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.Addr != "127.0.0.1:7777" || c.DataDir != "/srv/casebook" || c.TokensFile != "/etc/casebook/tokens" ||
		c.ReadModelWait != 5*time.Second || c.StoreURL != "esdb://localhost:2113?tls=false" {
		t.Errorf("config %+v", c)
	}
	d := main.NewMain()
	d.LogOutput = io.Discard
	if err := d.ParseFlags(nil, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if d.Config.Addr != "127.0.0.1:8080" || d.Config.DataDir != "./data" || d.Config.StoreURL != "" {
		t.Errorf("defaults %+v", d.Config)
	}
	for _, bad := range [][]string{{"--store", "mysql://x"}, {"--log-level", "loud"}, {"--max-requests", "0"}, {"extra"}} {
		b := main.NewMain()
		b.LogOutput = io.Discard
		if err := b.ParseFlags(bad, func(string) string { return "" }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	b := main.NewMain()
	b.LogOutput = io.Discard
	if err := b.ParseFlags(nil, func(k string) string { return map[string]string{"CASEBOOK_READ_MODEL_WAIT": "soon"}[k] }); err == nil {
		t.Error("bad CASEBOOK_READ_MODEL_WAIT accepted")
	}
}

func TestHealthz(t *testing.T) {
	s := startServer(t)
	mustStatus(t, s.do(t, req{method: "GET", path: "/readyz"}), http.StatusOK)
	var v map[string]string
	r := s.do(t, req{method: "GET", path: "/healthz"})
	r.decode(t, &v)
	if v["status"] != "ok" {
		t.Errorf("healthz %v", v)
	}
}

func TestShutdownEndsLiveStreams(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-LIVE-SHUT")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream := s.openStream(t, ctx, "/v1/events/live?from_position=0", "")
	if got := stream.next(t, 1); got[0].event != "CaseOpened" || !strings.Contains(got[0].data, c.ID) {
		t.Fatalf("first event %+v", got)
	}
	start := time.Now()
	if err := s.m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v with a live stream open", d)
	}
	if got := stream.next(t, 1); got[0].event != "shutdown" {
		t.Errorf("stream ended with %+v, want a shutdown event", got)
	}
	stream.close()
}
