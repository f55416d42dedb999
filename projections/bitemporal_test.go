package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// TestAsOfAgreesWithReplay: on a generated log full of what makes "as known
// then" differ from "now" — facts recorded long after they happened, facts
// recorded a little before they happened (clock skew), retractions
// recorded long after the facts they retract, gangs dismantled jointly and
// their first dismantling retracted, streams whose recorded times
// interleave out of log order — the indexed as_of answers equal the
// replay's (the oracle, asof_test.go) for random (report, period, as_of,
// group_by), explained pages included.
func TestAsOfAgreesWithReplay(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	rng := rand.New(rand.NewPCG(15, 2026))
	log := generateBitemporalLog(t, store, rng, 2000)
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store)
	ctx := context.Background()

	// as_of times: random ones over (and around) the recorded times, and
	// exactly at (and a nanosecond before) retractions and late facts.
	var asOfs []time.Time
	for range 8 {
		asOfs = append(asOfs, between(rng, log.firstRecorded.AddDate(0, -1, 0), log.lastRecorded.AddDate(0, 1, 0)))
	}
	for range 3 {
		r := log.edges[rng.IntN(len(log.edges))]
		asOfs = append(asOfs, r, r.Add(-time.Nanosecond))
	}
	var skewed []time.Time
	for range 3 {
		skewed = append(skewed, log.skewedAt[rng.IntN(len(log.skewedAt))])
	}
	asOfs = append(asOfs, skewed...)
	asOfs = append(asOfs, log.firstRecorded.Add(-time.Hour), log.lastRecorded)
	oracles := map[time.Time]*replayed{} // one replay per as_of time

	reports := []string{"arrests", "gangs-dismantled", "seizures", "detections", "summary"}
	const triples = 80
	differ, changed := 0, 0
	for i := range triples {
		report := reports[rng.IntN(len(reports))]
		asOf := asOfs[rng.IntN(len(asOfs))]
		q := ReportQuery{AsOf: &asOf}
		if i%8 == 0 {
			// Around an event that occurred after it was recorded: the
			// period ends within its two minutes of skew.
			asOf = skewed[rng.IntN(len(skewed))]
			to := asOf.Add(time.Duration(1+rng.IntN(120)) * time.Second)
			from := asOf.AddDate(0, -rng.IntN(3), -1)
			q = ReportQuery{AsOf: &asOf, From: &from, To: &to}
			if report == "summary" {
				report = "arrests"
			}
		}
		if keys := GroupByKeys[report]; len(keys) > 0 && rng.IntN(5) > 0 {
			q.GroupBy = keys[rng.IntN(len(keys))]
		}
		if q.To == nil && rng.IntN(5) > 0 {
			from := between(rng, log.firstOccurred.AddDate(-1, 0, 0), log.lastOccurred)
			q.From = &from
		}
		if q.To == nil && rng.IntN(5) > 0 {
			lo := log.firstOccurred
			if q.From != nil {
				lo = q.From.Add(time.Nanosecond)
			}
			to := between(rng, lo, log.lastOccurred.AddDate(1, 0, 0))
			if rng.IntN(3) == 0 {
				to = floorDay(to).Add(24 * time.Hour) // whole days and months too
			}
			q.To = &to
		}
		if report == "summary" && q.From == nil && q.To == nil {
			q.From = &log.firstOccurred // not the default period (it follows the clock)
		}
		if rng.IntN(3) == 0 {
			q.Explain, q.Limit = true, 1+rng.IntN(60)
		}
		oracle := oracles[asOf]
		if oracle == nil {
			oracle = replayAsOf(t, store, asOf)
			oracles[asOf] = oracle
		}
		label := fmt.Sprintf("#%d %s from %v to %v as of %s by %q explain %v limit %d", i, report,
			fmtTime(q.From), fmtTime(q.To), asOf.Format(time.RFC3339Nano), q.GroupBy, q.Explain, q.Limit)
		now := q
		now.AsOf = nil
		if got, _ := runReport(ctx, e, report, now); figures(t, got) != figures(t, oracle.report(t, report, q)) {
			changed++ // as known then is not as known now: the case is worth checking
		}
		// Page through explained answers: every page must agree.
		for page := 0; ; page++ {
			got, err := runReport(ctx, e, report, q)
			if err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			want := oracle.report(t, report, q)
			g, w := figures(t, got), figures(t, want)
			if g != w {
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
	t.Logf("%d triples over %d as_of times on %d events (%d late facts, %d retractions); %d answer otherwise than now; %d differ from the replay",
		triples, len(oracles), log.events, log.late, log.retractions, changed, differ)
	if changed < triples/3 {
		t.Errorf("only %d of %d triples answer otherwise as known then than now: the test checks too little", changed, triples)
	}
	if log.late < 20 || log.retractions < 20 || log.skewed < 5 {
		t.Errorf("the log has too few of the cases under test: %d late facts, %d retractions, %d skewed", log.late, log.retractions, log.skewed)
	}
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339Nano)
}

// figures is a report's JSON without what only the engine adds (the
// period and filters as asked, the position, the groups_overlap flag, []
// for no groups): its figures and event ids.
func figures(t *testing.T, report any) string {
	t.Helper()
	b, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"from", "to", "as_of", "group_by", "agency", "location", "position", "groups_overlap"} {
		delete(m, k)
	}
	for _, k := range []string{"groups", "totals"} { // the engine answers [] for none
		if v, ok := m[k]; ok && v == nil {
			m[k] = []any{}
		}
	}
	b, _ = json.Marshal(m)
	return string(b)
}

