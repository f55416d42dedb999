package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

func TestVerifyPassesOnTheDemoAndNamesAnAlteredEvent(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	r := must(t, "verify", "--data", dir)
	if !strings.Contains(r.stdout, "Integrity:  ok") || !strings.Contains(r.stdout, "0 broken") {
		t.Fatalf("verify on the demo:\n%s", r.stdout)
	}

	// Change one byte of a stored arrest: "Dover" becomes "Dovar".
	var target eventstore.RecordedEvent
	for _, ev := range logOf(t, dir) {
		if ev.Type == domain.TypeArrestMade && strings.Contains(string(ev.Data), `"location":"DOVER"`) {
			target = ev
			break
		}
	}
	if target.Position == 0 {
		t.Fatal("no arrest at Dover in the demo")
	}
	tamper(t, dir, uint64(target.Position), "data = replace(data, '\"DOVER\"', '\"DOVAR\"')")

	r = run(t, "verify", "--data", dir)
	if r.code != exitProblems {
		t.Fatalf("verify after tampering: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	caseID, _ := domain.CaseIDFromStream(target.Stream)
	want := "case " + caseID.String()
	if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "broken at version "+itoa(target.Revision)) {
		t.Fatalf("verify output does not name %s at version %d:\n%s", want, target.Revision, r.stdout)
	}

	r = run(t, "verify", "--data", dir, "--json")
	var rep verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if r.code != 1 || rep.Valid || len(rep.Broken) != 1 || rep.Broken[0].Version != target.Revision || *rep.Broken[0].CaseID != caseID {
		t.Fatalf("--json report: exit %d %+v", r.code, rep)
	}
}

func TestReplayShowsTimelineAndStateAtAVersion(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	// Operation Marten: the case with retracted arrests and dismantling.
	var c = demoPlan().Cases[0]
	for _, pc := range demoPlan().Cases {
		if strings.HasPrefix(pc.Opened.Title, "Operation Marten") {
			c = pc
		}
	}
	r := must(t, "replay", "--data", dir, "--case", c.ID.String())
	for _, want := range []string{c.Opened.Reference, "hash chain: verified", "CaseOpened", "AgencyJoined: PAF joined the case",
		"EntryRetracted: retracts v", "Marten facilitation network dismantled", "arrests:       5", "retractions:   5"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("replay lacks %q:\n%s", want, r.stdout)
		}
	}
	r = must(t, "replay", "--data", dir, "--case", c.ID.String(), "--version", "2", "--json")
	var rep replayReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.State.Version != 2 || len(rep.Timeline) != 3 || rep.Later != len(c.Steps)-2 || !rep.Chain.Valid {
		t.Fatalf("replay --version 2: version %d, %d in timeline, %d later, chain %+v", rep.State.Version, len(rep.Timeline), rep.Later, rep.Chain)
	}
	// As known before the demo was loaded, the case did not exist.
	r = run(t, "replay", "--data", dir, "--case", c.ID.String(), "--as-of", "2011-06-06")
	if r.code != exitProblems || !strings.Contains(r.stderr, "had not been opened") {
		t.Fatalf("replay --as-of before it was logged: exit %d %s", r.code, r.stderr)
	}
}

func TestExportImportRoundTripIsIdentical(t *testing.T) {
	t.Parallel()
	src := demoData(t)
	export := filepath.Join(t.TempDir(), "all.ndjson")
	must(t, "export", "--data", src, "--out", export)
	want := logOf(t, src)
	if n := countLines(t, export); n != len(want) {
		t.Fatalf("export has %d lines, the store %d events", n, len(want))
	}

	// Interrupted import: only the first 1,000 lines arrive, then the
	// whole file is imported again and continues where it stopped.
	dst := filepath.Join(t.TempDir(), "data")
	partial := filepath.Join(t.TempDir(), "partial.ndjson")
	writeLines(t, partial, readLines(t, export)[:1000])
	r := must(t, "import", "--data", dst, "--in", partial, "--json")
	var rep importReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Imported != 1000 {
		t.Fatalf("partial import: %v %+v", err, rep)
	}
	r = must(t, "import", "--data", dst, "--in", export, "--json")
	rep = importReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Imported != int64(len(want)-1000) || rep.Skipped != 1000 {
		t.Fatalf("resumed import: %v %+v", err, rep)
	}
	// Same ids, versions, positions, data and metadata (hence hashes).
	sameEvents(t, "imported store", logOf(t, dst), want, true)
	must(t, "verify", "--data", dst)

	// A third run finds everything there and writes nothing.
	r = must(t, "import", "--data", dst, "--in", export, "--json")
	rep = importReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Imported != 0 {
		t.Fatalf("repeated import: %v %+v", err, rep)
	}

	// Exporting the imported store gives the same lines, but for the
	// store's own recorded_at (the envelope's recorded_at is kept). (Sealed
	// exports: the import carried the events, not the source's keys, so
	// only the source opens its personal fields.)
	sealedSrc, again := filepath.Join(t.TempDir(), "sealed.ndjson"), filepath.Join(t.TempDir(), "again.ndjson")
	must(t, "export", "--data", src, "--sealed", "--out", sealedSrc)
	must(t, "export", "--data", dst, "--sealed", "--out", again)
	if lines := readLines(t, export); !strings.Contains(strings.Join(lines, "\n"), `"opened":{"data":{"person_id"`) {
		t.Error("the export does not show personal fields opened")
	}
	a, b := readLines(t, sealedSrc), readLines(t, again)
	for i := range a {
		if stripRecordedAt(a[i]) != stripRecordedAt(b[i]) {
			t.Fatalf("line %d differs:\n%s\n%s", i+1, a[i], b[i])
		}
	}
}

