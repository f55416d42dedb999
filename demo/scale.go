package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// The scale data set: the demo's shape scaled up to a national deployment
// (casebook demo --events N). Where the press-release plan is a few dozen
// hand-shaped cases, Generate simulates years of investigations by six
// agencies — cases opened week after week, each logging intelligence,
// suspects, arrests, charges, seizures, stowaway detections and
// dismantled gangs over months, some joined by other agencies, some
// pursuing the same gang (joint cases), a few closed and reopened — with
// what makes bitemporal reports worth having: entries recorded long after
// the fact, and retractions recorded after the entries they withdraw.
//
// Every event is decided by domain.Decide on the case's state, as the
// application decides a command, so each obeys the case's rules (an
// arrest names an identified suspect, a dismantled gang was linked, a
// closed case takes only a reopening or a retraction) and carries a real
// hash chain; every actor is an investigator of the case's lead agency or
// of one that joined it (the lead's for opening, joining, closing and
// reopening). The events go to the store's append path directly (not
// through HTTP), a case's events of one week in one append, many appends
// in flight.

// ScaleAgencies are the agencies of the scale data set (canonical codes).
var ScaleAgencies = []string{"UKBA", "SOCA", "NCA", "PAF", "JOCC", "HMRC"}

// ScaleOptions shape a generated data set.
type ScaleOptions struct {
	// Events is the exact number of events written.
	Events int
	// Seed picks the data set: the same seed gives the same cases, events,
	// ids and hashes.
	Seed uint64
	// Workers is the number of appends in flight. With 1 the global log's
	// order is also the same on every run; with more, cases of one week
	// interleave as the store's group commits take them. Default 64.
	Workers int
	// End is the recorded time the data set reaches. Default 2026-01-01.
	End time.Time
	// Progress is called now and then with the events written so far.
	Progress func(events int)
}

// ScaleResult says what Generate wrote.
type ScaleResult struct {
	Events, Cases, Appends int
	// Facts by type, retractions, and entries recorded more than a week
	// after they occurred.
	Arrests, Seizures, Detections, GangsDismantled, Retractions, Late int
	// From and To bound the recorded times.
	From, To time.Time
	// Head is the largest log position the store answered.
	Head eventstore.Position
}

// scaleRate is the events a year of the national data set: the span of
// recorded time grows with the data set (at least two years).
const scaleRate = 600_000

// weekOf is the step of the simulation: a case's events of one week go in
// one append.
const weekOf = 7 * 24 * time.Hour

// Generate writes opts.Events events to store, which should be empty (a
// store that holds the same cases already refuses them).
func Generate(ctx context.Context, store eventstore.Store, opts ScaleOptions) (ScaleResult, error) {
	if opts.Events <= 0 {
		return ScaleResult{}, errors.New("demo: the number of events must be positive")
	}
	if opts.Workers <= 0 {
		opts.Workers = 64
	}
	if opts.End.IsZero() {
		opts.End = date(2026, 1, 1)
	}
	years := max(2, float64(opts.Events)/scaleRate)
	start := opts.End.Add(-time.Duration(years * 365.25 * 24 * float64(time.Hour))).UTC().Truncate(24 * time.Hour)
	g := &generator{
		rng:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5ca1ab1e)),
		seed:   opts.Seed,
		budget: opts.Events,
		start:  start,
		end:    opts.End,
	}
	// Each case belongs to one worker, which appends its weeks in order;
	// the simulation plans week after week without waiting for the
	// appends (a case's times come from a random source of its own, its
	// content from another, so neither depends on the workers' pace).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var firstErr error
	queues := make([]chan *caseJob, opts.Workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan *caseJob, 256)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queues[i] {
				if ctx.Err() != nil {
					continue // drain
				}
				res, err := j.c.write(ctx, store, j.times)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				g.res.add(res)
				done := g.res.Events
				mu.Unlock()
				if opts.Progress != nil && j.last {
					opts.Progress(done)
				}
			}
		}()
	}
	for week := start; g.budget > 0 && ctx.Err() == nil; week = week.Add(weekOf) {
		end := week.Add(weekOf)
		g.pace(week)
		g.arrivals(week, end)
		jobs := g.plan(end)
		for i, j := range jobs {
			j.last = i == len(jobs)-1
			select {
			case queues[j.c.idx%len(queues)] <- j:
			case <-ctx.Done():
			}
		}
		g.retire()
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if firstErr != nil {
		return g.res, firstErr
	}
	return g.res, ctx.Err()
}