func nextCursor(report any) string {
	switch r := report.(type) {
	case ArrestsReport:
		return r.NextCursor
	case GangsReport:
		return r.NextCursor
	case SeizuresReport:
		return r.NextCursor
	case DetectionsReport:
		return r.NextCursor
	case SummaryReport:
		return r.NextCursor
	}
	return ""
}

func between(rng *rand.Rand, from, to time.Time) time.Time {
	if !from.Before(to) {
		return from
	}
	return from.Add(time.Duration(rng.Int64N(int64(to.Sub(from)))))
}

// bitemporalLog says what generateBitemporalLog wrote.
type bitemporalLog struct {
	events, late, retractions, skewed int
	firstOccurred, lastOccurred       time.Time
	firstRecorded, lastRecorded       time.Time
	// edges are recorded times where as_of answers change in interesting
	// ways: retractions and late facts; skewedAt those of events that
	// occurred after they were recorded (as known then, they stand in a
	// period that ends before they occurred... or after).
	edges, skewedAt []time.Time
}

// bitemporalCase is a case being generated: its state as the domain folds
// it, its own recording clock, and what may be retracted.
type bitemporalCase struct {
	state       domain.Case
	clock       time.Time // recorded_at of its last event
	lead        string
	suspects    []uuid.UUID
	groups      []uuid.UUID
	retractable []uuid.UUID
}

