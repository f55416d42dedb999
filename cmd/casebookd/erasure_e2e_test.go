package main_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/uuid"

	main "github.com/casebook/casebook/cmd/casebookd"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore/kurrentdb"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
	"github.com/casebook/casebook/keystore/sqlitekeys"
	"github.com/casebook/casebook/keystore/streamkeys"
)

// suspect is the body of a SuspectIdentified with all three personal fields.
func suspect(personID, name string) map[string]any {
	return map[string]any{"type": "SuspectIdentified", "data": map[string]any{"person_id": personID, "name": name}}
}

func suspectFull(personID, name, dob, nationality string) map[string]any {
	return map[string]any{"type": "SuspectIdentified", "data": map[string]any{
		"person_id": personID, "name": name, "date_of_birth": dob, "nationality": nationality}}
}

// The erased person's personal data: searched for everywhere afterwards.
// Unusual strings, so that a hit is theirs.
const (
	erasedName = "Zebedee Marchbanks-Oyelaran"
	erasedDOB  = "1969-11-23"
	erasedNat  = "Freedonian"
	keptName   = "Ottoline Pettigrew-Nakamura"
	intelText  = "Courier seen loading at Coquelles bay seven"
)

var erasedSecrets = []string{erasedName, erasedDOB, erasedNat}

// casebookCLI builds the casebook command into dir and returns its path:
// the operator's real tool, run against the data directory.
func casebookCLI(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "casebook")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/casebook/casebook/cmd/casebook").CombinedOutput()
	if err != nil {
		t.Fatalf("build the casebook CLI: %v\n%s", err, out)
	}
	return bin
}

func runCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CASEBOOK_MASTER_KEY_FILE=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("casebook %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// filesHolding lists the files under dir whose bytes contain s.
func filesHolding(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// reportBodies are the answers of every report, less their position.
func reportBodies(t *testing.T, s *server, minPosition uint64) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, path := range []string{"/v1/reports/arrests", "/v1/reports/gangs-dismantled", "/v1/reports/seizures",
		"/v1/reports/detections", "/v1/reports/summary", "/v1/reports/arrests?group_by=agency&explain=true"} {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		r := s.do(t, req{method: "GET", path: fmt.Sprintf("%s%sfrom=2009-01-01&to=2030-01-01&min_position=%d", path, sep, minPosition), as: analyst})
		mustStatus(t, r, http.StatusOK)
		var body map[string]any
		r.decode(t, &body)
		delete(body, "position")
		b, _ := json.Marshal(body)
		out[path] = string(b)
	}
	return out
}

// erasureScenario logs two people and an intelligence report on a case,
// reads them back, has the dpo of the lead agency erase the first, and
// checks every answer afterwards. It returns the case and the erased
// person.
func erasureScenario(t *testing.T, s *server) (caseView, string) {
	t.Helper()
	c := s.openCase(t, invUKBA, "UKBA-ERASE-"+uuid.NewString()[:8])
	person, other := uuid.NewString(), uuid.NewString()
	si := s.record(t, invUKBA, c.ID, suspectFull(person, erasedName, erasedDOB, erasedNat))
	s.record(t, invUKBA, c.ID, suspect(other, keptName))
	s.record(t, invUKBA, c.ID, intelligence(intelText))
	last := s.record(t, invUKBA, c.ID, map[string]any{"type": "ArrestMade", "data": map[string]any{"person_id": person, "location": "Dover", "offence": "facilitation"}})

	// Read back: the investigator sees it all.
	r := s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
	mustStatus(t, r, http.StatusOK)
	for _, want := range []string{erasedName, erasedDOB, erasedNat, keptName} {
		if !strings.Contains(string(r.Body), want) {
			t.Fatalf("the case record does not show %q: %s", want, r.Body)
		}
	}
	before := reportBodies(t, s, last.Position)

	// The dpo finds the person, and erases them.
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/people", as: dpoUKBA})
	mustStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.Body), erasedName) {
		t.Fatalf("people: %s", r.Body)
	}
	mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: dpoUKBA}), http.StatusForbidden)
	r = s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/people/" + person + "/erasure", as: dpoSOCA, body: map[string]any{"reason": "retention period over"}})
	mustStatus(t, r, http.StatusNotFound) // not their agency's case
	r = s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/people/" + person + "/erasure", as: dpoUKBA, body: map[string]any{"reason": "retention period over"}})
	mustStatus(t, r, http.StatusCreated)
	var er struct {
		ID       string `json:"id"`
		Version  uint64 `json:"version"`
		Position uint64 `json:"position"`
		ErasedAt string `json:"erased_at"`
	}
	r.decode(t, &er)
	// Again: the same erasure, 200.
	r = s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/people/" + person + "/erasure", as: dpoUKBA, body: map[string]any{"reason": "retention period over"}})
	mustStatus(t, r, http.StatusOK)

	// Verify passes.
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/verify", as: auditor})
	mustStatus(t, r, http.StatusOK)
	var v map[string]any
	r.decode(t, &v)
	if v["valid"] != true {
		t.Fatalf("verify after erasure: %s", r.Body)
	}
	// Every report answers as before.
	after := reportBodies(t, s, er.Position)
	for path, b := range before {
		if after[path] != b {
			t.Errorf("%s changed:\n before %s\n  after %s", path, b, after[path])
		}
	}
	// History: the identification erased, with erased_at; the rest as it was.
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/events", as: auditor})
	mustStatus(t, r, http.StatusOK)
	var hist struct {
		Events []struct {
			ID       string          `json:"id"`
			Type     string          `json:"type"`
			Data     json.RawMessage `json:"data"`
			ErasedAt *string         `json:"erased_at"`
		} `json:"events"`
	}
	r.decode(t, &hist)
	for _, e := range hist.Events {
		erased := e.ID == si.ID
		if erased != (e.ErasedAt != nil) || (erased && *e.ErasedAt != er.ErasedAt) {
			t.Errorf("event %s (%s): erased_at %v", e.ID, e.Type, e.ErasedAt)
		}
		if erased && string(e.Data) != `{"person_id":"`+person+`","name":null,"date_of_birth":null,"nationality":null}` {
			t.Errorf("erased event's data: %s", e.Data)
		}
	}
	for _, want := range []string{intelText, keptName} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("history lost %q: %s", want, r.Body)
		}
	}
	// The case record: the person null, with erased_at; the figures stay.
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
	mustStatus(t, r, http.StatusOK)
	var cs struct {
		Counts   map[string]int   `json:"counts"`
		Suspects []map[string]any `json:"suspects"`
	}
	r.decode(t, &cs)
	for _, sp := range cs.Suspects {
		if sp["person_id"] == person {
			if sp["name"] != nil || sp["date_of_birth"] != nil || sp["nationality"] != nil || sp["erased_at"] != er.ErasedAt || sp["arrests"] != float64(1) {
				t.Errorf("erased suspect: %v", sp)
			}
		}
	}
	if cs.Counts["suspects"] != 2 || cs.Counts["arrests"] != 1 {
		t.Errorf("counts %v", cs.Counts)
	}
	// Everyone's answers: no plaintext of the erased person anywhere.
	for _, rq := range []req{
		{method: "GET", path: "/v1/cases/" + c.ID, as: auditor},
		{method: "GET", path: "/v1/cases/" + c.ID + "?version=" + fmt.Sprint(si.Version), as: auditor},
		{method: "GET", path: "/v1/cases/" + c.ID + "/events", as: invUKBA},
		{method: "GET", path: "/v1/events?limit=1000", as: auditor},
		{method: "GET", path: "/v1/cases/" + c.ID + "/people", as: dpoUKBA},
	} {
		r := s.do(t, rq)
		mustStatus(t, r, http.StatusOK)
		for _, secret := range erasedSecrets {
			if strings.Contains(string(r.Body), secret) {
				t.Errorf("%s %s answers %q", rq.method, rq.path, secret)
			}
		}
	}
	return c, person
}

