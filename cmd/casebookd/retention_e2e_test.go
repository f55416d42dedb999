package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	main "github.com/casebook/casebook/cmd/casebookd"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
)

// What a disposed case held: every person's personal data, its
// intelligence and a location's detail. Unusual strings, so that a hit is
// theirs.
const (
	disposedName1   = "Perpetua Ffoulkes-Abernathy"
	disposedDOB1    = "1958-07-14"
	disposedNat1    = "Grand Fenwickian"
	disposedName2   = "Barnabas Quillfeather-Osei"
	disposedIntel   = "Informant saw the Ffoulkes van at Bay Nineteen"
	disposedAddress = "Home of Barnabas, 17 Larkspur Mews"
)

var disposedSecrets = []string{disposedName1, disposedDOB1, disposedNat1, disposedName2, disposedIntel, disposedAddress}

// review is a RetentionReviewed body.
func review(decision, reason string) map[string]any {
	return map[string]any{"type": "RetentionReviewed", "data": map[string]any{"decision": decision, "reason": reason}}
}

// disposalScenario logs two people, intelligence and an arrest at an
// address on a case, closes it, finds it in the dpo's due list and has the
// dpo dispose of it; then checks every answer. It returns the case and
// the two people.
func disposalScenario(t *testing.T, s *server) (caseView, []string) {
	t.Helper()
	c := s.openCase(t, invUKBA, "UKBA-DISPOSE-"+uuid.NewString()[:8])
	p1, p2 := uuid.NewString(), uuid.NewString()
	s.record(t, invUKBA, c.ID, suspectFull(p1, disposedName1, disposedDOB1, disposedNat1))
	s.record(t, invUKBA, c.ID, suspect(p2, disposedName2))
	s.record(t, invUKBA, c.ID, intelligence(disposedIntel))
	s.record(t, invUKBA, c.ID, map[string]any{"type": "ArrestMade", "data": map[string]any{"person_id": p2, "location": "other",
		"location_detail": disposedAddress, "offence": "facilitation"}})
	s.record(t, invUKBA, c.ID, map[string]any{"type": "SeizureRecorded", "data": map[string]any{"commodity": "cash", "quantity": 9000,
		"unit": "gbp", "location": "dover"}})
	closed := s.record(t, invUKBA, c.ID, map[string]any{"type": "CaseClosed", "data": map[string]any{"outcome": "No further action"}})

	// Read back: the investigator sees it all.
	r := s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/events", as: invUKBA})
	mustStatus(t, r, http.StatusOK)
	for _, want := range disposedSecrets {
		if !strings.Contains(string(r.Body), want) {
			t.Fatalf("the history does not show %q: %s", want, r.Body)
		}
	}
	before := reportBodies(t, s, closed.Position)

	// The dpo finds it in the due list (10 years after its closure: people
	// smuggling is a serious offence in the default table).
	due := func(as string, minPos uint64) *response {
		return s.do(t, req{method: "GET", path: fmt.Sprintf("/v1/reviews/due?before=2100-01-01&limit=1000&min_position=%d", minPos), as: as})
	}
	r = due(dpoUKBA, closed.Position)
	mustStatus(t, r, http.StatusOK)
	var list struct {
		Cases []struct {
			CaseID         string `json:"case_id"`
			ReviewDue      string `json:"review_due"`
			RetentionGroup string `json:"retention_group"`
		} `json:"cases"`
	}
	r.decode(t, &list)
	found := false
	for _, d := range list.Cases {
		if d.CaseID == c.ID {
			found = true
			if want := time.Now().UTC().AddDate(10, 0, 0).Format(time.DateOnly); d.ReviewDue != want && d.ReviewDue != time.Now().UTC().AddDate(10, 0, -1).Format(time.DateOnly) {
				t.Errorf("review due %s, want %s", d.ReviewDue, want)
			}
			if d.RetentionGroup != domain.RetentionSerious {
				t.Errorf("group %s", d.RetentionGroup)
			}
		}
	}
	if !found {
		t.Fatalf("the closed case is not in the due list: %s", r.Body)
	}
	for _, secret := range disposedSecrets {
		if strings.Contains(string(r.Body), secret) {
			t.Errorf("the due list shows %q", secret)
		}
	}
	mustStatus(t, due(invUKBA, 0), http.StatusForbidden)
	mustStatus(t, due(auditor, 0), http.StatusForbidden)
	r = due(dpoSOCA, 0)
	mustStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.Body), c.ID) {
		t.Errorf("another agency's dpo sees the case: %s", r.Body)
	}

	// Only the dpo of its agencies decides; then the case is disposed of.
	post := func(as string, body any) *response {
		return s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/events", as: as, body: body})
	}
	mustStatus(t, post(invUKBA, review("dispose", "no policing purpose remains")), http.StatusForbidden)
	mustStatus(t, post(dpoSOCA, review("dispose", "no policing purpose remains")), http.StatusNotFound)
	r = post(dpoUKBA, map[string]any{"type": "RetentionReviewed", "data": map[string]any{"decision": "dispose", "reason": "r", "next_review": "2030-01-01"}})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if p := r.problem(t); p.Field != "next_review" {
		t.Errorf("next_review with dispose: %+v", p)
	}
	r = post(dpoUKBA, review("dispose", "no policing purpose remains"))
	mustStatus(t, r, http.StatusCreated)
	var disposal recorded
	r.decode(t, &disposal)
	r = post(dpoUKBA, review("retain", "second thoughts"))
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if p := r.problem(t); p.Type != "/problems/case-disposed" || p.Code != domain.CodeCaseDisposed {
		t.Errorf("a review after the disposal: %+v", p)
	}

	// Verify passes; every report answers as before.
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/verify", as: auditor})
	mustStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.Body), `"valid":true`) {
		t.Fatalf("verify after disposal: %s", r.Body)
	}
	after := reportBodies(t, s, disposal.Position)
	for path, b := range before {
		if after[path] != b {
			t.Errorf("%s changed:\n before %s\n  after %s", path, b, after[path])
		}
	}
	// The record: disposed_at, every suspect null with erased_at, figures
	// as they were.
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
	mustStatus(t, r, http.StatusOK)
	var cs struct {
		DisposedAt string           `json:"disposed_at"`
		Counts     map[string]int   `json:"counts"`
		Suspects   []map[string]any `json:"suspects"`
	}
	r.decode(t, &cs)
	if cs.DisposedAt == "" || cs.Counts["suspects"] != 2 || cs.Counts["arrests"] != 1 || cs.Counts["intelligence_reports"] != 1 || cs.Counts["seizures"] != 1 {
		t.Errorf("record after disposal: %s", r.Body)
	}
	for _, sp := range cs.Suspects {
		if sp["name"] != nil || sp["erased_at"] != cs.DisposedAt {
			t.Errorf("suspect after disposal: %v", sp)
		}
	}
	// History: every event that held personal data shows it null, with
	// erased_at.
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/events", as: auditor})
	mustStatus(t, r, http.StatusOK)
	var hist struct {
		Events []struct {
			Type     string          `json:"type"`
			Data     json.RawMessage `json:"data"`
			ErasedAt *string         `json:"erased_at"`
		} `json:"events"`
	}
	r.decode(t, &hist)
	erased := 0
	for _, e := range hist.Events {
		if e.ErasedAt != nil {
			erased++
			if *e.ErasedAt != cs.DisposedAt {
				t.Errorf("%s erased_at %s, disposed_at %s", e.Type, *e.ErasedAt, cs.DisposedAt)
			}
		}
		if e.Type == "IntelligenceLogged" && !strings.Contains(string(e.Data), `"summary":null`) {
			t.Errorf("intelligence after disposal: %s", e.Data)
		}
	}
	if erased != 4 {
		t.Errorf("%d events shown erased, want 4 (two people, the intelligence, the address): %s", erased, r.Body)
	}
	// Everyone's answers: nothing of the case's personal data anywhere.
	for _, rq := range []req{
		{method: "GET", path: "/v1/cases/" + c.ID, as: auditor},
		{method: "GET", path: "/v1/cases/" + c.ID + "/events", as: invUKBA},
		{method: "GET", path: "/v1/events?limit=1000", as: auditor},
		{method: "GET", path: "/v1/cases/" + c.ID + "/people", as: dpoUKBA},
		{method: "GET", path: "/v1/reports/arrests?group_by=location&explain=true&from=2009-01-01&to=2100-01-01", as: analyst},
	} {
		r := s.do(t, rq)
		mustStatus(t, r, http.StatusOK)
		for _, secret := range disposedSecrets {
			if strings.Contains(string(r.Body), secret) {
				t.Errorf("%s %s answers %q", rq.method, rq.path, secret)
			}
		}
	}
	// Never due again.
	r = due(dpoUKBA, disposal.Position)
	mustStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.Body), c.ID) {
		t.Errorf("the disposed case is still due: %s", r.Body)
	}
	return c, []string{p1, p2}
}

