package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/casebook/casebook/cmd/casebook/internal/ndjson"
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

	// The file is read twice (verify, then append), so standard input is
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

	// Pass 1: every stream's chain in the file must verify (continuing
	// from what the store already holds when the file starts a stream past
	// revision 0, as an incremental export does).
	checker := newChainChecker()
	seeded := map[string]bool{}
	err = readExport(path, func(rec ndjson.Record, line int) error {
		if !seeded[rec.Stream] {
			seeded[rec.Stream] = true
			if rec.Revision > 0 {
				if err := seedFromStore(a.ctx, st, checker, rec.Stream, rec.Revision); err != nil {
					return fmt.Errorf("line %d: %w", line, err)
				}
			}
		}
		if !checker.add(recordedOf(rec)) {
			b := checker.broken[len(checker.broken)-1]
			return &problemsError{fmt.Sprintf("refusing to import %s: line %d: %s", rep.In, line, b)}
		}
		rep.Events++
		return nil
	})
	if err != nil {
		return err
	}
	rep.Streams = len(seeded)

	// Pass 2: append what the store does not have yet.
	cp, err := newCopier(a.ctx, st)
	if err != nil {
		return err
	}
	bar := a.bar("import", "events", rep.Events)
	cp.onAppend = func(n int) { bar.Add(int64(n)) }
	err = readExport(path, func(rec ndjson.Record, line int) error {
		if err := cp.add(a.ctx, rec); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		return nil
	})
	if err == nil {
		err = cp.flush(a.ctx)
	}
	bar.Done()
	rep.Imported, rep.Skipped = cp.copied, cp.skipped
	if err != nil {
		return fmt.Errorf("%w\n(%d events imported before the failure; re-run the same command to continue)", err, rep.Imported)
	}
	if a.json {
		return a.printJSON(rep)
	}
	a.printf("Verified %d events in %d streams; imported %d, skipped %d already in %s.\n",
		rep.Events, rep.Streams, rep.Imported, rep.Skipped, rep.Store)
	return nil
}

// readExport calls fn for every record of the file, in order.
func readExport(path string, fn func(rec ndjson.Record, line int) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open export: %w", err)
	}
	defer f.Close()
	r := ndjson.NewReader(f)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := fn(rec, r.Line()); err != nil {
			return err
		}
	}
}

// seedFromStore feeds the checker the store's first upTo events of stream,
// which a file starting that stream at revision upTo continues.
func seedFromStore(ctx context.Context, st eventstore.Store, c *chainChecker, stream string, upTo uint64) error {
	n := uint64(0)
	for ev, err := range st.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Limit: upTo}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s from the store: %w", stream, err)
		}
		c.seed(ev)
		n++
	}
	if n < upTo {
		return &problemsError{fmt.Sprintf("the file starts stream %s at revision %d but the store holds only %d of its events: import the earlier events first", stream, upTo, n)}
	}
	return nil
}

// recordedOf is the record as the event it describes.
func recordedOf(rec ndjson.Record) eventstore.RecordedEvent {
	ed := rec.EventData()
	return eventstore.RecordedEvent{
		ID: ed.ID, Type: ed.Type, Data: ed.Data, Metadata: ed.Metadata,
		Stream: rec.Stream, Revision: rec.Revision, Position: eventstore.Position(rec.Position), RecordedAt: rec.RecordedAt,
	}
}
