package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/demo"
	"github.com/casebook/casebook/domain"
)

// TestBackupDuringAWriteLoadRestoresAVerifiableStore takes a backup while
// the store is open read-write in this process (as casebookd would hold it)
// and investigators keep logging events, then restores it and verifies it.
func TestBackupDuringAWriteLoadRestoresAVerifiableStore(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	st := openTestStore(t, dir, false) // the "running casebookd"
	svc, err := core.New(core.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}

	// Open cases (the 2011 detection logs are never closed) to write to.
	var open []demo.Case
	for _, c := range demoPlan().Cases {
		if strings.HasPrefix(c.Opened.Title, "Clandestine detections") && strings.HasSuffix(c.Opened.Title, "2011") {
			open = append(open, c)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	var wrote atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(open))
	for i, c := range open {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil && n < 5000; n++ {
				data, _ := json.Marshal(domain.IntelligenceLogged{Summary: fmt.Sprintf("load %d/%d", i, n), Grading: "2B1"})
				at := time.Date(2011, 6, 6, 12, 0, 0, 0, time.UTC)
				_, err := svc.Record(ctx, demo.Identity(c.LeadAgency), c.ID, core.Command{Type: domain.TypeIntelligenceLogged, OccurredAt: &at, Data: data})
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				wrote.Add(1)
			}
		}()
	}
	// Let the load get going, back up in the middle of it, then stop it.
	for wrote.Load() < 50 {
		time.Sleep(5 * time.Millisecond)
	}
	// Read-only commands work beside the writer and do not disturb it.
	must(t, "verify", "--data", dir)
	must(t, "export", "--data", dir, "--out", filepath.Join(t.TempDir(), "during-load.ndjson"))
	backup := filepath.Join(t.TempDir(), "casebook-backup.db")
	r := must(t, "backup", "--data", dir, "--to", backup, "--json")
	before := wrote.Load()
	for wrote.Load() < before+50 {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write load: %v", err)
	}
	var rep backupReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	total := uint64(demoPlan().Events()) + uint64(wrote.Load())
	if rep.Position <= uint64(demoPlan().Events()) || rep.Position >= total {
		t.Fatalf("backup holds %d events: want some of the load (demo %d, demo+load %d)", rep.Position, demoPlan().Events(), total)
	}

	// Restore into an empty directory: the store's chains verify.
	restored := filepath.Join(t.TempDir(), "restored")
	must(t, "restore", "--from", backup, "--data", restored)
	r = must(t, "verify", "--data", restored, "--json")
	var vr verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &vr); err != nil || !vr.Valid || vr.Position != rep.Position || uint64(vr.Events) != rep.Position {
		t.Fatalf("verify the restored store: %v %+v", err, vr)
	}

	// A non-empty data directory is refused unless --force.
	r = run(t, "restore", "--from", backup, "--data", restored)
	if r.code != exitProblems || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("restore over a store: exit %d %s", r.code, r.stderr)
	}
	if err := os.WriteFile(filepath.Join(restored, readModelsFile), []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, "restore", "--from", backup, "--data", restored, "--force")
	if _, err := os.Stat(filepath.Join(restored, readModelsFile)); !os.IsNotExist(err) {
		t.Fatalf("restore --force left the old read models: %v", err)
	}
	must(t, "verify", "--data", restored)

	// Restoring over the running store is refused even with --force.
	r = run(t, "restore", "--from", backup, "--data", dir, "--force")
	if r.code != exitProblems || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("restore over a store in use: exit %d %s", r.code, r.stderr)
	}
}
