package projections

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// accessWriter appends access-log entries the way the core does: sealed
// into each case's access-log chain.
type accessWriter struct {
	t     testing.TB
	store eventstore.Store
	heads map[uuid.UUID]struct {
		version uint64
		hash    string
		exists  bool
	}
}

func newAccessWriter(t testing.TB, store eventstore.Store) *accessWriter {
	return &accessWriter{t: t, store: store, heads: map[uuid.UUID]struct {
		version uint64
		hash    string
		exists  bool
	}{}}
}

// consult appends one entry: who consulted caseID at occurred.
func (w *accessWriter) consult(who domain.Actor, caseID uuid.UUID, occurred time.Time, a domain.CaseAccessed) {
	w.t.Helper()
	h := w.heads[caseID]
	expected, version := eventstore.NoStream, uint64(0)
	if h.exists {
		expected, version = eventstore.Exact(h.version), h.version+1
	}
	a.CaseID = caseID
	if a.Count == 0 {
		a.Count = 1
	}
	if a.LastAt.IsZero() {
		a.LastAt = occurred
	}
	if a.Outcome == "" {
		a.Outcome = domain.AccessServed
	}
	e, err := domain.SealAccess(uuid.New(), version, h.hash, who,
		occurred, occurred.Add(time.Millisecond), a)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.store.Append(context.Background(), e.Stored.Stream, expected,
		eventstore.EventData{ID: e.Stored.ID, Type: e.Stored.Type, Data: e.Stored.Data, Metadata: e.Stored.Metadata}); err != nil {
		w.t.Fatal(err)
	}
	h.version, h.hash, h.exists = version, e.Metadata.Hash, true
	w.heads[caseID] = h
}

var (
	smith  = domain.Actor{Subject: "officer.smith", Role: domain.RoleInvestigator, Agency: "UKBA"}
	martin = domain.Actor{Subject: "lieutenant.martin", Role: domain.RoleInvestigator, Agency: "PAF"}
	bea    = domain.Actor{Subject: "auditor.bea", Role: domain.RoleAuditor, Agency: "HMIC"}
)

func u64(v uint64) *uint64 { return &v }

// writeAccessFixture writes two cases, and consultations of them by three
// people: read, history, time travel, a denied attempt, merged repeats, a
// first-version (unchained) entry.
func writeAccessFixture(t *testing.T, store eventstore.Store) (caseA, caseB uuid.UUID) {
	t.Helper()
	w := newLogWriter(t, store)
	caseA, caseB = id("access-case-a"), id("access-case-b")
	w.one(caseA, opened("ACC/1", "UKBA"), at("2011-01-01T09:00:00Z"), "UKBA")
	w.one(caseB, opened("ACC/2", "PAF"), at("2011-01-01T09:00:00Z"), "PAF")
	// A first-version entry (CaseRead, before the chain) starts case B's log.
	legacy, _ := json.Marshal(domain.LegacyCaseRead{Subject: "officer.old", Role: domain.RoleInvestigator, Agency: "PAF",
		Route: "/v1/cases/{id}/events", CaseID: caseB, At: at("2011-02-01T08:00:00Z")})
	if _, err := store.Append(context.Background(), domain.AccessStreamName(caseB), eventstore.NoStream,
		eventstore.EventData{ID: id("legacy-read"), Type: domain.TypeCaseRead, Data: legacy, Metadata: []byte(`{"request_id":"r-legacy"}`)}); err != nil {
		t.Fatal(err)
	}
	aw := newAccessWriter(t, store)
	aw.heads[caseB] = struct {
		version uint64
		hash    string
		exists  bool
	}{0, "", true}
	aw.consult(smith, caseA, at("2011-03-01T10:00:00Z"), domain.CaseAccessed{Operation: domain.AccessReadCase, VersionRead: u64(0),
		Purpose: domain.PurposeInvestigation, PurposeDefaulted: true})
	aw.consult(bea, caseA, at("2011-03-02T10:00:00Z"), domain.CaseAccessed{Operation: domain.AccessReadHistory, FromVersion: u64(0), VersionRead: u64(0),
		Purpose: domain.PurposeAudit, PurposeReference: "HMIC-2011-07"})
	aw.consult(smith, caseB, at("2011-03-03T10:00:00Z"), domain.CaseAccessed{Operation: domain.AccessReadCase, Outcome: domain.AccessDenied,
		Purpose: domain.PurposeInvestigation})
	asOf := at("2011-02-15T00:00:00Z")
	aw.consult(smith, caseA, at("2011-04-01T10:00:00Z"), domain.CaseAccessed{Operation: domain.AccessReadCase, VersionRead: u64(0), AsOf: &asOf,
		Purpose: domain.PurposeDisclosure, PurposeReference: "DR-1234", Count: 7, LastAt: at("2011-04-01T10:00:00.9Z")})
	aw.consult(martin, caseB, at("2011-04-02T10:00:00Z"), domain.CaseAccessed{Operation: domain.AccessVerifyCase, VersionRead: u64(0),
		Purpose: domain.PurposeSupervision})
	aw.consult(smith, caseA, at("2011-05-01T10:00:00Z"), domain.CaseAccessed{Operation: domain.AccessReadCase, VersionRead: u64(0), AtVersion: u64(0),
		Purpose: domain.PurposeInvestigation})
	return caseA, caseB
}

