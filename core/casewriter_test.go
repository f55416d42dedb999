package core_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to tamper with the file as an attacker would

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/keystore/sqlitekeys"
)

var (
	ukba   = core.Identity{Subject: "officer.smith", Role: domain.RoleInvestigator, Agency: "UKBA"}
	french = core.Identity{Subject: "lieutenant.martin", Role: domain.RoleInvestigator, Agency: "PAF"}
	ukba2  = core.Identity{Subject: "officer.jones", Role: domain.RoleInvestigator, Agency: "UKBA"}
	start  = time.Date(2011, 6, 6, 9, 0, 0, 0, time.UTC)
)

// testClock advances one second at every reading, so recorded times are
// distinct and known.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	path  string
	store *sqlitestore.Store
	clock *testClock
	svc   *core.Core
	keys  *keystore.Vault // nil when the test gave its own
}

func newFixture(t testing.TB, cfg core.Config) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), path: filepath.Join(t.TempDir(), "events.db"), clock: &testClock{t: start}}
	f.openStore()
	if cfg.Now == nil {
		cfg.Now = f.clock.Now
	}
	if cfg.Keys == nil {
		f.keys = newVault(t, filepath.Join(filepath.Dir(f.path), "keys.db"), testMasterKey)
		cfg.Keys = f.keys
	}
	f.svc = newCore(t, f.store, cfg)
	return f
}

// testMasterKey is the master key of the tests' key stores.
var testMasterKey = []byte("0123456789abcdef0123456789abcdef")

