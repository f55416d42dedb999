package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/casebook/casebook/demo"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/projections"
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
	workers := fs.Int("workers", 1, "cases loaded at once (1 keeps the log in the same order on every run); with --events, appends in flight (default 64)")
	events := fs.Int("events", 0, "instead of the press release's data set, generate a national-scale one of exactly this many events (see README)")
	noProjections := fs.Bool("no-projections", false, "do not build the read models and print the reports' figures afterwards")
	if _, err := a.parse(fs, args, "[--data DIR | --store URL] [--seed N] [--force] [--events N]", 0); err != nil {
		return err
	}
	maxWorkers := 64
	if *events > 0 {
		maxWorkers = 1024
		if !flagGiven(fs, "workers") {
			*workers = 64
		}
	}
	if *events < 0 {
		return usagef("--events must be a positive number of events")
	}
	if *workers < 1 || *workers > maxWorkers {
		return usagef("--workers must be from 1 to %d", maxWorkers)
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

	if *events > 0 {
		return generateDemo(a, st, ref, demo.ScaleOptions{Events: *events, Seed: *seed, Workers: *workers}, *noProjections)
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

// flagGiven reports whether the flag was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// scaleReport is what "casebook demo --events N" says.
type scaleReport struct {
	Store         string    `json:"store"`
	Seed          uint64    `json:"seed"`
	Events        int       `json:"events"`
	Cases         int       `json:"cases"`
	Appends       int       `json:"appends"`
	Position      uint64    `json:"position"`
	Seconds       float64   `json:"seconds"`
	EventsPerSec  float64   `json:"events_per_second"`
	RecordedFrom  time.Time `json:"recorded_from"`
	RecordedTo    time.Time `json:"recorded_to"`
	Arrests       int       `json:"arrests"`
	Seizures      int       `json:"seizures"`
	Detections    int       `json:"detections"`
	Gangs         int       `json:"gangs_dismantled"`
	Retractions   int       `json:"retractions"`
	LateEntries   int       `json:"late_entries"` // recorded more than a week after they occurred
	ReadModelSecs float64   `json:"read_models_seconds,omitempty"`
	// Summary is the summary report over the whole recorded span.
	Summary *projections.SummaryReport `json:"summary,omitempty"`
}

// generateDemo writes the national-scale data set and, unless told not to,
// builds the read models and prints the summary of the whole span.
func generateDemo(a *app, st eventstore.Store, ref storeRef, opts demo.ScaleOptions, noProjections bool) error {
	bar := a.bar("demo", "events", int64(opts.Events))
	opts.Progress = func(n int) { bar.Set(int64(n)) }
	start := time.Now()
	res, err := demo.Generate(a.ctx, st, opts)
	bar.Done()
	if err != nil {
		return fmt.Errorf("%w (%d events written)", err, res.Events)
	}
	secs := time.Since(start).Seconds()
	rep := scaleReport{Store: ref.String(), Seed: opts.Seed, Events: res.Events, Cases: res.Cases, Appends: res.Appends,
		Position: uint64(res.Head), Seconds: secs, EventsPerSec: float64(res.Events) / secs,
		RecordedFrom: res.From, RecordedTo: res.To, Arrests: res.Arrests, Seizures: res.Seizures, Detections: res.Detections,
		Gangs: res.GangsDismantled, Retractions: res.Retractions, LateEntries: res.Late}
	if !noProjections {
		start := time.Now()
		eng, err := projections.Open(a.ctx, a.data, st, projections.Options{Logger: a.logger()})
		if err != nil {
			return fmt.Errorf("open the read models: %w", err)
		}
		defer eng.Close()
		if err := eng.WaitFor(a.ctx, res.Head); err != nil {
			return fmt.Errorf("build the read models: %w", err)
		}
		rep.ReadModelSecs = time.Since(start).Seconds()
		to := res.To.Add(24 * time.Hour)
		from := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
		sum, err := eng.Summary(a.ctx, projections.ReportQuery{From: &from, To: &to})
		if err != nil {
			return fmt.Errorf("summary report: %w", err)
		}
		rep.Summary = &sum
	}
	if a.json {
		return a.printJSON(rep)
	}
	a.printf("Generated %d events (seed %d) into %s: %d cases, %d appends, in %.1fs: %.0f events/s.\n",
		rep.Events, rep.Seed, rep.Store, rep.Cases, rep.Appends, rep.Seconds, rep.EventsPerSec)
	a.printf("Recorded from %s to %s: %d arrests, %d seizures, %d detections, %d gangs dismantled, %d retractions, %d entries recorded more than a week after they occurred.\n",
		rep.RecordedFrom.Format(time.DateOnly), rep.RecordedTo.Format(time.DateOnly), rep.Arrests, rep.Seizures, rep.Detections,
		rep.Gangs, rep.Retractions, rep.LateEntries)
	if s := rep.Summary; s != nil {
		a.printf("\nRead models built in %.1fs (%s). The summary of everything, as it stands now:\n", rep.ReadModelSecs, a.data)
		a.printf("  gangs dismantled %d, arrests %d, detections %d (%d people)\n",
			s.GangsDismantled, s.Arrests, s.Detections.Incidents, s.Detections.People)
		for _, z := range s.Seizures {
			a.printf("  seized %-22s %s %s (%d seizures)\n", z.Commodity, z.Quantity, z.Unit, z.Count)
		}
	}
	return nil
}