// generator is the simulation's state between weeks (one goroutine).
type generator struct {
	rng        *rand.Rand
	seed       uint64
	budget     int // events still to write
	start, end time.Time
	perWeek    float64      // cases opened a week
	cases      []*scaleCase // active, in the order they opened
	opened     int
	// groups are recent organised crime groups, for joint cases.
	groups []sharedGroup
	res    ScaleResult
}

type sharedGroup struct {
	id     uuid.UUID
	name   string
	agency string
	linked time.Time
}

// Case sizes: events planned per case (log-uniform over the range) and
// weeks it stays open (log-uniform too); their means set the arrival rate.
const (
	minCaseEvents, maxCaseEvents = 20, 700
	minCaseWeeks, maxCaseWeeks   = 8, 78
)

var (
	meanCaseEvents = logUniformMean(minCaseEvents, maxCaseEvents)
	meanCaseWeeks  = logUniformMean(minCaseWeeks, maxCaseWeeks)
)

func logUniformMean(lo, hi float64) float64 { return (hi - lo) / math.Log(hi/lo) }

func logUniform(rng *rand.Rand, lo, hi float64) float64 {
	return lo * math.Exp(rng.Float64()*math.Log(hi/lo))
}

// pace sets the week's arrival rate so that the budget is spent by the
// end: what the open cases will still log before the end is subtracted,
// and the rest is shared out among the cases to come, each logging (on
// average) its events or what the time left allows. A little more is
// planned than written; the budget cuts the rest.
func (g *generator) pace(now time.Time) {
	left := g.end.Sub(now).Hours() / weekOf.Hours() // weeks
	expected := 0.0
	for _, c := range g.cases {
		byEnd := float64(g.end.Sub(c.clock)) / float64(c.gap)
		expected += max(0, min(float64(c.events-c.planned), byEnd))
	}
	need := float64(g.budget) - expected
	if need <= 0 {
		g.perWeek = 0
		return
	}
	g.perWeek = 1.08 * need / meanCaseEvents / max(1, left-meanCaseWeeks/2)
}

// arrivals opens the cases arriving in [from, to).
func (g *generator) arrivals(from, to time.Time) {
	// Poisson arrivals at perWeek: exponential gaps.
	if g.perWeek <= 0 {
		return
	}
	for t := from; ; {
		t = t.Add(time.Duration(g.rng.ExpFloat64() / g.perWeek * float64(weekOf)))
		if !t.Before(to) {
			return
		}
		g.cases = append(g.cases, g.newCase(t.Truncate(time.Second)))
	}
}

// agencyProfile is what a lead agency's cases are about and where.
type agencyProfile struct {
	weight    int
	crimes    [][]string
	locations []string
	prefix    string
}

var profiles = map[string]agencyProfile{
	"UKBA": {30, [][]string{{domain.CrimePeopleSmuggling}, {domain.CrimeTobacco}, {domain.CrimeClassADrugs, domain.CrimeCannabis}},
		[]string{"DOVER", "COQUELLES", "CALAIS", "FOLKESTONE", "HEATHROW", "HARWICH"}, "UKBA"},
	"SOCA": {12, [][]string{{domain.CrimeClassADrugs}, {domain.CrimeFirearms, domain.CrimeMoneyLaundering}, {domain.CrimePeopleSmuggling, domain.CrimeMoneyLaundering}},
		[]string{"DOVER", "FELIXSTOWE", "HULL", "HEATHROW", "ZEEBRUGGE"}, "SOCA"},
	"NCA": {18, [][]string{{domain.CrimeClassADrugs}, {domain.CrimeFirearms}, {domain.CrimePeopleSmuggling, domain.CrimeMoneyLaundering}},
		[]string{"DOVER", "FELIXSTOWE", "HULL", "HEATHROW", "ZEEBRUGGE", "ROTTERDAM"}, "NCA"},
	"PAF": {15, [][]string{{domain.CrimePeopleSmuggling}},
		[]string{"CALAIS", "COQUELLES", "DUNKIRK", "CHERBOURG", "LE_HAVRE"}, "PAF"},
	"JOCC": {10, [][]string{{domain.CrimePeopleSmuggling}},
		[]string{"CALAIS", "COQUELLES", "DUNKIRK"}, "JOCC"},
	"HMRC": {15, [][]string{{domain.CrimeTobacco}, {domain.CrimeCash, domain.CrimeMoneyLaundering}, {domain.CrimeTobacco, domain.CrimeCash}},
		[]string{"DOVER", "FELIXSTOWE", "HARWICH", "Portsmouth"}, "HMRC"},
}

