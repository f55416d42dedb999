package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
)

// withAccessLog adds access-log streams to a demo store: three reads of
// each of the first cases, as casebookd records them (access-<case id>).
func withAccessLog(t *testing.T, dir string) []string {
	t.Helper()
	st := openTestStore(t, dir, false)
	defer st.Close()
	var streams []string
	for i, c := range demoPlan().Cases[:3] {
		stream := "access-" + c.ID.String()
		streams = append(streams, stream)
		for n := range 3 {
			data := fmt.Sprintf(`{"subject":"auditor.bea","role":"auditor","agency":"HMIC","route":"GET /v1/cases/{id}","n":%d}`, i*10+n)
			if _, err := st.Append(context.Background(), stream, eventstore.Any,
				eventstore.EventData{ID: uuid.New(), Type: "CaseRead", Data: []byte(data)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return streams
}

// anchorOf writes an anchor of the store in dir and returns its path.
func anchorOf(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "anchor.json")
	must(t, append([]string{"anchor", "--data", dir, "--out", out}, extra...)...)
	return out
}

// verifyAnchor runs verify --anchor and decodes its report.
func verifyAnchor(t *testing.T, dir, anchor string, extra ...string) (cli, verifyReport) {
	t.Helper()
	r := run(t, append([]string{"verify", "--data", dir, "--anchor", anchor, "--json"}, extra...)...)
	var rep verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("verify --json: %v\nstdout %s\nstderr %s", err, r.stdout, r.stderr)
	}
	return r, rep
}

// lastEventOf finds the head of a stream in the store's log.
func lastEventOf(t *testing.T, dir, stream string) eventstore.RecordedEvent {
	t.Helper()
	var last eventstore.RecordedEvent
	for _, ev := range logOf(t, dir) {
		if ev.Stream == stream {
			last = ev
		}
	}
	if last.Stream == "" {
		t.Fatalf("no stream %s", stream)
	}
	return last
}

// cutEvents deletes events behind the store's back (dropping the
// append-only trigger first), then optionally renumbers the later
// positions so that the log has no gap, as an attacker covering tracks
// would.
func cutEvents(t *testing.T, dir string, renumber bool, positions ...eventstore.Position) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, eventsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("DROP TRIGGER IF EXISTS events_no_delete")
	exec("DROP TRIGGER IF EXISTS events_no_update")
	for _, p := range positions {
		exec("DELETE FROM events WHERE position = ?", int64(p))
		if renumber {
			// SQLite walks the rows in ascending position, so each moves
			// into the place just freed.
			exec("UPDATE events SET position = position - 1, append_first = append_first - 1 WHERE position > ?", int64(p))
		}
	}
}

func TestAnchorOfAnUnchangedStoreVerifies(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	access := withAccessLog(t, dir)
	anchor := anchorOf(t, dir)

	fi, err := os.Stat(anchor)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("anchor file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	body, signed, err := openAnchor(anchor, nil)
	if err != nil || signed {
		t.Fatalf("openAnchor: %v (signed %v)", err, signed)
	}
	events := uint64(demoPlan().Events() + 3*len(access))
	if body.Log.Position != events || body.Log.Count != events || len(body.Streams) != len(demoPlan().Cases)+len(access) {
		t.Fatalf("anchor log %+v with %d streams; want %d events, %d streams", body.Log, len(body.Streams), events, len(demoPlan().Cases)+len(access))
	}
	heads := map[string]anchoredStream{}
	for _, s := range body.Streams {
		heads[s.Stream] = s
	}
	c := demoPlan().Cases[0]
	last := lastEventOf(t, dir, domain.StreamName(c.ID))
	if h := heads[domain.StreamName(c.ID)]; h.Version != last.Revision || h.HeadHash == "" || h.HeadHash != eventHash(last) {
		t.Errorf("case head %+v, want version %d hash %s", h, last.Revision, eventHash(last))
	}
	if h, ok := heads[access[0]]; !ok || h.Version != 2 {
		t.Errorf("access stream head %+v", h)
	}

	r, rep := verifyAnchor(t, dir, anchor)
	if r.code != exitOK || !rep.Valid || rep.Anchor == nil || !rep.Anchor.ok() {
		t.Fatalf("verify --anchor on the unchanged store: exit %d %+v\n%s", r.code, rep.Anchor, r.stderr)
	}
	if r := must(t, "verify", "--data", dir, "--anchor", anchor); !strings.Contains(r.stdout, "nothing anchored was cut off or changed") {
		t.Errorf("verify --anchor output:\n%s", r.stdout)
	}
	// An anchor is a record: never overwritten.
	if r := run(t, "anchor", "--data", dir, "--out", anchor); r.code != exitProblems || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("anchor over an existing file: exit %d %s", r.code, r.stderr)
	}
	// Events appended after the anchor change nothing it says.
	withAccessLog(t, dir)
	if r, rep := verifyAnchor(t, dir, anchor); r.code != exitOK || !rep.Anchor.ok() {
		t.Errorf("verify --anchor after appends: exit %d %+v", r.code, rep.Anchor)
	}
}

func TestVerifyAnchorNamesWhatWasCutOff(t *testing.T) {
	t.Parallel()
	plan := demoPlan()
	victim := plan.Cases[5]
	victimStream := domain.StreamName(victim.ID)

	type check func(t *testing.T, rep verifyReport, access []string)
	namesVictim := func(t *testing.T, rep verifyReport, _ []string) {
		t.Helper()
		for _, f := range rep.Anchor.Findings {
			if f.Stream == victimStream && f.CaseID != nil && *f.CaseID == victim.ID && f.Reference == victim.Opened.Reference &&
				strings.Contains(f.Reason, "shorter than anchored") {
				return
			}
		}
		t.Errorf("no finding names case %s (%s) as shorter: %+v", victim.ID, victim.Opened.Reference, rep.Anchor.Findings)
	}
	logShorter := func(t *testing.T, rep verifyReport, _ []string) {
		t.Helper()
		if len(rep.Anchor.Log) == 0 {
			t.Errorf("the log's loss is not reported: %+v", rep.Anchor)
		}
	}
	for name, tc := range map[string]struct {
		cut    func(t *testing.T, dir string, access []string)
		checks []check
	}{
		"a case's last event removed": {
			func(t *testing.T, dir string, _ []string) {
				cutEvents(t, dir, false, lastEventOf(t, dir, victimStream).Position)
			}, []check{namesVictim, logShorter}},
		// Today's verify passes this one: no gap, every chain intact.
		"a case's last event removed and the log renumbered": {
			func(t *testing.T, dir string, _ []string) {
				cutEvents(t, dir, true, lastEventOf(t, dir, victimStream).Position)
			}, []check{namesVictim, logShorter}},
		"the log's last event removed": {
			func(t *testing.T, dir string, access []string) {
				cutEvents(t, dir, false, lastEventOf(t, dir, access[2]).Position)
			}, []check{logShorter, func(t *testing.T, rep verifyReport, access []string) {
				t.Helper()
				if len(rep.Anchor.Findings) != 1 || rep.Anchor.Findings[0].Stream != access[2] {
					t.Errorf("findings %+v, want the last access stream", rep.Anchor.Findings)
				}
			}}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := demoData(t)
			access := withAccessLog(t, dir)
			anchor := anchorOf(t, dir)
			tc.cut(t, dir, access)
			r, rep := verifyAnchor(t, dir, anchor)
			if r.code != exitProblems || rep.Valid || rep.Anchor == nil {
				t.Fatalf("verify --anchor after the cut: exit %d valid %v\n%s", r.code, rep.Valid, r.stderr)
			}
			for _, c := range tc.checks {
				c(t, rep, access)
			}
			// People read the same findings.
			out := run(t, "verify", "--data", dir, "--anchor", anchor).stdout
			if !strings.Contains(out, "Since the anchor:") || !strings.Contains(out, "Result:     FAILED") {
				t.Errorf("verify --anchor output:\n%s", out)
			}
		})
	}
}