// newVault opens (creating it) the key store at path under master.
func newVault(t testing.TB, path string, master []byte) *keystore.Vault {
	t.Helper()
	ks, err := sqlitekeys.Open(context.Background(), path, sqlitekeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	v, err := keystore.OpenVault(context.Background(), ks, master, keystore.VaultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newCore is a core over store with cfg (its Store set to store).
func newCore(t testing.TB, store eventstore.Store, cfg core.Config) *core.Core {
	t.Helper()
	cfg.Store = store
	c, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func (f *fixture) openStore() {
	st, err := sqlitestore.Open(f.ctx, f.path, sqlitestore.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.store = st
	f.t.Cleanup(func() { _ = st.Close() })
}

func (f *fixture) open(data string) uuid.UUID {
	f.t.Helper()
	res, _, err := f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(data)})
	if err != nil {
		f.t.Fatal(err)
	}
	return res.CaseID
}

func (f *fixture) record(id uuid.UUID, typ, data string) core.Result {
	f.t.Helper()
	res, err := f.svc.Record(f.ctx, ukba, id, core.Command{Type: typ, Data: json.RawMessage(data)})
	if err != nil {
		f.t.Fatalf("record %s %s: %v", typ, data, err)
	}
	return res
}

const openData = `{"reference":"OP-JOCC-17","title":"Lorries through Calais","crime_types":["people_smuggling"],"location":"Calais"}`

var (
	personA = uuid.MustParse("a0000000-0000-4000-8000-00000000000a")
	groupG  = uuid.MustParse("90000000-0000-4000-8000-000000000001")
)

func identify(p uuid.UUID) string { return `{"person_id":"` + p.String() + `","name":"John Doe"}` }
func arrest(p uuid.UUID) string {
	return `{"person_id":"` + p.String() + `","location":"Dover","offence":"facilitation"}`
}

// auditorBea reads what the tests check: auditors see every case.
var auditorBea = core.Identity{Subject: "auditor.bea", Role: domain.RoleAuditor, Agency: "HMIC"}

func load(svc *core.Core, ctx context.Context, id uuid.UUID, at core.At) (domain.Case, error) {
	return svc.Case(ctx, auditorBea, id, at, core.Consultation{})
}

// history reads up to limit events (0: all) from version from.
func history(svc *core.Core, ctx context.Context, id uuid.UUID, from uint64, limit int) ([]domain.Entry, error) {
	if limit == 0 {
		limit = 1 << 30
	}
	page, err := svc.History(ctx, auditorBea, id, from, limit, core.Consultation{})
	return page.Events, err
}

func verify(svc *core.Core, ctx context.Context, id uuid.UUID) (domain.VerifyResult, error) {
	v, err := svc.Verify(ctx, auditorBea, id, core.Consultation{})
	return v.Case, err
}

func wantCode(t *testing.T, err error, code string) *domain.Error {
	t.Helper()
	de, ok := domain.AsError(err)
	if !ok || de.Code != code {
		t.Fatalf("want %s, got %v", code, err)
	}
	return de
}

func TestOpenAndLoad(t *testing.T) {
	f := newFixture(t, core.Config{})
	res, _, err := f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(openData)})
	if err != nil {
		t.Fatal(err)
	}
	if res.CaseID == uuid.Nil || res.EventID == uuid.Nil || res.Version != 0 || res.Position == 0 || res.Duplicate {
		t.Fatalf("result %+v", res)
	}
	c, err := load(f.svc, f.ctx, res.CaseID, core.At{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != res.CaseID || c.Version != 0 || c.Position != uint64(res.Position) || c.LeadAgency != "UKBA" ||
		c.Status != domain.StatusOpen || !c.VisibleTo("UKBA") || c.VisibleTo("SOCA") {
		t.Fatalf("case %+v", c)
	}
	// The event is stored in stream case-<id> with the envelope.
	var n int
	for rec, err := range f.store.ReadStream(f.ctx, "case-"+res.CaseID.String(), eventstore.ReadStreamOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		m, err := domain.DecodeMetadata(rec.Metadata)
		if err != nil || rec.Type != domain.TypeCaseOpened || m.Actor != ukba.Actor() || m.SchemaVersion != domain.SchemaVersion(domain.TypeCaseOpened) || m.PrevHash != "" || len(m.Hash) != 64 {
			t.Fatalf("stored %s %s: %v", rec.Type, rec.Metadata, err)
		}
	}
	if n != 1 {
		t.Fatalf("%d events stored", n)
	}
	// Invalid data is refused with the field named, and nothing is stored.
	headBefore, _ := f.store.Head(f.ctx)
	_, _, err = f.svc.OpenCase(f.ctx, ukba, core.OpenCase{Data: json.RawMessage(`{"reference":"R","title":"T","crime_types":["arson"],"location":"OTHER"}`)})
	if de := wantCode(t, err, domain.CodeValidation); de.Field != "crime_types" {
		t.Fatalf("field %q", de.Field)
	}
	if head, _ := f.store.Head(f.ctx); head != headBefore {
		t.Fatalf("a refused open wrote something: head %d", head)
	}
}

func TestOpenWithCaseIDAndRetries(t *testing.T) {
	f := newFixture(t, core.Config{})
	caseID := uuid.New()
	cmd := core.OpenCase{CaseID: caseID, Data: json.RawMessage(openData)}
	first, _, err := f.svc.OpenCase(f.ctx, ukba, cmd)
	if err != nil || first.CaseID != caseID {
		t.Fatalf("%+v %v", first, err)
	}
	again, state, err := f.svc.OpenCase(f.ctx, ukba, cmd)
	if err != nil || !again.Duplicate || again.CaseID != caseID || again.Position != first.Position || state.Reference != "OP-JOCC-17" {
		t.Fatalf("retry: %+v %+v %v", again, state, err)
	}
	// The same id with other content, or from anybody else — a colleague,
	// another agency that cannot see the case — is the same conflict,
	// worded the same: the answer tells nobody more than that the id is
	// taken.
	other := core.OpenCase{CaseID: caseID, Data: json.RawMessage(`{"reference":"OTHER","title":"T","crime_types":["cash"],"location":"OTHER"}`)}
	colleague := core.Identity{Subject: "officer.jones", Role: domain.RoleInvestigator, Agency: "UKBA"}
	var messages []string
	for _, try := range []struct {
		who core.Identity
		cmd core.OpenCase
	}{{ukba, other}, {colleague, cmd}, {french, core.OpenCase{CaseID: caseID, Data: json.RawMessage(`{"reference":"P-1","title":"T","crime_types":["cash"],"location":"OTHER"}`)}}} {
		_, _, err := f.svc.OpenCase(f.ctx, try.who, try.cmd)
		de := wantCode(t, err, domain.CodeCaseIDTaken)
		if de.Kind != domain.KindConflict {
			t.Fatalf("kind %s", de.Kind)
		}
		messages = append(messages, de.Message)
	}
	if messages[0] != messages[1] || messages[1] != messages[2] {
		t.Fatalf("the answers differ: %q", messages)
	}
}

func TestRecordRulesAndState(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	r := f.record(id, domain.TypeArrestMade, arrest(personA))
	if r.Version != 2 || r.Position == 0 {
		t.Fatalf("result %+v", r)
	}
	f.record(id, domain.TypeSeizureRecorded, `{"commodity":"cash","quantity":"0.10","unit":"gbp","location":"Dover"}`)
	f.record(id, domain.TypeSeizureRecorded, `{"commodity":"cash","quantity":0.2,"unit":"gbp","location":"Dover"}`)
	// Rules are the domain's: an arrest of someone never identified fails.
	_, err := f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(uuid.New()))})
	if de := wantCode(t, err, domain.CodeSuspectNotIdentified); de.Field != "person_id" || de.Kind != domain.KindInvalid {
		t.Fatalf("%+v", de)
	}
	c, err := load(f.svc, f.ctx, id, core.At{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 4 || c.Counts.Arrests != 1 || len(c.Seizures) != 1 || c.Seizures[0].Quantity.String() != "0.3" {
		t.Fatalf("state %+v", c)
	}
	// A case that does not exist.
	_, err = f.svc.Record(f.ctx, ukba, uuid.New(), core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	if de := wantCode(t, err, domain.CodeCaseNotFound); de.Kind != domain.KindNotFound {
		t.Fatalf("%+v", de)
	}
	for name, call := range map[string]func() error{
		"load":    func() error { _, err := load(f.svc, f.ctx, uuid.New(), core.At{}); return err },
		"history": func() error { _, err := history(f.svc, f.ctx, uuid.New(), 0, 10); return err },
		"verify":  func() error { _, err := verify(f.svc, f.ctx, uuid.New()); return err },
		"as of": func() error {
			v := uint64(0)
			_, err := load(f.svc, f.ctx, uuid.New(), core.At{Version: &v})
			return err
		},
	} {
		if err := call(); !errors.Is(err, domain.ErrCaseNotFound) {
			t.Errorf("%s of a missing case: %v", name, err)
		}
	}
}

// Property at the service level: the state a service keeps while deciding
// equals the state a fresh service (no cache) replays from the store.
func TestLiveStateEqualsReplayFromStore(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	f.record(id, domain.TypeOrganisedCrimeGroupLinked, `{"group_id":"`+groupG.String()+`","name":"Calais Network"}`)
	f.record(id, domain.TypeAgencyJoined, `{"agency":"PAF"}`)
	arr := f.record(id, domain.TypeArrestMade, arrest(personA))
	f.record(id, domain.TypeSuspectCharged, `{"person_id":"`+personA.String()+`","charges":["facilitation"]}`)
	f.record(id, domain.TypeStowawaysDetected, `{"location":"Coquelles","method":"co2_probe","people":12}`)
	f.record(id, domain.TypeIntelligenceLogged, `{"summary":"tip","grading":"1A1"}`)
	f.record(id, domain.TypeGangDismantled, `{"group_id":"`+groupG.String()+`"}`)
	f.record(id, domain.TypeEntryRetracted, `{"event_id":"`+arr.EventID.String()+`","reason":"wrong person"}`)
	f.record(id, domain.TypeCaseClosed, `{"outcome":"convicted"}`)
	live, err := load(f.svc, f.ctx, id, core.At{})
	if err != nil {
		t.Fatal(err)
	}
	fresh := newCore(t, f.store, core.Config{Keys: f.keys, CacheSize: -1})
	replayed, err := load(fresh, f.ctx, id, core.At{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(live, replayed) {
		a, _ := json.Marshal(live)
		b, _ := json.Marshal(replayed)
		t.Fatalf("live and replayed states differ:\n%s\n%s", a, b)
	}
	if live.Counts.Arrests != 0 || live.Counts.Retractions != 1 || live.Status != domain.StatusClosed || live.Version != 10 {
		t.Fatalf("state %+v", live.Counts)
	}
	// And after a reopen (the store reopened too): the same again.
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	f.openStore()
	svc := newCore(t, f.store, core.Config{Keys: f.keys, Now: f.clock.Now})
	if _, err := svc.Record(f.ctx, ukba2, id, core.Command{Type: domain.TypeCaseReopened, Data: json.RawMessage(`{"reason":"appeal"}`)}); err != nil {
		t.Fatal(err)
	}
	c, err := load(svc, f.ctx, id, core.At{})
	if err != nil || c.Version != 11 || c.Status != domain.StatusOpen {
		t.Fatalf("after reopen: %+v %v", c, err)
	}
}

// Officers logging arrests on one case at the same moment all succeed.
func TestConcurrentArrestsOnOneCase(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	const n = 32
	var wg sync.WaitGroup
	results := make([]core.Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
		})
	}
	wg.Wait()
	versions := map[uint64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("officer %d: %v", i, errs[i])
		}
		versions[results[i].Version] = true
	}
	if len(versions) != n {
		t.Fatalf("%d distinct versions for %d arrests", len(versions), n)
	}
	c, err := load(newCore(t, f.store, core.Config{Keys: f.keys, CacheSize: -1}), f.ctx, id, core.At{})
	if err != nil || c.Counts.Arrests != n || c.Version != n+1 {
		t.Fatalf("arrests %d version %d: %v", c.Counts.Arrests, c.Version, err)
	}
	if v, err := verify(f.svc, f.ctx, id); err != nil || !v.Valid || v.Checked != n+2 {
		t.Fatalf("verify %+v %v", v, err)
	}
}

// Two service instances on one store are two casebookd nodes: their
// appends race, the losers decide again on fresh state, and no arrest is
// lost.
func TestConcurrentArrestsFromTwoNodes(t *testing.T) {
	var retries atomic.Int64
	onRetry := func(uuid.UUID, int) { retries.Add(1) }
	f := newFixture(t, core.Config{OnConflictRetry: onRetry, MaxRetries: 50})
	other := newCore(t, f.store, core.Config{Keys: f.keys, Now: f.clock.Now, OnConflictRetry: onRetry, MaxRetries: 50})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		svc := f.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Go(func() {
			_, err := svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, svc := range []*core.Core{f.svc, other} {
		c, err := load(svc, f.ctx, id, core.At{})
		if err != nil || c.Counts.Arrests != n || c.Version != n+1 {
			t.Fatalf("arrests %d version %d: %v", c.Counts.Arrests, c.Version, err)
		}
	}
	if v, _ := verify(f.svc, f.ctx, id); !v.Valid {
		t.Fatalf("verify %+v", v)
	}
	t.Logf("%d conflict retries", retries.Load())
}

// racingStore is a test double around the real store: before the first
// append to a case stream it lets a competing officer (another service on
// the same store) append first, so the append meets a newer revision.
type racingStore struct {
	eventstore.Store
	once       sync.Once
	competitor func()
}

func (r *racingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if _, exact := expected.Revision(); exact {
		r.once.Do(r.competitor)
	}
	return r.Store.Append(ctx, stream, expected, events...)
}

func TestAppendRaceIsRetriedOnFreshState(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	competitor := newCore(t, f.store, core.Config{Keys: f.keys, Now: f.clock.Now})
	var retries []int
	racing := &racingStore{Store: f.store, competitor: func() {
		if _, err := competitor.Record(f.ctx, ukba2, id, core.Command{Type: domain.TypeCaseClosed, Data: json.RawMessage(`{"outcome":"closed by the other node"}`)}); err != nil {
			t.Error(err)
		}
	}}
	svc := newCore(t, racing, core.Config{Keys: f.keys, Now: f.clock.Now, OnConflictRetry: func(_ uuid.UUID, attempt int) { retries = append(retries, attempt) }})
	// The arrest was valid when decided, but the case closed before it was
	// appended: deciding again on the fresh state refuses it.
	_, err := svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	wantCode(t, err, domain.CodeCaseClosed)
	if len(retries) != 1 {
		t.Fatalf("retries %v", retries)
	}
}

func TestAppendRaceWithIfMatchIsNotRetried(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	competitor := newCore(t, f.store, core.Config{Keys: f.keys, Now: f.clock.Now})
	racing := &racingStore{Store: f.store, competitor: func() {
		if _, err := competitor.Record(f.ctx, ukba2, id, core.Command{Type: domain.TypeIntelligenceLogged, Data: json.RawMessage(`{"summary":"s","grading":"2B2"}`)}); err != nil {
			t.Error(err)
		}
	}}
	retried := false
	svc := newCore(t, racing, core.Config{Keys: f.keys, Now: f.clock.Now, OnConflictRetry: func(uuid.UUID, int) { retried = true }})
	v := uint64(1)
	_, err := svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA)), ExpectedVersion: &v})
	de := wantCode(t, err, domain.CodeVersionConflict)
	if de.Kind != domain.KindVersionConflict || de.CurrentVersion == nil || *de.CurrentVersion != 2 || retried {
		t.Fatalf("%+v retried=%v", de, retried)
	}
	c, _ := load(svc, f.ctx, id, core.At{})
	if c.Counts.Arrests != 0 || c.Version != 2 {
		t.Fatalf("the conditional command wrote: %+v", c.Counts)
	}
}

