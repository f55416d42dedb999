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

// accessFixture is a core with read models (the access log's among them)
// over a real SQLite store, merging nothing unless asked.
type accessFixture struct {
	*fixture
	engine *projections.Engine
}

func newAccessFixture(t *testing.T, cfg core.Config) *accessFixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), path: filepath.Join(t.TempDir(), "events.db"), clock: &testClock{t: start}}
	f.openStore()
	e, err := projections.Open(f.ctx, filepath.Dir(f.path), f.store, projections.Options{RetryMin: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if cfg.AccessMergeWindow == 0 {
		cfg.AccessMergeWindow = -1
	}
	if cfg.Now == nil {
		cfg.Now = f.clock.Now
	}
	cfg.ReadModels = e
	f.svc = newCore(t, f.store, cfg)
	return &accessFixture{fixture: f, engine: e}
}

// caseLog is a case's whole access log (from its stream).
func (f *accessFixture) caseLog(id uuid.UUID) []core.AccessRecord {
	f.t.Helper()
	page, err := f.svc.AccessLog(f.ctx, auditorBea, core.AccessQuery{CaseID: id, Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	return page.Entries
}

func TestPurposeDefaultsByRoleAndIsRecorded(t *testing.T) {
	f := newAccessFixture(t, core.Config{})
	id := f.open(openData)
	if _, err := f.svc.Case(f.ctx, ukba, id, core.At{}, core.Consultation{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.History(f.ctx, auditorBea, id, 0, 10, core.Consultation{}); err != nil {
		t.Fatal(err)
	}
	ref := strings.Repeat("é", domain.MaxPurposeReferenceLength) // 200 characters, 400 bytes
	if _, err := f.svc.Verify(f.ctx, auditorBea, id, core.Consultation{Purpose: domain.PurposeDisclosure, PurposeReference: ref, PurposeDefaulted: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ReadLog(f.ctx, auditorBea, core.LogQuery{Limit: 10}, core.Consultation{}); err != nil {
		t.Fatal(err)
	}
	log := f.caseLog(id)
	want := []struct {
		subject, op, purpose, ref string
		defaulted                 bool
	}{
		{ukba.Subject, domain.AccessReadCase, domain.PurposeInvestigation, "", true},
		{auditorBea.Subject, domain.AccessReadHistory, domain.PurposeAudit, "", true},
		// A caller cannot claim its stated purpose was defaulted.
		{auditorBea.Subject, domain.AccessVerifyCase, domain.PurposeDisclosure, ref, false},
		{auditorBea.Subject, domain.AccessReadLog, domain.PurposeAudit, "", true},
	}
	if len(log) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(log), len(want), log)
	}
	for i, w := range want {
		r := log[i]
		if r.Subject != w.subject || r.Operation != w.op || r.Purpose != w.purpose || r.PurposeReference != w.ref || r.PurposeDefaulted != w.defaulted {
			t.Errorf("entry %d: %s %s %q %q defaulted=%v; want %+v", i, r.Subject, r.Operation, r.Purpose, r.PurposeReference, r.PurposeDefaulted, w)
		}
	}
	// The chain covers the purpose: verify still holds.
	v, err := f.svc.Verify(f.ctx, auditorBea, id, core.Consultation{Purpose: domain.PurposeAudit})
	if err != nil || !v.Access.Valid || v.Access.Checked != 4 {
		t.Fatalf("access chain %+v, %v", v.Access, err)
	}
}

func TestPurposeRefusals(t *testing.T) {
	f := newAccessFixture(t, core.Config{RequirePurpose: true})
	id := f.open(openData)
	headers := core.Consultation{PurposeField: "Casebook-Purpose", ReferenceField: "Casebook-Purpose-Reference"}
	with := func(purpose, ref string) core.Consultation {
		c := headers
		c.Purpose, c.PurposeReference = purpose, ref
		return c
	}
	reads := map[string]func(con core.Consultation) error{
		"record": func(con core.Consultation) error {
			_, err := f.svc.Case(f.ctx, auditorBea, id, core.At{}, con)
			return err
		},
		"time travel": func(con core.Consultation) error {
			_, err := f.svc.Case(f.ctx, ukba, id, core.At{Version: new(uint64)}, con)
			return err
		},
		"history": func(con core.Consultation) error { _, err := f.svc.History(f.ctx, ukba, id, 0, 10, con); return err },
		"verify":  func(con core.Consultation) error { _, err := f.svc.Verify(f.ctx, auditorBea, id, con); return err },
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			e := wantCode(t, read(headers), core.CodePurposeRequired)
			if e.Kind != domain.KindMalformed || e.Field != "Casebook-Purpose" || !strings.Contains(e.Message, "investigation, supervision, audit, disclosure, legal, subject_access") {
				t.Fatalf("missing purpose: %+v", e)
			}
			e = wantCode(t, read(with("curiosity", "")), core.CodeUnknownPurpose)
			if e.Field != "Casebook-Purpose" || !strings.Contains(e.Message, "subject_access") {
				t.Fatalf("unknown purpose: %+v", e)
			}
			e = wantCode(t, read(with(domain.PurposeLegal, strings.Repeat("x", domain.MaxPurposeReferenceLength+1))), core.CodeInvalidPurposeReference)
			if e.Field != "Casebook-Purpose-Reference" || !strings.Contains(e.Message, "at most 200") {
				t.Fatalf("long reference: %+v", e)
			}
			wantCode(t, read(with(domain.PurposeLegal, "line\nbreak")), core.CodeInvalidPurposeReference)
			if err := read(with(domain.PurposeLegal, "CPS-4411")); err != nil {
				t.Fatalf("a stated purpose: %v", err)
			}
		})
	}
	// Refused reads left no entry; the four accepted ones did.
	if n := len(f.caseLog(id)); n != 4 {
		t.Fatalf("%d access entries, want 4", n)
	}
	// The global log needs no purpose even when purposes are required.
	if _, err := f.svc.ReadLog(f.ctx, auditorBea, core.LogQuery{Limit: 10}, headers); err != nil {
		t.Fatalf("global log without a purpose: %v", err)
	}
	// Roles that may not read are told so, not asked for a purpose.
	analyst := core.Identity{Subject: "analyst.dan", Role: domain.RoleAnalyst, Agency: "HO"}
	if _, err := f.svc.Case(f.ctx, analyst, id, core.At{}, headers); err == nil || !strings.Contains(err.Error(), "analyst role may not") {
		t.Fatalf("analyst: %v", err)
	}
}

func TestPurposeIsPartOfWhatMergesIdenticalReads(t *testing.T) {
	f := newAccessFixture(t, core.Config{AccessMergeWindow: time.Hour})
	id := f.open(openData)
	for _, p := range []string{domain.PurposeAudit, domain.PurposeAudit, domain.PurposeLegal, domain.PurposeAudit, ""} {
		if _, err := f.svc.Case(f.ctx, auditorBea, id, core.At{}, core.Consultation{Purpose: p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Close(f.ctx); err != nil { // writes the merged repeats
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range f.caseLog(id) {
		counts[r.Purpose+map[bool]string{true: "(defaulted)"}[r.PurposeDefaulted]] += r.Count
	}
	want := map[string]int{"audit": 3, "legal": 1, "audit(defaulted)": 1}
	if len(counts) != len(want) || counts["audit"] != 3 || counts["legal"] != 1 || counts["audit(defaulted)"] != 1 {
		t.Fatalf("consultations by purpose %v, want %v", counts, want)
	}
}

func TestAccessLogQueries(t *testing.T) {
	f := newAccessFixture(t, core.Config{})
	a := f.open(openData)
	b, _, err := f.svc.OpenCase(f.ctx, french, core.OpenCase{Data: json.RawMessage(`{"reference":"PAF-9","title":"Dunkirk","crime_types":["people_smuggling"],"location":"Dunkirk"}`)})
	if err != nil {
		t.Fatal(err)
	}
	read := func(who core.Identity, id uuid.UUID, purpose string) {
		t.Helper()
		_, _ = f.svc.Case(f.ctx, who, id, core.At{}, core.Consultation{Purpose: purpose})
	}
	read(ukba, a, domain.PurposeInvestigation)
	read(ukba, b.CaseID, domain.PurposeInvestigation) // denied: not UKBA's case
	read(auditorBea, a, domain.PurposeAudit)
	read(ukba, a, domain.PurposeDisclosure)
	read(french, b.CaseID, "")
	read(ukba, a, domain.PurposeLegal)
	query := func(q core.AccessQuery) (core.AccessPage, error) { return f.svc.AccessLog(f.ctx, auditorBea, q) }

	t.Run("one subject, read at once after their reads", func(t *testing.T) {
		page, err := query(core.AccessQuery{Subject: ukba.Subject})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range page.Entries {
			got = append(got, r.Purpose+"/"+r.Outcome)
		}
		if strings.Join(got, " ") != "investigation/served investigation/denied disclosure/served legal/served" {
			t.Fatalf("got %v", got)
		}
		if page.NextCursor != "" || page.NextFromVersion != nil {
			t.Fatalf("one page: %+v", page)
		}
	})
	t.Run("filters", func(t *testing.T) {
		for name, c := range map[string]struct {
			q    core.AccessQuery
			want int
		}{
			"denied":                    {core.AccessQuery{Subject: ukba.Subject, Outcome: domain.AccessDenied}, 1},
			"for disclosure":            {core.AccessQuery{Subject: ukba.Subject, Purpose: domain.PurposeDisclosure}, 1},
			"agency in any letter case": {core.AccessQuery{Subject: ukba.Subject, Agency: "ukba"}, 4},
			"another agency":            {core.AccessQuery{Subject: ukba.Subject, Agency: "PAF"}, 0},
			"a case and a subject":      {core.AccessQuery{CaseID: a, Subject: ukba.Subject}, 3},
			"a case and a purpose":      {core.AccessQuery{CaseID: a, Purpose: domain.PurposeAudit}, 1},
			"a case's defaulted reads":  {core.AccessQuery{CaseID: b.CaseID, Agency: "PAF"}, 1},
			"before the first read":     {core.AccessQuery{Subject: ukba.Subject, To: &start}, 0},
			"from the first read":       {core.AccessQuery{Subject: ukba.Subject, From: &start}, 4},
		} {
			page, err := query(c.q)
			if err != nil || len(page.Entries) != c.want {
				t.Errorf("%s: %d entries, %v; want %d", name, len(page.Entries), err, c.want)
			}
		}
	})
	t.Run("paging a subject by cursor", func(t *testing.T) {
		var got []core.AccessRecord
		q := core.AccessQuery{Subject: ukba.Subject, Limit: 1}
		for range 10 {
			page, err := query(q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.Entries...)
			if page.NextCursor == "" {
				break
			}
			if page.NextFromVersion != nil {
				t.Fatal("a subject's pages have no from_version")
			}
			q.Cursor = page.NextCursor
		}
		if len(got) != 4 || got[3].Purpose != domain.PurposeLegal {
			t.Fatalf("paged %d entries: %+v", len(got), got)
		}
	})
	t.Run("paging a case: from_version and cursor agree", func(t *testing.T) {
		p1, err := query(core.AccessQuery{CaseID: a, Limit: 2})
		if err != nil || len(p1.Entries) != 2 || p1.NextFromVersion == nil || *p1.NextFromVersion != 2 || p1.NextCursor == "" {
			t.Fatalf("first page %+v, %v", p1, err)
		}
		byVersion, err := query(core.AccessQuery{CaseID: a, FromVersion: p1.NextFromVersion, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		byCursor, err := query(core.AccessQuery{CaseID: a, Cursor: p1.NextCursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(byVersion.Entries) != 2 || byVersion.Entries[0].Version != 2 || byCursor.Entries[0].Version != 2 || byVersion.NextCursor != "" {
			t.Fatalf("second page by version %+v, by cursor %+v", byVersion, byCursor)
		}
		// A filtered case query (the read model) pages the same way.
		f1, err := query(core.AccessQuery{CaseID: a, Subject: ukba.Subject, Limit: 2})
		if err != nil || len(f1.Entries) != 2 || f1.NextCursor == "" {
			t.Fatalf("filtered first page %+v, %v", f1, err)
		}
		f2, err := query(core.AccessQuery{CaseID: a, Subject: ukba.Subject, Cursor: f1.NextCursor, Limit: 2})
		if err != nil || len(f2.Entries) != 1 || f2.Entries[0].Purpose != domain.PurposeLegal {
			t.Fatalf("filtered second page %+v, %v", f2, err)
		}
	})
	t.Run("refused questions", func(t *testing.T) {
		subjectPage, _ := query(core.AccessQuery{Subject: ukba.Subject, Limit: 1})
		v := uint64(1)
		later := start.Add(-time.Hour)
		for name, c := range map[string]struct {
			q    core.AccessQuery
			code string
		}{
			"neither case nor subject":     {core.AccessQuery{Agency: "UKBA"}, domain.CodeInvalidParameter},
			"unknown purpose":              {core.AccessQuery{Subject: "x", Purpose: "curiosity"}, domain.CodeInvalidParameter},
			"unknown outcome":              {core.AccessQuery{Subject: "x", Outcome: "maybe"}, domain.CodeInvalidParameter},
			"unknown agency":               {core.AccessQuery{Subject: "x", Agency: "FBI"}, domain.CodeUnknownAgency},
			"to before from":               {core.AccessQuery{Subject: "x", From: &start, To: &later}, domain.CodeInvalidParameter},
			"cursor and from_version":      {core.AccessQuery{CaseID: a, Cursor: "x", FromVersion: &v}, domain.CodeInvalidParameter},
			"from_version without a case":  {core.AccessQuery{Subject: "x", FromVersion: &v}, domain.CodeInvalidParameter},
			"a cursor that is not one":     {core.AccessQuery{Subject: "x", Cursor: "not-a-cursor"}, domain.CodeInvalidParameter},
			"a subject cursor for a case":  {core.AccessQuery{CaseID: a, Cursor: subjectPage.NextCursor}, domain.CodeInvalidParameter},
			"an unknown case":              {core.AccessQuery{CaseID: uuid.New()}, domain.CodeCaseNotFound},
			"an unknown case and a filter": {core.AccessQuery{CaseID: uuid.New(), Subject: "x"}, domain.CodeCaseNotFound},
		} {
			_, err := query(c.q)
			if de, ok := domain.AsError(err); !ok || de.Code != c.code {
				t.Errorf("%s: %v, want code %s", name, err, c.code)
			}
		}
		if _, err := f.svc.AccessLog(f.ctx, ukba, core.AccessQuery{Subject: ukba.Subject}); err == nil {
			t.Error("an investigator questioned the access log")
		}
	})
}
