package main_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
)

func TestCaseListFiltersAndPaging(t *testing.T) {
	s := startServer(t)
	open := func(as, ref, title, crime string) caseView {
		r := s.do(t, req{method: "POST", path: "/v1/cases", as: as, body: map[string]any{
			"reference": ref, "title": title, "crime_types": []string{crime}, "location": "Dover"}})
		mustStatus(t, r, http.StatusCreated)
		var c caseView
		r.decode(t, &c)
		return c
	}
	a := open(invUKBA, "UKBA-2011-001", "Lorries through Coquelles", "people_smuggling")
	b := open(invUKBA, "UKBA-2011-002", "Cash couriers", "cash")
	c := open(invUKBA, "UKBA-2011-003", "Heroin via Zeebrugge", "class_a_drugs")
	d := open(invSOCA, "SOCA-2011-001", "Coquelles cash route", "cash")
	closed := s.record(t, invUKBA, b.ID, map[string]any{"type": "CaseClosed", "data": map[string]any{"outcome": "charged"}})
	joined := s.record(t, invSOCA, d.ID, map[string]any{"type": "AgencyJoined", "data": map[string]any{"agency": agencyUKBA}})
	minPos := strconv.FormatUint(max(closed.Position, joined.Position), 10)

	list := func(as, query string) (ids []string, next *string) {
		t.Helper()
		r := s.do(t, req{method: "GET", path: "/v1/cases?min_position=" + minPos + "&" + query, as: as})
		mustStatus(t, r, http.StatusOK)
		if r.Header.Get("Casebook-Position") == "" {
			t.Error("no Casebook-Position")
		}
		var page struct {
			Cases []caseView `json:"cases"`
			Next  *string    `json:"next_cursor"`
		}
		r.decode(t, &page)
		for _, c := range page.Cases {
			ids = append(ids, c.ID)
		}
		return ids, page.Next
	}
	for _, tc := range []struct {
		as, query string
		want      []string
	}{
		{invUKBA, "", []string{d.ID, c.ID, b.ID, a.ID}}, // newest first; SOCA's case joined by UKBA
		{invSOCA, "", []string{d.ID}},
		{invFrench, "", nil},
		{auditor, "", []string{d.ID, c.ID, b.ID, a.ID}},
		{invUKBA, "status=closed", []string{b.ID}},
		{invUKBA, "status=open", []string{d.ID, c.ID, a.ID}},
		{invUKBA, "crime_type=cash", []string{d.ID, b.ID}},
		{invUKBA, "agency=SOCA", []string{d.ID}},
		{invUKBA, "q=" + url.QueryEscape("coquelles"), []string{d.ID, a.ID}},
		{invUKBA, "q=2011-003", []string{c.ID}},
		{auditor, "q=nothing-like-this", nil},
	} {
		got, _ := list(tc.as, tc.query)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s ?%s: %v, want %v", tc.as, tc.query, got, tc.want)
		}
	}

	// Cursor paging visits every case once.
	var all []string
	cursor := ""
	for range 10 {
		q := "limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		ids, next := list(auditor, q)
		all = append(all, ids...)
		if next == nil {
			break
		}
		cursor = *next
	}
	if !slices.Equal(all, []string{d.ID, c.ID, b.ID, a.ID}) {
		t.Errorf("paged: %v", all)
	}
	for _, bad := range []string{"cursor=not-a-cursor", "status=pending", "limit=0", "min_position=x"} {
		r := s.do(t, req{method: "GET", path: "/v1/cases?" + bad, as: auditor})
		mustStatus(t, r, http.StatusBadRequest)
		if p := r.problem(t); p.Type != "/problems/invalid-parameter" || p.Field == "" {
			t.Errorf("%s: %+v", bad, p)
		}
	}
}
