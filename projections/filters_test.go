package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/casebook/casebook/domain"
)

// The agency and location filters (ReportQuery.Agency, Location) are
// judged by the as_of oracle (asof_test.go) run over only the events the
// filters keep: its unfiltered answer over that part of the log is what
// the filtered answer must be. Which events a filter keeps is worked out
// here from the events' JSON, not by the read models' own extraction.

// filterKeeps is the oracle's filter predicate: an event of a counted
// type is kept when its agency (an arrest's own agency field, else the
// logging officer's) and its location are those asked for; a dismantling
// carries no location, so a location filter keeps none. Retractions are
// always kept (one of an event left out finds nothing to retract).
func filterKeeps(t testing.TB, agency, location string) func(*entry) bool {
	return func(e *entry) bool {
		var fields struct {
			Agency   string `json:"agency"`
			Location string `json:"location"`
		}
		switch e.Type {
		case domain.TypeArrestMade, domain.TypeSeizureRecorded, domain.TypeStowawaysDetected, domain.TypeGangDismantled:
		default:
			return true
		}
		if err := json.Unmarshal(e.Data, &fields); err != nil {
			t.Fatalf("oracle: %s data: %v", e.Type, err)
		}
		if e.envErr != nil {
			t.Fatalf("oracle: %s metadata: %v", e.Type, e.envErr)
		}
		ag := e.env.Agency
		if e.Type == domain.TypeArrestMade && fields.Agency != "" {
			ag = fields.Agency
		}
		if agency != "" && ag != agency {
			return false
		}
		if location != "" && (e.Type == domain.TypeGangDismantled || fields.Location != location) {
			return false
		}
		return true
	}
}

// TestFiltersAgreeWithAFilteredReplay: on the generated bitemporal log,
// for random (report, filters, period, as_of or none, group_by, explain
// page), the filtered answer of the indexed read models equals the
// unfiltered answer of a replay of only the events the filters keep.
func TestFiltersAgreeWithAFilteredReplay(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	rng := rand.New(rand.NewPCG(18, 2026))
	log := generateBitemporalLog(t, store, rng, 2000)
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store)
	ctx := context.Background()

	agencies := []string{"", "UKBA", "SOCA", "PAF"}
	locations := []string{"", "Calais", "Dover", "Coquelles", "Dunkirk"}
	everything := log.lastRecorded.AddDate(1, 0, 0) // "now", for the oracle
	var asOfs []time.Time
	for range 6 {
		asOfs = append(asOfs, between(rng, log.firstRecorded, log.lastRecorded))
	}
	for range 2 {
		asOfs = append(asOfs, log.edges[rng.IntN(len(log.edges))])
	}
	type oracleKey struct {
		asOf             time.Time
		agency, location string
	}
	oracles := map[oracleKey]*replayed{}

	reports := []string{"arrests", "gangs-dismantled", "seizures", "detections", "summary"}
	const triples = 70
	differ, narrowed, withAsOf, grouped := 0, 0, 0, 0
	for i := range triples {
		report := reports[rng.IntN(len(reports))]
		q := ReportQuery{Agency: agencies[rng.IntN(len(agencies))], Location: locations[rng.IntN(len(locations))]}
		if report == "gangs-dismantled" {
			q.Location = "" // refused: TestGangsRefuseALocationFilter
		}
		if q.Agency == "" && q.Location == "" {
			q.Agency = agencies[1+rng.IntN(len(agencies)-1)]
		}
		asOf := everything
		if rng.IntN(3) > 0 {
			asOf = asOfs[rng.IntN(len(asOfs))]
			q.AsOf = &asOf
			withAsOf++
		}
		if keys := GroupByKeys[report]; len(keys) > 0 && rng.IntN(4) > 0 {
			q.GroupBy = keys[rng.IntN(len(keys))]
			grouped++
		}
		if rng.IntN(4) > 0 {
			from := between(rng, log.firstOccurred.AddDate(0, -1, 0), log.lastOccurred)
			q.From = &from
		}
		if rng.IntN(4) > 0 {
			lo := log.firstOccurred
			if q.From != nil {
				lo = q.From.Add(time.Nanosecond)
			}
			to := between(rng, lo, log.lastOccurred.AddDate(0, 6, 0))
			if rng.IntN(2) == 0 {
				to = floorDay(to).Add(24 * time.Hour) // whole days and months: the buckets
			}
			q.To = &to
		}
		if report == "summary" && q.From == nil && q.To == nil {
			q.From = &log.firstOccurred // not the default period (it follows the clock)
		}
		if rng.IntN(3) == 0 {
			q.Explain, q.Limit = true, 1+rng.IntN(40)
		}
		ok := oracleKey{asOf, q.Agency, q.Location}
		oracle := oracles[ok]
		if oracle == nil {
			oracle = replayKept(t, store, asOf, filterKeeps(t, q.Agency, q.Location))
			oracles[ok] = oracle
		}
		label := fmt.Sprintf("#%d %s agency %q location %q from %v to %v as of %s by %q explain %v limit %d", i, report,
			q.Agency, q.Location, fmtTime(q.From), fmtTime(q.To), fmtTime(q.AsOf), q.GroupBy, q.Explain, q.Limit)
		all := q
		all.Agency, all.Location = "", ""
		unfiltered, err := runReport(ctx, e, report, all)
		if err != nil {
			t.Fatalf("%s, unfiltered: %v", label, err)
		}
		for page := 0; ; page++ {
			got, err := runReport(ctx, e, report, q)
			if err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			if page == 0 {
				if err := echoesFilters(got, q); err != nil {
					t.Errorf("%s: %v", label, err)
				}
				if figures(t, got) != figures(t, unfiltered) {
					narrowed++
				}
			}
			want := filteredOracle(t, oracle, report, q)
			if g, w := figures(t, got), figures(t, want); g != w {
				differ++
				t.Errorf("%s, page %d:\nindexed %s\nreplay  %s", label, page, g, w)
				break
			}
			next := nextCursor(got)
			if next == "" || page == 3 {
				break
			}
			q.Cursor = next
		}
	}
	t.Logf("%d triples (%d as_of, %d grouped) over %d filtered replays; %d narrowed by their filters; %d differ from the replay",
		triples, withAsOf, grouped, len(oracles), narrowed, differ)
	if narrowed < triples/2 {
		t.Errorf("only %d of %d filtered answers differ from the unfiltered one: the test checks too little", narrowed, triples)
	}
	if withAsOf < 30 || grouped < 30 {
		t.Errorf("too few as_of (%d) or grouped (%d) triples", withAsOf, grouped)
	}
}

