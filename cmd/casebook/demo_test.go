package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/casebook/casebook/demo"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/projections"
	"github.com/google/uuid"
)

// TestDemoReproducesThePressRelease loads the demo through "casebook demo"
// and reads the press release's figures back from the projections' report
// queries (the ones GET /v1/reports/... answers), with the numbers written
// out here as the release gives them.
func TestDemoReproducesThePressRelease(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	r := must(t, "demo", "--data", dir, "--json")
	var rep demoReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	for _, c := range rep.Expected {
		if !c.OK {
			t.Errorf("demo's own check: %s: want %s, got %s", c.Figure, c.Want, c.Got)
		}
	}

	st := openTestStore(t, dir, true)
	eng, err := projections.Open(context.Background(), dir, st, projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	head, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.WaitFor(ctx, head); err != nil {
		t.Fatal(err)
	}
	day := func(s string) *time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}

	// "nine organised crime gangs being dismantled and more than 170
	// arrests in the past year"
	sum, err := eng.Summary(ctx, projections.ReportQuery{From: day("2010-06-07"), To: day("2011-06-07")})
	if err != nil {
		t.Fatal(err)
	}
	gangs := int64(-1) // (the summary leaves the gangs out only when filtered by location)
	if sum.GangsDismantled != nil {
		gangs = *sum.GangsDismantled
	}
	if gangs != 9 || sum.Arrests != 173 {
		t.Errorf("year to 6 June 2011: %d gangs dismantled, %d arrests; want 9 and 173", gangs, sum.Arrests)
	}
	// The period's edges: the arrest at 23:59 on 6 June 2010 is outside,
	// the one at midnight inside.
	edge, err := eng.Arrests(ctx, projections.ReportQuery{From: day("2010-06-06"), To: day("2010-06-07"), GroupBy: "day"})
	if err != nil {
		t.Fatal(err)
	}
	if edge.Total < 1 {
		t.Errorf("no arrest on 6 June 2010: the boundary case is missing")
	}

	// "more than 29,000 in 2009 ... more than 9,700 [in 2010] ... just
	// 3,500 so far in 2011"
	det, err := eng.Detections(ctx, projections.ReportQuery{From: day("2009-01-01"), To: day("2011-06-07"), GroupBy: "year"})
	if err != nil {
		t.Fatal(err)
	}
	people := map[string]int64{}
	for _, g := range det.Groups {
		people[g.Key] = g.People
	}
	if people["2009"] != 29112 || people["2010"] != 9731 || people["2011"] != 3502 {
		t.Errorf("stowaways by year: %v; want 2009:29112 2010:9731 2011:3502", people)
	}
	methods, err := eng.Detections(ctx, projections.ReportQuery{From: day("2009-01-01"), To: day("2011-06-07"), GroupBy: "method"})
	if err != nil {
		t.Fatal(err)
	}
	if len(methods.Groups) != 5 {
		t.Errorf("detections by method: %d methods, want all 5", len(methods.Groups))
	}

	// "At Dover and Coquelles, between 2009 and 2011 ... over 1 tonne of
	// class A drugs; 15 tonnes of cannabis; £4.25 million in criminal cash;
	// 245 million cigarettes; 100 tonnes of hand rolling tobacco; and 60
	// firearms."
	sz, err := eng.Seizures(ctx, projections.ReportQuery{From: day("2009-01-01"), To: day("2011-06-07"), GroupBy: "location"})
	if err != nil {
		t.Fatal(err)
	}
	micros := map[string]int64{}
	for _, g := range sz.Groups {
		if g.Key != "DOVER" && g.Key != "COQUELLES" {
			t.Errorf("a seizure at %s", g.Key)
			continue
		}
		micros[g.Commodity+" "+g.Unit] += g.Quantity.Micros()
	}
	got := map[string]string{}
	for k, m := range micros {
		got[k] = domain.QuantityFromMicros(m).String()
	}
	want := map[string]string{
		"class_a_drugs kg":        "1023.4",
		"cannabis kg":             "15000",
		"cash gbp":                "4250000",
		"cigarettes sticks":       "245000000",
		"hand_rolling_tobacco kg": "100000",
		"firearms items":          "60",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("seized at Dover and Coquelles, %s: %s, want %s", k, got[k], w)
		}
	}

	// The human output says the same.
	if !strings.Contains(must(t, "verify", "--data", dir).stdout, "0 broken") {
		t.Error("the demo's chains do not verify")
	}
}

