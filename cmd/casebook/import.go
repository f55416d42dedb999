package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"

	"github.com/casebook/casebook/cmd/casebook/internal/ndjson"
	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/eventstore"
)

type importReport struct {
	Store    string `json:"store"`
	In       string `json:"in"`
	Events   int64  `json:"events"`   // events in the file
	Streams  int    `json:"streams"`  // streams in the file
	Imported int64  `json:"imported"` // appended by this run
	Skipped  int64  `json:"skipped"`  // already in the store (an earlier run)
}

func runImport(a *app, args []string) error {
	fs := a.flagSet("import")
	in := fs.String("in", "", "NDJSON export to read (default: standard input)")
	if _, err := a.parse(fs, args, "[--in FILE] [--data DIR | --store URL]", 0); err != nil {
		return err
	}
	rep := importReport{In: *in}
	if rep.In == "" {
		rep.In = "-"
	}

	// The file is read twice (check, then append), so standard input is
	// spooled to a temporary file first.
	path := *in
	if path == "" || path == "-" {
		spool, err := os.CreateTemp("", "casebook-import-*.ndjson")
		if err != nil {
			return fmt.Errorf("spool standard input: %w", err)
		}
		defer os.Remove(spool.Name())
		if _, err := io.Copy(spool, a.stdio.In); err != nil {
			spool.Close()
			return fmt.Errorf("spool standard input: %w", err)
		}
		if err := spool.Close(); err != nil {
			return fmt.Errorf("spool standard input: %w", err)
		}
		path = spool.Name()
	}

	ref, err := a.storeRef()
	if err != nil {
		return usagef("%v", err)
	}
	st, err := a.openStore(ref, false)
	if err != nil {
		return err
	}
	defer st.Close()
	rep.Store = ref.String()

	cr, err := a.importCore(st, nil) // events are copied as recorded: nothing is sealed
	if err != nil {
		return err
	}
	bar := a.bar("import", "events", 0)
	res, err := cr.Import(a.ctx, a.operator(), exportSource(path), core.ImportOptions{OnWritten: func(n int) { bar.Add(int64(n)) }})
	bar.Done()
	rep.Events, rep.Streams, rep.Imported, rep.Skipped = res.Events, res.Streams, res.Imported, res.Skipped
	if err != nil {
		if res.Imported > 0 {
			return fmt.Errorf("%w\n(%d events imported before the failure; re-run the same command to continue)", err, res.Imported)
		}
		return refusal(rep.In, err)
	}
	if a.json {
		return a.printJSON(rep)
	}
	a.printf("Checked %d events in %d streams; imported %d, skipped %d already in %s.\n",
		rep.Events, rep.Streams, rep.Imported, rep.Skipped, rep.Store)
	return nil
}

// exportSource reads an export file's records as recorded events, each
// time it is called.
func exportSource(path string) core.ImportSource {
	return func(ctx context.Context) iter.Seq2[eventstore.RecordedEvent, error] {
		return func(yield func(eventstore.RecordedEvent, error) bool) {
			f, err := os.Open(path)
			if err != nil {
				yield(eventstore.RecordedEvent{}, fmt.Errorf("open export: %w", err))
				return
			}
			defer f.Close()
			r := ndjson.NewReader(f)
			for {
				rec, err := r.Read()
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					yield(eventstore.RecordedEvent{}, fmt.Errorf("%s: %w", path, err))
					return
				}
				if ctx.Err() != nil {
					yield(eventstore.RecordedEvent{}, ctx.Err())
					return
				}
				if !yield(recordedOf(rec), nil) {
					return
				}
			}
		}
	}
}

// recordedOf is the record as the event it describes.
func recordedOf(rec ndjson.Record) eventstore.RecordedEvent {
	ed := rec.EventData()
	return eventstore.RecordedEvent{
		ID: ed.ID, Type: ed.Type, Data: ed.Data, Metadata: ed.Metadata,
		Stream: rec.Stream, Revision: rec.Revision, Position: eventstore.Position(rec.Position), RecordedAt: rec.RecordedAt,
	}
}