// filteredOracle is the oracle's answer to q: the unfiltered answer of
// the replay of the filtered events, without the summary's gangs figure
// when filtered by location (dismantlings have no location).
func filteredOracle(t *testing.T, oracle *replayed, report string, q ReportQuery) any {
	t.Helper()
	bare := q
	bare.Agency, bare.Location = "", ""
	want := oracle.report(t, report, bare)
	if s, ok := want.(SummaryReport); ok && q.Location != "" {
		s.GangsDismantled = nil
		want = s
	}
	return want
}

// echoesFilters checks that an answer names the filters it applied.
func echoesFilters(report any, q ReportQuery) error {
	b, err := json.Marshal(report)
	if err != nil {
		return err
	}
	var echo struct {
		Agency   *string `json:"agency"`
		Location *string `json:"location"`
	}
	if err := json.Unmarshal(b, &echo); err != nil {
		return err
	}
	for _, f := range []struct {
		name, want string
		got        *string
	}{{"agency", q.Agency, echo.Agency}, {"location", q.Location, echo.Location}} {
		switch {
		case f.want == "" && f.got != nil:
			return fmt.Errorf("%s %q echoed, none asked", f.name, *f.got)
		case f.want != "" && (f.got == nil || *f.got != f.want):
			return fmt.Errorf("%s echoed as %v, want %q", f.name, f.got, f.want)
		}
	}
	return nil
}

