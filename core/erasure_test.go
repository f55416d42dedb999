package core_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/keystore/sqlitekeys"
)

var personB = uuid.MustParse("b0000000-0000-4000-8000-00000000000b")

const (
	johnDoe     = `{"person_id":"a0000000-0000-4000-8000-00000000000a","name":"Jonathan Quincy Doe","date_of_birth":"1971-02-03","nationality":"Ruritanian"}`
	richardRoe  = `{"person_id":"b0000000-0000-4000-8000-00000000000b","name":"Richard Roe"}`
	intelText   = `{"summary":"Informant names the Quincy brothers as drivers","grading":"2B1"}`
	secretName  = "Jonathan Quincy Doe"
	secretDOB   = "1971-02-03"
	secretNat   = "Ruritanian"
	secretIntel = "Informant names the Quincy brothers"
)

// storeFiles is every byte of the fixture's event store and key store.
func (f *fixture) storeFiles() []byte {
	f.t.Helper()
	var all []byte
	dir := filepath.Dir(f.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// seededCase is a UKBA case with John Doe (all three fields), Richard Roe
// and an intelligence report naming people.
func (f *fixture) seededCase() (uuid.UUID, core.Result) {
	f.t.Helper()
	id := f.open(openData)
	f.record(id, domain.TypeAgencyJoined, `{"agency":"PAF"}`)
	john := f.record(id, domain.TypeSuspectIdentified, johnDoe)
	f.record(id, domain.TypeSuspectIdentified, richardRoe)
	f.record(id, domain.TypeIntelligenceLogged, intelText)
	f.record(id, domain.TypeArrestMade, arrest(personA))
	return id, john
}

func TestPersonalDataIsSealedAtRestAndShownToThoseEntitled(t *testing.T) {
	f := newFixture(t, core.Config{})
	id, _ := f.seededCase()
	files := f.storeFiles()
	for _, secret := range []string{secretName, secretDOB, secretNat, secretIntel, "Richard Roe"} {
		if bytes.Contains(files, []byte(secret)) {
			t.Errorf("%q is stored in plain text", secret)
		}
	}
	if !bytes.Contains(files, []byte(domain.SealedPrefix+"person-"+personA.String())) {
		t.Fatal("no sealed value in the store: the search above proves nothing")
	}
	c, err := f.svc.Case(f.ctx, ukba, id, core.At{}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c.Suspect(personA)
	if s.Name != secretName || s.DateOfBirth != secretDOB || s.Nationality != secretNat {
		t.Errorf("case record shows %+v", s)
	}
	page, err := f.svc.History(f.ctx, auditorBea, id, 0, 100, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(page.Events[2].Data); got != johnDoe {
		t.Errorf("history shows %s, want %s", got, johnDoe)
	}
	if got := string(page.Events[4].Data); got != intelText {
		t.Errorf("history shows %s, want %s", got, intelText)
	}
	if !bytes.Contains(page.Events[2].Stored.Data, []byte(domain.SealedPrefix)) {
		t.Error("the entry's stored bytes are not the sealed ones")
	}
	log, err := f.svc.ReadLog(f.ctx, auditorBea, core.LogQuery{Limit: 100}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log.Events[4].Data), secretIntel) {
		t.Errorf("global log shows %s", log.Events[4].Data)
	}
	if v, err := f.svc.Verify(f.ctx, auditorBea, id, core.Consultation{}); err != nil || !v.Valid() {
		t.Fatalf("verify %+v %v", v, err)
	}
	// A retry of the identification (same id, same plaintext) is answered
	// as one, though each seal's nonce differs.
	res, err := f.svc.Record(f.ctx, ukba, id, core.Command{EventID: page.Events[2].ID, Type: domain.TypeSuspectIdentified, Data: json.RawMessage(johnDoe)})
	if err != nil || !res.Duplicate {
		t.Fatalf("retry: %+v %v", res, err)
	}
	// And the plaintext is refused in the sealed form.
	_, err = f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeIntelligenceLogged, Data: json.RawMessage(`{"summary":"cbk:enc:v1:case:AAAA","grading":"1A1"}`)})
	wantCode(t, err, domain.CodeValidation)
}

func TestErasePerson(t *testing.T) {
	f := newFixture(t, core.Config{})
	id, john := f.seededCase()
	before, err := f.svc.Case(f.ctx, auditorBea, id, core.At{}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	er, err := f.svc.ErasePerson(f.ctx, dpoPAF, id, personA, "subject's erasure request upheld")
	if err != nil {
		t.Fatal(err)
	}
	if er.Duplicate || er.PersonID != personA || er.ErasedAt.IsZero() || er.Version != before.Version+1 {
		t.Fatalf("erasure %+v", er)
	}
	// The key is gone from the key store.
	if _, err := f.keys.Store().Get(f.ctx, domain.PersonKey(id, personA)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("the key is still in the store: %v", err)
	}
	if _, err := f.keys.Store().Get(f.ctx, domain.PersonKey(id, personB)); err != nil {
		t.Fatalf("another person's key went too: %v", err)
	}

	after, err := f.svc.Case(f.ctx, auditorBea, id, core.At{}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Counts != before.Counts {
		t.Errorf("figures changed: %+v, were %+v", after.Counts, before.Counts)
	}
	s, _ := after.Suspect(personA)
	if s.ErasedAt == nil || !s.ErasedAt.Equal(er.ErasedAt) || s.Name != "" || s.Arrests != 1 {
		t.Errorf("erased suspect %+v", s)
	}
	if r, _ := after.Suspect(personB); r.Name != "Richard Roe" {
		t.Errorf("the other suspect: %+v", r)
	}
	// Earlier versions of the record show the person erased too.
	v := john.Version
	past, err := f.svc.Case(f.ctx, auditorBea, id, core.At{Version: &v}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := past.Suspect(personA); s.ErasedAt == nil || s.Name != "" {
		t.Errorf("version %d shows %+v", v, s)
	}

	page, err := f.svc.History(f.ctx, auditorBea, id, 0, 100, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Events {
		erased := e.ID == john.EventID
		if (e.ErasedAt != nil) != erased {
			t.Errorf("version %d (%s): erased_at %v", e.Version, e.Type, e.ErasedAt)
		}
	}
	got, _ := json.Marshal(page.Events[john.Version])
	for _, want := range []string{`"name":null`, `"date_of_birth":null`, `"nationality":null`, `"erased_at":"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("history event %s lacks %s", got, want)
		}
	}
	if !strings.Contains(string(page.Events[4].Data), secretIntel) {
		t.Errorf("the intelligence text (under the case key) is gone: %s", page.Events[4].Data)
	}
	last := page.Events[len(page.Events)-1]
	if last.Type != domain.TypePersonErased || strings.Contains(string(last.Stored.Data), "Quincy") {
		t.Errorf("last event %s %s", last.Type, last.Stored.Data)
	}
	log, err := f.svc.ReadLog(f.ctx, auditorBea, core.LogQuery{Limit: 100}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log.Events {
		if e.ID == john.EventID && (e.ErasedAt == nil || strings.Contains(string(e.Data), "Quincy")) {
			t.Errorf("global log shows %s", e.Data)
		}
	}
	if v, err := f.svc.Verify(f.ctx, auditorBea, id, core.Consultation{}); err != nil || !v.Valid() {
		t.Fatalf("verify after erasure: %+v %v", v, err)
	}
	people, err := f.svc.People(f.ctx, dpoUKBA, id, core.Consultation{})
	if err != nil || len(people) != 2 || people[0].ErasedAt == nil || people[1].Name != "Richard Roe" {
		t.Fatalf("people %+v %v", people, err)
	}
	pj, _ := json.Marshal(people[0])
	if !strings.Contains(string(pj), `"name":null`) || !strings.Contains(string(pj), `"date_of_birth":null`) {
		t.Errorf("people JSON %s", pj)
	}

	// Erasing again answers the erasure already recorded.
	again, err := f.svc.ErasePerson(f.ctx, dpoUKBA, id, personA, "again")
	if err != nil || !again.Duplicate || again.EventID != er.EventID {
		t.Fatalf("second erasure %+v %v", again, err)
	}
	// No new data about the erased person; a retry of the erased
	// identification cannot be matched any more.
	_, err = f.svc.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeSuspectIdentified, Data: json.RawMessage(johnDoe)})
	wantCode(t, err, domain.CodePersonErased)
	_, err = f.svc.Record(f.ctx, ukba, id, core.Command{EventID: john.EventID, Type: domain.TypeSuspectIdentified, Data: json.RawMessage(johnDoe)})
	wantCode(t, err, domain.CodeDuplicateEventID)
	// PersonErased cannot be logged without destroying the key.
	_, err = f.svc.Record(f.ctx, dpoUKBA, id, core.Command{Type: domain.TypePersonErased, Data: json.RawMessage(`{"person_id":"` + personB.String() + `","reason":"r"}`)})
	if err == nil {
		t.Fatal("PersonErased through Record was accepted")
	}
	// Nobody without personal data in the case.
	_, err = f.svc.ErasePerson(f.ctx, dpoUKBA, id, uuid.New(), "r")
	wantCode(t, err, domain.CodeSuspectNotIdentified)
	// The plaintext is nowhere in the stores' files.
	files := f.storeFiles()
	for _, secret := range []string{secretName, secretDOB, secretNat} {
		if bytes.Contains(files, []byte(secret)) {
			t.Errorf("%q found in the store files", secret)
		}
	}
}

// Erasure is judged on the log: a node whose memory (or key store) still
// holds the key shows the person erased all the same.
func TestErasureShownByEveryNode(t *testing.T) {
	f := newFixture(t, core.Config{})
	id, _ := f.seededCase()
	nodeB := newCore(t, f.store, core.Config{Now: f.clock.Now,
		Keys: newVault(t, filepath.Join(filepath.Dir(f.path), "keys.db"), testMasterKey)})
	if c, err := nodeB.Case(f.ctx, auditorBea, id, core.At{}, core.Consultation{}); err != nil {
		t.Fatal(err)
	} else if s, _ := c.Suspect(personA); s.Name != secretName {
		t.Fatalf("node B before: %+v", s) // its vault caches the key now
	}
	if _, err := f.svc.ErasePerson(f.ctx, dpoUKBA, id, personA, "retention period over"); err != nil {
		t.Fatal(err)
	}
	c, err := nodeB.Case(f.ctx, auditorBea, id, core.At{}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := c.Suspect(personA); s.ErasedAt == nil || s.Name != "" {
		t.Fatalf("node B after: %+v", s)
	}
	page, err := nodeB.History(f.ctx, auditorBea, id, 0, 100, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Events {
		if strings.Contains(string(e.Data), "Quincy Doe") {
			t.Fatalf("node B's history shows %s", e.Data)
		}
	}
}

// A key store restored from before an erasure holds the key again;
// ApplyErasures destroys it before anything is served, and reads show the
// person erased even before it runs.
func TestApplyErasuresAfterAnOldKeyStoreIsRestored(t *testing.T) {
	f := newFixture(t, core.Config{})
	id, _ := f.seededCase()
	dir := filepath.Dir(f.path)
	backup := filepath.Join(dir, "keys-before.db")
	if err := f.keys.Store().(*sqlitekeys.Store).BackupTo(f.ctx, backup); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ErasePerson(f.ctx, dpoUKBA, id, personA, "retention period over"); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.ApplyErasures(f.ctx); err != nil || n != 1 {
		t.Fatalf("first ApplyErasures = %d, %v (the erasure is applied, again)", n, err)
	}
	old := newVault(t, backup, testMasterKey)
	if _, err := old.Store().Get(f.ctx, domain.PersonKey(id, personA)); err != nil {
		t.Fatalf("the old key store does not hold the key: %v", err)
	}
	restored := newCore(t, f.store, core.Config{Now: f.clock.Now, Keys: old})
	c, err := restored.Case(f.ctx, auditorBea, id, core.At{}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := c.Suspect(personA); s.ErasedAt == nil || s.Name != "" {
		t.Fatalf("before ApplyErasures: %+v", s)
	}
	n, err := restored.ApplyErasures(f.ctx)
	if err != nil || n != 1 {
		t.Fatalf("ApplyErasures = %d, %v", n, err)
	}
	if _, err := old.Store().Get(f.ctx, domain.PersonKey(id, personA)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("after ApplyErasures the key is still there: %v", err)
	}
	if _, err := old.Store().Get(f.ctx, domain.PersonKey(id, personB)); err != nil {
		t.Fatalf("another key went: %v", err)
	}
	if n, err := restored.ApplyErasures(f.ctx); err != nil || n != 0 {
		t.Fatalf("second ApplyErasures = %d, %v", n, err)
	}
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, _ := f.keys.Store().Get(f.ctx, domain.PersonKey(id, personB)) // still there: proves the search can find a key
	if !bytes.Contains(b, wrapped) {
		t.Fatal("the search cannot find a live key in the file")
	}
}

// A key store missing a key the log needs (not erased): those fields are
// null with a problem saying why; everything else answers, verify holds.
func TestMissingKeyIsAProblemForThoseFieldsOnly(t *testing.T) {
	f := newFixture(t, core.Config{})
	id, john := f.seededCase()
	empty := newVault(t, filepath.Join(t.TempDir(), "keys.db"), testMasterKey)
	other := newCore(t, f.store, core.Config{Now: f.clock.Now, Keys: empty})
	c, err := other.Case(f.ctx, auditorBea, id, core.At{}, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c.Suspect(personA)
	if s.Unreadable == nil || s.Unreadable.Code != domain.CodeKeyUnavailable || len(s.Unreadable.Fields) != 3 || s.ErasedAt != nil {
		t.Fatalf("suspect %+v", s)
	}
	if c.Reference != "OP-JOCC-17" || c.Counts.Suspects != 2 || c.Counts.Arrests != 1 {
		t.Errorf("the rest of the record: %+v", c)
	}
	page, err := other.History(f.ctx, auditorBea, id, 0, 100, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	e := page.Events[john.Version]
	if e.Unreadable == nil || !strings.Contains(string(e.Data), `"name":null`) {
		t.Errorf("history: %s %+v", e.Data, e.Unreadable)
	}
	if page.Events[4].Unreadable == nil || page.Events[4].Unreadable.Fields[0] != "summary" {
		t.Errorf("intelligence: %+v", page.Events[4])
	}
	if page.Events[0].Unreadable != nil || page.Events[5].Unreadable != nil {
		t.Error("events without personal fields marked unreadable")
	}
	if v, err := other.Verify(f.ctx, auditorBea, id, core.Consultation{}); err != nil || !v.Valid() {
		t.Fatalf("verify %+v %v", v, err)
	}
	// Recording still works (new keys are made for new data).
	if _, err := other.Record(f.ctx, ukba, id, core.Command{Type: domain.TypeSuspectIdentified,
		Data: json.RawMessage(`{"person_id":"` + uuid.NewString() + `","name":"New Person"}`)}); err != nil {
		t.Fatal(err)
	}
	// A wrong master key is refused by the vault.
	ks, err := sqlitekeys.Open(f.ctx, filepath.Join(filepath.Dir(f.path), "keys.db"), sqlitekeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if _, err := keystore.OpenVault(f.ctx, ks, bytes.Repeat([]byte{9}, 32), keystore.VaultOptions{}); !errors.Is(err, keystore.ErrWrongMasterKey) {
		t.Fatalf("wrong master key: %v", err)
	}
}

// Personal data written before encryption cannot be erased by a key: the
// erasure is refused, saying so.
func TestPlaintextPersonCannotBeErasedByAKey(t *testing.T) {
	plain := newFixture(t, core.Config{})
	// A core without keys writes personal data as before encryption.
	legacy := newCore(t, plain.store, core.Config{Now: plain.clock.Now})
	res, _, err := legacy.OpenCase(plain.ctx, ukba, core.OpenCase{Data: json.RawMessage(openData)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := legacy.Record(plain.ctx, ukba, res.CaseID, core.Command{Type: domain.TypeSuspectIdentified, Data: json.RawMessage(johnDoe)}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain.storeFiles(), []byte(secretName)) {
		t.Fatal("the keyless core sealed the data")
	}
	// The encrypting core reads it as it is.
	c, err := plain.svc.Case(plain.ctx, ukba, res.CaseID, core.At{}, core.Consultation{})
	if s, _ := c.Suspect(personA); err != nil || s.Name != secretName {
		t.Fatalf("%+v %v", s, err)
	}
	_, err = plain.svc.ErasePerson(plain.ctx, dpoUKBA, res.CaseID, personA, "r")
	wantCode(t, err, domain.CodePersonalDataUnsealed)
}
