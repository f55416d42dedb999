package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	"github.com/casebook/casebook/projections"
)

var (
	reportOfficer = core.Identity{Subject: "officer.alice", Role: domain.RoleInvestigator, Agency: "UKBA"}
	reportAuditor = core.Identity{Subject: "auditor.bea", Role: domain.RoleAuditor, Agency: "HMIC"}
)

// consultations writes a case and reads of it into the store in dir, the
// way casebookd does: with read models (withReadModels) or without.
func consultations(t *testing.T, dir string, withReadModels bool, reads func(c *core.Core, caseID uuid.UUID)) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, eventsFile), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := core.Config{Store: st, AccessMergeWindow: -1}
	if withReadModels {
		e, err := projections.Open(ctx, dir, st, projections.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		cfg.ReadModels = e
		defer func() {
			head, _ := st.Head(ctx)
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := e.WaitFor(wctx, head); err != nil {
				t.Fatal(err)
			}
		}()
	}
	c, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	res, _, err := c.OpenCase(ctx, reportOfficer, core.OpenCase{CaseID: uuid.New(), Data: json.RawMessage(
		`{"reference":"REP-` + uuid.NewString()[:8] + `","title":"t","crime_types":["people_smuggling"],"location":"Dover"}`)})
	if err != nil {
		t.Fatal(err)
	}
	reads(c, res.CaseID)
}

func read(t *testing.T, c *core.Core, who core.Identity, id uuid.UUID, purpose, ref string) {
	t.Helper()
	if _, err := c.Case(context.Background(), who, id, core.At{}, core.Consultation{Purpose: purpose, PurposeReference: ref}); err != nil {
		t.Fatal(err)
	}
}

func TestAccessReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Consultations the read model holds, then some written after it
	// stopped following the log (the report must find both).
	consultations(t, dir, true, func(c *core.Core, id uuid.UUID) {
		read(t, c, reportOfficer, id, domain.PurposeInvestigation, "Operation Marten")
		read(t, c, reportAuditor, id, "", "")
		read(t, c, reportOfficer, id, domain.PurposeDisclosure, "DR, \"42\"")
	})
	consultations(t, dir, false, func(c *core.Core, id uuid.UUID) {
		read(t, c, reportOfficer, id, "", "")
		read(t, c, reportAuditor, id, domain.PurposeAudit, "")
	})
	from, to := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	var viaIndex accessReport
	r := must(t, "access-report", "--data", dir, "--subject", "officer.alice", "--from", from, "--to", to, "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &viaIndex); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	var purposes []string
	for _, e := range viaIndex.Entries {
		if e.Subject != "officer.alice" {
			t.Fatalf("someone else's entry: %+v", e)
		}
		purposes = append(purposes, e.Purpose)
	}
	if strings.Join(purposes, " ") != "investigation disclosure investigation" || !viaIndex.Entries[2].PurposeDefaulted {
		t.Fatalf("purposes %v: %+v", purposes, viaIndex.Entries)
	}
	if viaIndex.Source.ReadModel == 0 || viaIndex.Source.Scanned != 2 || !strings.Contains(r.stderr, "read model") {
		t.Fatalf("source %+v (%s): want the read model and the 2 entries after it", viaIndex.Source, r.stderr)
	}

	// --scan, and a data directory without read models, read the whole
	// access log to the same answer.
	var viaScan accessReport
	r = must(t, "access-report", "--data", dir, "--subject", "officer.alice", "--from", from, "--to", to, "--format", "json", "--scan")
	_ = json.Unmarshal([]byte(r.stdout), &viaScan)
	if viaScan.Source.ReadModel != 0 || viaScan.Source.Scanned != 5 || len(viaScan.Entries) != 3 {
		t.Fatalf("--scan: %+v", viaScan.Source)
	}
	a, _ := json.Marshal(viaIndex.Entries)
	b, _ := json.Marshal(viaScan.Entries)
	if string(a) != string(b) {
		t.Fatalf("the index and the scan disagree:\n%s\n%s", a, b)
	}
	if err := os.Remove(filepath.Join(dir, readModelsFile)); err != nil {
		t.Fatal(err)
	}
	r = must(t, "access-report", "--data", dir, "--subject", "officer.alice", "--from", from, "--to", to)
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, r.stdout)
	}
	if len(rows) != 4 || rows[0][0] != "occurred_at" || rows[2][13] != "disclosure" || rows[2][14] != `DR, "42"` {
		t.Fatalf("csv rows %q", rows)
	}
	if !strings.Contains(r.stderr, "read all 5 access-log entries") {
		t.Fatalf("stderr %q: want the scan's cost named", r.stderr)
	}
	// A period with nothing in it.
	r = must(t, "access-report", "--data", dir, "--subject", "officer.alice", "--from", "2001-01-01", "--to", "2001-02-01", "--json")
	var none accessReport
	if err := json.Unmarshal([]byte(r.stdout), &none); err != nil || len(none.Entries) != 0 {
		t.Fatalf("2001: %v %s", err, r.stdout)
	}
}

// The report opens everything read-only: it runs beside a server that
// holds the store and follows the log.
func TestAccessReportBesideARunningServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	consultations(t, dir, true, func(c *core.Core, id uuid.UUID) {
		read(t, c, reportOfficer, id, domain.PurposeLegal, "")
	})
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, eventsFile), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := projections.Open(ctx, dir, st, projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	before := logOfStore(t, st)
	r := must(t, "access-report", "--data", dir, "--subject", "officer.alice", "--from", "2000-01-01", "--to", "2100-01-01", "--format", "json")
	var rep accessReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Entries) != 1 || rep.Entries[0].Purpose != domain.PurposeLegal {
		t.Fatalf("%v %s", err, r.stdout)
	}
	if after := logOfStore(t, st); after != before {
		t.Fatalf("the report wrote to the store: head %d → %d", before, after)
	}
}

func logOfStore(t *testing.T, st eventstore.Store) eventstore.Position {
	t.Helper()
	h, err := st.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAccessReportUsage(t *testing.T) {
	for _, args := range [][]string{
		{"access-report", "--from", "2011-01-01", "--to", "2011-02-01"},
		{"access-report", "--subject", "x", "--to", "2011-02-01"},
		{"access-report", "--subject", "x", "--from", "2011-01-01"},
		{"access-report", "--subject", "x", "--from", "2011-02-01", "--to", "2011-01-01"},
		{"access-report", "--subject", "x", "--from", "yesterday", "--to", "2011-01-01"},
		{"access-report", "--subject", "x", "--from", "2011-01-01", "--to", "2011-02-01", "--format", "xml"},
	} {
		if r := run(t, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
}
