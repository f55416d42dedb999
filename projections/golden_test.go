package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of the read-model tests")

// goldenQueries are the report queries of the golden test, by label.
func goldenQueries(f fixture) []struct {
	label  string
	report string
	q      ReportQuery
} {
	from, to := ptr(at("2010-06-06")), ptr(at("2011-06-06"))
	type gq = struct {
		label  string
		report string
		q      ReportQuery
	}
	return []gq{
		{"arrests period", "arrests", ReportQuery{From: from, To: to}},
		{"arrests by agency", "arrests", ReportQuery{From: from, To: to, GroupBy: "agency"}},
		{"arrests by location", "arrests", ReportQuery{From: from, To: to, GroupBy: "location"}},
		{"arrests by month", "arrests", ReportQuery{From: from, To: to, GroupBy: "month"}},
		{"arrests by year", "arrests", ReportQuery{From: from, To: to, GroupBy: "year"}},
		{"arrests by day explained", "arrests", ReportQuery{From: from, To: to, GroupBy: "day", Explain: true}},
		{"arrests all time", "arrests", ReportQuery{GroupBy: "year"}},
		{"arrests one nanosecond after from", "arrests", ReportQuery{From: ptr(at("2010-06-06T00:00:00.000000001Z")), To: to}},
		{"arrests within one hour", "arrests", ReportQuery{From: ptr(at("2011-02-28T23:00:00Z")), To: ptr(at("2011-03-01T00:00:00Z")), Explain: true}},
		{"arrests in local time", "arrests", ReportQuery{From: ptr(at("2010-06-06T02:00:00+02:00")), To: ptr(at("2010-07-15T12:00:00+02:00"))}},
		{"arrests as of before the retraction", "arrests", ReportQuery{From: from, To: to, GroupBy: "month", AsOf: &f.beforeArrestRetraction, Explain: true}},
		{"arrests as of 4 minutes into the log", "arrests", ReportQuery{From: from, To: to, AsOf: ptr(at("2011-06-01T00:04:00Z"))}},
		{"gangs period", "gangs-dismantled", ReportQuery{From: from, To: to}},
		{"gangs by month", "gangs-dismantled", ReportQuery{From: from, To: to, GroupBy: "month", Explain: true}},
		{"gangs by year", "gangs-dismantled", ReportQuery{From: from, To: to, GroupBy: "year"}},
		{"gangs by agency", "gangs-dismantled", ReportQuery{From: from, To: to, GroupBy: "agency", Explain: true}},
		{"gangs in January", "gangs-dismantled", ReportQuery{From: ptr(at("2011-01-01")), To: ptr(at("2011-02-01"))}},
		{"gangs in January as known before the retraction", "gangs-dismantled", ReportQuery{From: ptr(at("2011-01-01")), To: ptr(at("2011-02-01")), AsOf: &f.beforeRetraction}},
		{"gangs by agency as known before the retraction", "gangs-dismantled", ReportQuery{From: from, To: to, GroupBy: "agency", AsOf: &f.beforeRetraction}},
		{"gangs by month as known after the retraction", "gangs-dismantled", ReportQuery{From: from, To: to, GroupBy: "month", AsOf: &f.afterRetraction}},
		{"seizures period", "seizures", ReportQuery{From: from, To: to}},
		{"seizures by location", "seizures", ReportQuery{From: from, To: to, GroupBy: "location"}},
		{"seizures by agency", "seizures", ReportQuery{From: from, To: to, GroupBy: "agency"}},
		{"seizures by year explained", "seizures", ReportQuery{From: from, To: to, GroupBy: "year", Explain: true}},
		{"seizures as of before the cannabis retraction", "seizures", ReportQuery{From: from, To: to, AsOf: ptr(at("2011-06-01T00:30:00Z"))}},
		{"detections period", "detections", ReportQuery{From: from, To: to}},
		{"detections by method", "detections", ReportQuery{From: from, To: to, GroupBy: "method"}},
		{"detections by location explained", "detections", ReportQuery{From: from, To: to, GroupBy: "location", Explain: true}},
		{"detections by month", "detections", ReportQuery{From: from, To: to, GroupBy: "month"}},
		{"detections by year", "detections", ReportQuery{From: from, To: to, GroupBy: "year"}},
		{"summary default period", "summary", ReportQuery{}},
		{"summary period", "summary", ReportQuery{From: from, To: to}},
		{"summary period explained", "summary", ReportQuery{From: from, To: to, Explain: true}},
		{"summary as of before the gang retraction", "summary", ReportQuery{From: from, To: to, AsOf: &f.beforeRetraction}},
	}
}

func runReport(ctx context.Context, e *Engine, report string, q ReportQuery) (any, error) {
	switch report {
	case "arrests":
		return e.Arrests(ctx, q)
	case "gangs-dismantled":
		return e.GangsDismantled(ctx, q)
	case "seizures":
		return e.Seizures(ctx, q)
	case "detections":
		return e.Detections(ctx, q)
	case "summary":
		return e.Summary(ctx, q)
	}
	panic(report)
}

