package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	"github.com/casebook/casebook/projections"
)

// projectionStatus is one read model's state as the CLI sees it offline.
type projectionStatus struct {
	Name       string `json:"name"`
	Generation int64  `json:"generation"`
	Version    int64  `json:"version"`
	Rebuilding bool   `json:"rebuilding"` // a new generation is being built
	Position   uint64 `json:"position"`   // the log is reflected up to here
	Head       uint64 `json:"head"`
	LagEvents  uint64 `json:"lag_events"` // head - position (events, on the embedded store)
}

func runProjections(a *app, args []string) error {
	if len(args) == 0 {
		return usagef("want: casebook projections status | rebuild [NAME]")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "status":
		fs := a.flagSet("projections status")
		if _, err := a.parse(fs, rest, "status [--data DIR]", 0); err != nil {
			return err
		}
		return a.projectionsStatus()
	case "rebuild":
		fs := a.flagSet("projections rebuild")
		names, err := a.parse(fs, rest, "rebuild [NAME] [--data DIR]", 1)
		if err != nil {
			return err
		}
		name := ""
		if len(names) == 1 {
			if name, err = projections.CanonicalName(names[0]); err != nil {
				return usagef("no projection %q (there are: %s)", names[0], strings.Join(projections.Names(), ", "))
			}
		}
		return a.projectionsRebuild(name)
	case "-h", "--help", "-help":
		fmt.Fprintln(a.stdio.Err, "Usage: casebook projections status | rebuild [NAME]")
		return nil
	}
	return usagef("unknown projections command %q: want status or rebuild", sub)
}

// projectionsStatus reads the read models' checkpoints without following
// the log (it never writes the read models).
func (a *app) projectionsStatus() error {
	dbFile := filepath.Join(a.data, readModelsFile)
	if _, err := os.Stat(dbFile); err != nil {
		return fmt.Errorf("no read models at %s (they are built by casebookd, casebook demo or casebook projections rebuild)", dbFile)
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
	statuses, err := a.readStatus(st)
	if err != nil {
		return err
	}
	return a.printStatus(statuses)
}

func (a *app) readStatus(st eventstore.Store) ([]projectionStatus, error) {
	head, err := st.Head(a.ctx)
	if err != nil {
		return nil, fmt.Errorf("read the store's head: %w", err)
	}
	eng, err := projections.Open(a.ctx, a.data, st, projections.Options{NoStart: true, Logger: a.logger()})
	if err != nil {
		return nil, fmt.Errorf("open the read models: %w", err)
	}
	defer eng.Close()
	gens, err := readGenerations(a.ctx, filepath.Join(a.data, readModelsFile))
	if err != nil {
		return nil, err
	}
	// The engine's status probes the log: a read model whose last event is
	// older than the head, with no event of its streams since, is at the
	// head (the case read models after reads, the access log's after
	// writes).
	statuses, err := eng.Status(a.ctx)
	if err != nil {
		return nil, fmt.Errorf("projections status: %w", err)
	}
	var out []projectionStatus
	for _, st := range statuses {
		s := gens[st.Name]
		s.Name, s.Position, s.Head = st.Name, min(st.Position, uint64(head)), uint64(head)
		if s.Head > s.Position {
			s.LagEvents = s.Head - s.Position
		}
		out = append(out, s)
	}
	return out, nil
}

// readGenerations reads which generation of each read model answers and
// whether one is being built, from the projection_meta table.
func readGenerations(ctx context.Context, file string) (map[string]projectionStatus, error) {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT name, active_gen, active_version, building_gen IS NOT NULL FROM projection_meta`)
	if err != nil {
		return nil, fmt.Errorf("read projection_meta: %w", err)
	}
	defer rows.Close()
	out := map[string]projectionStatus{}
	for rows.Next() {
		var s projectionStatus
		if err := rows.Scan(&s.Name, &s.Generation, &s.Version, &s.Rebuilding); err != nil {
			return nil, err
		}
		out[s.Name] = s
	}
	return out, rows.Err()
}

func (a *app) printStatus(ss []projectionStatus) error {
	if a.json {
		return a.printJSON(ss)
	}
	tw := tabwriter.NewWriter(a.stdio.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tGEN\tVERSION\tPOSITION\tHEAD\tLAG\tREBUILDING")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%v\n", s.Name, s.Generation, s.Version, s.Position, s.Head, s.LagEvents, s.Rebuilding)
	}
	return tw.Flush()
}

// projectionsRebuild rebuilds read models offline (casebookd stopped):
// all of them from an empty read-model database, or one by building a new
// generation from position 0 and swapping it in, as the server does.
func (a *app) projectionsRebuild(name string) error {
	ref, err := a.storeRef()
	if err != nil {
		return usagef("%v", err)
	}
	var st eventstore.Store
	if ref.embedded() {
		// Opening read-write takes the store's lock: it fails while
		// casebookd runs, which owns the read models then.
		st, err = a.openStore(ref, false)
		if errors.Is(err, sqlitestore.ErrLocked) {
			return fmt.Errorf("casebookd is running on %s: rebuild through it (POST /v1/projections/{name}/rebuild) or stop it first", a.data)
		}
	} else {
		st, err = a.openStore(ref, true)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	head, err := st.Head(a.ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if name == "" {
		// Everything from scratch: a new database, every projection from 0.
		dbFile := filepath.Join(a.data, readModelsFile)
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(dbFile + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove old read models: %w", err)
			}
		}
	}
	eng, err := projections.Open(a.ctx, a.data, st, projections.Options{Logger: a.logger()})
	if err != nil {
		return fmt.Errorf("open the read models: %w", err)
	}
	bar := a.bar("rebuild", "events", int64(head))
	err = func() error {
		defer eng.Close()
		if name != "" {
			if err := eng.Rebuild(a.ctx, name); err != nil {
				return fmt.Errorf("rebuild %s: %w", name, err)
			}
		}
		// Wait until every read model reflects the head and no new
		// generation is still being built.
		for {
			all := true
			for _, n := range projections.Names() {
				pos, err := eng.Position(n)
				if err != nil {
					return err
				}
				if pos < head {
					all = false
				}
				if n == name || name == "" {
					bar.Set(int64(pos))
				}
			}
			if all {
				gens, err := readGenerations(a.ctx, filepath.Join(a.data, readModelsFile))
				if err != nil {
					return err
				}
				building := false
				for _, g := range gens {
					building = building || g.Rebuilding
				}
				if !building {
					return nil
				}
			}
			select {
			case <-a.ctx.Done():
				return a.ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	bar.Done()
	if err != nil {
		return err
	}
	what := "all read models"
	if name != "" {
		what = "read model " + name
	}
	if !a.json {
		a.printf("Rebuilt %s from the log up to position %d in %.1fs.\n", what, head, time.Since(start).Seconds())
	}
	statuses, err := a.readStatus(st)
	if err != nil {
		return err
	}
	return a.printStatus(statuses)
}
