package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/casebook/casebook/demo"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/projections"
)

// demoFigures are the press release's figures as the reports give them.
type demoFigures struct {
	// Year to 6 June 2011.
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	GangsDismantled int64     `json:"gangs_dismantled"`
	Arrests         int64     `json:"arrests"`
	// People stopped per year, 2009 to 6 June 2011.
	Stowaways map[string]int64 `json:"stowaways_by_year"`
	// Seized at Dover and Coquelles, 2009 to 6 June 2011.
	Seizures []seizureFigure `json:"seizures_dover_coquelles"`
}

type seizureFigure struct {
	Commodity string          `json:"commodity"`
	Unit      string          `json:"unit"`
	Quantity  domain.Quantity `json:"quantity"`
	Count     int64           `json:"count"`
}

// figureCheck compares one figure with the press release's.
type figureCheck struct {
	Figure string `json:"figure"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	OK     bool   `json:"ok"`
}

// reportFigures builds the read models in the data directory from st's log
// up to head and reads the press release's figures from the reports.
func (a *app) reportFigures(st eventstore.Store, head eventstore.Position) (*demoFigures, error) {
	eng, err := projections.Open(a.ctx, a.data, st, projections.Options{Logger: a.logger()})
	if err != nil {
		return nil, fmt.Errorf("open the read models: %w", err)
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(a.ctx, 2*time.Minute)
	defer cancel()
	if err := eng.WaitFor(ctx, head); err != nil {
		return nil, fmt.Errorf("build the read models: %w", err)
	}
	return queryFigures(ctx, eng)
}

// queryFigures asks the reports for the press release's figures.
func queryFigures(ctx context.Context, eng *projections.Engine) (*demoFigures, error) {
	from, to := demo.PeriodFrom, demo.PeriodTo
	f := &demoFigures{From: from, To: to, Stowaways: map[string]int64{}}
	sum, err := eng.Summary(ctx, projections.ReportQuery{From: &from, To: &to})
	if err != nil {
		return nil, fmt.Errorf("summary report: %w", err)
	}
	f.Arrests = sum.Arrests
	if sum.GangsDismantled != nil { // (nil only when filtered by location)
		f.GangsDismantled = *sum.GangsDismantled
	}

	first := demo.FirstDay
	det, err := eng.Detections(ctx, projections.ReportQuery{From: &first, To: &to, GroupBy: "year"})
	if err != nil {
		return nil, fmt.Errorf("detections report: %w", err)
	}
	for _, g := range det.Groups {
		f.Stowaways[g.Key] = g.People
	}
	sz, err := eng.Seizures(ctx, projections.ReportQuery{From: &first, To: &to, GroupBy: "location"})
	if err != nil {
		return nil, fmt.Errorf("seizures report: %w", err)
	}
	byCommodity := map[string]*seizureFigure{}
	for _, g := range sz.Groups {
		if g.Key != "DOVER" && g.Key != "COQUELLES" {
			continue
		}
		s := byCommodity[g.Commodity+"/"+g.Unit]
		if s == nil {
			s = &seizureFigure{Commodity: g.Commodity, Unit: g.Unit}
			byCommodity[g.Commodity+"/"+g.Unit] = s
		}
		q, err := s.Quantity.Add(g.Quantity)
		if err != nil {
			return nil, err
		}
		s.Quantity = q
		s.Count += g.Count
	}
	for _, want := range demo.SeizureTotals {
		if s := byCommodity[want.Commodity+"/"+want.Unit]; s != nil {
			f.Seizures = append(f.Seizures, *s)
		}
	}
	return f, nil
}

// check compares the figures with the ones the demo reproduces.
func (f *demoFigures) check() []figureCheck {
	var out []figureCheck
	add := func(name string, want, got string) {
		out = append(out, figureCheck{Figure: name, Want: want, Got: got, OK: want == got})
	}
	add("gangs dismantled, year to 6 June 2011", strconv.Itoa(demo.GangsDismantled), strconv.FormatInt(f.GangsDismantled, 10))
	add("arrests, year to 6 June 2011", strconv.Itoa(demo.Arrests), strconv.FormatInt(f.Arrests, 10))
	for _, y := range []int{2009, 2010, 2011} {
		add(fmt.Sprintf("stowaways stopped, %d", y), strconv.Itoa(demo.StowawaysByYear[y]), strconv.FormatInt(f.Stowaways[strconv.Itoa(y)], 10))
	}
	got := map[string]domain.Quantity{}
	for _, s := range f.Seizures {
		got[s.Commodity+" ("+s.Unit+")"] = s.Quantity
	}
	for _, want := range demo.SeizureTotals {
		name := want.Commodity + " (" + want.Unit + ")"
		add("seized at Dover and Coquelles: "+name, domain.QuantityFromMicros(want.Micros).String(), got[name].String())
	}
	return out
}

func (f *demoFigures) print(a *app) {
	a.printf("  year to 6 June 2011 (from=%s&to=%s):\n", f.From.Format(time.DateOnly), f.To.Format(time.DateOnly))
	a.printf("    organised crime gangs dismantled  %d\n", f.GangsDismantled)
	a.printf("    arrests                           %d\n", f.Arrests)
	a.printf("  stowaways stopped:\n")
	for _, y := range []string{"2009", "2010", "2011"} {
		label := y
		if y == "2011" {
			label = "2011 (to 6 June)"
		}
		a.printf("    %-18s %s people\n", label, groupDigits(f.Stowaways[y]))
	}
	a.printf("  seized at Dover and Coquelles, 1 January 2009 to 6 June 2011:\n")
	for _, s := range f.Seizures {
		a.printf("    %-22s %s %s (%d seizures)\n", s.Commodity, s.Quantity, s.Unit, s.Count)
	}
	bad := 0
	for _, c := range f.check() {
		if !c.OK {
			bad++
			a.printf("  MISMATCH %s: want %s, got %s\n", c.Figure, c.Want, c.Got)
		}
	}
	if bad == 0 {
		a.printf("  (every figure matches the press release of 6 June 2011)\n")
	}
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
