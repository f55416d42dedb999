package main_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	main "github.com/casebook/casebook/cmd/casebookd"
)

// A case the caller may not see and a case that does not exist get the
// same answer: the same status, type, code and words, byte for byte once
// the ids and request ids are blanked out.
func TestHiddenAndMissingCasesAnswerByteForByte(t *testing.T) {
	s := startServer(t)
	hidden := s.openCase(t, invUKBA, "UKBA-HIDDEN-1").ID
	missing := uuid.NewString()
	blank := func(body []byte, id string) string {
		out := strings.ReplaceAll(string(body), id, "ID")
		return regexp.MustCompile(`"request_id":"[^"]*"`).ReplaceAllString(out, `"request_id":""`)
	}
	for _, route := range []struct{ method, path string }{
		{"GET", "/v1/cases/%s"}, {"GET", "/v1/cases/%s?version=0"}, {"GET", "/v1/cases/%s/events"},
		{"GET", "/v1/cases/%s/verify"}, {"POST", "/v1/cases/%s/events"},
	} {
		t.Run(route.method+" "+route.path, func(t *testing.T) {
			var body any
			if route.method == "POST" {
				body = intelligence("probing")
			}
			a := s.do(t, req{method: route.method, path: fmt.Sprintf(route.path, hidden), as: invSOCA, body: body})
			b := s.do(t, req{method: route.method, path: fmt.Sprintf(route.path, missing), as: invSOCA, body: body})
			if a.Status != http.StatusNotFound || b.Status != http.StatusNotFound {
				t.Fatalf("statuses %d and %d, want 404", a.Status, b.Status)
			}
			if pa, pb := blank(a.Body, hidden), blank(b.Body, missing); pa != pb {
				t.Fatalf("the answers differ:\nhidden:  %s\nmissing: %s", pa, pb)
			}
			if p := a.problem(t); p.Code != "case_not_found" {
				t.Fatalf("code %q", p.Code)
			}
		})
	}
	// Opening a case with an id that is taken answers the same whether or
	// not the caller can see that case.
	open := func(as string) *response {
		return s.do(t, req{method: "POST", path: "/v1/cases", as: as, body: map[string]any{
			"id": hidden, "reference": "PROBE-1", "title": "Probe", "crime_types": []string{"cash"}, "location": "Dover"}})
	}
	a, b := open(invSOCA), open(invUKBA2)
	if a.Status != http.StatusConflict || blank(a.Body, hidden) != blank(b.Body, hidden) {
		t.Fatalf("taken id: %d %s / %d %s", a.Status, a.Body, b.Status, b.Body)
	}
}

func TestAgenciesAreCanonicalAndReferencesUnique(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA/2011/0007")
	// "ukba" is UKBA: already on the case, not a third agency.
	r := s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/events", as: invUKBA,
		body: map[string]any{"type": "AgencyJoined", "data": map[string]any{"agency": "ukba"}}})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if p := r.problem(t); p.Code != "agency_already_joined" {
		t.Fatalf("%+v", p)
	}
	r = s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/events", as: invUKBA,
		body: map[string]any{"type": "AgencyJoined", "data": map[string]any{"agency": "NCAA"}}})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if p := r.problem(t); p.Code != "unknown_agency" || p.Field != "agency" || !strings.Contains(p.Detail, "UKBA, BF, SOCA") {
		t.Fatalf("%+v", p)
	}
	s.record(t, invUKBA, c.ID, map[string]any{"type": "AgencyJoined", "data": map[string]any{"agency": "paf"}})
	// Filters match the same way.
	r = s.do(t, req{method: "GET", path: "/v1/cases?agency=paf&min_position=" + fmt.Sprint(c.Position+1), as: auditor})
	mustStatus(t, r, http.StatusOK)
	var list struct {
		Cases []caseView `json:"cases"`
	}
	r.decode(t, &list)
	if len(list.Cases) != 1 || strings.Join(list.Cases[0].Agencies, ",") != "UKBA,PAF" {
		t.Fatalf("%+v", list)
	}
	// An unknown agency in a filter is a bad parameter (400), naming the
	// configured codes, like every enum filter; in data it is a 422.
	r = s.do(t, req{method: "GET", path: "/v1/cases?agency=NCAA", as: auditor})
	mustStatus(t, r, http.StatusBadRequest)
	if p := r.problem(t); p.Code != "unknown_agency" || p.Field != "agency" || !strings.Contains(p.Detail, "UKBA, BF, SOCA") {
		t.Errorf("%+v", p)
	}
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases?crime_type=cigarettes", as: auditor}), http.StatusBadRequest)

	// A second case with the same reference, in any letter case, is a
	// conflict naming the first; another agency may use the reference.
	r = s.do(t, req{method: "POST", path: "/v1/cases", as: invUKBA2, body: map[string]any{
		"reference": "ukba/2011/0007", "title": "A retry without an id", "crime_types": []string{"cash"}, "location": "Dover"}})
	mustStatus(t, r, http.StatusConflict)
	if p := r.problem(t); p.Type != "/problems/reference-taken" || p.Code != "reference_taken" || !strings.Contains(p.Detail, c.ID) {
		t.Fatalf("%+v", p)
	}
	s.openCase(t, invSOCA, "UKBA/2011/0007")
}