func TestIfMatch(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	stale, current := uint64(0), uint64(1)
	_, err := f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA)), ExpectedVersion: &stale})
	de := wantCode(t, err, domain.CodeVersionConflict)
	if de.CurrentVersion == nil || *de.CurrentVersion != 1 {
		t.Fatalf("%+v", de)
	}
	res, err := f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA)), ExpectedVersion: &current})
	if err != nil || res.Version != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	// 32 concurrent writers all sending If-Match for the same version:
	// exactly one wins, the others get version_conflict with version 3.
	v := uint64(2)
	var wins, conflicts atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			_, err := f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA)), ExpectedVersion: &v})
			switch de, ok := domain.AsError(err); {
			case err == nil:
				wins.Add(1)
			case ok && de.Code == domain.CodeVersionConflict && *de.CurrentVersion == 3:
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 31 {
		t.Fatalf("wins %d conflicts %d", wins.Load(), conflicts.Load())
	}
}

func TestIdempotentRetries(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	eventID := uuid.New()
	when := time.Date(2011, 5, 2, 7, 0, 0, 0, time.UTC)
	cmd := core.Command{EventID: eventID, Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA)), OccurredAt: &when}
	first, err := f.svc.Record(f.ctx, ukba, id, cmd)
	if err != nil || first.Duplicate || first.EventID != eventID {
		t.Fatalf("%+v %v", first, err)
	}
	// The same command again (a client retry after a timeout), even
	// written differently, gets the original answer.
	retry := cmd
	retry.Data = json.RawMessage(`{"offence":"facilitation","location":"Dover ","person_id":"` + personA.String() + `"}`)
	again, err := f.svc.Record(f.ctx, ukba, id, retry)
	if err != nil || !again.Duplicate || again.Version != first.Version || again.Position != first.Position {
		t.Fatalf("retry: %+v %v", again, err)
	}
	// ... also once the case has moved on and closed, and with an If-Match
	// that was right for the first attempt.
	f.record(id, domain.TypeCaseClosed, `{"outcome":"done"}`)
	v := first.Version - 1
	retry.ExpectedVersion = &v
	again, err = f.svc.Record(f.ctx, ukba, id, retry)
	if err != nil || !again.Duplicate || again.Version != first.Version {
		t.Fatalf("late retry: %+v %v", again, err)
	}
	// And from another node that never saw it (no cached state).
	fresh := newCore(t, f.store, core.Config{Keys: f.keys, Now: f.clock.Now})
	again, err = fresh.Record(f.ctx, ukba, id, retry)
	if err != nil || !again.Duplicate {
		t.Fatalf("retry on a fresh node: %+v %v", again, err)
	}
	// The same id with other content is a conflict.
	other := cmd
	other.Data = json.RawMessage(`{"person_id":"` + personA.String() + `","location":"Calais","offence":"facilitation"}`)
	_, err = f.svc.Record(f.ctx, ukba, id, other)
	if de := wantCode(t, err, domain.CodeDuplicateEventID); de.Kind != domain.KindConflict {
		t.Fatalf("%+v", de)
	}
	laterTime := cmd
	laterTime.OccurredAt = new(when.Add(time.Minute))
	_, err = f.svc.Record(f.ctx, ukba, id, laterTime)
	wantCode(t, err, domain.CodeDuplicateEventID)
	// The same id in another case: the store's ErrEventIDReused.
	other2 := f.open(openData)
	f.record(other2, domain.TypeSuspectIdentified, identify(personA))
	_, err = f.svc.Record(f.ctx, ukba, other2, cmd)
	wantCode(t, err, domain.CodeDuplicateEventID)
	// Stored once.
	count := 0
	for rec, err := range f.store.ReadAll(f.ctx, eventstore.ReadAllOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID == eventID {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("event stored %d times", count)
	}
}