// socaBecameNCA: SOCA's work passed to the National Crime Agency.
var socaBecameNCA = date(2013, 10, 7)

var operationNames = []string{"Anchor", "Beacon", "Cobalt", "Driftwood", "Ember", "Falcon", "Granite", "Harbour", "Ironside",
	"Juniper", "Kestrel", "Lantern", "Meridian", "Nightjar", "Osprey", "Pennant", "Quarry", "Rampart", "Sandbank",
	"Tidewater", "Umber", "Vanguard", "Wharf", "Yarrow", "Zephyr"}

func (g *generator) pickLead(at time.Time) string {
	total := 0
	for _, a := range ScaleAgencies {
		total += profiles[a].weight
	}
	r := g.rng.IntN(total)
	for _, a := range ScaleAgencies {
		if r -= profiles[a].weight; r < 0 {
			switch {
			case a == "SOCA" && !at.Before(socaBecameNCA):
				return "NCA"
			case a == "NCA" && at.Before(socaBecameNCA):
				return "SOCA"
			}
			return a
		}
	}
	return ScaleAgencies[0]
}

// newCase plans a case opened (and recorded) at t.
func (g *generator) newCase(t time.Time) *scaleCase {
	g.opened++
	lead := g.pickLead(t)
	p := profiles[lead]
	c := &scaleCase{
		idx:      g.opened,
		rng:      rand.New(rand.NewPCG(g.seed, uint64(g.opened))),
		timeRng:  rand.New(rand.NewPCG(g.seed^0x7173, uint64(g.opened))),
		lead:     lead,
		crimes:   p.crimes[g.rng.IntN(len(p.crimes))],
		location: p.locations[g.rng.IntN(len(p.locations))],
		clock:    t,
		events:   int(logUniform(g.rng, minCaseEvents, maxCaseEvents)),
	}
	c.state = domain.NewCase(v4(g.rng))
	weeks := logUniform(g.rng, minCaseWeeks, maxCaseWeeks)
	c.gap = time.Duration(weeks * float64(weekOf) / float64(c.events))
	c.reference = fmt.Sprintf("%s/%d/%06d", p.prefix, t.Year(), g.opened)
	c.title = fmt.Sprintf("Operation %s %s", operationNames[g.rng.IntN(len(operationNames))], c.location)
	// Joint work: about a third of cases are joined by other agencies.
	for _, r := range []int{3, 12} {
		if g.rng.IntN(r) == 0 {
			if a := ScaleAgencies[g.rng.IntN(len(ScaleAgencies))]; a != lead && !slices.Contains(c.joins, a) {
				c.joins = append(c.joins, a)
			}
		}
	}
	c.reopens = g.rng.IntN(25) == 0
	// Organised crime groups: most cases pursue one or two; a group
	// another agency's case pursues too (a joint gang) now and then.
	for range g.rng.IntN(3) {
		var sg sharedGroup
		if g.rng.IntN(5) == 0 {
			for _, o := range g.groups {
				if o.agency != lead && t.Sub(o.linked) < 26*weekOf && !slices.ContainsFunc(c.groups, func(x sharedGroup) bool { return x.id == o.id }) {
					sg = o
					break
				}
			}
		}
		if sg.id == uuid.Nil {
			sg = sharedGroup{id: v4(g.rng), name: fmt.Sprintf("%s network %d", c.location, g.opened), agency: lead, linked: t}
			g.groups = append(g.groups, sg)
			if len(g.groups) > 64 {
				g.groups = g.groups[1:]
			}
		}
		c.groups = append(c.groups, sg)
	}
	return c
}