// Ten seconds of one caller re-reading a case from 16 connections: the
// store grows by at most 1 MB, and every read is counted in the access log.
func TestReadFloodIsMergedInTheAccessLog(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10-second load")
	}
	// The caller's fair share is raised so that the flood is served (and
	// merged), not refused.
	s := startServer(t, func(c *main.Config) {
		c.Limits.PrincipalConcurrent, c.Limits.PrincipalRate, c.Limits.PrincipalBurst = 64, 1e6, 1e6
	})
	c := s.openCase(t, invUKBA, "UKBA-FLOOD-1")
	size := func() int64 {
		var n int64
		for _, f := range []string{"events.db", "events.db-wal"} {
			if fi, err := os.Stat(filepath.Join(s.dataDir, f)); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	before := size()
	var served atomic.Int64
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				hr, _ := http.NewRequest("GET", s.url+"/v1/cases/"+c.ID, nil)
				hr.Header.Set("Authorization", "Bearer "+tokenOf[invUKBA2])
				resp, err := s.client.Do(hr)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					served.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	time.Sleep(1500 * time.Millisecond) // the last window's count is written when it closes
	grown := size() - before
	t.Logf("%d reads in 10s; the store grew by %d bytes", served.Load(), grown)
	if grown > 1<<20 {
		t.Errorf("the store grew by %d bytes (> 1 MB)", grown)
	}
	// Every read is on record, merged.
	r := s.do(t, req{method: "GET", path: "/v1/access-log?case=" + c.ID + "&limit=1000", as: auditor})
	var log struct {
		Entries []struct {
			Subject string `json:"subject"`
			Count   int64  `json:"count"`
		} `json:"entries"`
	}
	r.decode(t, &log)
	var counted int64
	for _, e := range log.Entries {
		if e.Subject == "officer.ahmed" {
			counted += e.Count
		}
	}
	if counted != served.Load() || len(log.Entries) > 60 {
		t.Errorf("%d reads served, %d counted in %d entries", served.Load(), counted, len(log.Entries))
	}
}

// Over HTTP too, verify names the access-log stream and version of an
// entry altered behind the store's back.
func TestVerifyNamesAnAlteredAccessLogEntry(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir)
	c := s.openCase(t, invUKBA, "UKBA-ACCESS-1")
	for _, as := range []string{invUKBA, invUKBA2, auditor} {
		mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: as}), http.StatusOK)
	}
	if err := s.m.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(s.dataDir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER events_no_update`,
		`UPDATE events SET data = replace(data, '"officer.ahmed"', '"officer.x"'), metadata = replace(metadata, '"officer.ahmed"', '"officer.x"') WHERE stream = 'access-` + c.ID + `' AND revision = 1`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s2 := startServerIn(t, dir)
	r := s2.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/verify", as: auditor})
	mustStatus(t, r, http.StatusOK)
	var v struct {
		Valid   bool `json:"valid"`
		Streams []struct {
			Stream              string  `json:"stream"`
			Valid               bool    `json:"valid"`
			FirstInvalidVersion *uint64 `json:"first_invalid_version"`
		} `json:"streams"`
	}
	r.decode(t, &v)
	if v.Valid || len(v.Streams) != 2 || !v.Streams[0].Valid || v.Streams[1].Valid ||
		v.Streams[1].Stream != "access-"+c.ID || v.Streams[1].FirstInvalidVersion == nil || *v.Streams[1].FirstInvalidVersion != 1 {
		t.Fatalf("verify: %s", r.Body)
	}
}

// Only the lead agency gives others access, closes and reopens a case; a
// joined agency logs and reads.
func TestLeadAgencyOwnsTheCasesScopeAndLifecycle(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-LIFE-1")
	s.record(t, invUKBA, c.ID, map[string]any{"type": "AgencyJoined", "data": map[string]any{"agency": agencyFrench}})
	s.record(t, invFrench, c.ID, intelligence("seen at Coquelles by the PAF"))
	for _, ev := range []map[string]any{
		{"type": "AgencyJoined", "data": map[string]any{"agency": "SOCA"}},
		{"type": "CaseClosed", "data": map[string]any{"outcome": "charged"}},
	} {
		r := s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/events", as: invFrench, body: ev})
		mustStatus(t, r, http.StatusForbidden)
		if p := r.problem(t); p.Code != "forbidden" || !strings.Contains(p.Detail, "lead agency (UKBA)") {
			t.Fatalf("%+v", p)
		}
	}
	s.record(t, invUKBA, c.ID, map[string]any{"type": "CaseClosed", "data": map[string]any{"outcome": "charged"}})
	mustStatus(t, s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/events", as: invFrench,
		body: map[string]any{"type": "CaseReopened", "data": map[string]any{"reason": "new evidence"}}}), http.StatusForbidden)
	s.record(t, invUKBA2, c.ID, map[string]any{"type": "CaseReopened", "data": map[string]any{"reason": "new evidence"}})
}

// An explained report is a list like any other: a page of event ids, its
// next page's cursor and URL (body and Link header), and exact figures on
// every page.
func TestExplainedReportsPageLikeEveryList(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-EXPLAIN-1")
	person := uuid.NewString()
	s.record(t, invUKBA, c.ID, suspect(person, "A. N. Other"))
	var last recorded
	for range 3 {
		last = s.record(t, invUKBA, c.ID, map[string]any{"type": "ArrestMade", "data": map[string]any{"person_id": person, "location": "Dover", "offence": "facilitation"}})
	}
	type page struct {
		Total      int      `json:"total"`
		EventIDs   []string `json:"event_ids"`
		NextCursor string   `json:"next_cursor"`
		Next       string   `json:"next"`
	}
	path := fmt.Sprintf("/v1/reports/arrests?explain=true&limit=2&min_position=%d", last.Position)
	var ids []string
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("the pages do not end")
		}
		r := s.do(t, req{method: "GET", path: path, as: analyst})
		mustStatus(t, r, http.StatusOK)
		var p page
		r.decode(t, &p)
		if p.Total != 3 {
			t.Fatalf("page %d: total %d, want 3 on every page", pages, p.Total)
		}
		ids = append(ids, p.EventIDs...)
		if link := r.Header.Get("Link"); (p.Next == "") != (link == "") || (p.Next != "" && link != "<"+p.Next+`>; rel="next"`) {
			t.Fatalf("page %d: next %q, Link %q", pages, p.Next, link)
		}
		if (p.Next == "") != (p.NextCursor == "") {
			t.Fatalf("page %d: next %q but next_cursor %q", pages, p.Next, p.NextCursor)
		}
		path = p.Next
	}
	if len(ids) != 3 {
		t.Fatalf("%d event ids over the pages, want 3: %v", len(ids), ids)
	}
}