func TestTimeTravel(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	f.record(id, domain.TypeArrestMade, arrest(personA))
	third := f.record(id, domain.TypeArrestMade, arrest(personA))
	f.record(id, domain.TypeEntryRetracted, `{"event_id":"`+third.EventID.String()+`","reason":"duplicate entry"}`)
	hist, err := history(f.svc, f.ctx, id, 0, 0)
	if err != nil || len(hist) != 5 {
		t.Fatalf("history %d %v", len(hist), err)
	}
	for v, wantArrests := range []int{0, 0, 1, 2, 1} {
		ver := uint64(v)
		c, err := load(f.svc, f.ctx, id, core.At{Version: &ver})
		if err != nil || c.Version != ver || c.Counts.Arrests != wantArrests {
			t.Fatalf("at version %d: arrests %d, %v", v, c.Counts.Arrests, err)
		}
		asOf := hist[v].Metadata.RecordedAt.Add(time.Millisecond) // before the next event (1s later)
		c2, err := load(f.svc, f.ctx, id, core.At{AsOf: &asOf})
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("as of %s: %+v %v", asOf, c2.Counts, err)
		}
	}
	beyond := uint64(5)
	_, err = load(f.svc, f.ctx, id, core.At{Version: &beyond})
	if de := wantCode(t, err, domain.CodeVersionNotFound); de.Kind != domain.KindNotFound {
		t.Fatalf("%+v", de)
	}
	before := hist[0].Metadata.RecordedAt.Add(-time.Second)
	_, err = load(f.svc, f.ctx, id, core.At{AsOf: &before})
	wantCode(t, err, domain.CodeCaseNotFound)
	_, err = load(f.svc, f.ctx, id, core.At{Version: &beyond, AsOf: &before})
	wantCode(t, err, domain.CodeInvalidParameter)
}

