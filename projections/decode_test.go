package projections

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/casebook/casebook/domain"
)

// TestDecodeEnvelope: the read models take the four fields they need from
// the domain's metadata, refuse metadata without its times, and read older
// schema versions through the domain's upcasters.
func TestDecodeEnvelope(t *testing.T) {
	m := domain.Metadata{SchemaVersion: 1, OccurredAt: time.Date(2011, 1, 2, 3, 4, 5, 6, time.UTC), RecordedAt: time.Date(2011, 1, 2, 3, 4, 5, 7, time.UTC),
		Actor: domain.Actor{Subject: "a", Role: "investigator", Agency: `Police "aux" Frontières`}}
	b, _ := domain.EncodeMetadata(m)
	env, err := decodeEnvelope(b)
	want := envelope{SchemaVersion: 1, OccurredAt: m.OccurredAt, RecordedAt: m.RecordedAt, Agency: m.Actor.Agency}
	if err != nil || env != want {
		t.Errorf("envelope %+v (%v), want %+v", env, err, want)
	}
	if _, err := decodeEnvelope([]byte(`{"schema_version":1}`)); err == nil {
		t.Error("metadata without times decoded")
	}
	old, err := decodeEventData(domain.TypeStowawaysDetected, 1, []byte(`{"location":"Calais","method":"co2_probe","count":4}`))
	if err != nil || old.(domain.StowawaysDetected).People != 4 {
		t.Errorf("schema v1 stowaways: %#v (%v)", old, err)
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
