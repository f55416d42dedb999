package projections

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// TestFastDecodeAgreesWithDomain: the scanner's fast paths decode exactly
// what the domain's strict decoder does, and give way to it (for its answer
// or its error) on anything unusual.
func TestFastDecodeAgreesWithDomain(t *testing.T) {
	dir := t.TempDir()
	store := openGeneratedStore(t, dir, 3000, 11)
	n := 0
	for ev, err := range store.ReadAll(context.Background(), eventstore.ReadAllOptions{From: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		got := decodeEntry(ev)
		m, err := domain.DecodeMetadata(ev.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		want := envelope{SchemaVersion: m.SchemaVersion, OccurredAt: m.OccurredAt.UTC(), RecordedAt: m.RecordedAt.UTC(), Agency: m.Actor.Agency}
		if got.envErr != nil || got.env != want {
			t.Fatalf("event %d: envelope %+v (%v), want %+v", ev.Position, got.env, got.envErr, want)
		}
		if !dataTypes[ev.Type] {
			continue
		}
		d, err := domain.DecodeEventData(ev.Type, m.SchemaVersion, ev.Data)
		if err != nil || got.dataErr != nil || !reflect.DeepEqual(got.data, d) {
			t.Fatalf("event %d (%s): %#v (%v), want %#v (%v)", ev.Position, ev.Type, got.data, got.dataErr, d, err)
		}
		n++
	}
	if n < 1000 {
		t.Fatalf("only %d events compared", n)
	}

	for _, c := range []struct {
		typ, data string
		wantErr   bool
	}{
		{domain.TypeArrestMade, `{"person_id":"` + uuid.NewString() + `","location":"Saint-\u00c9tienne \"Nord\"","offence":"x"}`, false},
		{domain.TypeArrestMade, `{"person_id":"` + uuid.NewString() + `","location":"Calais","offence":"x","extra":1}`, true},
		{domain.TypeArrestMade, `{"person_id":"` + uuid.NewString() + `","location":"Calais"}`, true},
		{domain.TypeSeizureRecorded, `{"commodity":"cash","quantity":0.1,"unit":"gbp","location":"Dover"}`, false},
		{domain.TypeSeizureRecorded, `{"commodity":"cash","quantity":1e2,"unit":"gbp","location":"Dover"}`, false},
		{domain.TypeSeizureRecorded, `{"commodity":"cash","quantity":0.0000001,"unit":"gbp","location":"Dover"}`, true},
		{domain.TypeSeizureRecorded, `{"commodity":"cash","quantity":"12.5","unit":"gbp","location":"Dover"}`, false},
		{domain.TypeStowawaysDetected, `{"location":"Calais","method":"co2_probe","people":3} `, false},
		{domain.TypeStowawaysDetected, `{"location":"Calais","method":"co2_probe","people":3}{}`, true},
		{domain.TypeEntryRetracted, `{"event_id":"` + uuid.NewString() + `","reason":"a \"quoted\" reason"}`, false},
		{domain.TypeGangDismantled, `{"group_id":"not-a-uuid"}`, true},
	} {
		got, gotErr := decodeEventData(c.typ, domain.SchemaVersion(c.typ), []byte(c.data))
		want, wantErr := domain.DecodeEventData(c.typ, domain.SchemaVersion(c.typ), []byte(c.data))
		if (gotErr != nil) != c.wantErr || (wantErr != nil) != c.wantErr || (gotErr == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s %s: %#v (%v), domain %#v (%v)", c.typ, c.data, got, gotErr, want, wantErr)
		}
	}
	// Older schema versions go through the domain's upcasters.
	old, err := decodeEventData(domain.TypeStowawaysDetected, 1, []byte(`{"location":"Calais","method":"co2_probe","count":4}`))
	if err != nil || old.(domain.StowawaysDetected).People != 4 {
		t.Errorf("schema v1 stowaways: %#v (%v)", old, err)
	}
	// Metadata the scanner cannot take (escapes) is read by the domain.
	m := domain.Metadata{SchemaVersion: 1, OccurredAt: time.Date(2011, 1, 2, 3, 4, 5, 6, time.UTC), RecordedAt: time.Date(2011, 1, 2, 3, 4, 5, 7, time.UTC),
		Actor: domain.Actor{Subject: "a", Role: "investigator", Agency: `Police "aux" Frontières`}}
	b, _ := domain.EncodeMetadata(m)
	env, err := decodeEnvelope(b)
	if err != nil || env.Agency != m.Actor.Agency || !env.OccurredAt.Equal(m.OccurredAt) {
		t.Errorf("escaped agency: %+v (%v)", env, err)
	}
	if _, err := decodeEnvelope([]byte(`{"schema_version":1}`)); err == nil {
		t.Error("metadata without times decoded")
	}
}

func TestSplitPeriod(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     string
	}{
		{"2011-01-01", "2011-04-01", "facts [] days [] months [[2011-01 2011-04]]"},
		{"2011-01-15", "2011-04-10", "facts [] days [[2011-01-15 2011-02-01] [2011-04-01 2011-04-10]] months [[2011-02 2011-04]]"},
		{"2011-01-15T12:00:00Z", "2011-01-17T06:00:00Z", "facts [2 ranges] days [[2011-01-16 2011-01-17]] months []"},
		{"2011-01-15T12:00:00Z", "2011-01-15T13:00:00Z", "facts [1 ranges] days [] months []"},
		{"2011-01-15T12:00:00Z", "2011-01-16T00:00:00Z", "facts [1 ranges] days [] months []"},
		{"2011-01-31", "2011-02-02", "facts [] days [[2011-01-31 2011-02-02]] months []"},
		{"2011-02-01", "2011-01-01", "facts [] days [] months []"},
	} {
		s := split(at(c.from), at(c.to), true)
		facts := "[]"
		if len(s.facts) > 0 {
			facts = fmt.Sprintf("[%d ranges]", len(s.facts))
		}
		got := fmt.Sprintf("facts %s days %v months %v", facts, s.days, s.months)
		if got != c.want {
			t.Errorf("split(%s, %s) = %s, want %s", c.from, c.to, got, c.want)
		}
	}
}

// TestCaseListPaging pages through the case list one case at a time.
func TestCaseListPaging(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	writeFixture(newLogWriter(t, store))
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store)
	ctx := context.Background()
	var seen []string
	cursor := ""
	for range 10 {
		page, err := e.ListCases(ctx, CaseQuery{AllAgencies: true, Limit: 1, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Cases {
			seen = append(seen, c.Reference)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(seen) != "[UKBA-DOV-2011-003 SOCA-DOV-2010-044 UKBA-CAL-2010-001]" {
		t.Errorf("pages %v, want the three cases newest first", seen)
	}
	if _, err := e.ListCases(ctx, CaseQuery{AllAgencies: true, Cursor: "bogus"}); !IsQueryError(err) {
		t.Errorf("bad cursor: %v", err)
	}
	if _, err := e.ListCases(ctx, CaseQuery{}); !IsQueryError(err) {
		t.Errorf("no agency: %v", err)
	}
}

// TestExplainAddsUp: with explain, the pages of event ids (walked with
// their cursors) list every group's events exactly once, as many as it
// counts, while every page states the same exact figures.
func TestExplainAddsUp(t *testing.T) {
	dir := t.TempDir()
	store := openGeneratedStore(t, dir, 2000, 5)
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store)
	ctx := context.Background()
	q := ReportQuery{From: ptr(at("2009-02-03T04:05:06Z")), To: ptr(at("2011-03-04T05:06:07Z")), Explain: true, Limit: 1000}
	for _, g := range []string{"day", "month", "location", "agency"} {
		for _, limit := range []int{0, 7, 1000} {
			q.GroupBy, q.Limit, q.Cursor = g, limit, ""
			groupIDs, totalIDs := map[string][]string{}, []string{}
			var first ArrestsReport
			for pages := 0; ; pages++ {
				r, err := e.Arrests(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if pages == 0 {
					first = r
				}
				if r.Total != first.Total || len(r.Groups) != len(first.Groups) {
					t.Fatalf("arrests by %s, page %d: total %d, %d groups; first page said %d, %d", g, pages, r.Total, len(r.Groups), first.Total, len(first.Groups))
				}
				if n := len(r.EventIDs); n > max(limit, 1) && !(limit == 0 && n <= defaultExplainLimit) {
					t.Fatalf("arrests by %s: a page of %d ids, limit %d", g, n, limit)
				}
				totalIDs = append(totalIDs, r.EventIDs...)
				for _, grp := range r.Groups {
					groupIDs[grp.Key] = append(groupIDs[grp.Key], grp.EventIDs...)
				}
				if r.NextCursor == "" {
					break
				}
				q.Cursor = r.NextCursor
			}
			sum := int64(0)
			for _, grp := range first.Groups {
				ids := groupIDs[grp.Key]
				if int64(len(ids)) != grp.Count || len(ids) != len(uniq(ids)) {
					t.Errorf("arrests by %s (limit %d), %s: %d ids (%d distinct) for %d", g, limit, grp.Key, len(ids), len(uniq(ids)), grp.Count)
				}
				sum += grp.Count
			}
			if sum != first.Total || int64(len(uniq(totalIDs))) != first.Total || first.Total == 0 {
				t.Errorf("arrests by %s (limit %d): groups add to %d, %d ids, total %d", g, limit, sum, len(uniq(totalIDs)), first.Total)
			}
		}
	}
	q.Limit, q.Cursor = 1000, ""
	q.GroupBy = "location"
	s, err := e.Seizures(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, grp := range s.Groups {
		if int64(len(grp.EventIDs)) != grp.Count {
			t.Errorf("seizures %s %s: %d ids for %d", grp.Key, grp.Commodity, len(grp.EventIDs), grp.Count)
		}
	}
	// The same figures as known now.
	now := time.Now()
	q.AsOf = &now
	q.Explain = false
	replayed, err := e.Seizures(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	q.AsOf = nil
	live, _ := e.Seizures(ctx, q)
	replayed.AsOf, replayed.Position, live.Position = nil, 0, 0
	if fmt.Sprint(replayed) != fmt.Sprint(live) {
		t.Errorf("as of now differs from now:\n%+v\n%+v", replayed, live)
	}
}

func uniq(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
