package main_test

import (
	"net/http"
	"testing"
)

// GET /v1/events/{id}: an auditor opens the event a report names, with its
// case, actor, times and hash, as the case's history shows it; the read is
// in the case's access log.
func TestEventByID(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-EVENT-1")
	logged := s.record(t, invUKBA, c.ID, intelligence("Lorry seen at Coquelles"))

	r := s.do(t, req{method: "GET", path: "/v1/events/" + logged.ID, as: auditor})
	mustStatus(t, r, http.StatusOK)
	var got struct {
		ID, Stream, Type, Hash string
		CaseID                 string `json:"case_id"`
		PrevHash               string `json:"prev_hash"`
		Version, Position      uint64
		Actor                  struct{ Subject, Role, Agency string }
	}
	r.decode(t, &got)
	var history struct {
		Events []struct {
			ID, Hash string
		}
	}
	s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/events", as: auditor}).decode(t, &history)
	if got.ID != logged.ID || got.CaseID != c.ID || got.Stream != "case-"+c.ID || got.Type != "IntelligenceLogged" ||
		got.Version != logged.Version || got.Position != logged.Position || got.Actor.Subject != "officer.alice" ||
		len(history.Events) != 2 || got.Hash != history.Events[1].Hash || got.PrevHash != history.Events[0].Hash {
		t.Fatalf("event %+v; recorded %+v; history %+v", got, logged, history)
	}

	var log struct {
		Entries []struct {
			Operation   string
			Subject     string
			VersionRead *uint64 `json:"version_read"`
		}
	}
	s.do(t, req{method: "GET", path: "/v1/access-log?case=" + c.ID, as: auditor}).decode(t, &log)
	found := false
	for _, e := range log.Entries {
		found = found || e.Operation == "read_event" && e.Subject == "auditor.bea" && e.VersionRead != nil && *e.VersionRead == logged.Version
	}
	if !found {
		t.Errorf("no read_event entry for version %d in the access log: %+v", logged.Version, log.Entries)
	}

	t.Run("UnknownID", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: "/v1/events/0b6c3a57-7f0a-4c55-9d57-8a5b7d1e2f30", as: auditor})
		mustStatus(t, r, http.StatusNotFound)
		if p := r.problem(t); p.Code != "event_not_found" || p.Type != "/problems/not-found" {
			t.Errorf("problem %+v", p)
		}
	})
	t.Run("NotAUUID", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: "/v1/events/not-an-id", as: auditor})
		mustStatus(t, r, http.StatusBadRequest)
		if p := r.problem(t); p.Field != "id" {
			t.Errorf("problem %+v, want field id", p)
		}
	})
}