// caseJob is one case's events of the week: their recorded times.
type caseJob struct {
	c     *scaleCase
	times []time.Time
	last  bool // the week's last job (progress is reported after it)
}

// plan draws each active case's recorded times before end, within the
// budget (cases in the order they opened, so the cut is the same on
// every run).
func (g *generator) plan(end time.Time) []*caseJob {
	var jobs []*caseJob
	for _, c := range g.cases {
		var times []time.Time
		for g.budget > 0 && c.planned < c.events && c.clock.Before(end) {
			times = append(times, c.clock)
			c.planned++
			g.budget--
			gap := time.Duration(c.timeRng.ExpFloat64() * float64(c.gap))
			c.clock = c.clock.Add(max(gap, time.Second)).Truncate(time.Microsecond)
		}
		if len(times) > 0 {
			jobs = append(jobs, &caseJob{c: c, times: times})
		}
	}
	return jobs
}

// retire forgets the cases whose every event is planned.
func (g *generator) retire() {
	g.cases = slices.DeleteFunc(g.cases, func(c *scaleCase) bool { return c.planned >= c.events })
}

// scaleCase is a case of the simulation: its state as the domain folds it
// and what its story has left to tell.
type scaleCase struct {
	idx int
	// rng draws the case's content (its worker's), timeRng its recorded
	// times (the simulation's): each its own, so that a case's events do
	// not depend on the others' nor on the workers' pace.
	rng, timeRng *rand.Rand
	state        domain.Case
	lead         string
	reference    string
	title        string
	crimes       []string
	location     string
	joins        []string // agencies that will join
	groups       []sharedGroup
	reopens      bool
	clock        time.Time     // recorded time of its next event (the simulation's)
	gap          time.Duration // mean time between its events
	events       int           // in its story
	planned      int           // given recorded times so far (the simulation's)
	logged       int           // written (its worker's)

	suspects    []uuid.UUID // identified, not yet arrested
	arrested    []uuid.UUID
	retractable []uuid.UUID // its facts not retracted
	closedOnce  bool
}

// write decides the case's events at the given recorded times and appends
// them in one append.
func (c *scaleCase) write(ctx context.Context, store eventstore.Store, times []time.Time) (ScaleResult, error) {
	var res ScaleResult
	expected := eventstore.NoStream
	if c.state.Exists() {
		expected = eventstore.Exact(c.state.Version)
	}
	batch := make([]eventstore.EventData, 0, len(times))
	for _, rec := range times {
		cmd := c.next(rec)
		data, err := json.Marshal(cmd.data)
		if err != nil {
			return res, fmt.Errorf("demo: encode %s: %w", cmd.typ, err)
		}
		occurred := c.occurred(rec, cmd.typ)
		id := v7(c.rng, rec)
		e, err := domain.Decide(c.state, domain.Command{
			EventID: id, Type: cmd.typ, Data: data, OccurredAt: &occurred, Now: rec,
			Actor: domain.Actor{Subject: fmt.Sprintf("%s.officer%03d", strings.ToLower(cmd.agency), c.rng.IntN(300)),
				Role: domain.RoleInvestigator, Agency: cmd.agency},
		})
		if err != nil {
			return res, fmt.Errorf("demo: case %s: %s refused: %w", c.reference, cmd.typ, err)
		}
		if err := c.state.Apply(e); err != nil {
			return res, fmt.Errorf("demo: case %s: apply %s: %w", c.reference, cmd.typ, err)
		}
		c.logged++
		res.count(cmd.typ, rec.Sub(occurred) > weekOf)
		if cmd.retractable {
			c.retractable = append(c.retractable, id)
		}
		batch = append(batch, eventstore.EventData{ID: e.ID, Type: e.Type, Data: e.Stored.Data, Metadata: e.Stored.Metadata})
	}
	r, err := store.Append(ctx, domain.StreamName(c.state.ID), expected, batch...)
	if err != nil {
		return res, fmt.Errorf("demo: append case %s: %w", c.reference, err)
	}
	if c.state.Exists() && c.state.Version != r.Revision {
		return res, fmt.Errorf("demo: case %s: the store answered revision %d, the case is at %d", c.reference, r.Revision, c.state.Version)
	}
	if expected == eventstore.NoStream {
		res.Cases = 1
	}
	res.Appends, res.Head = 1, r.Position
	res.From, res.To = times[0], times[len(times)-1]
	return res, nil
}