// TestErasureEndToEnd: erasure over HTTP on the embedded store, then a byte
// search of every file of the data directory, the server's log, an export
// and a backup made afterwards.
func TestErasureEndToEnd(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir)
	bin := casebookCLI(t, t.TempDir())
	data := filepath.Join(dir, "data")

	// A search that can fail: an export made before the erasure holds the
	// name (opened for the operator).
	c := s.openCase(t, invUKBA, "UKBA-ERASE-PROBE")
	s.record(t, invUKBA, c.ID, suspect(uuid.NewString(), "Probe Person Quintavalle"))
	probe := filepath.Join(t.TempDir(), "probe.ndjson")
	runCLI(t, bin, "export", "--data", data, "--out", probe)
	if b, _ := os.ReadFile(probe); !bytes.Contains(b, []byte("Probe Person Quintavalle")) {
		t.Fatal("the export does not show personal data: the searches below prove nothing")
	}
	if hits := filesHolding(t, data, "Probe Person Quintavalle"); len(hits) > 0 {
		t.Fatalf("personal data stored in plain text in %v", hits)
	}

	erasureScenario(t, s)

	out := t.TempDir()
	export, backup := filepath.Join(out, "after.ndjson"), filepath.Join(out, "after.db")
	runCLI(t, bin, "export", "--data", data, "--out", export)
	runCLI(t, bin, "backup", "--data", data, "--to", backup)
	if _, err := os.Stat(backup + ".keys"); err != nil {
		t.Fatalf("the backup has no key store copy: %v", err)
	}
	if b, _ := os.ReadFile(export); !bytes.Contains(b, []byte(intelText)) || !bytes.Contains(b, []byte(keptName)) {
		t.Fatal("the export lost the data not erased")
	}
	checkSecretsGone(t, s, erasedSecrets, data, out)
	runCLI(t, bin, "verify", "--data", data)
}

// keyRows is the wrapped key bytes of every key in a key store file.
func keyRows(t *testing.T, path string) map[string][]byte {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT case_id || '/' || name, wrapped FROM data_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var k string
		var w []byte
		if err := rows.Scan(&k, &w); err != nil {
			t.Fatal(err)
		}
		out[k] = w
	}
	return out
}

// A key store restored from before an erasure, under the log that records
// it: casebookd destroys the erased key again before its first answer.
func TestRestoredKeyStoreHasErasuresReapplied(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startServerIn(t, dir)
	c := s.openCase(t, invUKBA, "UKBA-RESTORE-1")
	person := uuid.NewString()
	s.record(t, invUKBA, c.ID, suspectFull(person, erasedName, erasedDOB, erasedNat))
	if err := s.m.Close(); err != nil {
		t.Fatal(err)
	}
	keysDB := filepath.Join(data, sqlitekeys.FileName)
	old := filepath.Join(dir, "keys-before-erasure.db")
	copyFileForTest(t, keysDB, old)
	ref := c.ID + "/person-" + person
	wrapped := keyRows(t, old)[ref]
	if wrapped == nil {
		t.Fatalf("the old key store has no key %s", ref)
	}

	s = startServerIn(t, dir)
	r := s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/people/" + person + "/erasure", as: dpoUKBA, body: map[string]any{"reason": "wrongly held"}})
	mustStatus(t, r, http.StatusCreated)
	if err := s.m.Close(); err != nil {
		t.Fatal(err)
	}
	if len(filesHolding(t, data, string(wrapped))) > 0 {
		t.Fatal("the erased key is still in the data directory")
	}
	// The operator restores the key store from its older copy.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(keysDB + suffix)
	}
	copyFileForTest(t, old, keysDB)
	if len(filesHolding(t, data, string(wrapped))) == 0 {
		t.Fatal("the restored key store does not hold the key: the search proves nothing")
	}

	// Run returns once casebookd listens: before any request is answered.
	m := main.NewMain()
	logs := &syncBuffer{}
	m.LogOutput = logs
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data", data, "--tokens", filepath.Join(dir, "tokens.csv")}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if hits := filesHolding(t, data, string(wrapped)); len(hits) > 0 {
		t.Fatalf("before the first answer, the erased key is still in %v", hits)
	}
	if _, ok := keyRows(t, keysDB)[ref]; ok {
		t.Fatal("the erased key is in the key store")
	}
	if !strings.Contains(logs.String(), `"msg":"erasures applied to the key store","count":1`) {
		t.Errorf("log: %s", logs.String())
	}
}

func copyFileForTest(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot is every file under dir and a digest of its bytes.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// backend is where an end-to-end test's events and keys live: the
// embedded store, or the KurrentDB test double (through the real client).
type backend struct {
	name string
	kdb  *kurrentdbtest.Server // nil: embedded
}

func (b backend) args() []string {
	if b.kdb == nil {
		return nil
	}
	return []string{"--store", b.kdb.URL()}
}

func (b backend) configure(c *main.Config) {
	if b.kdb != nil {
		c.StoreURL = b.kdb.URL()
	}
}

// eachBackend runs f on the embedded store and on a fresh KurrentDB test
// double.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("embedded", func(t *testing.T) { f(t, backend{name: "embedded"}) })
	t.Run("kurrentdb", func(t *testing.T) {
		f(t, backend{name: "kurrentdb", kdb: kurrentdbtest.Start(t, kurrentdbtest.Options{})})
	})
}

