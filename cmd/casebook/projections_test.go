package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestProjectionsStatusAndOfflineRebuild(t *testing.T) {
	t.Parallel()
	dir := demoData(t) // events only
	if r := run(t, "projections", "status", "--data", dir); r.code != exitProblems || !strings.Contains(r.stderr, "no read models") {
		t.Fatalf("status before any read model: exit %d %s", r.code, r.stderr)
	}
	must(t, "projections", "rebuild", "--data", dir)
	var ss []projectionStatus
	r := must(t, "projections", "status", "--data", dir, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &ss); err != nil {
		t.Fatal(err)
	}
	if len(ss) != 7 { // the five of the case list and reports, the retention reviews', and the access log's
		t.Fatalf("%d projections, want 7: %s", len(ss), r.stdout)
	}
	for _, s := range ss {
		if s.LagEvents != 0 || s.Position != s.Head || s.Head == 0 || s.Generation != 1 {
			t.Errorf("after the demo: %+v", s)
		}
	}

	// One read model: a new generation is built and swapped in.
	r = must(t, "projections", "rebuild", "gangs_dismantled", "--data", dir, "--json")
	ss = nil
	if err := json.Unmarshal([]byte(r.stdout), &ss); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	for _, s := range ss {
		wantGen := int64(1)
		if s.Name == "gangs_dismantled" {
			wantGen = 2
		}
		if s.Generation != wantGen || s.Rebuilding || s.LagEvents != 0 {
			t.Errorf("after rebuilding gangs_dismantled: %+v", s)
		}
	}

	// All of them, from an empty read-model database.
	r = must(t, "projections", "rebuild", "--data", dir)
	if !strings.Contains(r.stdout, "Rebuilt all read models from the log up to position") {
		t.Fatalf("rebuild: %s", r.stdout)
	}
	if r := run(t, "projections", "rebuild", "no_such_model", "--data", dir); r.code != exitUsage {
		t.Fatalf("rebuild of an unknown projection: exit %d", r.code)
	}

	// While the store is open read-write elsewhere (casebookd), the offline
	// rebuild refuses; status still works.
	st := openTestStore(t, dir, false)
	defer st.Close()
	if r := run(t, "projections", "rebuild", "--data", dir); r.code != exitProblems || !strings.Contains(r.stderr, "casebookd is running") {
		t.Fatalf("rebuild beside a running server: exit %d %s", r.code, r.stderr)
	}
	must(t, "projections", "status", "--data", dir)
}
