package projections

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/casebook/casebook/eventstore/sqlitestore"
)

const crashChildEnv = "CASEBOOK_PROJECTIONS_CRASH_CHILD_DIR"

// TestCrashBetweenBatches kills a process that is building the read models
// (SIGKILL, mid-way, several times), restarts it, and checks that what it
// ends with is identical to a build from scratch: every batch was applied
// exactly once with its checkpoint.
func TestCrashBetweenBatches(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	store := openGeneratedStore(t, dir, 4000, 3)
	ctx := context.Background()
	head, err := store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	rm, err := sql.Open("sqlite", filepath.Join(dir, FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	progress := func() int64 {
		var p sql.NullInt64
		_ = rm.QueryRow(`SELECT min(position) FROM projection_checkpoint`).Scan(&p)
		return p.Int64
	}

	kills := 0
	for _, frac := range []float64{0.15, 0.35, 0.55, 0.75} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashBetweenBatches$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		target := int64(frac * float64(head))
		deadline := time.Now().Add(30 * time.Second)
		for progress() < target && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		// Land anywhere: between batches or in the middle of one.
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		before := progress()
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if before >= int64(head) {
			t.Logf("child finished before the kill at %.0f%%", frac*100)
			continue
		}
		kills++
	}
	if kills < 2 {
		t.Fatalf("only %d kills landed before the end; the log is too small for this machine", kills)
	}
	t.Logf("%d kills; restarting at position %d of %d", kills, progress(), head)

	e := openTestEngine(t, dir, store, Options{BatchSize: 37})
	syncTo(t, e, store)
	ref := openTestEngine(t, t.TempDir(), store, Options{})
	syncTo(t, ref, store)
	if d := diffDumps(dumpTables(t, e), dumpTables(t, ref)); d != "" {
		t.Fatalf("after crashes the read models differ from a build from scratch:\n%s", d)
	}
	a, _ := e.Summary(ctx, ReportQuery{})
	b, _ := ref.Summary(ctx, ReportQuery{})
	if a.Arrests != b.Arrests || asJSON(a.GangsDismantled) != asJSON(b.GangsDismantled) || a.Position != b.Position {
		t.Errorf("summaries differ: %s vs %s", asJSON(a), asJSON(b))
	}
}

// crashChild builds the read models of dir until it is killed.
func crashChild(t *testing.T, dir string) {
	store, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "events.db"), sqlitestore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(context.Background(), dir, store, Options{BatchSize: 23})
	if err != nil {
		t.Fatal(err)
	}
	_ = e
	time.Sleep(time.Minute) // killed long before
}
