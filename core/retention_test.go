package core_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/projections"
)

// newReviewFixture is a core with a key store and read models.
func newReviewFixture(t *testing.T, cfg core.Config) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), path: filepath.Join(t.TempDir(), "events.db"), clock: &testClock{t: start}}
	f.openStore()
	e, err := projections.Open(f.ctx, filepath.Dir(f.path), f.store, projections.Options{RetryMin: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	f.keys = newVault(t, filepath.Join(filepath.Dir(f.path), "keys.db"), testMasterKey)
	cfg.Keys, cfg.ReadModels, cfg.Now, cfg.AccessMergeWindow = f.keys, e, f.clock.Now, -1
	f.svc = newCore(t, f.store, cfg)
	return f
}

func review(decision, reason, next string) string {
	b, _ := json.Marshal(domain.RetentionReviewed{Decision: decision, Reason: reason, NextReview: next})
	return string(b)
}

func (f *fixture) review(who core.Identity, id uuid.UUID, data string) (core.Result, error) {
	return f.svc.Record(f.ctx, who, id, core.Command{Type: domain.TypeRetentionReviewed, Data: json.RawMessage(data)})
}

// Disposal by a data protection officer destroys the case's key and every
// person's: the personal data and intelligence of the case read as erased
// (null, erased_at), the keys are gone from the key store (not just hidden),
// while the figures and the chain stay.
func TestDisposalDestroysEveryKeyOfTheCase(t *testing.T) {
	f := newReviewFixture(t, core.Config{})
	id, _ := f.seededCase()
	f.record(id, domain.TypeArrestMade, `{"person_id":"`+personB.String()+`","location":"other","location_detail":"Flat 2, 9 Quincy Road","offence":"facilitation"}`)
	before, err := f.svc.Case(f.ctx, auditorBea, id, core.At{}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	// Only a closed case is reviewed; only by a dpo of its agencies.
	_, err = f.review(dpoUKBA, id, review(domain.DecisionDispose, "no policing purpose", ""))
	wantCode(t, err, domain.CodeCaseNotClosed)
	f.record(id, domain.TypeCaseClosed, `{"outcome":"No further action"}`)
	_, err = f.review(ukba, id, review(domain.DecisionDispose, "r", ""))
	wantCode(t, err, domain.CodeForbidden)
	_, err = f.review(auditorBea, id, review(domain.DecisionDispose, "r", ""))
	wantCode(t, err, domain.CodeForbidden)
	_, err = f.review(dpoSOCA, id, review(domain.DecisionDispose, "r", ""))
	wantCode(t, err, domain.CodeCaseNotFound)
	if _, err := f.review(dpoPAF, id, review(domain.DecisionRetain, "proceedings pending", "2015-01-01")); err != nil {
		t.Fatal(err)
	}
	res, err := f.review(dpoUKBA, id, review(domain.DecisionDispose, "no policing purpose remains", ""))
	if err != nil {
		t.Fatal(err)
	}
	// Again: refused, the case is disposed of for good.
	_, err = f.review(dpoUKBA, id, review(domain.DecisionRetain, "r", ""))
	wantCode(t, err, domain.CodeCaseDisposed)

	after, err := f.svc.Case(f.ctx, auditorBea, id, core.At{}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	if after.DisposedAt == nil || after.Counts != before.Counts {
		t.Errorf("disposed_at %v, counts %+v, before %+v", after.DisposedAt, after.Counts, before.Counts)
	}
	for _, s := range after.Suspects {
		if s.Name != "" || s.ErasedAt == nil || !s.ErasedAt.Equal(*after.DisposedAt) {
			t.Errorf("suspect after disposal %+v", s)
		}
	}
	page, err := f.svc.History(f.ctx, auditorBea, id, 0, 100, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(page.Events)
	for _, secret := range []string{secretName, secretDOB, secretNat, secretIntel, "Richard Roe", "Quincy Road"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("history shows %q after disposal", secret)
		}
	}
	erased := 0
	for _, e := range page.Events {
		sealed, err := domain.DecodeStored(e.Stored)
		if err != nil {
			t.Fatal(err)
		}
		if len(domain.PersonalFields(id, sealed.Event)) > 0 {
			if e.ErasedAt == nil {
				t.Errorf("%s v%d holds personal data and is not shown erased: %s", e.Type, e.Version, e.Data)
			}
			erased++
		} else if e.ErasedAt != nil {
			t.Errorf("%s v%d shown erased", e.Type, e.Version)
		}
	}
	if erased != 4 { // two identifications, the intelligence, the arrest's detail
		t.Errorf("%d events shown erased, want 4", erased)
	}
	if !strings.Contains(string(page.Events[4].Data), `"summary":null`) {
		t.Errorf("intelligence after disposal: %s", page.Events[4].Data)
	}
	// The keys are gone from the key store: a revealer that does not know
	// of the disposal cannot open the fields either.
	blind := domain.NewCase(id)
	for _, e := range page.Events {
		sealed, err := domain.DecodeStored(e.Stored)
		if err != nil {
			t.Fatal(err)
		}
		if len(domain.PersonalFields(id, sealed.Event)) == 0 {
			continue
		}
		opened, err := core.NewRevealer(f.keys).Entry(f.ctx, &blind, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if opened.Unreadable == nil || opened.Unreadable.Code != domain.CodeKeyUnavailable {
			t.Errorf("%s v%d opens after disposal: %s", e.Type, e.Version, opened.Data)
		}
	}
	if v, err := f.svc.Verify(f.ctx, auditorBea, id, core.Consultation{}); err != nil || !v.Valid() {
		t.Fatalf("verify %+v %v", v, err)
	}
	// A retry of the disposal (same event id) answers it and destroys the
	// keys again.
	again, err := f.svc.Record(f.ctx, dpoUKBA, id, core.Command{EventID: res.EventID, Type: domain.TypeRetentionReviewed,
		Data: json.RawMessage(review(domain.DecisionDispose, "no policing purpose remains", ""))})
	if err != nil || !again.Duplicate || again.EventID != res.EventID {
		t.Fatalf("retry %+v %v", again, err)
	}
	// After a disposal nothing is reopened or erased.
	_, err = f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeCaseReopened, Data: json.RawMessage(`{"reason":"new evidence"}`)})
	wantCode(t, err, domain.CodeCaseDisposed)
}

// The due list: closed cases of the dpo's agency whose review date (by the
// retention table, or a retain decision's next_review) is before the date.
func TestReviewsDue(t *testing.T) {
	f := newReviewFixture(t, core.Config{})
	smuggling := f.open(openData) // people smuggling: 10 years (serious)
	tobacco := f.open(`{"reference":"OP-TOB-1","title":"Cigarettes","crime_types":["tobacco"],"location":"DOVER"}`)
	open := f.open(`{"reference":"OP-OPEN-1","title":"Still open","crime_types":["tobacco"],"location":"DOVER"}`)
	f.record(smuggling, domain.TypeAgencyJoined, `{"agency":"PAF"}`)
	closeRes := f.record(smuggling, domain.TypeCaseClosed, `{"outcome":"Convicted"}`)
	tobRes := f.record(tobacco, domain.TypeCaseClosed, `{"outcome":"Convicted"}`)
	_ = open
	due := func(who core.Identity, before string) []core.ReviewDue {
		t.Helper()
		b, err := time.Parse(time.DateOnly, before)
		if err != nil {
			t.Fatal(err)
		}
		page, err := f.svc.ReviewsDue(f.ctx, who, core.ReviewQuery{Before: b, MinPosition: uint64(tobRes.Position)})
		if err != nil {
			t.Fatal(err)
		}
		return page.Cases
	}
	ids := func(ds []core.ReviewDue) []uuid.UUID {
		var out []uuid.UUID
		for _, d := range ds {
			out = append(out, d.CaseID)
		}
		return out
	}
	_ = closeRes
	// Closed 6 June 2011: tobacco due 6 June 2017, smuggling 6 June 2021.
	if got := due(dpoUKBA, "2017-06-06"); len(got) != 0 {
		t.Errorf("before 2017-06-06: %v", ids(got))
	}
	got := due(dpoUKBA, "2017-06-07")
	if len(got) != 1 || got[0].CaseID != tobacco || got[0].ReviewDue != "2017-06-06" || got[0].RetentionGroup != domain.RetentionOther ||
		got[0].RetentionYears != 6 || got[0].DueFrom != "closure" {
		t.Errorf("before 2017-06-07: %+v", got)
	}
	got = due(dpoUKBA, "2030-01-01")
	if len(got) != 2 || got[0].CaseID != tobacco || got[1].CaseID != smuggling || got[1].ReviewDue != "2021-06-06" {
		t.Errorf("before 2030: %+v", got)
	}
	// Need-to-know: PAF joined the smuggling case only; SOCA has none.
	if got := due(dpoPAF, "2030-01-01"); len(got) != 1 || got[0].CaseID != smuggling {
		t.Errorf("PAF: %v", ids(got))
	}
	if got := due(dpoSOCA, "2030-01-01"); len(got) != 0 {
		t.Errorf("SOCA: %v", ids(got))
	}
	// Paging: one at a time, in review-date order.
	b, _ := time.Parse(time.DateOnly, "2030-01-01")
	p1, err := f.svc.ReviewsDue(f.ctx, dpoUKBA, core.ReviewQuery{Before: b, Limit: 1})
	if err != nil || len(p1.Cases) != 1 || p1.NextCursor == "" || p1.Cases[0].CaseID != tobacco {
		t.Fatalf("page 1 %+v %v", p1, err)
	}
	p2, err := f.svc.ReviewsDue(f.ctx, dpoUKBA, core.ReviewQuery{Before: b, Limit: 1, Cursor: p1.NextCursor})
	if err != nil || len(p2.Cases) != 1 || p2.NextCursor != "" || p2.Cases[0].CaseID != smuggling {
		t.Fatalf("page 2 %+v %v", p2, err)
	}
	_, err = f.svc.ReviewsDue(f.ctx, dpoUKBA, core.ReviewQuery{Before: b, Cursor: "bm90LWEtY3Vyc29y"})
	wantCode(t, err, domain.CodeInvalidParameter)
	// Retained until a date: due then. Retained without one: another period
	// from the decision (the test clock's 2011).
	f.clock.t = time.Date(2021, 6, 1, 9, 0, 0, 0, time.UTC)
	if _, err := f.review(dpoUKBA, smuggling, review(domain.DecisionRetain, "appeal pending", "2023-03-01")); err != nil {
		t.Fatal(err)
	}
	res, err := f.review(dpoUKBA, tobacco, review(domain.DecisionRetain, "linked to an open case", ""))
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.svc.ReviewsDue(f.ctx, dpoUKBA, core.ReviewQuery{Before: b, MinPosition: uint64(res.Position)})
	if err != nil || len(page.Cases) != 2 {
		t.Fatalf("%+v %v", page, err)
	}
	if d := page.Cases[0]; d.CaseID != smuggling || d.ReviewDue != "2023-03-01" || d.DueFrom != "next_review" || d.LastReview == nil || d.LastReview.Decision != domain.DecisionRetain {
		t.Errorf("retained until 2023: %+v", d)
	}
	if d := page.Cases[1]; d.CaseID != tobacco || d.ReviewDue != "2027-06-01" || d.DueFrom != "retain_decision" {
		t.Errorf("retained for a period: %+v", d)
	}
	// Disposed of: never due again.
	res, err = f.review(dpoUKBA, smuggling, review(domain.DecisionDispose, "appeal dismissed", ""))
	if err != nil {
		t.Fatal(err)
	}
	page, err = f.svc.ReviewsDue(f.ctx, dpoUKBA, core.ReviewQuery{Before: b, MinPosition: uint64(res.Position)})
	if err != nil || len(page.Cases) != 1 || page.Cases[0].CaseID != tobacco {
		t.Fatalf("after disposal %+v %v", page, err)
	}
	// A configured table: everything for 1 year.
	rules := append([]domain.RetentionRule(nil), domain.DefaultRetentionRules...)
	for i := range rules {
		rules[i].Years = 1
	}
	short, err := domain.NewRetentionTable(rules)
	if err != nil {
		t.Fatal(err)
	}
	g := newReviewFixture(t, core.Config{Retention: short})
	id := g.open(openData)
	closed := g.record(id, domain.TypeCaseClosed, `{"outcome":"Convicted"}`)
	b, _ = time.Parse(time.DateOnly, "2012-06-07")
	page, err = g.svc.ReviewsDue(g.ctx, dpoUKBA, core.ReviewQuery{Before: b, MinPosition: uint64(closed.Position)})
	if err != nil || len(page.Cases) != 1 || page.Cases[0].ReviewDue != "2012-06-06" || page.Cases[0].RetentionYears != 1 {
		t.Fatalf("1-year table %+v %v", page, err)
	}
	// Nobody but a dpo reads the list.
	for _, who := range []core.Identity{ukba, auditorBea} {
		_, err := g.svc.ReviewsDue(g.ctx, who, core.ReviewQuery{Before: b})
		wantCode(t, err, domain.CodeForbidden)
	}
}