// storedAccess is every access-log entry in the store, decoded, in log order.
func storedAccess(t *testing.T, store eventstore.Store) []AccessEntry {
	t.Helper()
	var out []AccessEntry
	for rec, err := range store.ReadAll(context.Background(), eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefixes: []string{domain.AccessStreamPrefix}}}) {
		if err != nil {
			t.Fatal(err)
		}
		r, err := DecodeAccessEntry(rec)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func selectEntries(all []AccessEntry, q AccessQuery) []AccessEntry {
	var out []AccessEntry
	for _, r := range all {
		if q.Matches(r) {
			out = append(out, r)
		}
	}
	return out
}

// allPages reads every page of q, limit entries at a time.
func allPages(t *testing.T, read func(AccessQuery) (AccessPage, error), q AccessQuery, limit int) []AccessEntry {
	t.Helper()
	q.Limit = limit
	var out []AccessEntry
	for range 100 {
		page, err := read(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > limit {
			t.Fatalf("page of %d, limit %d", len(page.Entries), limit)
		}
		out = append(out, page.Entries...)
		if !page.More {
			return out
		}
		last := page.Entries[len(page.Entries)-1]
		if q.ByVersion() {
			q.FromVersion = last.Version + 1
		} else {
			mark := last.Mark()
			q.After = &mark
		}
	}
	t.Fatal("paging does not end")
	return nil
}

func TestAccessLogReadModelAnswersWhatTheLogHolds(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	caseA, caseB := writeAccessFixture(t, store)
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store)
	all := storedAccess(t, store)
	if len(all) != 7 {
		t.Fatalf("%d stored entries, want 7", len(all))
	}
	read := func(q AccessQuery) (AccessPage, error) { return e.AccessEntries(context.Background(), q) }
	from, to := at("2011-03-02T00:00:00Z"), at("2011-04-02T00:00:00Z")
	queries := map[string]AccessQuery{
		"one subject":                  {Subject: smith.Subject},
		"one subject in a period":      {Subject: smith.Subject, From: &from, To: &to},
		"one subject, denied":          {Subject: smith.Subject, Outcome: domain.AccessDenied},
		"one subject, for disclosure":  {Subject: smith.Subject, Purpose: domain.PurposeDisclosure},
		"one subject, another agency":  {Subject: smith.Subject, Agency: "PAF"},
		"one case":                     {CaseID: caseA},
		"one case with a legacy entry": {CaseID: caseB},
		"one case, one subject":        {CaseID: caseA, Subject: bea.Subject},
		"one case, an agency":          {CaseID: caseB, Agency: "PAF"},
		"one case in a period":         {CaseID: caseA, From: &from},
		"a subject nobody is":          {Subject: "nobody"},
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			want := selectEntries(all, q)
			if !q.ByVersion() {
				// Subject order: occurred_at, then position (the fixture's
				// log order is already that).
				for i := 1; i < len(want); i++ {
					if want[i].OccurredAt.Before(want[i-1].OccurredAt) {
						t.Fatal("fixture out of order")
					}
				}
			}
			for _, limit := range []int{1, 2, 100} {
				got := allPages(t, read, q, limit)
				if len(got) == 0 && len(want) == 0 {
					continue
				}
				if !reflect.DeepEqual(got, want) {
					gj, _ := json.MarshalIndent(got, "", " ")
					wj, _ := json.MarshalIndent(want, "", " ")
					t.Fatalf("limit %d: got\n%s\nwant\n%s", limit, gj, wj)
				}
			}
		})
	}
	// A spot check that the decoding is what the auditor needs.
	got := allPages(t, read, AccessQuery{Subject: smith.Subject, Purpose: domain.PurposeDisclosure}, 10)
	if len(got) != 1 || got[0].Count != 7 || got[0].AsOf == nil || !got[0].AsOf.Equal(at("2011-02-15T00:00:00Z")) ||
		got[0].PurposeReference != "DR-1234" || got[0].Hash == "" || got[0].PrevHash == "" || got[0].CaseID != caseA {
		t.Fatalf("disclosure entry %+v", got)
	}
	legacy := allPages(t, read, AccessQuery{CaseID: caseB}, 10)[0]
	if legacy.Type != domain.TypeCaseRead || legacy.Subject != "officer.old" || legacy.Operation != domain.AccessReadHistory || legacy.RequestID != "r-legacy" {
		t.Fatalf("legacy entry %+v", legacy)
	}
	if _, err := read(AccessQuery{Agency: "UKBA"}); err == nil {
		t.Fatal("a query without case or subject was answered")
	}
}

