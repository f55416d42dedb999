package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/casebook/casebook/cmd/casebook/internal/ndjson"
	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/keystore/streamkeys"
	"github.com/google/uuid"
)

type exportReport struct {
	Store   string     `json:"store"`
	Out     string     `json:"out"`
	Case    *uuid.UUID `json:"case,omitempty"`
	From    *time.Time `json:"from,omitempty"`
	To      *time.Time `json:"to,omitempty"`
	Events  int64      `json:"events"`
	Streams int        `json:"streams"`
	Head    uint64     `json:"position"` // the log was exported up to here
}

func runExport(a *app, args []string) error {
	fs := a.flagSet("export")
	caseFlag := fs.String("case", "", "export only this case (its id)")
	fromFlag := fs.String("from", "", "only events logged at or after this time (date or RFC 3339, over recorded_at)")
	toFlag := fs.String("to", "", "only events logged before this time")
	out := fs.String("out", "", "write to FILE (default: standard output)")
	sealed := fs.Bool("sealed", false, "leave personal fields sealed: no \"opened\" member (the export then holds no personal data in plain text)")
	if _, err := a.parse(fs, args, "[--case ID] [--from T] [--to T] [--out FILE] [--sealed]", 0); err != nil {
		return err
	}
	rep := exportReport{Out: *out}
	var caseID uuid.UUID
	if *caseFlag != "" {
		id, err := uuid.Parse(*caseFlag)
		if err != nil {
			return usagef("--case %q is not a case id (a UUID)", *caseFlag)
		}
		caseID = id
		rep.Case = &caseID
	}
	var from, to time.Time
	if *fromFlag != "" {
		t, err := parseTime(*fromFlag)
		if err != nil {
			return usagef("--from: %v", err)
		}
		from, rep.From = t, &t
	}
	if *toFlag != "" {
		t, err := parseTime(*toFlag)
		if err != nil {
			return usagef("--to: %v", err)
		}
		to, rep.To = t, &t
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return usagef("--from must be before --to")
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
	rep.Store = ref.String()
	head, err := st.Head(a.ctx)
	if err != nil {
		return fmt.Errorf("read the store's head: %w", err)
	}
	rep.Head = uint64(head)
	var opener *exportOpener
	if !*sealed {
		keys, closeKeys, err := a.readVault(ref, st)
		if err != nil {
			return err
		}
		defer closeKeys()
		opener = newExportOpener(st, keys)
	}

	var w io.Writer = a.stdio.Out
	var tmp *os.File
	if *out != "" && *out != "-" {
		// Write beside the target and rename at the end: an interrupted
		// export never leaves a truncated file under the final name.
		tmp, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".tmp-*")
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	nw := ndjson.NewWriter(w)
	streams := map[string]struct{}{}
	bar := a.bar("export", logUnit(ref), int64(head))

	var events func(yield func(eventstore.RecordedEvent, error) bool)
	if rep.Case != nil {
		events = st.ReadStream(a.ctx, domain.StreamName(caseID), eventstore.ReadStreamOptions{})
	} else {
		events = st.ReadAll(a.ctx, eventstore.ReadAllOptions{})
	}
	for ev, err := range events {
		if err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				return fmt.Errorf("case %s: no such case in %s", caseID, rep.Store)
			}
			return fmt.Errorf("read the log: %w", err)
		}
		if ev.Position > head {
			break // appended after the export began
		}
		bar.Set(int64(ev.Position))
		if !from.IsZero() || !to.IsZero() {
			logged := loggedAt(ev)
			if logged.Before(from) || (!to.IsZero() && !logged.Before(to)) {
				continue
			}
		}
		if streamkeys.IsKeyStream(ev.Stream) {
			continue // the key store's (KurrentDB): keys never leave in an export
		}
		line := ndjson.FromRecorded(ev)
		if opener != nil {
			if line.Opened, err = opener.open(a.ctx, ev); err != nil {
				return err
			}
		}
		if err := nw.Write(line); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		rep.Events++
		streams[ev.Stream] = struct{}{}
	}
	bar.Done()
	if err := nw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	rep.Streams = len(streams)
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("sync output: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("close output: %w", err)
		}
		if err := os.Rename(tmp.Name(), *out); err != nil {
			return fmt.Errorf("rename output: %w", err)
		}
		tmp = nil
	}
	switch {
	case a.json && *out != "" && *out != "-":
		return a.printJSON(rep)
	case *out != "" && *out != "-":
		a.printf("Exported %d events of %d stream(s) from %s to %s (log up to position %d).\n", rep.Events, rep.Streams, rep.Store, rep.Out, rep.Head)
	default:
		// the NDJSON is on stdout; the summary goes to stderr
		fmt.Fprintf(a.stdio.Err, "Exported %d events of %d stream(s) (log up to position %d).\n", rep.Events, rep.Streams, rep.Head)
	}
	return nil
}

// exportOpener opens the sealed personal fields of exported events with
// the store's keys, judging erasure on each case's state (read once per
// case: an erasure may come later in the log than the events it erases).
type exportOpener struct {
	st     eventstore.Store
	reveal *core.Revealer
	cases  map[uuid.UUID]*domain.Case
}

func newExportOpener(st eventstore.Store, keys *keystore.Vault) *exportOpener {
	return &exportOpener{st: st, reveal: core.NewRevealer(keys), cases: map[uuid.UUID]*domain.Case{}}
}

// open is the "opened" member of an exported event (nil when it has no
// personal fields).
func (o *exportOpener) open(ctx context.Context, ev eventstore.RecordedEvent) (*ndjson.Opened, error) {
	if !domain.HasPersonalFields(ev.Type) {
		return nil, nil
	}
	caseID, ok := domain.CaseIDFromStream(ev.Stream)
	if !ok {
		return nil, nil
	}
	e, err := domain.DecodeStored(toStored(ev))
	if err != nil {
		return nil, nil // exported as stored; verify says what is wrong
	}
	state := o.cases[caseID]
	if state == nil {
		var entries []domain.Entry
		for rec, err := range o.st.ReadStream(ctx, ev.Stream, eventstore.ReadStreamOptions{}) {
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", ev.Stream, err)
			}
			if e, err := domain.DecodeStored(toStored(rec)); err == nil {
				entries = append(entries, e)
			}
		}
		c, _ := domain.Replay(entries)
		state = &c
		o.cases[caseID] = state
	}
	opened, err := o.reveal.Entry(ctx, state, e)
	if err != nil {
		return nil, err
	}
	out := &ndjson.Opened{Data: opened.Data, ErasedAt: opened.ErasedAt}
	if opened.Unreadable != nil {
		if out.Unreadable, err = json.Marshal(opened.Unreadable); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loggedAt is when an event was logged: the recorded_at of Casebook's
// envelope (kept across exports and migrations), or the store's own
// timestamp for events without it.
func loggedAt(ev eventstore.RecordedEvent) time.Time {
	if m, err := domain.DecodeMetadata(ev.Metadata); err == nil && !m.RecordedAt.IsZero() {
		return m.RecordedAt
	}
	return ev.RecordedAt
}