// TestFiltersOnTheFixture: filtered figures on the fixed log, counted by
// hand, now and as known before the retraction of SOCA's dismantling.
func TestFiltersOnTheFixture(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	f := writeFixture(newLogWriter(t, store))
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store)
	ctx := context.Background()
	from, to := at("2010-06-06T00:00:00Z"), at("2011-06-06T00:00:00Z")
	q := func(agency, location string) ReportQuery {
		return ReportQuery{From: &from, To: &to, Agency: agency, Location: location}
	}

	// Arrests in the period: at Coquelles (UKBA), at Calais (the French
	// police), at Dunkirk (SOCA's, logged by a UKBA officer); the one at
	// Calais on 1 August retracted, the one at the period's end outside.
	for _, tc := range []struct {
		agency, location string
		want             int64
	}{
		{"", "", 3}, {ukba, "", 1}, {soca, "", 1}, {police, "", 1}, {"", "Calais", 1}, {"", "Dunkirk", 1},
		{police, "Calais", 1}, {ukba, "Calais", 0}, {"", "Nowhere", 0},
	} {
		r, err := e.Arrests(ctx, q(tc.agency, tc.location))
		if err != nil {
			t.Fatal(err)
		}
		if r.Total != tc.want {
			t.Errorf("arrests of %q at %q: %d, want %d", tc.agency, tc.location, r.Total, tc.want)
		}
	}
	// Grouped by month, filtered to SOCA: the one arrest, in February.
	r, err := e.Arrests(ctx, ReportQuery{From: &from, To: &to, Agency: soca, GroupBy: "month", Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Groups) != 1 || r.Groups[0].Key != "2011-02" || r.Groups[0].Count != 1 || len(r.EventIDs) != 1 {
		t.Errorf("SOCA's arrests by month: %+v", r)
	}

	// Gangs: gang 1 was first dismantled by SOCA (retracted since), then
	// by UKBA; gang 2 by SOCA; gang 3 at the period's end, outside.
	gangs := func(agency string, asOf *time.Time) GangsReport {
		t.Helper()
		q := q(agency, "")
		q.AsOf, q.Explain = asOf, true
		r, err := e.GangsDismantled(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		agency string
		asOf   *time.Time
		want   int64
		ids    []string
	}{
		{"", nil, 2, []string{f.dismantleA1.ID.String(), f.dismantleB2.ID.String()}},
		{soca, nil, 1, []string{f.dismantleB2.ID.String()}},
		{ukba, nil, 1, []string{f.dismantleA1.ID.String()}},
		{police, nil, 0, nil},
		{"", &f.beforeRetraction, 2, []string{f.dismantleB1.ID.String(), f.dismantleB2.ID.String()}},
		{soca, &f.beforeRetraction, 2, []string{f.dismantleB1.ID.String(), f.dismantleB2.ID.String()}},
		{ukba, &f.beforeRetraction, 1, []string{f.dismantleA1.ID.String()}},
	} {
		r := gangs(tc.agency, tc.asOf)
		if r.Total != tc.want || fmt.Sprint(r.EventIDs) != fmt.Sprint(tc.ids) {
			t.Errorf("gangs of %q as of %s: %d %v, want %d %v", tc.agency, fmtTime(tc.asOf), r.Total, r.EventIDs, tc.want, tc.ids)
		}
	}

	// Seizures at Dover in the period: SOCA's cash and drugs, UKBA's
	// cigarettes and tobacco.
	s, err := e.Seizures(ctx, q("", "Dover"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Totals) != 4 {
		t.Errorf("seizures at Dover: %+v, want 4 commodities", s.Totals)
	}
	s, err = e.Seizures(ctx, q(soca, "Dover"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Totals) != 2 || s.Totals[0].Commodity != domain.CommodityCash || s.Totals[1].Commodity != domain.CommodityClassADrugs {
		t.Errorf("SOCA's seizures at Dover: %+v, want cash and class A drugs", s.Totals)
	}

	// The summary at Coquelles: one arrest, 5 + 2 people detected, 1.5 kg
	// of cannabis; no gangs figure (dismantlings have no place).
	sum, err := e.Summary(ctx, q("", "Coquelles"))
	if err != nil {
		t.Fatal(err)
	}
	if sum.GangsDismantled != nil || sum.Arrests != 1 || sum.Detections.People != 7 || len(sum.Seizures) != 1 || sum.Location != "Coquelles" {
		t.Errorf("summary at Coquelles: %+v", sum)
	}
	b, _ := json.Marshal(sum)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if _, ok := m["gangs_dismantled"]; ok {
		t.Errorf("summary at Coquelles names gangs_dismantled: %s", b)
	}
	sum, err = e.Summary(ctx, q(soca, ""))
	if err != nil {
		t.Fatal(err)
	}
	if sum.GangsDismantled == nil || *sum.GangsDismantled != 1 || sum.Arrests != 1 || sum.Agency != soca {
		t.Errorf("SOCA's summary: %+v", sum)
	}
}

// TestGangsRefuseALocationFilter: a GangDismantled event has no place, so
// a location filter on the gangs report is a query error naming location.
func TestGangsRefuseALocationFilter(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	writeFixture(newLogWriter(t, store))
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store)
	_, err := e.GangsDismantled(context.Background(), ReportQuery{Location: "Dover"})
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Field != "location" {
		t.Fatalf("gangs at Dover: %v, want a query error on location", err)
	}
}

// TestFiltersArePartOfTheAnswerCacheKey: a filtered answer is never served
// for an unfiltered query, nor one filter's for another's, on the default
// (rolling) summary as on a fixed period.
func TestFiltersArePartOfTheAnswerCacheKey(t *testing.T) {
	a := newAnswersTest(t)
	ctx := context.Background()
	a.arrest(at("2011-01-02T10:00:00Z"))
	wr := a.w.one(a.caseID, domain.ArrestMade{PersonID: id("p-soca"), Location: "Calais", Offence: "facilitation", Agency: soca}, at("2011-01-03T10:00:00Z"), ukba)
	a.waitFor(wr.Position)
	from := at("2011-01-01T00:00:00Z")
	for range 2 { // the second round from the cache
		for _, tc := range []struct {
			agency, location string
			want             int64
		}{{"", "", 2}, {soca, "", 1}, {ukba, "", 1}, {"", "Calais", 1}, {"", "Dover", 1}, {ukba, "Calais", 0}, {"", "", 2}} {
			s, err := a.e.Summary(ctx, ReportQuery{Agency: tc.agency, Location: tc.location})
			if err != nil {
				t.Fatal(err)
			}
			r, err := a.e.Arrests(ctx, ReportQuery{From: &from, Agency: tc.agency, Location: tc.location})
			if err != nil {
				t.Fatal(err)
			}
			if s.Arrests != tc.want || r.Total != tc.want {
				t.Errorf("agency %q location %q: summary %d, arrests %d; want %d", tc.agency, tc.location, s.Arrests, r.Total, tc.want)
			}
		}
	}
}