// A wrong (or missing) master key: casebookd refuses to start, saying why,
// and writes nothing — not in the data directory, not in KurrentDB.
func TestWrongMasterKeyRefusesToStart(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		s := startServerIn(t, dir, b.configure)
		c := s.openCase(t, invUKBA, "UKBA-MASTER-1")
		s.record(t, invUKBA, c.ID, suspect(uuid.NewString(), erasedName))
		if err := s.m.Close(); err != nil {
			t.Fatal(err)
		}
		wrong := filepath.Join(dir, "wrong.key")
		if err := os.WriteFile(wrong, bytes.Repeat([]byte{0x42}, 32), 0o600); err != nil {
			t.Fatal(err)
		}
		events := func() int {
			if b.kdb == nil {
				return 0
			}
			return b.kdb.EventCount()
		}
		start := func(args ...string) error {
			m := main.NewMain()
			m.LogOutput = &syncBuffer{}
			flags := append([]string{"--addr", "127.0.0.1:0", "--data", data, "--tokens", filepath.Join(dir, "tokens.csv")}, b.args()...)
			if err := m.ParseFlags(append(flags, args...), func(string) string { return "" }); err != nil {
				t.Fatal(err)
			}
			err := m.Run(context.Background())
			_ = m.Close()
			return err
		}
		before, n := snapshot(t, data), events()
		err := start("--master-key-file", wrong)
		if err == nil || !strings.Contains(err.Error(), "is not the one the key store's keys are wrapped with") || !strings.Contains(err.Error(), "nothing was written") {
			t.Fatalf("start with the wrong master key: %v", err)
		}
		if after := snapshot(t, data); !equalSnapshots(before, after) || events() != n {
			t.Fatalf("something was written:\n before %v (%d events)\n after %v (%d events)", before, n, after, events())
		}
		// Missing: not created anew.
		if err := os.Rename(filepath.Join(data, "master.key"), filepath.Join(dir, "master.key.away")); err != nil {
			t.Fatal(err)
		}
		before = snapshot(t, data)
		if err := start(); err == nil || !strings.Contains(err.Error(), "master key file") || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("start without the master key: %v", err)
		}
		if after := snapshot(t, data); !equalSnapshots(before, after) || events() != n {
			t.Fatalf("something was written:\n before %v\n after %v", before, after)
		}
		if err := os.Rename(filepath.Join(dir, "master.key.away"), filepath.Join(data, "master.key")); err != nil {
			t.Fatal(err)
		}
		if err := start(); err != nil {
			t.Fatalf("start with the right key: %v", err)
		}
	})
}