func demoPlanSeed(seed uint64) int { return demo.NewPlan(seed).Events() }

func TestDemoRefusesANonEmptyStoreAndIsDeterministic(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	r := run(t, "demo", "--data", dir, "--no-projections")
	if r.code != exitProblems || !strings.Contains(r.stderr, "already holds events") {
		t.Fatalf("demo on a loaded store: exit %d %s", r.code, r.stderr)
	}
	// Loading the same seed again with --force writes nothing new: every
	// command is answered as a retry of the one already recorded.
	r = must(t, "demo", "--data", dir, "--force", "--no-projections", "--json")
	var rep demoReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.New != 0 || rep.Events != demoPlan().Events() {
		t.Fatalf("demo --force with the same seed: %v %+v", err, rep)
	}
	// The same seed loads the same events (ids, streams, revisions), in the
	// same order: the plan's, which is a pure function of the seed.
	log := logOf(t, dir)
	i := 0
	for _, c := range demoPlan().Cases {
		ids := []uuid.UUID{c.OpenID}
		for _, s := range c.Steps {
			ids = append(ids, s.EventID)
		}
		for v, id := range ids {
			if i >= len(log) || log[i].ID != id || log[i].Stream != domain.StreamName(c.ID) || log[i].Revision != uint64(v) {
				t.Fatalf("log event %d is not the plan's event %s (case %s version %d)", i, id, c.Opened.Reference, v)
			}
			i++
		}
	}
	if i != len(log) {
		t.Fatalf("the log has %d events, the plan %d", len(log), i)
	}
	a := log
	again := dir
	// --force adds another seed's data set to a loaded store.
	must(t, "demo", "--data", again, "--seed", "2", "--force", "--no-projections")
	if n := len(logOf(t, again)); n != len(a)+demoPlanSeed(2) {
		t.Fatalf("after --force with seed 2: %d events, want %d", n, len(a)+demoPlanSeed(2))
	}
}

// TestDemoGeneratesAScaleDataSet: "casebook demo --events N" writes exactly
// N events whose chains "casebook verify" accepts, builds the read models
// and reports the generation's rate; the reports answer from them, as of
// earlier times too.
func TestDemoGeneratesAScaleDataSet(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	r := must(t, "demo", "--events", "4000", "--seed", "7", "--data", dir, "--json")
	var rep scaleReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if rep.Events != 4000 || rep.Position != 4000 || rep.EventsPerSec <= 0 || rep.Summary == nil || rep.Summary.Arrests == 0 {
		t.Fatalf("report %+v", rep)
	}
	if n := len(logOf(t, dir)); n != 4000 {
		t.Fatalf("%d events in the store, want 4000", n)
	}
	if !strings.Contains(must(t, "verify", "--data", dir).stdout, "0 broken") {
		t.Error("the generated chains do not verify")
	}
	// As known halfway through the recorded span, fewer arrests stood.
	st := openTestStore(t, dir, true)
	eng, err := projections.Open(context.Background(), dir, st, projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eng.WaitFor(ctx, 4000); err != nil {
		t.Fatal(err)
	}
	half := rep.RecordedFrom.Add(rep.RecordedTo.Sub(rep.RecordedFrom) / 2)
	then, err := eng.Arrests(ctx, projections.ReportQuery{AsOf: &half})
	if err != nil {
		t.Fatal(err)
	}
	now, _ := eng.Arrests(ctx, projections.ReportQuery{})
	if then.Total == 0 || then.Total >= now.Total || now.Total != rep.Summary.Arrests {
		t.Errorf("arrests as known halfway %d, now %d, summary %d: want 0 < halfway < now = summary", then.Total, now.Total, rep.Summary.Arrests)
	}
	// A count that is not one is a usage error.
	if r := run(t, "demo", "--events", "-3", "--data", filepath.Join(t.TempDir(), "x")); r.code != exitUsage {
		t.Errorf("--events -3: exit %d %s", r.code, r.stderr)
	}
}