// occurred is when an event the case records at rec happened: mostly
// hours before; sometimes days or months; now and then years (an old
// incident linked to the case later); rarely a little after (the
// officer's device clock ahead of the server's).
func (c *scaleCase) occurred(rec time.Time, typ string) time.Time {
	switch typ {
	case domain.TypeCaseOpened:
		return rec
	case domain.TypeAgencyJoined, domain.TypeCaseClosed, domain.TypeCaseReopened, domain.TypeEntryRetracted, domain.TypeOrganisedCrimeGroupLinked:
		return rec.Add(-time.Duration(c.rng.Int64N(int64(4 * time.Hour)))).Truncate(time.Second)
	}
	var lag time.Duration
	switch r := c.rng.Float64(); {
	case r < 0.005:
		return rec.Add(time.Duration(1+c.rng.IntN(110)) * time.Second)
	case r < 0.85:
		lag = time.Duration(c.rng.Int64N(int64(6 * time.Hour)))
	case r < 0.95:
		lag = 6*time.Hour + time.Duration(c.rng.Int64N(int64(7*24*time.Hour)))
	case r < 0.99:
		lag = 7*24*time.Hour + time.Duration(c.rng.Int64N(int64(173*24*time.Hour)))
	default:
		lag = 180*24*time.Hour + time.Duration(c.rng.Int64N(int64(3*365*24*time.Hour)))
	}
	t := rec.Add(-lag).Truncate(time.Minute)
	if t.Before(domain.EarliestOccurredAt) {
		t = domain.EarliestOccurredAt
	}
	return t
}

// command is a case's next command: type, data, the logging officer's
// agency, and whether it may be retracted later (facts other than suspect
// identifications, whose retraction would orphan arrests).
type command struct {
	typ         string
	data        any
	agency      string
	retractable bool
}

func (c *scaleCase) pick(xs []string) string { return xs[c.rng.IntN(len(xs))] }

// officerAgency is the agency of an officer logging on the case: mostly the
// lead's, sometimes one that joined.
func (c *scaleCase) officerAgency() string {
	if len(c.state.Agencies) > 1 && c.rng.IntN(10) < 3 {
		return c.state.Agencies[1+c.rng.IntN(len(c.state.Agencies)-1)]
	}
	return c.lead
}

func (c *scaleCase) has(crime string) bool { return slices.Contains(c.crimes, crime) }

