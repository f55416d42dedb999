package main_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	main "github.com/casebook/casebook/cmd/casebookd"
)

// accessEntry is the part of an access-log entry the tests look at.
type accessEntry struct {
	CaseID           string `json:"case_id"`
	Subject          string `json:"subject"`
	Agency           string `json:"agency"`
	Operation        string `json:"operation"`
	Outcome          string `json:"outcome"`
	Purpose          string `json:"purpose"`
	PurposeReference string `json:"purpose_reference"`
	PurposeDefaulted bool   `json:"purpose_defaulted"`
	Count            int    `json:"count"`
	OccurredAt       string `json:"occurred_at"`
}

type accessPage struct {
	CaseID          *string       `json:"case_id"`
	Entries         []accessEntry `json:"entries"`
	NextCursor      *string       `json:"next_cursor"`
	NextFromVersion *uint64       `json:"next_from_version"`
}

func (s *server) accessLog(t *testing.T, query string) accessPage {
	t.Helper()
	r := s.do(t, req{method: "GET", path: "/v1/access-log?" + query, as: auditor})
	mustStatus(t, r, http.StatusOK)
	var p accessPage
	r.decode(t, &p)
	return p
}

func purpose(code, ref string) map[string]string {
	return map[string]string{"Casebook-Purpose": code, "Casebook-Purpose-Reference": ref}
}

func TestPurposeHeadersRequired(t *testing.T) {
	s := startServer(t, func(c *main.Config) { c.RequirePurpose = true })
	c := s.openCase(t, invUKBA, "UKBA-PURPOSE-1") // writes need no purpose
	s.record(t, invUKBA, c.ID, intelligence("a lorry"))
	for _, path := range []string{"/v1/cases/" + c.ID, "/v1/cases/" + c.ID + "?version=0", "/v1/cases/" + c.ID + "/events", "/v1/cases/" + c.ID + "/verify"} {
		r := s.do(t, req{method: "GET", path: path, as: invUKBA})
		mustStatus(t, r, http.StatusBadRequest)
		p := r.problem(t)
		if p.Type != "/problems/invalid-parameter" || p.Field != "Casebook-Purpose" || p.Code != "purpose_required" ||
			!strings.Contains(p.Detail, "investigation, supervision, audit, disclosure, legal, subject_access") {
			t.Fatalf("%s without a purpose: %+v", path, p)
		}
		r = s.do(t, req{method: "GET", path: path, as: invUKBA, headers: purpose("curiosity", "")})
		mustStatus(t, r, http.StatusBadRequest)
		if p := r.problem(t); p.Field != "Casebook-Purpose" || p.Code != "unknown_purpose" {
			t.Fatalf("%s with an unknown purpose: %+v", path, p)
		}
		r = s.do(t, req{method: "GET", path: path, as: invUKBA, headers: purpose("legal", strings.Repeat("r", 201))})
		mustStatus(t, r, http.StatusBadRequest)
		if p := r.problem(t); p.Field != "Casebook-Purpose-Reference" || p.Code != "invalid_purpose_reference" {
			t.Fatalf("%s with a long reference: %+v", path, p)
		}
		mustStatus(t, s.do(t, req{method: "GET", path: path, as: invUKBA, headers: purpose("investigation", "Operation Marten")}), http.StatusOK)
	}
	// Reports and the global log need none.
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/events", as: auditor}), http.StatusOK)
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/reports/summary", as: analyst}), http.StatusOK)

	p := s.accessLog(t, "case="+c.ID)
	var stated, defaulted int
	for _, e := range p.Entries {
		switch {
		case e.Purpose == "investigation" && e.PurposeReference == "Operation Marten" && !e.PurposeDefaulted:
			stated++
		case e.Purpose == "audit" && e.PurposeDefaulted && e.Operation == "read_log":
			defaulted++
		default:
			t.Errorf("unexpected entry %+v", e)
		}
	}
	if stated != 4 || defaulted != 1 {
		t.Fatalf("%d stated and %d defaulted entries, want 4 and 1: %+v", stated, defaulted, p.Entries)
	}
}