// generateBitemporalLog appends about n events decided by the domain (so
// every rule holds and the hash chains are real) to store: cases of three
// agencies, each with its own recording clock, written in chunks of one
// case at a time in random order, so recorded_at does not follow the log's
// order across streams.
func generateBitemporalLog(t *testing.T, store eventstore.Store, rng *rand.Rand, n int) bitemporalLog {
	t.Helper()
	ctx := context.Background()
	agencies := []string{"UKBA", "SOCA", "PAF"}
	start := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	groupPool := make([]uuid.UUID, 40)
	for i := range groupPool {
		groupPool[i] = uuid.NewSHA1(idSpace, fmt.Appendf(nil, "bitemporal-group-%d", i))
	}
	var lg bitemporalLog
	var cases []*bitemporalCase
	seen := func(occ, rec time.Time) {
		if lg.events == 0 || occ.Before(lg.firstOccurred) {
			lg.firstOccurred = occ
		}
		if occ.After(lg.lastOccurred) {
			lg.lastOccurred = occ
		}
		if lg.events == 0 || rec.Before(lg.firstRecorded) {
			lg.firstRecorded = rec
		}
		if rec.After(lg.lastRecorded) {
			lg.lastRecorded = rec
		}
		lg.events++
	}
	for lg.events < n {
		// A new case now and then; otherwise a chunk of an open one.
		if len(cases) < 3 || rng.IntN(8) == 0 {
			lead := agencies[rng.IntN(len(agencies))]
			c := &bitemporalCase{lead: lead, clock: between(rng, start, start.AddDate(2, 0, 0))}
			c.state = domain.NewCase(uuid.NewSHA1(idSpace, fmt.Appendf(nil, "bitemporal-case-%d", len(cases))))
			cases = append(cases, c)
		}
		c := cases[rng.IntN(len(cases))]
		var batch []eventstore.EventData
		expected := eventstore.NoStream
		if c.state.Exists() {
			expected = eventstore.Exact(c.state.Version)
		}
		for range 1 + rng.IntN(12) {
			typ, data, agency := c.next(rng, agencies, groupPool)
			// The case's clock moves on by minutes to a couple of weeks.
			c.clock = c.clock.Add(time.Duration(1+rng.Int64N(int64(14*24*time.Hour/time.Minute))) * time.Minute)
			occurred := c.clock.Add(-time.Duration(rng.Int64N(int64(6 * time.Hour))))
			late, skewed := false, false
			switch r := rng.IntN(100); {
			case typ == domain.TypeCaseOpened || typ == domain.TypeEntryRetracted:
			case r < 12: // recorded long after it happened: months, or years
				occurred = c.clock.Add(-time.Duration(30+rng.IntN(900)) * 24 * time.Hour)
				late = true
			case r < 16: // the officer's clock ran ahead of the server's
				occurred = c.clock.Add(time.Duration(1+rng.IntN(110)) * time.Second)
				skewed = true
			}
			evID := uuid.NewSHA1(c.state.ID, fmt.Appendf(nil, "%d", lg.events))
			ent, err := domain.Decide(c.state, domain.Command{
				EventID: evID, Type: typ, Data: data, OccurredAt: &occurred, Now: c.clock,
				Actor: domain.Actor{Subject: "officer-" + agency, Role: domain.RoleInvestigator, Agency: agency},
			})
			if err != nil {
				t.Fatalf("generated %s refused: %v", typ, err)
			}
			if err := c.state.Apply(ent); err != nil {
				t.Fatalf("apply %s: %v", typ, err)
			}
			if domain.IsRetractable(typ) && typ != domain.TypeSuspectIdentified {
				c.retractable = append(c.retractable, evID)
			}
			if late && typ != domain.TypeCaseOpened {
				lg.late++
				lg.edges = append(lg.edges, ent.Metadata.RecordedAt)
			}
			if skewed {
				lg.skewed++
				lg.skewedAt = append(lg.skewedAt, ent.Metadata.RecordedAt)
			}
			if typ == domain.TypeEntryRetracted {
				lg.retractions++
				lg.edges = append(lg.edges, ent.Metadata.RecordedAt)
			}
			seen(ent.Metadata.OccurredAt, ent.Metadata.RecordedAt)
			batch = append(batch, eventstore.EventData{ID: ent.ID, Type: ent.Type, Data: ent.Stored.Data, Metadata: ent.Stored.Metadata})
		}
		if _, err := store.Append(ctx, domain.StreamName(c.state.ID), expected, batch...); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	return lg
}

// next invents the case's next command: its type, data and the agency of
// the investigator logging it (the lead's for opening, joining, closing
// and reopening; any agency of the case otherwise).
func (c *bitemporalCase) next(rng *rand.Rand, agencies []string, groupPool []uuid.UUID) (string, json.RawMessage, string) {
	enc := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	if !c.state.Exists() {
		return domain.TypeCaseOpened, enc(domain.CaseOpened{Reference: "BT-" + c.state.ID.String()[:8], Title: "Generated case",
			LeadAgency: c.lead, CrimeTypes: []string{domain.CrimePeopleSmuggling}, Location: "Calais"}), c.lead
	}
	if c.state.Status == domain.StatusClosed {
		if len(c.retractable) > 0 && rng.IntN(2) == 0 {
			return c.retraction(rng, enc)
		}
		return domain.TypeCaseReopened, enc(domain.CaseReopened{Reason: "new evidence"}), c.lead
	}
	agency := c.state.Agencies[rng.IntN(len(c.state.Agencies))]
	loc := []string{"Calais", "Dover", "Coquelles", "Dunkirk"}[rng.IntN(4)]
	switch r := rng.IntN(100); {
	case r < 4:
		for _, a := range agencies {
			if !c.state.VisibleTo(a) {
				return domain.TypeAgencyJoined, enc(domain.AgencyJoined{Agency: a}), c.lead
			}
		}
	case r < 10:
		g := groupPool[rng.IntN(len(groupPool))]
		if _, linked := c.state.Group(g); !linked {
			c.groups = append(c.groups, g)
			return domain.TypeOrganisedCrimeGroupLinked, enc(domain.OrganisedCrimeGroupLinked{GroupID: g, Name: "Network " + g.String()[:4]}), agency
		}
	case r < 20:
		p := uuid.New()
		c.suspects = append(c.suspects, p)
		return domain.TypeSuspectIdentified, enc(domain.SuspectIdentified{PersonID: p, Name: "Suspect " + p.String()[:6]}), agency
	case r < 38:
		if len(c.suspects) > 0 {
			return domain.TypeArrestMade, enc(domain.ArrestMade{PersonID: c.suspects[rng.IntN(len(c.suspects))], Location: loc,
				Offence: []string{"facilitation", "drug trafficking"}[rng.IntN(2)]}), agency
		}
	case r < 54:
		com := domain.Commodities[rng.IntN(len(domain.Commodities)-1)]
		unit := domain.UnitFor(com)
		q := 1 + rng.Int64N(5_000_000_000) // kg to the milligram
		switch unit {
		case domain.UnitGBP:
			q = (1 + rng.Int64N(500_000)) * domain.QuantityScale / 100
		case domain.UnitSticks, domain.UnitItems:
			q = (1 + rng.Int64N(5000)) * domain.QuantityScale
		}
		return domain.TypeSeizureRecorded, enc(domain.SeizureRecorded{Commodity: com, Unit: unit, Location: loc,
			Quantity: domain.QuantityFromMicros(q)}), agency
	case r < 70:
		return domain.TypeStowawaysDetected, enc(domain.StowawaysDetected{Location: loc, Method: domain.Methods[rng.IntN(len(domain.Methods))],
			People: 1 + rng.IntN(9)}), agency
	case r < 80:
		for _, g := range c.groups {
			if grp, _ := c.state.Group(g); !grp.Dismantled {
				return domain.TypeGangDismantled, enc(domain.GangDismantled{GroupID: g}), agency
			}
		}
	case r < 92:
		if len(c.retractable) > 0 {
			return c.retraction(rng, enc)
		}
	case r < 94:
		return domain.TypeCaseClosed, enc(domain.CaseClosed{Outcome: "charged"}), c.lead
	}
	return domain.TypeIntelligenceLogged, enc(domain.IntelligenceLogged{Summary: "Lorries changing loads at " + loc, Grading: "2B1"}), agency
}

func (c *bitemporalCase) retraction(rng *rand.Rand, enc func(any) json.RawMessage) (string, json.RawMessage, string) {
	i := rng.IntN(len(c.retractable))
	id := c.retractable[i]
	c.retractable = slices.Delete(c.retractable, i, i+1)
	return domain.TypeEntryRetracted, enc(domain.EntryRetracted{EventID: id, Reason: "recorded in error"}), c.state.Agencies[rng.IntN(len(c.state.Agencies))]
}
