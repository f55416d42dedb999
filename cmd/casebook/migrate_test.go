package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
)

// TestMigrateEmbeddedToKurrentDBAndBack copies the demo store to a KurrentDB
// (the in-process protocol test double, through the real client) and from
// there to a second embedded store, resuming an interrupted copy on the way,
// and compares the two embedded files event by event.
func TestMigrateEmbeddedToKurrentDBAndBack(t *testing.T) {
	t.Parallel()
	src := demoData(t)
	want := logOf(t, src)
	kdb := kurrentdbtest.Start(t, kurrentdbtest.Options{})

	// An earlier run that stopped after 700 events: simulated by importing
	// the first 700 lines of an export.
	export := filepath.Join(t.TempDir(), "all.ndjson")
	must(t, "export", "--data", src, "--out", export)
	partial := filepath.Join(t.TempDir(), "partial.ndjson")
	writeLines(t, partial, readLines(t, export)[:700])
	must(t, "import", "--store", kdb.URL(), "--in", partial)

	r := must(t, "migrate", "--from", src, "--to", kdb.URL(), "--json")
	var rep migrateReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !rep.Verified || rep.Copied != int64(len(want)-700) || rep.Skipped != 700 || rep.Events != int64(len(want)) {
		t.Fatalf("migrate to KurrentDB: %+v", rep)
	}
	// Re-running copies nothing.
	r = must(t, "migrate", "--from", src, "--to", kdb.URL(), "--json")
	rep = migrateReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Copied != 0 || !rep.Verified {
		t.Fatalf("second migrate: %v %+v", err, rep)
	}

	back := filepath.Join(t.TempDir(), "back")
	r = must(t, "migrate", "--from", kdb.URL(), "--to", back)
	if !strings.Contains(r.stdout, "Verified: event counts per stream match and every hash chain holds") {
		t.Fatalf("migrate back:\n%s", r.stdout)
	}
	sameEvents(t, "store migrated through KurrentDB", logOf(t, back), want, true)
	must(t, "verify", "--data", back)
}

func TestMigrateRefusesATargetHoldingOtherData(t *testing.T) {
	t.Parallel()
	src := demoData(t)
	dst := demoData(t)
	// The target's copy of one stream ends in an event whose bytes differ
	// from the source's event at that revision (same id).
	log := logOf(t, dst)
	stream := log[0].Stream
	var last uint64
	for _, ev := range log {
		if ev.Stream == stream {
			last = uint64(ev.Position)
		}
	}
	tamper(t, dst, last, "data = data || ' '")
	r := run(t, "migrate", "--from", src, "--to", dst)
	if r.code != exitProblems || !strings.Contains(r.stderr, "holds different data") {
		t.Fatalf("migrate onto a different store: exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, "migrate", "--from", src, "--to", src); r.code != exitUsage {
		t.Fatalf("migrate onto itself: exit %d", r.code)
	}
}