// TestDisposalEndToEnd: disposal over HTTP on the embedded store, then a
// byte search of every file of the data directory, the server's log, an
// export and a backup made afterwards.
func TestDisposalEndToEnd(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir)
	bin := casebookCLI(t, t.TempDir())
	data := filepath.Join(dir, "data")

	// A search that can fail: an export before the disposal holds the
	// address (opened for the operator).
	c := s.openCase(t, invUKBA, "UKBA-DISPOSE-PROBE")
	s.record(t, invUKBA, c.ID, map[string]any{"type": "StowawaysDetected", "data": map[string]any{"location": "calais",
		"location_detail": "Probe lane Quintavalle", "method": "scanner", "people": 2}})
	probe := filepath.Join(t.TempDir(), "probe.ndjson")
	runCLI(t, bin, "export", "--data", data, "--out", probe)
	if b, _ := os.ReadFile(probe); !bytes.Contains(b, []byte("Probe lane Quintavalle")) {
		t.Fatal("the export does not show location details: the searches below prove nothing")
	}
	if hits := filesHolding(t, data, "Probe lane Quintavalle"); len(hits) > 0 {
		t.Fatalf("a location detail stored in plain text in %v", hits)
	}

	disposalScenario(t, s)

	out := t.TempDir()
	export, backup := filepath.Join(out, "after.ndjson"), filepath.Join(out, "after.db")
	runCLI(t, bin, "export", "--data", data, "--out", export)
	runCLI(t, bin, "backup", "--data", data, "--to", backup)
	if b, _ := os.ReadFile(export); !bytes.Contains(b, []byte("Probe lane Quintavalle")) {
		t.Fatal("the export lost another case's data")
	}
	checkSecretsGone(t, s, disposedSecrets, data, out)
	runCLI(t, bin, "verify", "--data", data)
}