func TestImportRefusesAFileWhoseChainsDoNotVerify(t *testing.T) {
	t.Parallel()
	src := demoData(t)
	export := filepath.Join(t.TempDir(), "all.ndjson")
	must(t, "export", "--data", src, "--out", export)
	lines := readLines(t, export)
	// Alter one seizure's quantity in the file.
	for i, l := range lines {
		if strings.Contains(l, `"type":"SeizureRecorded"`) {
			lines[i] = strings.Replace(l, `"quantity":`, `"quantity":1`, 1)
			break
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.ndjson")
	writeLines(t, bad, lines)
	dst := filepath.Join(t.TempDir(), "data")
	r := run(t, "import", "--data", dst, "--in", bad)
	if r.code != exitProblems || !strings.Contains(r.stderr, "refusing to import") || !strings.Contains(r.stderr, "hash does not match") {
		t.Fatalf("import of an altered file: exit %d\n%s", r.code, r.stderr)
	}
	if evs := logOf(t, dst); len(evs) != 0 {
		t.Fatalf("a refused import wrote %d events", len(evs))
	}
}

func TestExportOfOneCaseAndOfATimeRange(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	c := demoPlan().Cases[3]
	r := must(t, "export", "--data", dir, "--case", c.ID.String())
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(c.Steps)+1 {
		t.Fatalf("case export: %d lines, want %d", len(lines), len(c.Steps)+1)
	}
	for _, l := range lines {
		if !strings.Contains(l, `"stream":"case-`+c.ID.String()+`"`) {
			t.Fatalf("line of another stream: %s", l)
		}
	}
	// The demo was logged "now": nothing was logged before 2012.
	r = must(t, "export", "--data", dir, "--to", "2012-01-01")
	if strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("export --to 2012-01-01 wrote %d bytes", len(r.stdout))
	}
	r = must(t, "export", "--data", dir, "--from", "2012-01-01")
	if n := strings.Count(r.stdout, "\n"); n != demoPlan().Events() {
		t.Fatalf("export --from 2012-01-01: %d lines, want %d", n, demoPlan().Events())
	}
}

func stripRecordedAt(line string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return line
	}
	delete(m, "recorded_at")
	b, _ := json.Marshal(m)
	return string(b)
}

func readLines(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for s.Scan() {
		out = append(out, s.Text())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func countLines(t *testing.T, file string) int { return len(readLines(t, file)) }

func writeLines(t *testing.T, file string, lines []string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// The access log is chained like a case: an entry changed, removed from
// the middle, or swapped with another is named by stream and version.
func TestVerifyNamesATamperedAccessLogEntry(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		tamper  func(t *testing.T, dir string, entries []eventstore.RecordedEvent)
		version uint64
	}{
		"a changed byte": {func(t *testing.T, dir string, es []eventstore.RecordedEvent) {
			tamper(t, dir, uint64(es[2].Position), "data = replace(data, '\"served\"', '\"denied\"')")
		}, 2},
		"a removed middle entry": {func(t *testing.T, dir string, es []eventstore.RecordedEvent) {
			execSQL(t, dir, "DROP TRIGGER IF EXISTS events_no_delete", "DELETE FROM events WHERE position = "+itoa(uint64(es[1].Position)))
		}, 1},
		"a swapped pair": {func(t *testing.T, dir string, es []eventstore.RecordedEvent) {
			a, b := itoa(uint64(es[1].Position)), itoa(uint64(es[2].Position))
			execSQL(t, dir, "DROP TRIGGER IF EXISTS events_no_update",
				"UPDATE events SET revision = -1 WHERE position = "+a,
				"UPDATE events SET revision = "+itoa(es[1].Revision)+" WHERE position = "+b,
				"UPDATE events SET revision = "+itoa(es[2].Revision)+" WHERE position = "+a)
		}, 1},
	} {
		t.Run(name, func(t *testing.T) {
			dir, caseID := consultedCase(t)
			var entries []eventstore.RecordedEvent
			for _, ev := range logOf(t, dir) {
				if ev.Stream == domain.AccessStreamName(caseID) {
					entries = append(entries, ev)
				}
			}
			if len(entries) != 4 {
				t.Fatalf("%d access-log entries, want 4", len(entries))
			}
			if r := run(t, "verify", "--data", dir); r.code != 0 {
				t.Fatalf("verify before tampering: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			tc.tamper(t, dir, entries)
			r := run(t, "verify", "--data", dir)
			want := "stream " + domain.AccessStreamName(caseID) + ": broken at version " + itoa(tc.version)
			if r.code != exitProblems || !strings.Contains(r.stdout, want) {
				t.Fatalf("verify after tampering: exit %d, want 1 and %q\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		})
	}
}