func goldenCaseQueries() []struct {
	label string
	q     CaseQuery
} {
	return []struct {
		label string
		q     CaseQuery
	}{
		{"all cases", CaseQuery{AllAgencies: true}},
		{"visible to SOCA", CaseQuery{VisibleTo: soca}},
		{"visible to the French border police", CaseQuery{VisibleTo: police}},
		{"visible to an agency with no case", CaseQuery{VisibleTo: "Europol"}},
		{"closed", CaseQuery{AllAgencies: true, Status: "closed"}},
		{"open, visible to UKBA", CaseQuery{VisibleTo: ukba, Status: "open"}},
		{"crime type cash", CaseQuery{AllAgencies: true, CrimeType: "cash"}},
		{"agency filter", CaseQuery{AllAgencies: true, Agency: police}},
		{"text LORRY", CaseQuery{AllAgencies: true, Text: "LORRY"}},
		{"text in reference", CaseQuery{AllAgencies: true, Text: "dov-2010"}},
	}
}

// TestGoldenReadModels builds every read model from the fixture log and
// compares each report with its golden answer (go test -run Golden
// -update rewrites them). Key figures are also asserted by hand.
func TestGoldenReadModels(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	f := writeFixture(newLogWriter(t, store))
	e := openTestEngine(t, dir, store, Options{BatchSize: 5})
	syncTo(t, e, store)
	ctx := context.Background()

	got := map[string]any{}
	for _, gq := range goldenQueries(f) {
		r, err := runReport(ctx, e, gq.report, gq.q)
		if err != nil {
			t.Fatalf("%s: %v", gq.label, err)
		}
		got[gq.report+": "+gq.label] = r
	}
	for _, cq := range goldenCaseQueries() {
		page, err := e.ListCases(ctx, cq.q)
		if err != nil {
			t.Fatalf("%s: %v", cq.label, err)
		}
		got["cases: "+cq.label] = page
	}
	checkGolden(t, "read_models.json", got)

	// By hand, so that the golden file is not the only judge.
	period := ReportQuery{From: ptr(at("2010-06-06")), To: ptr(at("2011-06-06"))}
	ar, _ := e.Arrests(ctx, period)
	if ar.Total != 3 {
		t.Errorf("arrests in the period = %d, want 3 (one at from counts, one at to and one retracted do not)", ar.Total)
	}
	gr, _ := e.GangsDismantled(ctx, ReportQuery{From: period.From, To: period.To, GroupBy: "month"})
	if gr.Total != 2 || len(gr.Groups) != 2 || gr.Groups[0].Key != "2011-02" || gr.Groups[1].Key != "2011-03" {
		t.Errorf("gangs = %+v, want 2: gang 1 at its first unretracted dismantling (2011-02), gang 2 (2011-03)", gr)
	}
	sr, _ := e.Seizures(ctx, period)
	wantQty := map[string]string{"cash": "4250000.3", "cannabis": "1.5", "class_a_drugs": "1000.000001",
		"cigarettes": "245000000", "hand_rolling_tobacco": "100000"}
	for _, tot := range sr.Totals {
		if tot.Quantity.String() != wantQty[tot.Commodity] {
			t.Errorf("seizures of %s = %s, want %s", tot.Commodity, tot.Quantity, wantQty[tot.Commodity])
		}
	}
	if len(sr.Totals) != len(wantQty) {
		t.Errorf("seizure totals %+v, want %d commodities", sr.Totals, len(wantQty))
	}
	dr, _ := e.Detections(ctx, period)
	if dr.Incidents != 3 || dr.People != 10 {
		t.Errorf("detections = %d incidents, %d people; want 3, 10", dr.Incidents, dr.People)
	}
	before, _ := e.GangsDismantled(ctx, ReportQuery{From: ptr(at("2011-01-01")), To: ptr(at("2011-02-01")), AsOf: &f.beforeRetraction})
	after, _ := e.GangsDismantled(ctx, ReportQuery{From: ptr(at("2011-01-01")), To: ptr(at("2011-02-01"))})
	if before.Total != 1 || after.Total != 0 {
		t.Errorf("gangs in January: as known before the retraction %d (want 1), now %d (want 0)", before.Total, after.Total)
	}
	head, _ := store.Head(ctx)
	if ar.Position != uint64(head) {
		t.Errorf("position %d, want the head %d", ar.Position, head)
	}
}

func checkGolden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		gotPath := filepath.Join(t.TempDir(), name)
		_ = os.WriteFile(gotPath, b, 0o644)
		t.Errorf("read models differ from %s; got written to %s (diff them; -update accepts)", path, gotPath)
	}
}
