package main

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"sort"
	"strings"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/eventstore"
)

type migrateReport struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Position uint64 `json:"position"` // the source was copied up to here
	Events   int64  `json:"events"`   // events in the source
	Streams  int    `json:"streams"`
	Copied   int64  `json:"copied"`  // appended by this run
	Skipped  int64  `json:"skipped"` // already in the target (an earlier run)
	Verified bool   `json:"verified"`
	// Mismatches are streams whose event count differs between source and
	// target.
	Mismatches []countMismatch `json:"mismatches"`
	Target     chainSummary    `json:"target"`
}

type countMismatch struct {
	Stream string `json:"stream"`
	Source int64  `json:"source"`
	Target int64  `json:"target"`
}

func runMigrate(a *app, args []string) error {
	fs := a.flagSet("migrate")
	fromFlag := fs.String("from", "", "source store: a data directory, an SQLite event store file, or an esdb:// / kurrentdb:// URL")
	toFlag := fs.String("to", "", "target store: a data directory or an esdb:// / kurrentdb:// URL")
	if _, err := a.parse(fs, args, "--from STORE --to STORE", 0); err != nil {
		return err
	}
	if *fromFlag == "" || *toFlag == "" {
		return usagef("--from and --to are both required")
	}
	from, err := parseStoreRef(*fromFlag)
	if err != nil {
		return usagef("--from: %v", err)
	}
	to, err := parseStoreRef(*toFlag)
	if err != nil {
		return usagef("--to: %v", err)
	}
	if sameStore(from, to) {
		return usagef("--from and --to name the same store")
	}
	src, err := a.openStore(from, true)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, err := a.openStore(to, false)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	rep := migrateReport{From: from.String(), To: to.String(), Mismatches: []countMismatch{}}

	// Copy the source's log as it stands now; a later run picks up what is
	// appended meanwhile. The core checks every event of it against the
	// rules before writing any.
	head, err := src.Head(a.ctx)
	if err != nil {
		return fmt.Errorf("source: read head: %w", err)
	}
	rep.Position = uint64(head)
	sourceCounts := map[string]int64{}
	source := func(ctx context.Context) iter.Seq2[eventstore.RecordedEvent, error] {
		clear(sourceCounts)
		return func(yield func(eventstore.RecordedEvent, error) bool) {
			for ev, err := range src.ReadAll(ctx, eventstore.ReadAllOptions{}) {
				if err != nil {
					yield(ev, fmt.Errorf("read the source: %w", err))
					return
				}
				if ev.Position > head {
					return
				}
				if strings.HasPrefix(ev.Stream, "$") {
					continue // a KurrentDB system stream
				}
				sourceCounts[ev.Stream]++
				if !yield(ev, nil) {
					return
				}
			}
		}
	}
	cr, err := a.importCore(dst)
	if err != nil {
		return err
	}
	bar := a.bar("migrate", "events", 0)
	res, err := cr.Import(a.ctx, a.operator(), source, core.ImportOptions{OnWritten: func(n int) { bar.Add(int64(n)) }})
	bar.Done()
	if err != nil {
		if res.Imported > 0 {
			return fmt.Errorf("%w (%d events copied; re-run to continue)", err, res.Imported)
		}
		return refusal(from.String(), err)
	}
	rep.Events, rep.Copied, rep.Skipped, rep.Streams = res.Events, res.Imported, res.Skipped, len(sourceCounts)

	// Verify the target: every stream of the source has as many events
	// there, and every hash chain in the target holds.
	checker := newChainChecker()
	vbar := a.bar("verify", "events", rep.Events)
	for ev, err := range dst.ReadAll(a.ctx, eventstore.ReadAllOptions{}) {
		if err != nil {
			vbar.Done()
			return fmt.Errorf("read the target: %w", err)
		}
		if strings.HasPrefix(ev.Stream, "$") {
			continue
		}
		checker.add(ev)
		vbar.Add(1)
	}
	vbar.Done()
	rep.Target = checker.summary()
	targetCounts := checker.counts()
	for stream, n := range sourceCounts {
		if targetCounts[stream] != n {
			rep.Mismatches = append(rep.Mismatches, countMismatch{Stream: stream, Source: n, Target: targetCounts[stream]})
		}
	}
	sort.Slice(rep.Mismatches, func(i, j int) bool { return rep.Mismatches[i].Stream < rep.Mismatches[j].Stream })
	rep.Verified = len(rep.Mismatches) == 0 && len(rep.Target.Broken) == 0

	if a.json {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		a.printf("Migrated %s -> %s\n", rep.From, rep.To)
		a.printf("Source:   %d events in %d streams (up to position %d)\n", rep.Events, rep.Streams, rep.Position)
		a.printf("Copied:   %d events (%d already in the target)\n", rep.Copied, rep.Skipped)
		a.printf("Target:   %d events in %d streams, %d hash chains, %d broken\n", rep.Target.Events, rep.Target.Streams, rep.Target.HashedChains, len(rep.Target.Broken))
		for _, m := range rep.Mismatches {
			a.printf("  count mismatch: %s has %d events in the source, %d in the target\n", m.Stream, m.Source, m.Target)
		}
		if len(rep.Target.Broken) > 0 {
			a.printf("Broken:\n%s\n", describeBroken(rep.Target.Broken))
		}
		if rep.Verified {
			a.printf("Verified: event counts per stream match and every hash chain holds\n")
		} else {
			a.printf("Verified: FAILED\n")
		}
	}
	if !rep.Verified {
		return &problemsError{fmt.Sprintf("verification failed: %d count mismatch(es), %d broken chain(s)", len(rep.Mismatches), len(rep.Target.Broken))}
	}
	return nil
}

// sameStore reports whether two references name one store.
func sameStore(a, b storeRef) bool {
	if a.embedded() != b.embedded() {
		return false
	}
	if !a.embedded() {
		return a.url == b.url
	}
	fa, errA := filepath.Abs(a.file)
	fb, errB := filepath.Abs(b.file)
	return errA == nil && errB == nil && fa == fb
}
