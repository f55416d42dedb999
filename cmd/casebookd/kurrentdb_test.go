package main_test

import (
	"net/http"
	"testing"

	main "github.com/casebook/casebook/cmd/casebookd"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
)

// TestOverKurrentDB runs casebookd with --store pointing at KurrentDB (the
// in-process protocol test double of eventstore/kurrentdb, over gRPC on
// loopback): the same API over the other backend.
func TestOverKurrentDB(t *testing.T) {
	kdb := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	s := startServer(t, func(c *main.Config) { c.StoreURL = kdb.URL() })
	c := s.openCase(t, invUKBA, "UKBA-KDB-1")
	rec := s.record(t, invUKBA, c.ID, intelligence("Seen at Zeebrugge"))
	if rec.Version != 1 {
		t.Errorf("version %d", rec.Version)
	}
	r := s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
	mustStatus(t, r, http.StatusOK)
	if r.Header.Get("ETag") != `"1"` {
		t.Errorf("ETag %s", r.Header.Get("ETag"))
	}
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/verify", as: auditor})
	mustStatus(t, r, http.StatusOK)
	var v map[string]any
	r.decode(t, &v)
	if v["valid"] != true {
		t.Errorf("verify %v", v)
	}
	mustStatus(t, s.do(t, req{method: "GET", path: "/readyz"}), http.StatusOK)
	kdb.Stop()
	mustStatus(t, s.do(t, req{method: "GET", path: "/readyz"}), http.StatusServiceUnavailable)
}
