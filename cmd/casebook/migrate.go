package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"sort"
	"strings"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/keystore/streamkeys"
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
	// Sealed is true for --encrypt: personal fields written in plain text
	// were sealed under the target's keys, and Migration names the
	// target's record linking the source's chains to the copies.
	Sealed    bool   `json:"sealed"`
	Migration string `json:"migration,omitempty"`
	// KeysCopied is how many keys of already sealed fields were copied
	// from the source's key store (re-wrapped under the target's master
	// key); KeysMissing how many such fields' keys the source lacked
	// (erased there, or lost).
	KeysCopied  int `json:"keys_copied"`
	KeysMissing int `json:"keys_missing"`
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
	encrypt := fs.Bool("encrypt", false, "seal personal fields written in plain text (before encryption) under the target's keys: chains are recomputed and the target records the source's head hashes")
	fromMaster := fs.String("from-master-key-file", "", "the source's master key file (default: --master-key-file, or master.key in the source's data directory)")
	if _, err := a.parse(fs, args, "--from STORE --to STORE [--encrypt] [--master-key-file FILE] [--from-master-key-file FILE]", 0); err != nil {
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
	rep := migrateReport{From: from.String(), To: to.String(), Mismatches: []countMismatch{}, Sealed: *encrypt}

	// Keys: the source's (to copy those of fields it sealed already) and
	// the target's (created when new).
	srcApp := *a
	if *fromMaster != "" {
		srcApp.masterKeyFile = *fromMaster
	}
	srcKeys, closeSrcKeys, err := srcApp.readVault(from, src)
	if err != nil {
		return fmt.Errorf("source keys: %w", err)
	}
	defer closeSrcKeys()
	var dstKeys *keystore.Vault
	if *encrypt || srcKeys != nil {
		dstApp := *a
		if dstApp.masterKeyPath(to) == "" && from.embedded() {
			// A deployment moving its store to KurrentDB keeps its master key.
			dstApp.masterKeyFile = srcApp.masterKeyPath(from)
		}
		var closeDstKeys func()
		if dstKeys, closeDstKeys, err = dstApp.writeVault(to, dst); err != nil {
			return fmt.Errorf("target keys: %w", err)
		}
		defer closeDstKeys()
	}

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
				if strings.HasPrefix(ev.Stream, "$") || streamkeys.IsKeyStream(ev.Stream) {
					continue // a KurrentDB system stream, or the key store's
				}
				sourceCounts[ev.Stream]++
				if !yield(ev, nil) {
					return
				}
			}
		}
	}
	if srcKeys != nil {
		if rep.KeysCopied, rep.KeysMissing, err = copySealingKeys(a.ctx, src, head, srcKeys, dstKeys); err != nil {
			return err
		}
	}
	cr, err := a.importCore(dst, dstKeys)
	if err != nil {
		return err
	}
	bar := a.bar("migrate", "events", 0)
	res, err := cr.Import(a.ctx, a.operator(), source, core.ImportOptions{OnWritten: func(n int) { bar.Add(int64(n)) },
		Seal: *encrypt, SourceName: from.String(), SourcePosition: uint64(head)})
	bar.Done()
	rep.Migration = res.Migration
	if err != nil {
		if res.Imported > 0 {
			return fmt.Errorf("%w (%d events copied; re-run to continue)", err, res.Imported)
		}
		return refusal(from.String(), err)
	}
	rep.Events, rep.Copied, rep.Skipped, rep.Streams = res.Events, res.Imported, res.Skipped, len(sourceCounts)

	// Verify the target: every stream of the source has as many events
	// there, and every hash chain in the target holds.
	vbar := a.bar("verify", "events", rep.Events)
	dstHead, err := dst.Head(a.ctx)
	if err != nil {
		vbar.Done()
		return fmt.Errorf("read the target's head: %w", err)
	}
	checker, err := checkLog(a.ctx, dst.ReadAll(a.ctx, eventstore.ReadAllOptions{}), dstHead, notTheLogs,
		func(eventstore.RecordedEvent) { vbar.Add(1) })
	vbar.Done()
	if err != nil {
		return fmt.Errorf("read the target: %w", err)
	}
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
		if rep.Sealed {
			a.printf("Sealed:   personal fields written in plain text are sealed in the target; %s links the source's chains to the copies\n", rep.Migration)
		}
		if rep.KeysCopied > 0 || rep.KeysMissing > 0 {
			a.printf("Keys:     %d copied from the source's key store; %d not there (erased, or lost)\n", rep.KeysCopied, rep.KeysMissing)
		}
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

// copySealingKeys copies from the source's key store to the target's the
// keys of every sealed field the source's log holds up to head: the copies
// of those events must open in the target. Keys the source does not hold
// (erased there, or lost) are counted, not copied.
func copySealingKeys(ctx context.Context, src eventstore.Store, head eventstore.Position, from, to *keystore.Vault) (copied, missing int, err error) {
	seen := map[domain.KeyRef]bool{}
	for ev, err := range src.ReadAll(ctx, eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefixes: []string{domain.StreamPrefix},
		EventTypes: []string{domain.TypeSuspectIdentified, domain.TypeIntelligenceLogged}}}) {
		if err != nil {
			return copied, missing, fmt.Errorf("read the source: %w", err)
		}
		if ev.Position > head {
			break
		}
		caseID, ok := domain.CaseIDFromStream(ev.Stream)
		if !ok {
			continue
		}
		e, err := domain.DecodeStored(toStored(ev))
		if err != nil {
			continue // the import refuses it, naming it
		}
		for _, pf := range domain.PersonalFields(caseID, e.Event) {
			if !domain.IsSealed(pf.Value) || seen[pf.Key] {
				continue
			}
			seen[pf.Key] = true
			switch err := keystore.CopyKey(ctx, from, to, pf.Key); {
			case err == nil:
				copied++
			case errors.Is(err, keystore.ErrNotFound):
				missing++
			default:
				return copied, missing, fmt.Errorf("copy the key %s: %w", pf.Key, err)
			}
		}
	}
	return copied, missing, nil
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