// next chooses the case's next command at recorded time rec.
func (c *scaleCase) next(rec time.Time) command {
	if !c.state.Exists() {
		return command{typ: domain.TypeCaseOpened, agency: c.lead, data: domain.CaseOpened{
			Reference: c.reference, Title: c.title, LeadAgency: c.lead, CrimeTypes: c.crimes, Location: c.location}}
	}
	left := c.events - c.logged
	phase := float64(c.logged) / float64(c.events)
	if c.state.Status == domain.StatusClosed {
		return command{typ: domain.TypeCaseReopened, agency: c.lead, data: domain.CaseReopened{Reason: "New intelligence on the network"}}
	}
	if left == 1 {
		return command{typ: domain.TypeCaseClosed, agency: c.lead, data: domain.CaseClosed{Outcome: c.pick([]string{"charged", "convicted", "no further action", "referred"})}}
	}
	if c.reopens && !c.closedOnce && phase > 0.6 && left > 3 {
		c.closedOnce = true
		return command{typ: domain.TypeCaseClosed, agency: c.lead, data: domain.CaseClosed{Outcome: "charged"}}
	}
	for _, a := range c.joins {
		if !c.state.VisibleTo(a) {
			return command{typ: domain.TypeAgencyJoined, agency: c.lead, data: domain.AgencyJoined{Agency: a}}
		}
	}
	if phase < 0.5 {
		for _, g := range c.groups {
			if _, linked := c.state.Group(g.id); !linked {
				return command{typ: domain.TypeOrganisedCrimeGroupLinked, agency: c.officerAgency(),
					data: domain.OrganisedCrimeGroupLinked{GroupID: g.id, Name: g.name}}
			}
		}
	}
	agency := c.officerAgency()
	if phase > 0.75 && c.rng.IntN(3) == 0 {
		for _, g := range c.groups {
			if grp, linked := c.state.Group(g.id); linked && !grp.Dismantled {
				return command{typ: domain.TypeGangDismantled, agency: agency, retractable: true, data: domain.GangDismantled{GroupID: g.id}}
			}
		}
	}
	smuggling := c.has(domain.CrimePeopleSmuggling)
	switch r := c.rng.IntN(1000); {
	case r < 25 && len(c.retractable) > 0:
		// Mostly a recent entry found wrong; sometimes an old one.
		i := len(c.retractable) - 1 - min(len(c.retractable)-1, int(c.rng.ExpFloat64()*4))
		if c.rng.IntN(5) == 0 {
			i = c.rng.IntN(len(c.retractable))
		}
		id := c.retractable[i]
		c.retractable = slices.Delete(c.retractable, i, i+1)
		return command{typ: domain.TypeEntryRetracted, agency: agency, data: domain.EntryRetracted{EventID: id,
			Reason: c.pick([]string{"recorded in error", "duplicate entry", "wrong case", "figures corrected in a new entry"})}}
	case r < 150 && len(c.suspects) < 40:
		p := c.person()
		c.suspects = append(c.suspects, p.PersonID)
		return command{typ: domain.TypeSuspectIdentified, agency: agency, data: p}
	case r < 300 && len(c.suspects) > 0:
		i := c.rng.IntN(len(c.suspects))
		p := c.suspects[i]
		c.suspects = slices.Delete(c.suspects, i, i+1)
		c.arrested = append(c.arrested, p)
		return command{typ: domain.TypeArrestMade, agency: agency, retractable: true, data: domain.ArrestMade{PersonID: p,
			Location: c.place(), Offence: c.offence()}}
	case r < 380 && len(c.arrested) > 0:
		return command{typ: domain.TypeSuspectCharged, agency: agency, retractable: true, data: domain.SuspectCharged{
			PersonID: c.arrested[c.rng.IntN(len(c.arrested))], Charges: []string{c.offence()}}}
	case r < 520 && (!smuggling || len(c.crimes) > 1 || c.rng.IntN(4) == 0):
		return command{typ: domain.TypeSeizureRecorded, agency: agency, retractable: true, data: c.seizure()}
	case r < 700 && smuggling:
		return command{typ: domain.TypeStowawaysDetected, agency: agency, retractable: true, data: domain.StowawaysDetected{
			Location: c.place(), Method: c.pick(domain.Methods), People: 1 + int(math.Min(59, c.rng.ExpFloat64()*5)),
			Vehicle: c.pick([]string{"lorry", "lorry", "lorry", "van", "car", "coach", "freight container"})}}
	}
	return command{typ: domain.TypeIntelligenceLogged, agency: agency, retractable: true, data: domain.IntelligenceLogged{
		Summary: c.pick(intelligence) + " " + c.place() + ".", Grading: c.grading()}}
}

var intelligence = []string{
	"Drivers approached at the services before the port; loads changed on the way to",
	"A courier seen handing over cash near",
	"Reports of lorries crossing repeatedly with empty trailers at",
	"An informant names the organiser behind crossings at",
	"Telephone analysis links two suspects to vehicles seen at",
	"Hauliers report seals broken and replaced on trailers bound for",
}

// place is where an incident of the case happened: mostly its own place.
func (c *scaleCase) place() string {
	if c.rng.IntN(10) < 7 {
		return c.location
	}
	return c.pick(profiles[c.lead].locations)
}

func (c *scaleCase) offence() string {
	switch {
	case c.has(domain.CrimePeopleSmuggling) && c.rng.IntN(2) == 0:
		return "facilitation"
	case c.has(domain.CrimeClassADrugs) || c.has(domain.CrimeCannabis):
		return "drug trafficking"
	case c.has(domain.CrimeTobacco):
		return "tobacco smuggling"
	case c.has(domain.CrimeFirearms):
		return "firearms offences"
	case c.has(domain.CrimeCash) || c.has(domain.CrimeMoneyLaundering):
		return "money laundering"
	}
	return c.pick([]string{"facilitation", "document fraud"})
}