func equalSnapshots(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A key store that lost a key the log needs (the person not erased):
// those fields answer a problem, everything else works, verify passes.
func TestMissingKeyAnswersAProblemForItsFields(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		s := startServerIn(t, dir, b.configure)
		c := s.openCase(t, invUKBA, "UKBA-LOST-1")
		lost, kept := uuid.NewString(), uuid.NewString()
		s.record(t, invUKBA, c.ID, suspectFull(lost, erasedName, erasedDOB, erasedNat))
		s.record(t, invUKBA, c.ID, suspect(kept, keptName))
		s.record(t, invUKBA, c.ID, intelligence(intelText))
		if err := s.m.Close(); err != nil {
			t.Fatal(err)
		}
		// The key is lost (not destroyed by an erasure): removed behind
		// Casebook's back.
		if b.kdb == nil {
			db, err := sql.Open("sqlite", "file:"+filepath.Join(data, sqlitekeys.FileName))
			if err != nil {
				t.Fatal(err)
			}
			res, err := db.Exec(`DELETE FROM data_keys WHERE case_id = ? AND name = ?`, c.ID, "person-"+lost)
			if n, _ := res.RowsAffected(); err != nil || n != 1 {
				t.Fatalf("delete the key: %v (%d rows)", err, n)
			}
			db.Close()
		} else {
			ks, err := kurrentdb.Open(context.Background(), b.kdb.URL(), kurrentdb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			stream := streamkeys.StreamOf(domain.PersonKey(uuid.MustParse(c.ID), uuid.MustParse(lost)))
			if len(b.kdb.StreamEventIDs(stream)) != 1 {
				t.Fatalf("no key stream %s", stream)
			}
			if err := ks.TombstoneStream(context.Background(), stream); err != nil {
				t.Fatal(err)
			}
			ks.Close()
		}

		s = startServerIn(t, dir, b.configure)
		r := s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID, as: invUKBA})
		mustStatus(t, r, http.StatusOK)
		var cs struct {
			Reference string           `json:"reference"`
			Suspects  []map[string]any `json:"suspects"`
		}
		r.decode(t, &cs)
		for _, sp := range cs.Suspects {
			switch sp["person_id"] {
			case lost:
				u, _ := sp["unreadable"].(map[string]any)
				if sp["name"] != nil || u["code"] != domain.CodeKeyUnavailable || u["type"] != "/problems/key-unavailable" || sp["erased_at"] != nil {
					t.Errorf("the suspect whose key is lost: %v", sp)
				}
			case kept:
				if sp["name"] != keptName || sp["unreadable"] != nil {
					t.Errorf("the other suspect: %v", sp)
				}
			}
		}
		if cs.Reference != "UKBA-LOST-1" {
			t.Errorf("reference %q", cs.Reference)
		}
		r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/events", as: auditor})
		mustStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Body), `"code":"key_unavailable","fields":["name","date_of_birth","nationality"]`) || !strings.Contains(string(r.Body), intelText) {
			t.Errorf("history: %s", r.Body)
		}
		r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/verify", as: auditor})
		mustStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Body), `"valid":true`) {
			t.Errorf("verify: %s", r.Body)
		}
		s.record(t, invUKBA, c.ID, intelligence("Further sighting at Dover"))
		mustStatus(t, s.do(t, req{method: "GET", path: "/v1/reports/summary", as: analyst}), http.StatusOK)
	})
}

// The same, through the KurrentDB test double: keys in streams of the
// double, tombstoned on erasure and gone after a scavenge.
func TestErasureEndToEndOverKurrentDB(t *testing.T) {
	kdb := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	dir := t.TempDir()
	s := startServerIn(t, dir, func(c *main.Config) { c.StoreURL = kdb.URL() })
	data := filepath.Join(dir, "data")
	bin := casebookCLI(t, t.TempDir())
	masterKey := filepath.Join(data, "master.key")

	c, person := erasureScenario(t, s)
	for _, secret := range erasedSecrets {
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
	// The export, through the operator's tool and the same master key.
	export := filepath.Join(t.TempDir(), "after.ndjson")
	runCLI(t, bin, "export", "--store", kdb.URL(), "--master-key-file", masterKey, "--out", export)
	b, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(keptName)) {
		t.Fatal("the export does not open the data not erased: the search proves nothing")
	}
	for _, secret := range erasedSecrets {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%q in the export", secret)
		}
	}
	if bytes.Contains(b, []byte("casebook-keys-")) {
		t.Error("the export holds key streams")
	}
	// The key's stream is tombstoned: its bytes leave the node with a scavenge.
	ref := domain.PersonKey(uuid.MustParse(c.ID), uuid.MustParse(person))
	if ids := kdb.StreamEventIDs("casebook-keys-" + ref.Case.String() + "-" + ref.Name()); len(ids) != 1 {
		t.Fatalf("the key's stream: %v", ids)
	}
	kdb.Scavenge()
	if ids := kdb.StreamEventIDs("casebook-keys-" + ref.Case.String() + "-" + ref.Name()); len(ids) != 0 {
		t.Fatalf("after a scavenge the key's stream holds %v", ids)
	}
	runCLI(t, bin, "verify", "--store", kdb.URL())
}

// checkSecretsGone fails the test for each secret found in a file under
// any of dirs or in the server's log; then it stops casebookd and checks
// again (a file closed or checkpointed at shutdown must not bring one back).
func checkSecretsGone(t *testing.T, s *server, secrets []string, dirs ...string) {
	t.Helper()
	check := func(when string) {
		for _, secret := range secrets {
			for _, d := range dirs {
				if hits := filesHolding(t, d, secret); len(hits) > 0 {
					t.Errorf("%s: %q found in %v", when, secret, hits)
				}
			}
			if strings.Contains(s.logs.String(), secret) {
				t.Errorf("%s: %q in the server's log", when, secret)
			}
		}
	}
	check("while casebookd runs")
	if err := s.m.Close(); err != nil {
		t.Fatal(err)
	}
	check("after casebookd stopped")
}
