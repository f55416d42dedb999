// Package demo builds Casebook's demonstration data set: a few dozen
// investigations at the Channel ports between January 2009 and 6 June 2011
// whose reports reproduce the figures of the Home Office press release of
// 6 June 2011 (shared/seed): nine organised crime gangs dismantled and 173
// arrests in the year to 6 June 2011; stowaways stopped (29,112 people in
// 2009, 9,731 in 2010, 3,502 in 2011 up to 6 June); and the seizures at
// Dover and Coquelles (1,023.4 kg of class A drugs, 15 tonnes of cannabis,
// £4.25 million cash, 245 million cigarettes, 100 tonnes of hand-rolling
// tobacco and 60 firearms).
//
// The data set is a Plan (pure, deterministic for a seed) that Load feeds
// through the application service (cases.Service), the same load → decide →
// append path the HTTP API uses, so every event obeys the domain's rules and
// carries a hash chain. All people, groups and operation names are fictional.
package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/google/uuid"
)

// Agencies that lead or join demo cases.
const (
	AgencyUKBA = "UKBA" // UK Border Agency (juxtaposed controls, Dover)
	AgencySOCA = "SOCA" // Serious Organised Crime Agency
	AgencyPAF  = "PAF"  // Police aux frontières, the French border police
)

// Subject and role of the demo's actor; the agency is the case's.
const (
	ActorSubject = "casebook-demo"
	ActorRole    = domain.RoleInvestigator
)

// The press release's figures, as the demo reproduces them exactly.
var (
	// Year to 6 June 2011: from 2010-06-07 (inclusive) to 2011-06-07 (exclusive).
	PeriodFrom = date(2010, 6, 7)
	PeriodTo   = date(2011, 6, 7)
	// Everything the demo records happens in [FirstDay, PeriodTo).
	FirstDay = date(2009, 1, 1)
)

const (
	GangsDismantled = 9
	Arrests         = 173
)

// StowawaysByYear are the people stopped per calendar year (2011: to 6 June).
var StowawaysByYear = map[int]int{2009: 29_112, 2010: 9_731, 2011: 3_502}

// Seizure totals at Dover and Coquelles, 2009 to 6 June 2011, in millionths
// of their unit (domain.Quantity's resolution).
var SeizureTotals = []SeizureTotal{
	{domain.CommodityClassADrugs, domain.UnitKg, 1_023_400_000},          // 1,023.4 kg
	{domain.CommodityCannabis, domain.UnitKg, 15_000_000_000},            // 15 t
	{domain.CommodityCash, domain.UnitGBP, 4_250_000_000_000},            // £4.25 million
	{domain.CommodityCigarettes, domain.UnitSticks, 245_000_000_000_000}, // 245 million
	{domain.CommodityHandRollingTobacco, domain.UnitKg, 100_000_000_000}, // 100 t
	{domain.CommodityFirearms, domain.UnitItems, 60_000_000},             // 60
}

// SeizureTotal is one commodity's total in the demo.
type SeizureTotal struct {
	Commodity string
	Unit      string
	Micros    int64
}

// Plan is the whole data set: cases in the order they are loaded.
type Plan struct {
	Seed  uint64
	Cases []Case
}

// Case is one investigation: how it is opened and what is logged on it.
type Case struct {
	ID         uuid.UUID
	OpenID     uuid.UUID // event id of CaseOpened, which the core derives from the case id
	OpenedAt   time.Time
	Opened     domain.CaseOpened
	Steps      []Step
	LeadAgency string
}

// Step is one event logged on a case.
type Step struct {
	EventID    uuid.UUID
	Type       string
	Agency     string // the logging officer's agency
	OccurredAt time.Time
	Data       any // one of domain's event data structs
}

// Actor returns the demo actor for agency.
func Actor(agency string) domain.Actor {
	return domain.Actor{Subject: ActorSubject, Role: ActorRole, Agency: agency}
}