// The same through the KurrentDB test double: the case's key streams and
// every person's are tombstoned, and gone after a scavenge.
func TestDisposalEndToEndOverKurrentDB(t *testing.T) {
	kdb := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	dir := t.TempDir()
	s := startServerIn(t, dir, func(c *main.Config) { c.StoreURL = kdb.URL() })
	data := filepath.Join(dir, "data")
	bin := casebookCLI(t, t.TempDir())

	c, people := disposalScenario(t, s)
	for _, secret := range disposedSecrets {
		if kdb.ContainsBytes([]byte(secret)) {
			t.Errorf("%q is on the KurrentDB node", secret)
		}
		if hits := filesHolding(t, data, secret); len(hits) > 0 {
			t.Errorf("%q in %v", secret, hits)
		}
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("%q in the server's log", secret)
		}
	}
	export := filepath.Join(t.TempDir(), "after.ndjson")
	runCLI(t, bin, "export", "--store", kdb.URL(), "--master-key-file", filepath.Join(data, "master.key"), "--out", export)
	b, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"erased_at"`)) {
		t.Fatal("the export does not show the disposed fields erased: the search proves nothing")
	}
	for _, secret := range disposedSecrets {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%q in the export", secret)
		}
	}
	caseID := uuid.MustParse(c.ID)
	refs := []domain.KeyRef{domain.CaseKey(caseID)}
	for _, p := range people {
		refs = append(refs, domain.PersonKey(caseID, uuid.MustParse(p)))
	}
	for _, ref := range refs {
		if ids := kdb.StreamEventIDs("casebook-keys-" + ref.Case.String() + "-" + ref.Name()); len(ids) != 1 {
			t.Fatalf("the key's stream %s: %v", ref, ids)
		}
	}
	kdb.Scavenge()
	for _, ref := range refs {
		if ids := kdb.StreamEventIDs("casebook-keys-" + ref.Case.String() + "-" + ref.Name()); len(ids) != 0 {
			t.Errorf("after a scavenge the key's stream %s holds %v", ref, ids)
		}
	}
	runCLI(t, bin, "verify", "--store", kdb.URL())
}

// Locations are place codes: a free-text location is refused with a
// problem pointing at GET /v1/places; its text goes in location_detail,
// which no report ever groups by or shows.
func TestReportGroupsArePlaceCodesOnly(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-PLACES-1")
	p := uuid.NewString()
	s.record(t, invUKBA, c.ID, suspect(p, "John Quincy Public"))
	const home = "Home of John Quincy Public"
	r := s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/events", as: invUKBA, body: map[string]any{
		"type": "ArrestMade", "data": map[string]any{"person_id": p, "location": home, "offence": "facilitation"}}})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if pr := r.problem(t); pr.Type != "/problems/unknown-place" || pr.Code != domain.CodeUnknownPlace || pr.Field != "location" ||
		!strings.Contains(pr.Detail, "DOVER") {
		t.Errorf("free-text location: %+v", pr)
	}
	mustStatus(t, s.do(t, req{method: "GET", path: "/problems/unknown-place"}), http.StatusOK)
	r = s.do(t, req{method: "GET", path: "/v1/places", as: analyst})
	mustStatus(t, r, http.StatusOK)
	var places struct {
		Places []struct{ Code, Name string } `json:"places"`
	}
	r.decode(t, &places)
	var codes []string
	for _, pl := range places.Places {
		codes = append(codes, pl.Code)
	}
	for _, want := range []string{"DOVER", "COQUELLES", "CALAIS", domain.PlaceOther} {
		if !slices.Contains(codes, want) {
			t.Errorf("GET /v1/places lacks %s: %v", want, codes)
		}
	}
	// The offence is free text too (here it names the victim): no report
	// groups by it, and the read models do not keep it.
	const offence = "Assault on Jane Victimsdottir"
	last := s.record(t, invUKBA, c.ID, map[string]any{"type": "ArrestMade", "data": map[string]any{"person_id": p, "location": "other",
		"location_detail": home, "offence": offence}})
	r = s.do(t, req{method: "GET", path: fmt.Sprintf("/v1/reports/arrests?group_by=offence&min_position=%d", last.Position), as: analyst})
	mustStatus(t, r, http.StatusBadRequest)
	if pr := r.problem(t); pr.Type != "/problems/invalid-parameter" || pr.Field != "group_by" {
		t.Errorf("group_by=offence: %+v", pr)
	}
	for _, path := range []string{"/v1/reports/arrests?group_by=location", "/v1/reports/arrests?group_by=location&explain=true"} {
		r := s.do(t, req{method: "GET", path: fmt.Sprintf("%s&from=2009-01-01&to=2100-01-01&min_position=%d", path, last.Position), as: analyst})
		mustStatus(t, r, http.StatusOK)
		if strings.Contains(string(r.Body), "Quincy") {
			t.Errorf("%s shows the detail: %s", path, r.Body)
		}
		var rep struct {
			Groups []struct{ Key string } `json:"groups"`
		}
		r.decode(t, &rep)
		if len(rep.Groups) == 0 {
			t.Fatalf("%s: no groups: %s", path, r.Body)
		}
		for _, g := range rep.Groups {
			if !slices.Contains(codes, g.Key) {
				t.Errorf("%s: group key %q is not a place code", path, g.Key)
			}
		}
	}
	for _, name := range []string{"readmodels.db", "readmodels.db-wal"} {
		b, err := os.ReadFile(filepath.Join(s.dataDir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("Victimsdottir")) || bytes.Contains(b, []byte("Quincy")) {
			t.Errorf("%s holds the offence's or the detail's free text", name)
		}
	}
}

// Old free-text locations still load: a store holding the legacy fixture
// (written before places were codes) imported and served, its addresses
// never a report group.
func TestLegacyFreeTextLocationsLoad(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	bin := casebookCLI(t, t.TempDir())
	// The fixture, in the export's NDJSON form.
	in, err := os.Open(filepath.Join("..", "..", "domain", "testdata", "stream-legacy-places.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var lines bytes.Buffer
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			ID       string          `json:"id"`
			Stream   string          `json:"stream"`
			Type     string          `json:"type"`
			Version  uint64          `json:"version"`
			Position uint64          `json:"position"`
			Data     json.RawMessage `json:"data"`
			Metadata json.RawMessage `json:"metadata"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		var m struct {
			RecordedAt string `json:"recorded_at"`
		}
		_ = json.Unmarshal(ev.Metadata, &m)
		line, _ := json.Marshal(map[string]any{"stream": ev.Stream, "revision": ev.Version, "position": ev.Position, "id": ev.ID,
			"type": ev.Type, "recorded_at": m.RecordedAt, "data": ev.Data, "metadata": ev.Metadata})
		lines.Write(append(line, '\n'))
	}
	src := filepath.Join(dir, "legacy.ndjson")
	if err := os.WriteFile(src, lines.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, bin, "import", "--data", data, "--in", src)
	runCLI(t, bin, "verify", "--data", data)

	s := startServerIn(t, dir)
	r := s.do(t, req{method: "GET", path: "/v1/reports/arrests?group_by=location&from=2009-01-01&to=2012-01-01&min_position=1", as: analyst})
	mustStatus(t, r, http.StatusOK)
	var rep struct {
		Groups []struct {
			Key   string `json:"key"`
			Count int    `json:"count"`
		} `json:"groups"`
	}
	r.decode(t, &rep)
	got := map[string]int{}
	for _, g := range rep.Groups {
		got[g.Key] = g.Count
	}
	if got[domain.PlaceOther] != 1 || got["ZEEBRUGGE"] != 1 || len(got) != 2 {
		t.Errorf("legacy arrests by location: %s", r.Body)
	}
	r = s.do(t, req{method: "GET", path: "/v1/reports/detections?group_by=location&from=2009-01-01&to=2012-01-01", as: analyst})
	mustStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.Body), "ferry port") || !strings.Contains(string(r.Body), `"COQUELLES"`) {
		t.Errorf("legacy detections by location: %s", r.Body)
	}
}
