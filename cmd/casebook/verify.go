package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/keystore/streamkeys"
)

// notTheLogs names the streams a store holds that are not Casebook's log:
// KurrentDB's system streams and the key store's.
func notTheLogs(stream string) bool {
	return strings.HasPrefix(stream, "$") || streamkeys.IsKeyStream(stream)
}

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
	Anchor *anchorResult `json:"anchor,omitempty"`
}

func runVerify(a *app, args []string) error {
	fs := a.flagSet("verify")
	anchorPath := fs.String("anchor", "", "also check the log against this anchor (casebook anchor): name what was cut off or changed since")
	keyFile := fs.String("key-file", a.getenv("CASEBOOK_ANCHOR_KEY_FILE"),
		"check the anchor's HMAC signature with the key in this file (env CASEBOOK_ANCHOR_KEY_FILE)")
	if _, err := a.parse(fs, args, "[--data DIR | --store URL] [--anchor FILE [--key-file FILE]] [--json]", 0); err != nil {
		return err
	}
	ref, err := a.storeRef()
	if err != nil {
		return usagef("%v", err)
	}
	var anchor *anchorCheck
	if *anchorPath != "" {
		var key []byte
		if *keyFile != "" {
			if key, err = readAnchorKey(*keyFile); err != nil {
				return usagef("%v", err)
			}
		}
		body, signed, err := openAnchor(*anchorPath, key)
		if err != nil {
			return err
		}
		anchor = newAnchorCheck(body, signed)
	}
	st, err := a.openStore(ref, true)
	if err != nil {
		return err
	}
	defer st.Close()

	rep := verifyReport{Store: ref.String(), Valid: true}
	// Check the log up to its head as it is now; events appended meanwhile
	// (casebookd may be running) are left for the next run.
	head, err := st.Head(a.ctx)
	if err != nil {
		return fmt.Errorf("read the store's head: %w", err)
	}
	rep.Position = uint64(head)
	// The store's own check reads the whole file as the chains do: they
	// run side by side.
	integrity := make(chan error, 1)
	ic, hasIntegrityCheck := st.(integrityChecker)
	if hasIntegrityCheck {
		go func() { integrity <- ic.IntegrityCheck(a.ctx) }()
	}
	bar := a.bar("verify", logUnit(ref), int64(head))
	checker, err := checkLog(a.ctx, st.ReadAll(a.ctx, eventstore.ReadAllOptions{}), head, notTheLogs,
		func(ev eventstore.RecordedEvent) {
			if anchor != nil {
				anchor.add(ev)
			}
			bar.Set(int64(ev.Position))
		})
	bar.Done()
	if hasIntegrityCheck {
		switch ierr := <-integrity; {
		case ierr == nil:
			rep.Integrity = "ok"
		case a.ctx.Err() != nil:
			return a.ctx.Err()
		default:
			rep.Integrity = ierr.Error()
			rep.Valid = false
		}
	}
	if err != nil {
		return fmt.Errorf("read the log: %w", err)
	}
	rep.chainSummary = checker.summary()
	if len(rep.Broken) > 0 {
		rep.Valid = false
	}
	if anchor != nil {
		res := anchor.result(*anchorPath, head, checker)
		rep.Anchor = &res
		if !res.ok() {
			rep.Valid = false
		}
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
		if rep.Anchor != nil {
			rep.Anchor.describe(a.stdio.Out)
		}
		if rep.Valid {
			a.printf("Result:     OK, nothing was altered\n")
		} else {
			a.printf("Result:     FAILED\n")
		}
	}
	if !rep.Valid {
		return &problemsError{fmt.Sprintf("verification failed: %d broken stream(s)%s%s", len(rep.Broken), anchorNote(rep.Anchor), integrityNote(rep.Integrity))}
	}
	return nil
}

func integrityNote(s string) string {
	if s == "" || s == "ok" {
		return ""
	}
	return "; integrity check: " + s
}

func anchorNote(r *anchorResult) string {
	if r == nil || r.ok() {
		return ""
	}
	n := len(r.Findings)
	note := fmt.Sprintf("; %d stream(s) cut off or changed since the anchor", n)
	if len(r.Log) > 0 {
		note += ", and the log"
	}
	return note
}
