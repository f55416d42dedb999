package casehttp_test

import (
	"encoding/json"
	"testing"
)

// FuzzRecordEvent sends arbitrary bodies to POST /v1/cases/{id}/events
// through the whole handler chain (auth, limits, decoding, the domain, a
// real SQLite store): whatever the body, the answer is 2xx or 4xx, never
// 5xx, and every error is a problem document.
func FuzzRecordEvent(f *testing.F) {
	s := newStack(f)
	caseID := createdCaseID(f, s.serve("POST", "/v1/cases", investigatorToken, []byte(
		`{"reference":"FUZZ-1","title":"Fuzzing","crime_types":["people_smuggling"],"location":"Calais"}`)))
	path := "/v1/cases/" + caseID + "/events"
	suspect := "7a4f6c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
	for _, seed := range []string{
		`{"type":"IntelligenceLogged","data":{"summary":"Van at Dunkirk","grading":"2B1"}}`,
		`{"id":"0b9f0c2e-7c1d-4d8e-9f3a-5b6c7d8e9f01","type":"CaseClosed","occurred_at":"2011-06-06T09:30:00Z","data":{"outcome":"charged"}}`,
		`{"type":"SuspectIdentified","data":{"person_id":"` + suspect + `","name":"A. N. Other","date_of_birth":"1980-02-29"}}`,
		`{"type":"ArrestMade","data":{"person_id":"` + suspect + `","location":"Dover","offence":"smuggling"}}`,
		`{"type":"SeizureRecorded","data":{"commodity":"cash","quantity":"12.500","unit":"gbp","location":"Coquelles"}}`,
		`{"type":"SeizureRecorded","data":{"commodity":"cannabis","quantity":1e308,"unit":"kg","location":"Dover"}}`,
		`{"type":"StowawaysDetected","data":{"location":"Calais","method":"co2_probe","people":-1}}`,
		`{"type":"EntryRetracted","data":{"event_id":"00000000-0000-0000-0000-000000000000","reason":"x"}}`,
		`{"type":"AgencyJoined","data":{"agency":"\u0000"}}`,
		`{"type":"CaseReopened","data":{"reason":""},"data":{"reason":"twice"}}`,
		`{"type":"GangDismantled","data":{"group_id":"` + suspect + `"}}`,
		`{"type":"","data":{}}`, `{"type":null,"data":null}`, `{}`, `[]`, `null`, `"x"`, `{"type":"CaseClosed","data":{"outcome":"x"}}}`,
		"\xff\xfe", `{"type":"IntelligenceLogged","data":{"summary":"` + string(make([]byte, 300)) + `","grading":"9Z9"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := s.serve("POST", path, investigatorToken, body)
		if w.Code >= 500 || w.Code < 200 || (w.Code >= 300 && w.Code < 400) {
			t.Fatalf("status %d for body %q: %s", w.Code, body, w.Body)
		}
		if w.Code >= 400 {
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
			}
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil ||
				p.Status != w.Code || p.Type == "" {
				t.Fatalf("status %d without a problem document: %s", w.Code, w.Body)
			}
		}
	})
}
