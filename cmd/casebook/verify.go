package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/keystore/streamkeys"
)

// integrityChecker is the embedded store's own consistency check (SQLite's
// integrity_check plus the log's invariants).
type integrityChecker interface {
	IntegrityCheck(ctx context.Context) error
}

type verifyReport struct {
	Store     string `json:"store"`
	Valid     bool   `json:"valid"`
	Position  uint64 `json:"position"` // the log was checked up to here
	Integrity string `json:"integrity,omitempty"`
	chainSummary
}

func runVerify(a *app, args []string) error {
	fs := a.flagSet("verify")
	if _, err := a.parse(fs, args, "[--data DIR | --store URL] [--json]", 0); err != nil {
		return err
	}
	ref, err := a.storeRef()
	if err != nil {
		return usagef("%v", err)
	}
	st, err := a.openStore(ref, true)
	if err != nil {
		return err
	}
	defer st.Close()

	rep := verifyReport{Store: ref.String(), Valid: true}
	if ic, ok := st.(integrityChecker); ok {
		rep.Integrity = "ok"
		if err := ic.IntegrityCheck(a.ctx); err != nil {
			if a.ctx.Err() != nil {
				return a.ctx.Err()
			}
			rep.Integrity = err.Error()
			rep.Valid = false
		}
	}
	// Check the log up to its head as it is now; events appended meanwhile
	// (casebookd may be running) are left for the next run.
	head, err := st.Head(a.ctx)
	if err != nil {
		return fmt.Errorf("read the store's head: %w", err)
	}
	rep.Position = uint64(head)
	checker := newChainChecker()
	bar := a.bar("verify", logUnit(ref), int64(head))
	for ev, err := range st.ReadAll(a.ctx, eventstore.ReadAllOptions{}) {
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		if ev.Position > head {
			break
		}
		if strings.HasPrefix(ev.Stream, "$") || streamkeys.IsKeyStream(ev.Stream) {
			continue // a KurrentDB system stream, or the key store's: not the log's
		}
		checker.add(ev)
		bar.Set(int64(ev.Position))
	}
	bar.Done()
	rep.chainSummary = checker.summary()
	if len(rep.Broken) > 0 {
		rep.Valid = false
	}

	if a.json {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		a.printf("Store:      %s\n", rep.Store)
		if rep.Integrity != "" {
			a.printf("Integrity:  %s\n", rep.Integrity)
		}
		a.printf("Checked:    %d events in %d streams (%d cases) up to position %d\n", rep.Events, rep.Streams, rep.Cases, rep.Position)
		a.printf("Chains:     %d hash chains, %d broken\n", rep.HashedChains, len(rep.Broken))
		if len(rep.Broken) > 0 {
			a.printf("Broken:\n%s\n", describeBroken(rep.Broken))
		}
		if rep.Valid {
			a.printf("Result:     OK, nothing was altered\n")
		} else {
			a.printf("Result:     FAILED\n")
		}
	}
	if !rep.Valid {
		return &problemsError{fmt.Sprintf("verification failed: %d broken stream(s)%s", len(rep.Broken), integrityNote(rep.Integrity))}
	}
	return nil
}

func integrityNote(s string) string {
	if s == "" || s == "ok" {
		return ""
	}
	return "; integrity check: " + s
}