func (c *scaleCase) grading() string {
	return c.pick([]string{"1", "1", "2", "2", "2", "3"}) + c.pick([]string{"A", "B", "B", "B", "C", "C", "D", "E"}) + c.pick([]string{"1", "1", "1", "2"})
}

// seizure is a seizure of one of the case's commodities, in a realistic
// amount (whole pence, whole sticks and items).
func (c *scaleCase) seizure() domain.SeizureRecorded {
	var com string
	switch crime := c.pick(c.crimes); crime {
	case domain.CrimeClassADrugs:
		com = domain.CommodityClassADrugs
	case domain.CrimeCannabis:
		com = domain.CommodityCannabis
	case domain.CrimeTobacco:
		com = c.pick([]string{domain.CommodityCigarettes, domain.CommodityCigarettes, domain.CommodityHandRollingTobacco})
	case domain.CrimeFirearms:
		com = domain.CommodityFirearms
	default:
		com = domain.CommodityCash
	}
	const scale = domain.QuantityScale
	var micros int64
	switch com {
	case domain.CommodityClassADrugs:
		micros = int64(logUniform(c.rng, 0.05, 300)*1000) * scale / 1000 // kg, to the gram
	case domain.CommodityCannabis:
		micros = int64(logUniform(c.rng, 0.5, 4000)*1000) * scale / 1000
	case domain.CommodityHandRollingTobacco:
		micros = int64(logUniform(c.rng, 2, 8000)*1000) * scale / 1000
	case domain.CommodityCigarettes:
		micros = int64(logUniform(c.rng, 2_000, 9_000_000)) * scale // sticks
	case domain.CommodityFirearms:
		micros = int64(logUniform(c.rng, 1, 40)) * scale // items
	default:
		micros = int64(logUniform(c.rng, 500, 2_500_000)*100) * scale / 100 // £, whole pence
	}
	return domain.SeizureRecorded{Commodity: com, Unit: domain.UnitFor(com), Quantity: domain.QuantityFromMicros(max(micros, scale/1000)),
		Location: c.place(), ExhibitRef: fmt.Sprintf("%s/EX/%06d", c.lead, c.rng.IntN(1_000_000))}
}

// person is a fictional suspect.
func (c *scaleCase) person() domain.SuspectIdentified {
	n := names[c.rng.IntN(len(names))]
	return domain.SuspectIdentified{
		PersonID:    v4(c.rng),
		Name:        c.pick(n.given) + " " + c.pick(n.family),
		DateOfBirth: fmt.Sprintf("%04d-%02d-%02d", 1955+c.rng.IntN(45), 1+c.rng.IntN(12), 1+c.rng.IntN(28)),
		Nationality: n.nationality,
	}
}

// add sums a case's week into the result.
func (r *ScaleResult) add(o ScaleResult) {
	r.Events += o.Events
	r.Cases += o.Cases
	r.Appends += o.Appends
	r.Arrests += o.Arrests
	r.Seizures += o.Seizures
	r.Detections += o.Detections
	r.GangsDismantled += o.GangsDismantled
	r.Retractions += o.Retractions
	r.Late += o.Late
	r.Head = max(r.Head, o.Head)
	if r.From.IsZero() || o.From.Before(r.From) {
		r.From = o.From
	}
	if o.To.After(r.To) {
		r.To = o.To
	}
}

// count records one event.
func (r *ScaleResult) count(typ string, late bool) {
	r.Events++
	switch typ {
	case domain.TypeArrestMade:
		r.Arrests++
	case domain.TypeSeizureRecorded:
		r.Seizures++
	case domain.TypeStowawaysDetected:
		r.Detections++
	case domain.TypeGangDismantled:
		r.GangsDismantled++
	case domain.TypeEntryRetracted:
		r.Retractions++
	}
	if late {
		r.Late++
	}
}

// v4 is a random (version 4) UUID from rng.
func v4(rng *rand.Rand) uuid.UUID {
	var u uuid.UUID
	hi, lo := rng.Uint64(), rng.Uint64()
	for i := range 8 {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u
}

// v7 is a time-ordered (version 7) UUID for an event recorded at t, as
// casebookd gives events: the store's event-id index appends rather than
// scatters.
func v7(rng *rand.Rand, t time.Time) uuid.UUID {
	u := v4(rng)
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = (u[6] & 0x0f) | 0x70
	return u
}
