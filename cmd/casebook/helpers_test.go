package main

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/demo"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

const demoSeed = 1

var (
	demoOnce     sync.Once
	demoTemplate string // data directory holding the demo data set
	demoErr      string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if demoTemplate != "" {
		os.RemoveAll(filepath.Dir(demoTemplate))
	}
	os.Exit(code)
}

// demoData returns a fresh data directory holding the demo data set
// (seed demoSeed). The demo is loaded once, through "casebook demo", and
// copied for each test.
func demoData(t *testing.T) string {
	t.Helper()
	demoOnce.Do(func() {
		root, err := os.MkdirTemp("", "casebook-demo-template-*")
		if err != nil {
			demoErr = err.Error()
			return
		}
		demoTemplate = filepath.Join(root, "data")
		r := run(t, "demo", "--data", demoTemplate, "--seed", "1", "--no-projections")
		if r.code != 0 {
			demoErr = "casebook demo: " + r.stderr
		}
	})
	if demoErr != "" {
		t.Fatal(demoErr)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(demoTemplate)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		copyTestFile(t, filepath.Join(demoTemplate, e.Name()), filepath.Join(dir, e.Name()))
	}
	return dir
}

func copyTestFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// demoPlan is the plan the demo data set was loaded from.
func demoPlan() demo.Plan { return demo.NewPlan(demoSeed) }

// openTestStore opens the embedded store in dir.
func openTestStore(t *testing.T, dir string, readOnly bool) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, eventsFile), sqlitestore.Options{ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// readLog returns every event of a store.
func readLog(t *testing.T, st eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	for ev, err := range st.ReadAll(context.Background(), eventstore.ReadAllOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(ev.Stream, "$") {
			continue
		}
		out = append(out, ev)
	}
	return out
}

// logOf reads the log of the embedded store in dir.
func logOf(t *testing.T, dir string) []eventstore.RecordedEvent {
	t.Helper()
	st := openTestStore(t, dir, true)
	evs := readLog(t, st)
	st.Close()
	return evs
}

// sameEvents compares two logs event by event: ids, streams, revisions,
// types, data and metadata bytes, and order (and positions when
// withPositions). It reports the first difference.
func sameEvents(t *testing.T, what string, got, want []eventstore.RecordedEvent, withPositions bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		switch {
		case g.ID != w.ID, g.Stream != w.Stream, g.Revision != w.Revision, g.Type != w.Type:
			t.Fatalf("%s: event %d is %s %s@%d %s, want %s %s@%d %s", what, i, g.ID, g.Stream, g.Revision, g.Type, w.ID, w.Stream, w.Revision, w.Type)
		case string(g.Data) != string(w.Data):
			t.Fatalf("%s: event %d (%s) data differs:\n got %s\nwant %s", what, i, w.ID, g.Data, w.Data)
		case string(g.Metadata) != string(w.Metadata):
			t.Fatalf("%s: event %d (%s) metadata differs:\n got %s\nwant %s", what, i, w.ID, g.Metadata, w.Metadata)
		case withPositions && g.Position != w.Position:
			t.Fatalf("%s: event %d (%s) at position %d, want %d", what, i, w.ID, g.Position, w.Position)
		}
	}
}

// tamper changes stored bytes of one event behind the store's back, as an
// attacker with the sqlite3 tool would (dropping the append-only trigger
// first).
func tamper(t *testing.T, dir string, position uint64, update string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, eventsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DROP TRIGGER IF EXISTS events_no_update"); err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec("UPDATE events SET "+update+" WHERE position = ?", position)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tamper: %d rows changed", n)
	}
}

// execSQL runs statements on the event store behind its back.
func execSQL(t *testing.T, dir string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, eventsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range statements {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// consultedCase is a data directory holding one case that four different
// consultations have read, each with an access-log entry of its own.
func consultedCase(t *testing.T) (dir string, caseID uuid.UUID) {
	t.Helper()
	dir = t.TempDir()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, eventsFile), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := core.New(core.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	officer := core.Identity{Subject: "officer.alice", Role: domain.RoleInvestigator, Agency: "UKBA"}
	auditor := core.Identity{Subject: "auditor.bea", Role: domain.RoleAuditor, Agency: "HMIC"}
	res, _, err := c.OpenCase(ctx, officer, core.OpenCase{Data: []byte(`{"reference":"UKBA/2011/0042","title":"Operation Heron","crime_types":["cash"],"location":"Dover"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Record(ctx, officer, res.CaseID, core.Command{Type: domain.TypeIntelligenceLogged, Data: []byte(`{"summary":"cash courier","grading":"2B2"}`)}); err != nil {
		t.Fatal(err)
	}
	v0 := uint64(0)
	for _, read := range []func() error{
		func() error { _, err := c.Case(ctx, officer, res.CaseID, core.At{}, core.Consultation{}); return err },
		func() error {
			_, err := c.Case(ctx, auditor, res.CaseID, core.At{Version: &v0}, core.Consultation{})
			return err
		},
		func() error { _, err := c.History(ctx, auditor, res.CaseID, 0, 10, core.Consultation{}); return err },
		func() error { _, err := c.Verify(ctx, auditor, res.CaseID, core.Consultation{}); return err },
	} {
		if err := read(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir, res.CaseID
}