// Identity is Actor as the core's caller.
func Identity(agency string) core.Identity {
	return core.Identity{Subject: ActorSubject, Role: ActorRole, Agency: agency}
}

// Events returns the number of events the plan records.
func (p Plan) Events() int {
	n := 0
	for _, c := range p.Cases {
		n += 1 + len(c.Steps)
	}
	return n
}

// MarshalData encodes a step's data.
func (s Step) MarshalData() (json.RawMessage, error) {
	b, err := json.Marshal(s.Data)
	if err != nil {
		return nil, fmt.Errorf("demo: encode %s: %w", s.Type, err)
	}
	return b, nil
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// builder holds the random source and the cases being built.
type builder struct {
	rng   *rand.Rand
	cases []*caseBuilder
	seq   int // case reference counter

	reopened bool // the one reopened case has been planned
}

type caseBuilder struct {
	b     *builder
	c     Case
	clock time.Time // occurred_at of the last step; steps move forward
	nat   []string  // nationalities suspects are drawn from
}

// NewPlan builds the data set for seed. The same seed always gives the same
// plan: same ids, same times, same figures.
func NewPlan(seed uint64) Plan {
	b := &builder{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	b.gangCases()
	b.seizureCases()
	b.detectionCases()
	p := Plan{Seed: seed}
	// Open cases in the order they began, as they would have been logged.
	sort.SliceStable(b.cases, func(i, j int) bool { return b.cases[i].c.OpenedAt.Before(b.cases[j].c.OpenedAt) })
	for _, cb := range b.cases {
		cb.finish()
		p.Cases = append(p.Cases, cb.c)
	}
	return p
}

func (b *builder) uuid() uuid.UUID {
	var u uuid.UUID
	hi, lo := b.rng.Uint64(), b.rng.Uint64()
	for i := 0; i < 8; i++ {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u
}

// between returns a random instant in [from, to), on a whole minute.
func (b *builder) between(from, to time.Time) time.Time {
	span := to.Sub(from) / time.Minute
	if span <= 1 {
		return from
	}
	return from.Add(time.Duration(b.rng.Int64N(int64(span))) * time.Minute)
}

func (b *builder) pick(xs []string) string { return xs[b.rng.IntN(len(xs))] }

func (b *builder) newCase(lead, prefix, title, location string, crimes []string, opened time.Time) *caseBuilder {
	b.seq++
	cb := &caseBuilder{b: b, clock: opened}
	id := b.uuid()
	_ = b.uuid() // the opening event's id is the core's now; drawn still, so the plan's later ids stay as they were
	cb.c = Case{
		ID: id, OpenID: core.OpenEventID(id), OpenedAt: opened, LeadAgency: lead,
		Opened: domain.CaseOpened{
			Reference:  fmt.Sprintf("%s/%d/%04d", prefix, opened.Year(), b.seq),
			Title:      title,
			LeadAgency: lead,
			CrimeTypes: crimes,
			Location:   location,
		},
	}
	b.cases = append(b.cases, cb)
	return cb
}

// at logs an event that occurred at t. Steps are sorted by occurred_at when
// the plan is finished (stably, so events logged at the same minute keep
// the order they were added in); callers give times that respect the
// domain's order (a suspect before their arrest, a link before the
// dismantling, an entry before its retraction).
func (cb *caseBuilder) at(t time.Time, agency, typ string, data any) uuid.UUID {
	if !t.After(cb.c.OpenedAt) {
		t = cb.c.OpenedAt.Add(time.Minute)
	}
	if t.After(cb.clock) {
		cb.clock = t
	}
	id := cb.b.uuid()
	cb.c.Steps = append(cb.c.Steps, Step{EventID: id, Type: typ, Agency: agency, OccurredAt: t, Data: data})
	return id
}

// next logs an event a little (up to three days) after the latest one so
// far, but before limit.
func (cb *caseBuilder) next(limit time.Time, agency, typ string, data any) uuid.UUID {
	t := cb.clock.Add(time.Duration(30+cb.b.rng.IntN(60*24*3)) * time.Minute)
	if !t.Before(limit) {
		t = cb.clock.Add(time.Minute)
	}
	return cb.at(t, agency, typ, data)
}

// finish orders the steps by occurred_at.
func (cb *caseBuilder) finish() {
	sort.SliceStable(cb.c.Steps, func(i, j int) bool { return cb.c.Steps[i].OccurredAt.Before(cb.c.Steps[j].OccurredAt) })
}

// close closes the case after everything logged so far.
func (cb *caseBuilder) close(t time.Time, outcome string) {
	if !t.After(cb.clock) {
		t = cb.clock.Add(time.Hour)
	}
	cb.at(t, cb.lead(), domain.TypeCaseClosed, domain.CaseClosed{Outcome: outcome})
}

func (cb *caseBuilder) lead() string { return cb.c.LeadAgency }

func (cb *caseBuilder) join(agency string, t time.Time) {
	cb.at(t, cb.lead(), domain.TypeAgencyJoined, domain.AgencyJoined{Agency: agency})
}

func (cb *caseBuilder) intel(limit time.Time, agency, summary string) {
	cb.next(limit, agency, domain.TypeIntelligenceLogged, domain.IntelligenceLogged{Summary: summary, Grading: cb.b.grading()})
}

func (b *builder) grading() string {
	// Mostly reliable sources and corroborated intelligence, as case files
	// that lead to arrests tend to be.
	src := []string{"1", "1", "2", "2", "2", "3"}
	assess := []string{"A", "B", "B", "B", "C", "C", "D", "E"}
	handling := []string{"1", "1", "1", "2"}
	return b.pick(src) + b.pick(assess) + b.pick(handling)
}

// arrest identifies a suspect, arrests them at t and (mostly) charges them.
// It returns the arrest's event id.
func (cb *caseBuilder) arrest(t time.Time, agency, location, offence string, charges []string) uuid.UUID {
	p := cb.b.person(cb.nat...)
	// identified shortly before the arrest
	cb.at(t.Add(-time.Duration(1+cb.b.rng.IntN(48*60))*time.Minute), agency, domain.TypeSuspectIdentified, p)
	id := cb.at(t, agency, domain.TypeArrestMade, domain.ArrestMade{PersonID: p.PersonID, Location: location, Offence: offence, Agency: agency})
	if len(charges) > 0 && cb.b.rng.IntN(10) < 8 {
		cb.at(t.Add(time.Duration(12*60+cb.b.rng.IntN(24*60))*time.Minute), agency, domain.TypeSuspectCharged,
			domain.SuspectCharged{PersonID: p.PersonID, Charges: charges})
	}
	return id
}

func (cb *caseBuilder) retract(t time.Time, agency string, eventID uuid.UUID, reason string) {
	cb.at(t, agency, domain.TypeEntryRetracted, domain.EntryRetracted{EventID: eventID, Reason: reason})
}

// spread returns n sorted instants in [from, to).
func (b *builder) spread(n int, from, to time.Time) []time.Time {
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = b.between(from, to)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}

// split divides total units into n positive parts with a realistic spread
// (a few large loads, many small ones), summing exactly to total.
func (b *builder) split(total int64, n int) []int64 {
	if int64(n) > total {
		n = int(total)
	}
	weights := make([]float64, n)
	sum := 0.0
	for i := range weights {
		// log-uniform over two orders of magnitude
		w := 1.0
		for k := b.rng.IntN(3); k > 0; k-- {
			w *= 1 + 4*b.rng.Float64()
		}
		weights[i] = w
		sum += w
	}
	parts := make([]int64, n)
	rest := total - int64(n) // every part gets at least 1
	given := int64(0)
	for i, w := range weights {
		parts[i] = 1 + int64(float64(rest)*w/sum)
		given += parts[i]
	}
	// hand out what rounding left over, one unit at a time
	for i := 0; given < total; i = (i + 1) % n {
		parts[i]++
		given++
	}
	return parts
}
