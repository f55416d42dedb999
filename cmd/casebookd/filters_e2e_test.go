package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// TestReportFilters: the reports' agency and location filters over HTTP,
// on a store small enough to count by hand:
//
//	UKBA's case: arrests at Dover and at Calais, 3 people detected at
//	  Calais, a seizure of 12.5 kg of cannabis at Dover, gang G dismantled;
//	SOCA's case: an arrest at Dover, 4 people detected at Dover, gang G
//	  dismantled too (after UKBA) and gang H.
func TestReportFilters(t *testing.T) {
	s := startServer(t)
	ukbaCase := s.openCase(t, invUKBA, "UKBA-FILTERS-1")
	socaCase := s.openCase(t, invSOCA, "SOCA-FILTERS-1")
	gangG, gangH := uuid.NewString(), uuid.NewString()
	ev := func(typ string, data map[string]any) map[string]any {
		return map[string]any{"type": typ, "data": data}
	}
	arrestAt := func(person, location string) map[string]any {
		return ev("ArrestMade", map[string]any{"person_id": person, "location": location, "offence": "facilitation"})
	}
	pers1, pers2, pers3 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	s.record(t, invUKBA, ukbaCase.ID, suspect(pers1, "A. One"))
	s.record(t, invUKBA, ukbaCase.ID, suspect(pers2, "B. Two"))
	ukbaDover := s.record(t, invUKBA, ukbaCase.ID, arrestAt(pers1, "Dover"))
	ukbaCalais := s.record(t, invUKBA, ukbaCase.ID, arrestAt(pers2, "Calais"))
	s.record(t, invUKBA, ukbaCase.ID, ev("StowawaysDetected", map[string]any{"location": "Calais", "method": "co2_probe", "people": 3, "vehicle": "HGV"}))
	s.record(t, invUKBA, ukbaCase.ID, ev("SeizureRecorded", map[string]any{"commodity": "cannabis", "quantity": 12.5, "unit": "kg", "location": "Dover"}))
	s.record(t, invUKBA, ukbaCase.ID, ev("OrganisedCrimeGroupLinked", map[string]any{"group_id": gangG, "name": "Network G"}))
	s.record(t, invUKBA, ukbaCase.ID, ev("GangDismantled", map[string]any{"group_id": gangG}))
	s.record(t, invSOCA, socaCase.ID, suspect(pers3, "C. Three"))
	socaDover := s.record(t, invSOCA, socaCase.ID, arrestAt(pers3, "Dover"))
	s.record(t, invSOCA, socaCase.ID, ev("StowawaysDetected", map[string]any{"location": "Dover", "method": "scanner", "people": 4, "vehicle": "HGV"}))
	s.record(t, invSOCA, socaCase.ID, ev("OrganisedCrimeGroupLinked", map[string]any{"group_id": gangG, "name": "Network G"}))
	s.record(t, invSOCA, socaCase.ID, ev("OrganisedCrimeGroupLinked", map[string]any{"group_id": gangH, "name": "Network H"}))
	s.record(t, invSOCA, socaCase.ID, ev("GangDismantled", map[string]any{"group_id": gangG}))
	last := s.record(t, invSOCA, socaCase.ID, ev("GangDismantled", map[string]any{"group_id": gangH}))

	get := func(path string, v any) *response {
		t.Helper()
		sep := "?"
		if slices.Contains([]byte(path), '?') {
			sep = "&"
		}
		r := s.do(t, req{method: "GET", path: fmt.Sprintf("%s%smin_position=%d", path, sep, last.Position), as: analyst})
		if v != nil {
			mustStatus(t, r, http.StatusOK)
			r.decode(t, v)
		}
		return r
	}
	type count struct {
		Agency   *string `json:"agency"`
		Location *string `json:"location"`
		Total    int     `json:"total"`
		Groups   []struct {
			Key   string `json:"key"`
			Count int    `json:"count"`
		} `json:"groups"`
		EventIDs []string `json:"event_ids"`
		Next     string   `json:"next"`
	}
	str := func(p *string) string {
		if p == nil {
			return "(none)"
		}
		return *p
	}
	for _, tc := range []struct {
		query               string
		want                int
		echoAgency, echoLoc string
		ids                 []string
		groups              string
		report              string
	}{
		{query: "", want: 3, echoAgency: "(none)", echoLoc: "(none)"},
		{query: "agency=ukba", want: 2, echoAgency: "UKBA", echoLoc: "(none)", ids: []string{ukbaDover.ID, ukbaCalais.ID}},
		{query: "agency=SOCA", want: 1, echoAgency: "SOCA", echoLoc: "(none)", ids: []string{socaDover.ID}},
		{query: "location=dover", want: 2, echoAgency: "(none)", echoLoc: "DOVER", ids: []string{ukbaDover.ID, socaDover.ID}},
		{query: "agency=UKBA&location=Calais", want: 1, echoAgency: "UKBA", echoLoc: "CALAIS", ids: []string{ukbaCalais.ID}},
		{query: "agency=SOCA&location=Calais", want: 0, echoAgency: "SOCA", echoLoc: "CALAIS"},
		{query: "location=Dover&group_by=agency", want: 2, echoAgency: "(none)", echoLoc: "DOVER", groups: "SOCA:1 UKBA:1"},
		{query: "agency=UKBA&group_by=location", want: 2, echoAgency: "UKBA", echoLoc: "(none)", groups: "CALAIS:1 DOVER:1"},
		{query: "agency=UKBA&as_of=2000-01-01", want: 0, echoAgency: "UKBA", echoLoc: "(none)"},
		// Gangs: G counts once in all, once for each agency that dismantled it.
		{report: "gangs-dismantled", query: "", want: 2, echoAgency: "(none)", echoLoc: "(none)"},
		{report: "gangs-dismantled", query: "agency=ukba", want: 1, echoAgency: "UKBA", echoLoc: "(none)"},
		{report: "gangs-dismantled", query: "agency=SOCA&group_by=agency", want: 2, echoAgency: "SOCA", echoLoc: "(none)", groups: "SOCA:2"},
	} {
		report := tc.report
		if report == "" {
			report = "arrests"
		}
		var r count
		path := "/v1/reports/" + report + "?from=2000-01-01&to=2100-01-01&explain=true"
		if tc.query != "" {
			path += "&" + tc.query
		}
		get(path, &r)
		groups := ""
		for _, g := range r.Groups {
			groups += fmt.Sprintf(" %s:%d", g.Key, g.Count)
		}
		if r.Total != tc.want || str(r.Agency) != tc.echoAgency || str(r.Location) != tc.echoLoc ||
			(tc.groups != "" && groups != " "+tc.groups) || (tc.ids != nil && fmt.Sprint(r.EventIDs) != fmt.Sprint(tc.ids)) {
			t.Errorf("%s: total %d (agency %s, location %s) groups%s ids %v; want %d (%s, %s) %s %v",
				path, r.Total, str(r.Agency), str(r.Location), groups, r.EventIDs, tc.want, tc.echoAgency, tc.echoLoc, tc.groups, tc.ids)
		}
	}

	// The explained pages of a filtered report keep the filter.
	var p count
	get("/v1/reports/arrests?from=2000-01-01&to=2100-01-01&location=Dover&explain=true&limit=1", &p)
	if p.Total != 2 || len(p.EventIDs) != 1 || p.Next == "" {
		t.Fatalf("first page at Dover: %+v", p)
	}
	if q, err := url.Parse(p.Next); err != nil || q.Query().Get("location") != "Dover" {
		t.Fatalf("next page %q does not keep the location", p.Next)
	}
	var p2 count
	get(p.Next, &p2)
	if p2.Total != 2 || len(p2.EventIDs) != 1 || p2.EventIDs[0] == p.EventIDs[0] || p2.Next != "" {
		t.Errorf("second page at Dover: %+v (first %v)", p2, p.EventIDs)
	}

	// Detections and seizures.
	var det struct {
		Incidents, People int
	}
	get("/v1/reports/detections?from=2000-01-01&to=2100-01-01&location=Dover", &det)
	if det.Incidents != 1 || det.People != 4 {
		t.Errorf("detections at Dover: %+v, want 1 incident, 4 people", det)
	}
	var sz struct {
		Totals []struct {
			Commodity string          `json:"commodity"`
			Quantity  json.RawMessage `json:"quantity"`
		} `json:"totals"`
	}
	get("/v1/reports/seizures?from=2000-01-01&to=2100-01-01&agency=SOCA", &sz)
	if len(sz.Totals) != 0 {
		t.Errorf("SOCA's seizures: %+v, want none", sz.Totals)
	}
	get("/v1/reports/seizures?from=2000-01-01&to=2100-01-01&location=Dover", &sz)
	if len(sz.Totals) != 1 || sz.Totals[0].Commodity != "cannabis" || string(sz.Totals[0].Quantity) != "12.5" {
		t.Errorf("seizures at Dover: %+v, want 12.5 kg of cannabis", sz.Totals)
	}

	// The summary at Calais has no gangs figure; SOCA's has one.
	var sum map[string]any
	get("/v1/reports/summary?from=2000-01-01&to=2100-01-01&location=Calais", &sum)
	if _, ok := sum["gangs_dismantled"]; ok || sum["arrests"] != 1.0 || sum["location"] != "CALAIS" {
		t.Errorf("summary at Calais: %v", sum)
	}
	if d, _ := sum["detections"].(map[string]any); d["people"] != 3.0 {
		t.Errorf("summary at Calais: detections %v, want 3 people", sum["detections"])
	}
	get("/v1/reports/summary?from=2000-01-01&to=2100-01-01&agency=soca", &sum)
	if sum["gangs_dismantled"] != 2.0 || sum["arrests"] != 1.0 || sum["agency"] != "SOCA" {
		t.Errorf("SOCA's summary: %v", sum)
	}

	// Refused: a location on the gangs, an unknown agency, a blank location,
	// free text and an unknown place code.
	for _, tc := range []struct{ path, field, code string }{
		{"/v1/reports/gangs-dismantled?location=Dover", "location", "invalid_parameter"},
		{"/v1/reports/arrests?agency=NOPE", "agency", "unknown_agency"},
		{"/v1/reports/summary?agency=Kent%20Police", "agency", "unknown_agency"},
		{"/v1/reports/detections?location=%20%20", "location", "invalid_parameter"},
		{"/v1/reports/arrests?location=Home%20of%20John%20Quincy%20Public", "location", "invalid_parameter"},
		{"/v1/reports/seizures?location=NOWHERE", "location", "invalid_parameter"},
	} {
		r := get(tc.path, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400; %s", tc.path, r.Status, r.Body)
			continue
		}
		if p := r.problem(t); p.Type != "/problems/invalid-parameter" || p.Field != tc.field || p.Code != tc.code {
			t.Errorf("%s: problem %+v, want invalid-parameter on %s (%s)", tc.path, p, tc.field, tc.code)
		}
	}
}