func TestVerifyAnchorNamesAChangedHead(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	c := demoPlan().Cases[7]
	anchor := anchorOf(t, dir)
	// Someone with the file rewrites the head's hash (as they would after
	// recomputing it over altered content).
	last := lastEventOf(t, dir, domain.StreamName(c.ID))
	tamper(t, dir, uint64(last.Position), `metadata = json_set(metadata, '$.hash', '`+strings.Repeat("0", 64)+`')`)
	r, rep := verifyAnchor(t, dir, anchor)
	if r.code != exitProblems || len(rep.Anchor.Findings) != 1 || *rep.Anchor.Findings[0].CaseID != c.ID ||
		!strings.Contains(rep.Anchor.Findings[0].Reason, "differs") {
		t.Fatalf("verify --anchor after a head changed: exit %d %+v", r.code, rep.Anchor)
	}
}

func TestAnchorFileIsCheckedAndCanBeSigned(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "anchor.key")
	if err := os.WriteFile(key, []byte("c2VjcmV0LWtleS1mb3ItdGhlLWFuY2hvcnMtMDEyMzQ1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(keyDir, "other.key")
	if err := os.WriteFile(other, []byte("another-key-of-enough-length-0000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	signed := anchorOf(t, dir, "--key-file", key)
	unsigned := anchorOf(t, dir)

	if r, rep := verifyAnchor(t, dir, signed, "--key-file", key); r.code != exitOK || !rep.Anchor.Signed {
		t.Fatalf("signed anchor with its key: exit %d %+v %s", r.code, rep.Anchor, r.stderr)
	}
	for name, tc := range map[string]struct {
		anchor string
		args   []string
		want   string
	}{
		"wrong key":                {signed, []string{"--key-file", other}, "signature does not match"},
		"unsigned, key given":      {unsigned, []string{"--key-file", key}, "is not signed"},
		"edited":                   {editAnchor(t, unsigned), nil, "checksum does not match"},
		"edited, signature kept":   {editAnchor(t, signed), []string{"--key-file", key}, "checksum does not match"},
		"not an anchor":            {writeTemp(t, `{"hello":"world"}`), nil, "not an anchor file"},
		"edited, checksum redone":  {resum(t, editAnchor(t, signed)), []string{"--key-file", key}, "signature does not match"},
		"short key":                {signed, []string{"--key-file", writeTemp(t, "short\n")}, "at least 16"},
		"missing file":             {filepath.Join(keyDir, "nope.json"), nil, "no such file"},
		"edited unsigned, resumed": {resum(t, editAnchor(t, unsigned)), nil, ""}, // a checksum alone cannot tell
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, append([]string{"verify", "--data", dir, "--anchor", tc.anchor}, tc.args...)...)
			if tc.want == "" {
				// A recomputed checksum passes as a file, but the edit (a
				// version raised) is then a finding against the store.
				if r.code != exitProblems || !strings.Contains(r.stdout, "shorter than anchored") {
					t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				return
			}
			if r.code == exitOK || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want a refusal naming %q:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
}

// editAnchor raises the first stream's anchored version in a copy of the
// anchor file, leaving its checksum and signature as they were.
func editAnchor(t *testing.T, file string) string {
	t.Helper()
	var f anchorFile
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var body anchorBody
	if err := json.Unmarshal(f.Anchor, &body); err != nil {
		t.Fatal(err)
	}
	body.Streams[0].Version += 5
	if f.Anchor, err = json.Marshal(body); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(f)
	return writeTemp(t, string(out))
}

// resum recomputes an anchor file's checksum (not its signature), as
// someone editing it would.
func resum(t *testing.T, file string) string {
	t.Helper()
	var f anchorFile
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	f.SHA256 = sha256Hex(f.Anchor)
	out, _ := json.Marshal(f)
	return writeTemp(t, string(out))
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "file-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func TestAnchorOverKurrentDB(t *testing.T) {
	t.Parallel()
	src := demoData(t)
	kdb := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	export := filepath.Join(t.TempDir(), "all.ndjson")
	must(t, "export", "--data", src, "--out", export)
	must(t, "import", "--store", kdb.URL(), "--in", export)

	anchor := filepath.Join(t.TempDir(), "anchor.json")
	must(t, "anchor", "--store", kdb.URL(), "--out", anchor)
	body, _, err := openAnchor(anchor, nil)
	if err != nil {
		t.Fatal(err)
	}
	// KurrentDB's positions are offsets in its log and its own streams
	// ($…) are not Casebook's: the count is of Casebook's events.
	if body.Log.Count != uint64(demoPlan().Events()) || len(body.Streams) != len(demoPlan().Cases) || body.Log.Position < body.Log.Count {
		t.Fatalf("anchor of the KurrentDB copy: log %+v, %d streams", body.Log, len(body.Streams))
	}
	r := must(t, "verify", "--store", kdb.URL(), "--anchor", anchor, "--json")
	var rep verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Anchor == nil || !rep.Anchor.ok() {
		t.Fatalf("verify --anchor on KurrentDB: %v %+v", err, rep.Anchor)
	}
}