// The access log's read model reads the access-log streams; the case read
// models keep reading the case streams only, whether they share a runner
// (a new database: every checkpoint at 0) or not (after a restart, their
// checkpoints differ).
func TestAccessLogBesideTheCaseReadModels(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	caseA, _ := writeAccessFixture(t, store)
	e := openTestEngine(t, dir, store, Options{})
	syncTo(t, e, store)
	list, err := e.ListCases(context.Background(), CaseQuery{AllAgencies: true})
	if err != nil || len(list.Cases) != 2 {
		t.Fatalf("case list %+v, %v; want the 2 cases", list, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// More consultations while the engine is down, then more cases and
	// consultations while it runs again (now the access log has a runner
	// of its own).
	aw := newAccessWriter(t, store)
	for _, r := range storedAccess(t, store) {
		h := aw.heads[r.CaseID]
		h.version, h.hash, h.exists = r.Version, r.Hash, true
		aw.heads[r.CaseID] = h
	}
	aw.consult(bea, caseA, at("2011-06-01T10:00:00Z"), domain.CaseAccessed{Operation: domain.AccessVerifyCase, Purpose: domain.PurposeAudit})
	e = openTestEngine(t, dir, store, Options{})
	w := newLogWriter(t, store)
	w.randomIDs = true // the first writer's ids are taken
	caseC := id("access-case-c")
	w.one(caseC, opened("ACC/3", "UKBA"), at("2011-06-01T09:00:00Z"), "UKBA")
	aw.consult(bea, caseC, at("2011-06-02T10:00:00Z"), domain.CaseAccessed{Operation: domain.AccessReadCase, VersionRead: u64(0), Purpose: domain.PurposeAudit})
	syncTo(t, e, store)

	got := allPages(t, func(q AccessQuery) (AccessPage, error) { return e.AccessEntries(context.Background(), q) }, AccessQuery{Subject: bea.Subject}, 100)
	if want := selectEntries(storedAccess(t, store), AccessQuery{Subject: bea.Subject}); len(want) != 3 || !reflect.DeepEqual(got, want) {
		t.Fatalf("after a restart: %d entries %+v, want %d", len(got), got, len(want))
	}
	list, err = e.ListCases(context.Background(), CaseQuery{AllAgencies: true})
	if err != nil || len(list.Cases) != 3 {
		t.Fatalf("case list %+v, %v; want the 3 cases", list, err)
	}
	st, err := e.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	head, _ := store.Head(context.Background())
	for _, s := range st {
		if s.State != StateLive || s.Position != uint64(head) {
			t.Errorf("%s: %s at %d, want live at the head %d", s.Name, s.State, s.Position, head)
		}
	}

	// A rebuild of the access log alone gives the same answers.
	if err := e.Rebuild(context.Background(), AccessLog); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := e.Status(context.Background())
		if st[len(st)-1].Name == AccessLog && st[len(st)-1].State == StateLive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rebuild did not finish: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	again := allPages(t, func(q AccessQuery) (AccessPage, error) { return e.AccessEntries(context.Background(), q) }, AccessQuery{Subject: bea.Subject}, 100)
	if !reflect.DeepEqual(again, got) {
		t.Fatalf("after a rebuild: %+v, want %+v", again, got)
	}
}

// The CLI reads the read model read-only beside a running engine: the same
// answers, and the checkpoint they reflect.
func TestAccessLogFileReadOnly(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenAccessLogFile(context.Background(), filepath.Join(dir, FileName)); !errors.Is(err, ErrNoAccessLog) {
		t.Fatalf("no database: %v, want ErrNoAccessLog", err)
	}
	store := openTestStore(t, dir)
	_, _ = writeAccessFixture(t, store)
	e := openTestEngine(t, dir, store, Options{})
	head := syncTo(t, e, store)
	f, err := OpenAccessLogFile(context.Background(), filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	q := AccessQuery{Subject: smith.Subject}
	got := allPages(t, func(q AccessQuery) (AccessPage, error) { return f.Entries(context.Background(), q) }, q, 2)
	want := allPages(t, func(q AccessQuery) (AccessPage, error) { return e.AccessEntries(context.Background(), q) }, q, 100)
	if len(got) != 4 || !reflect.DeepEqual(got, want) {
		t.Fatalf("read-only file: %+v, want %+v", got, want)
	}
	page, err := f.Entries(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	last := storedAccess(t, store)
	if page.Position != last[len(last)-1].Position || page.Position > uint64(head) {
		t.Fatalf("file position %d, want the last access entry's %d", page.Position, last[len(last)-1].Position)
	}
}

func opened(ref, lead string) domain.CaseOpened {
	return domain.CaseOpened{Reference: ref, Title: "Case " + ref, LeadAgency: lead, CrimeTypes: []string{domain.CrimePeopleSmuggling}, Location: "Calais"}
}

// An access-log entry the model cannot read stops the access log's read
// model alone; the case read models sharing its runner go on, and are not
// handed access-log entries once it has stopped.
func TestUnreadableAccessEntryStopsTheAccessLogAlone(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	caseA, _ := writeAccessFixture(t, store)
	e := openTestEngine(t, dir, store, Options{}) // a new database: one runner for all
	syncTo(t, e, store, CaseList)
	if _, err := store.Append(context.Background(), domain.AccessStreamName(caseA), eventstore.Any,
		eventstore.EventData{ID: uuid.New(), Type: domain.TypeCaseAccessed, Data: []byte(`{"operation":"peek"}`), Metadata: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := e.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st[len(st)-1].State == StateFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access log did not fail: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// More of both after the failure.
	w := newLogWriter(t, store)
	w.randomIDs = true
	w.one(id("access-case-d"), opened("ACC/4", "SOCA"), at("2011-06-01T09:00:00Z"), "SOCA")
	aw := newAccessWriter(t, store)
	aw.consult(bea, id("access-case-d"), at("2011-06-02T10:00:00Z"), domain.CaseAccessed{Operation: domain.AccessReadCase, VersionRead: u64(0), Purpose: domain.PurposeAudit})
	w.one(id("access-case-e"), opened("ACC/5", "SOCA"), at("2011-06-03T09:00:00Z"), "SOCA")
	syncTo(t, e, store, CaseList, Arrests)
	list, err := e.ListCases(context.Background(), CaseQuery{AllAgencies: true})
	if err != nil || len(list.Cases) != 4 {
		t.Fatalf("case list %d cases, %v; want 4", len(list.Cases), err)
	}
	st, _ := e.Status(context.Background())
	for _, s := range st {
		if want := map[bool]string{true: StateFailed, false: StateLive}[s.Name == AccessLog]; s.State != want {
			t.Errorf("%s: %s (%s), want %s", s.Name, s.State, s.Error, want)
		}
	}
}
