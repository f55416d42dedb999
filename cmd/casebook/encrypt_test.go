package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

// Personal data of the plaintext store, searched for in the copies.
var plainSecrets = []string{"Xavier Quillfeather", "1966-04-05", "Lilliputian", "lorries of the Quillfeather family"}

// plaintextStore is a data directory written as before encryption: a core
// without keys, personal data in plain text, and an access log.
func plaintextStore(t *testing.T) (dir string, caseID uuid.UUID) {
	t.Helper()
	dir = t.TempDir()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, eventsFile), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := core.New(core.Config{Store: st}) // no keys: plain text
	if err != nil {
		t.Fatal(err)
	}
	officer := core.Identity{Subject: "officer.alice", Role: domain.RoleInvestigator, Agency: "UKBA"}
	res, _, err := c.OpenCase(ctx, officer, core.OpenCase{Data: []byte(`{"reference":"UKBA/2010/0007","title":"Operation Quill","crime_types":["people_smuggling"],"location":"Dover"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []core.Command{
		{Type: domain.TypeSuspectIdentified, Data: []byte(`{"person_id":"c0000000-0000-4000-8000-00000000000c","name":"Xavier Quillfeather","date_of_birth":"1966-04-05","nationality":"Lilliputian"}`)},
		{Type: domain.TypeIntelligenceLogged, Data: []byte(`{"summary":"Drives lorries of the Quillfeather family","grading":"2B1"}`)},
		{Type: domain.TypeArrestMade, Data: []byte(`{"person_id":"c0000000-0000-4000-8000-00000000000c","location":"Dover","offence":"facilitation"}`)},
	} {
		if _, err := c.Record(ctx, officer, res.CaseID, cmd); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Case(ctx, officer, res.CaseID, core.At{}, core.Consultation{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir, res.CaseID
}

// dirBytes is every byte of every file in dir.
func dirBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		all = append(all, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// migrate --encrypt: the copy holds no plaintext, verifies, shows the
// personal data to the operator, and records the source's heads.
func TestMigrateEncryptSealsAPlaintextStore(t *testing.T) {
	t.Parallel()
	src, caseID := plaintextStore(t)
	if !bytes.Contains(dirBytes(t, src), []byte(plainSecrets[0])) {
		t.Fatal("the source is not in plain text: the test proves nothing")
	}
	dst := filepath.Join(t.TempDir(), "sealed")
	r := must(t, "migrate", "--from", src, "--to", dst, "--encrypt", "--json")
	var rep migrateReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !rep.Verified || !rep.Sealed || rep.Migration == "" || rep.Copied != rep.Events {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(dst, "master.key")); err != nil {
		t.Fatalf("no master key made for the target: %v", err)
	}
	all := dirBytes(t, dst)
	for _, s := range plainSecrets {
		if bytes.Contains(all, []byte(s)) {
			t.Errorf("%q is in the sealed copy's files", s)
		}
	}
	must(t, "verify", "--data", dst)

	// The operator sees the personal data, as before.
	r = must(t, "replay", "--data", dst, "--case", caseID.String())
	if !strings.Contains(r.stdout, "Xavier Quillfeather (Lilliputian)") || !strings.Contains(r.stdout, "Drives lorries of the Quillfeather family") {
		t.Fatalf("replay of the copy:\n%s", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "export.ndjson")
	must(t, "export", "--data", dst, "--out", out)
	if b, _ := os.ReadFile(out); !bytes.Contains(b, []byte(`"opened":{"data":{"person_id":"c0000000-0000-4000-8000-00000000000c","name":"Xavier Quillfeather"`)) {
		t.Fatalf("export does not open the personal fields:\n%s", b)
	}
	must(t, "export", "--data", dst, "--sealed", "--out", out+".sealed")
	if b, _ := os.ReadFile(out + ".sealed"); bytes.Contains(b, []byte("Quillfeather")) {
		t.Fatal("a --sealed export holds plaintext")
	}

	// The record links the source's head hashes to the copy's.
	oldHead := lastHash(t, logOf(t, src), domain.StreamName(caseID))
	newHead := lastHash(t, logOf(t, dst), domain.StreamName(caseID))
	if oldHead == newHead {
		t.Fatal("the case's chain was not recomputed")
	}
	var linked bool
	for _, ev := range logOf(t, dst) {
		if ev.Stream != rep.Migration {
			continue
		}
		m, err := domain.DecodeStoreMigrated(ev.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range m.Heads {
			if h.Stream == domain.StreamName(caseID) && h.OldHeadHash == oldHead && h.NewHeadHash == newHead {
				linked = true
			}
		}
	}
	if !linked {
		t.Fatal("no migration record links the case's old head to its new one")
	}
	// Re-running copies nothing and records nothing new.
	r = must(t, "migrate", "--from", src, "--to", dst, "--encrypt", "--json")
	rep2 := migrateReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep2); err != nil || rep2.Copied != 0 || rep2.Migration != rep.Migration || !rep2.Verified {
		t.Fatalf("re-run: %v %+v", err, rep2)
	}
}

// A store sealed already migrates with its keys: the copy opens.
func TestMigrateCopiesTheKeysOfSealedFields(t *testing.T) {
	t.Parallel()
	src := demoData(t)
	dst := filepath.Join(t.TempDir(), "copy")
	r := must(t, "migrate", "--from", src, "--to", dst, "--json")
	var rep migrateReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.Verified || rep.KeysCopied == 0 || rep.KeysMissing != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
	var caseID uuid.UUID
	for _, ev := range logOf(t, dst) {
		if ev.Type == domain.TypeSuspectIdentified {
			caseID, _ = domain.CaseIDFromStream(ev.Stream)
			break
		}
	}
	r = must(t, "replay", "--data", dst, "--case", caseID.String(), "--json")
	if strings.Contains(r.stdout, "key_unavailable") || strings.Contains(r.stdout, "undecryptable") {
		t.Fatalf("the copy's personal fields do not open:\n%s", r.stdout)
	}
	// Both master keys differ: the keys were re-wrapped, not copied as bytes.
	a, _ := os.ReadFile(filepath.Join(src, "master.key"))
	b, _ := os.ReadFile(filepath.Join(dst, "master.key"))
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("master keys %x / %x", a, b)
	}
}

func lastHash(t *testing.T, log []eventstore.RecordedEvent, stream string) string {
	t.Helper()
	h := ""
	for _, ev := range log {
		if ev.Stream == stream {
			m, err := domain.DecodeMetadata(ev.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			h = m.Hash
		}
	}
	return h
}

// A data protection officer's token, like anyone's.
func TestTokenCreateForADataProtectionOfficer(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.csv")
	tok := strings.TrimSpace(must(t, "token", "create", "--subject", "dpo-1", "--role", "dpo", "--agency", "UKBA", "--tokens", file).stdout)
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), tok+",dpo-1,dpo,UKBA") {
		t.Fatalf("tokens file %s, %v", b, err)
	}
}
