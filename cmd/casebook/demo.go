package main

import (
	"fmt"
	"time"

	"github.com/casebook/casebook/demo"
	"github.com/casebook/casebook/eventstore"
)

type demoReport struct {
	Store    string        `json:"store"`
	Seed     uint64        `json:"seed"`
	Cases    int           `json:"cases"`
	Events   int           `json:"events"`
	New      int           `json:"new_events"` // events written (the rest were there already)
	Position uint64        `json:"position"`
	Seconds  float64       `json:"seconds"`
	Figures  *demoFigures  `json:"figures,omitempty"` // as the reports give them
	Expected []figureCheck `json:"checks,omitempty"`
}

func runDemo(a *app, args []string) error {
	fs := a.flagSet("demo")
	seed := fs.Uint64("seed", 1, "random seed: the same seed loads the same data set")
	force := fs.Bool("force", false, "load even into a store that already holds events")
	workers := fs.Int("workers", 1, "cases loaded at once (1 keeps the log in the same order on every run)")
	noProjections := fs.Bool("no-projections", false, "do not build the read models and print the reports' figures afterwards")
	if _, err := a.parse(fs, args, "[--data DIR | --store URL] [--seed N] [--force]", 0); err != nil {
		return err
	}
	if *workers < 1 || *workers > 64 {
		return usagef("--workers must be from 1 to 64")
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
	empty, err := storeIsEmpty(a.ctx, st)
	if err != nil {
		return err
	}
	if !empty && !*force {
		return fmt.Errorf("%s already holds events: the demo loads only into an empty store (use --force to add it anyway)", ref)
	}

	plan := demo.NewPlan(*seed)
	keys, closeKeys, err := a.writeVault(ref, st)
	if err != nil {
		return err
	}
	defer closeKeys()
	svc, err := a.importCore(st, keys)
	if err != nil {
		return err
	}
	bar := a.bar("demo", "events", int64(plan.Events()))
	start := time.Now()
	res, err := demo.Load(a.ctx, svc, plan, demo.LoadOptions{Workers: *workers, Progress: func(n int) { bar.Set(int64(n)) }})
	bar.Done()
	if err != nil {
		return fmt.Errorf("%w (%d events loaded)", err, res.Events)
	}
	rep := demoReport{Store: ref.String(), Seed: *seed, Cases: res.Cases, Events: res.Events, New: res.Events - res.Duplicates,
		Position: res.Head, Seconds: time.Since(start).Seconds()}

	if !*noProjections {
		figs, err := a.reportFigures(st, eventstore.Position(res.Head))
		if err != nil {
			return fmt.Errorf("the demo is loaded, but its figures could not be read from the reports: %w", err)
		}
		rep.Figures = figs
		rep.Expected = figs.check()
	}
	if a.json {
		return a.printJSON(rep)
	}
	a.printf("Loaded the demo data set (seed %d) into %s: %d cases, %d events in %.1fs.\n", rep.Seed, rep.Store, rep.Cases, rep.Events, rep.Seconds)
	if res.Duplicates > 0 {
		a.printf("%d of them were already in the store (this seed was loaded before) and were not written again.\n", res.Duplicates)
	}
	if rep.Figures != nil {
		a.printf("\nThe reports now show (read models in %s):\n", a.data)
		rep.Figures.print(a)
	}
	return nil
}