func TestAccessLogQuestions(t *testing.T) {
	s := startServer(t)
	a := s.openCase(t, invUKBA, "UKBA-Q-1")
	b := s.openCase(t, invSOCA, "SOCA-Q-1")
	get := func(as, id string, headers map[string]string) {
		s.do(t, req{method: "GET", path: "/v1/cases/" + id, as: as, headers: headers})
	}
	get(invUKBA, a.ID, nil)                                  // investigation, defaulted
	get(invUKBA, b.ID, purpose("investigation", ""))         // denied
	get(invUKBA, a.ID, purpose("disclosure", "DR-2011-042")) // stated
	get(auditor, b.ID, purpose("audit", "HMIC annual"))
	get(invSOCA, b.ID, nil)

	// What did officer.alice look at, and why? Read at once after her reads.
	p := s.accessLog(t, "subject=officer.alice")
	if p.CaseID != nil || p.NextCursor != nil || len(p.Entries) != 3 {
		t.Fatalf("officer.alice: %+v", p)
	}
	want := []string{"UKBA-Q-1 investigation true served", "SOCA-Q-1 investigation false denied", "UKBA-Q-1 disclosure false served"}
	ref := map[string]string{a.ID: "UKBA-Q-1", b.ID: "SOCA-Q-1"}
	for i, e := range p.Entries {
		got := ref[e.CaseID] + " " + e.Purpose + " " + map[bool]string{true: "true", false: "false"}[e.PurposeDefaulted] + " " + e.Outcome
		if got != want[i] {
			t.Errorf("entry %d: %s, want %s", i, got, want[i])
		}
	}
	if n := len(s.accessLog(t, "subject=officer.alice&purpose=disclosure&outcome=served&agency=ukba").Entries); n != 1 {
		t.Errorf("filtered: %d entries, want 1", n)
	}
	if n := len(s.accessLog(t, "subject=officer.alice&from="+url.QueryEscape(p.Entries[1].OccurredAt)).Entries); n != 2 {
		t.Errorf("from the second read: %d entries, want 2", n)
	}
	if n := len(s.accessLog(t, "subject=officer.alice&to=2000-01-01").Entries); n != 0 {
		t.Errorf("before 2000: %d entries", n)
	}
	// Paged by cursor.
	var paged []accessEntry
	q := "subject=officer.alice&limit=2"
	for range 5 {
		pg := s.accessLog(t, q)
		paged = append(paged, pg.Entries...)
		if pg.NextCursor == nil {
			break
		}
		q = "subject=officer.alice&limit=2&cursor=" + url.QueryEscape(*pg.NextCursor)
	}
	if len(paged) != 3 || paged[2].Purpose != "disclosure" {
		t.Fatalf("paged: %+v", paged)
	}
	// A case, one agency's consultations of it; and the first version's
	// paging of a case still works.
	if e := s.accessLog(t, "case="+b.ID+"&agency=SOCA").Entries; len(e) != 1 || e[0].Subject != "officer.sam" {
		t.Fatalf("case b by SOCA: %+v", e)
	}
	first := s.accessLog(t, "case="+b.ID+"&limit=2")
	if first.CaseID == nil || *first.CaseID != b.ID || first.NextFromVersion == nil || *first.NextFromVersion != 2 || first.NextCursor == nil {
		t.Fatalf("case b, first page: %+v", first)
	}
	if rest := s.accessLog(t, "case="+b.ID+"&from_version=2"); len(rest.Entries) != 1 || rest.NextFromVersion != nil {
		t.Fatalf("case b from version 2: %+v", rest)
	}
	for query, field := range map[string]string{
		"":                            "case",
		"agency=UKBA":                 "case",
		"subject=x&purpose=curiosity": "purpose",
		"subject=x&outcome=maybe":     "outcome",
		"subject=x&from=yesterday":    "from",
		"subject=x&cursor=zzz":        "cursor",
		"subject=x&from_version=1":    "from_version",
		"case=not-a-uuid":             "case",
		"subject=x&from=2011-02-01&to=2011-01-01": "to",
	} {
		r := s.do(t, req{method: "GET", path: "/v1/access-log?" + query, as: auditor})
		mustStatus(t, r, http.StatusBadRequest)
		if p := r.problem(t); p.Field != field {
			t.Errorf("%q: field %q, want %q", query, p.Field, field)
		}
	}
	r := s.do(t, req{method: "GET", path: "/v1/access-log?subject=x&agency=FBI", as: auditor})
	mustStatus(t, r, http.StatusBadRequest)
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/access-log?subject=officer.alice", as: invUKBA}), http.StatusForbidden)
}