func TestHistoryPaging(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	for i := range 9 {
		f.record(id, domain.TypeIntelligenceLogged, fmt.Sprintf(`{"summary":"report %d","grading":"1A1"}`, i))
	}
	page, err := history(f.svc, f.ctx, id, 3, 4)
	if err != nil || len(page) != 4 || page[0].Version != 3 || page[3].Version != 6 {
		t.Fatalf("page %v", err)
	}
	if page[0].Metadata.PrevHash == "" || page[0].Event.(domain.IntelligenceLogged).Summary != "report 2" {
		t.Fatalf("entry %+v", page[0])
	}
	b, _ := json.Marshal(page[0])
	var shape map[string]any
	_ = json.Unmarshal(b, &shape)
	for _, k := range []string{"id", "type", "version", "position", "occurred_at", "recorded_at", "actor", "correlation_id", "causation_id", "data", "prev_hash", "hash"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("entry JSON lacks %q: %s", k, b)
		}
	}
	empty, err := history(f.svc, f.ctx, id, 100, 10)
	if err != nil || len(empty) != 0 || empty == nil {
		t.Fatalf("past the end: %v %v", empty, err)
	}
}

// Verify finds a byte changed in the SQLite file, at the right version.
func TestVerifyDetectsTamperedFile(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	f.record(id, domain.TypeArrestMade, arrest(personA))
	f.record(id, domain.TypeArrestMade, arrest(personA))
	if v, err := verify(f.svc, f.ctx, id); err != nil || !v.Valid || v.Checked != 4 {
		t.Fatalf("before: %+v %v", v, err)
	}
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	// An attacker with the file: drop the append-only trigger and change
	// "Dover" to "Doves" in version 2.
	db, err := sql.Open("sqlite", f.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER events_no_update`,
		`UPDATE events SET data = replace(data, 'DOVER', 'DOVES') WHERE stream = 'case-` + id.String() + `' AND revision = 2`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f.openStore()
	svc := newCore(t, f.store, core.Config{Keys: f.keys})
	v, err := verify(svc, f.ctx, id)
	if err != nil || v.Valid || v.FirstInvalidVersion == nil || *v.FirstInvalidVersion != 2 || v.Checked != 3 {
		t.Fatalf("after tampering: %+v %v", v, err)
	}
}

func TestCorruptStoredEventIsAnError(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	// Someone wrote garbage into the case's stream, bypassing the domain.
	if _, err := f.store.Append(f.ctx, domain.StreamName(id), eventstore.Any, eventstore.EventData{
		ID: uuid.New(), Type: domain.TypeArrestMade, Data: []byte(`{"who":"?"}`), Metadata: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	fresh := newCore(t, f.store, core.Config{Keys: f.keys})
	_, err := load(fresh, f.ctx, id, core.At{})
	if !errors.Is(err, domain.ErrCorruptEvent) {
		t.Fatalf("load: %v", err)
	}
	if _, ok := domain.AsError(err); !ok {
		t.Log("(the wrapped cause names the field too)")
	}
	if v, err := verify(fresh, f.ctx, id); err != nil || v.Valid || *v.FirstInvalidVersion != 1 {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

func TestWaitingForTheCaseLockHonoursTheContext(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	// Hold the only stripe with a command whose store append blocks.
	release := make(chan struct{})
	entered := make(chan struct{})
	blocking := &blockingStore{Store: f.store, entered: entered, release: release}
	svc := newCore(t, blocking, core.Config{Keys: f.keys})
	go func() {
		_, _ = svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	}()
	<-entered
	ctx, cancel := context.WithTimeout(f.ctx, 50*time.Millisecond)
	defer cancel()
	_, err := svc.Record(ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	close(release)
}

// blockingStore is a test double around the real store whose first Append
// waits until released.
type blockingStore struct {
	eventstore.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	return b.Store.Append(ctx, stream, expected, events...)
}

// Many cases at once, with a cache smaller than their number: states stay
// right when evicted and reloaded.
func TestManyCasesInParallelWithSmallCache(t *testing.T) {
	f := newFixture(t, core.Config{CacheSize: 3})
	const nCases, perCase = 8, 6
	ids := make([]uuid.UUID, nCases)
	for i := range ids {
		ids[i] = f.open(openData)
		f.record(ids[i], domain.TypeSuspectIdentified, identify(personA))
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		for range perCase {
			wg.Go(func() {
				if _, err := f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA))}); err != nil {
					t.Error(err)
				}
				if _, err := load(f.svc, f.ctx, id, core.At{}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for _, id := range ids {
		c, err := load(f.svc, f.ctx, id, core.At{})
		if err != nil || c.Counts.Arrests != perCase || c.Version != perCase+1 {
			t.Fatalf("case %s: %d arrests, version %d, %v", id, c.Counts.Arrests, c.Version, err)
		}
	}
}

// A node's cached state may be behind when another node wrote the case.
// The cache is only a head start: every answer is judged on state caught up
// with the store.
func TestStaleCacheNeverDecidesAnOutcome(t *testing.T) {
	f := newFixture(t, core.Config{})
	nodeB := newCore(t, f.store, core.Config{Keys: f.keys, Now: f.clock.Now})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA)) // node A caches version 1
	personB := uuid.New()
	// Node B identifies a second suspect; node A's cache does not know.
	if _, err := nodeB.Record(f.ctx, ukba2, id, core.Command{Type: domain.TypeSuspectIdentified, Data: json.RawMessage(identify(personB))}); err != nil {
		t.Fatal(err)
	}
	// Arresting them on node A: refused by the stale state, accepted on
	// the fresh one.
	res := f.record(id, domain.TypeArrestMade, arrest(personB))
	if res.Version != 3 {
		t.Fatalf("result %+v", res)
	}
	// If-Match with a version node A has not seen yet.
	eventID := uuid.New()
	v := uint64(4)
	if _, err := nodeB.Record(f.ctx, ukba2, id, core.Command{EventID: eventID, Type: domain.TypeIntelligenceLogged, Data: json.RawMessage(`{"summary":"s","grading":"1A1"}`)}); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeArrestMade, Data: json.RawMessage(arrest(personA)), ExpectedVersion: &v})
	if err != nil || res.Version != 5 {
		t.Fatalf("If-Match on a version written by the other node: %+v %v", res, err)
	}
	// A retry, on node B, of what node A just wrote, and on node A of
	// what node B wrote: both find the original.
	again, err := f.svc.Record(f.ctx, ukba2, id, core.Command{EventID: eventID, Type: domain.TypeIntelligenceLogged, Data: json.RawMessage(`{"summary":"s","grading":"1A1"}`)})
	if err != nil || !again.Duplicate || again.Version != 4 {
		t.Fatalf("retry: %+v %v", again, err)
	}
	// Node B's cache is now behind by one event: a stale If-Match there is
	// still answered with the store's current version.
	stale := uint64(4)
	_, err = nodeB.Record(f.ctx, ukba2, id, core.Command{Type: domain.TypeIntelligenceLogged, Data: json.RawMessage(`{"summary":"t","grading":"1A1"}`), ExpectedVersion: &stale})
	if de := wantCode(t, err, domain.CodeVersionConflict); *de.CurrentVersion != 5 {
		t.Fatalf("%+v", de)
	}
}
