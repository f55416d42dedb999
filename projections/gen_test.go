package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// generateLog writes about n realistic case events to store: cases of four
// agencies, each with an event mix like an investigation's (intelligence
// most often; arrests, seizures, stowaway detections; suspects charged;
// gangs linked across cases and dismantled; a few retractions, closings
// and reopenings), sealed as the case service seals them. Cases advance in
// chunks from several writers at once, so the log interleaves them.
func generateLog(ctx context.Context, store eventstore.Store, n int, seed uint64) error {
	const writers = 4
	cases := max(1, n/100)
	groups := max(1, cases/2)
	// The log is roughly chronological, as a real one is: the k-th event
	// occurs around start + k×span/n, up to three days before it is
	// recorded.
	start := time.Date(2008, 6, 1, 0, 0, 0, 0, time.UTC)
	span := 3 * 365 * 24 * time.Hour
	var mu sync.Mutex
	written := 0
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var mine []*genCase
			for c := w; c < cases; c += writers {
				mine = append(mine, newGenCase(c, groups))
			}
			if len(mine) == 0 {
				return
			}
			// Cases open over time and stay active for a while (about
			// six months of the three years), as investigations do.
			for {
				mu.Lock()
				if written >= n {
					mu.Unlock()
					return
				}
				k := min(10+rng.IntN(50), n-written)
				first := written
				written += k
				mu.Unlock()
				f := float64(first) / float64(n)
				now := start.Add(time.Duration(float64(span) * f))
				hi := min(len(mine), 1+int(f*float64(len(mine))))
				lo := max(0, int((f-caseLife)*float64(len(mine))))
				c := mine[lo+rng.IntN(hi-lo)]
				if err := c.appendChunk(ctx, store, rng, k, now); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// caseLife is the share of the log's time span a case stays active.
const caseLife = 0.15

var genAgencies = []string{"UK Border Agency", "SOCA", "Police aux Frontières", "Kent Police"}
var genLocations = []string{"Calais", "Coquelles", "Dover", "Dunkirk", "Folkestone", "Zeebrugge", "Ostend", "Calais ferry port", "Cherbourg", "Le Havre"}
var genOffences = []string{"facilitation", "drug trafficking", "money laundering", "tobacco smuggling", "firearms offences", "document fraud"}

type genCase struct {
	id          uuid.UUID
	lead        string
	agencies    []string
	opened      bool
	closed      bool
	version     uint64
	prevHash    string
	groupPool   int
	groups      []uuid.UUID
	dismantled  map[uuid.UUID]bool
	persons     []uuid.UUID
	retractable []uuid.UUID
	n           int
}

func newGenCase(i, groups int) *genCase {
	lead := genAgencies[i%len(genAgencies)]
	return &genCase{
		id: uuid.NewSHA1(idSpace, fmt.Appendf(nil, "bench-case-%d", i)), lead: lead, agencies: []string{lead},
		groupPool: groups, dismantled: map[uuid.UUID]bool{},
	}
}

func (c *genCase) appendChunk(ctx context.Context, store eventstore.Store, rng *rand.Rand, k int, now time.Time) error {
	stream := domain.StreamName(c.id)
	expected := eventstore.NoStream
	if c.opened {
		expected = eventstore.Exact(c.version)
	}
	version := uint64(0)
	if c.opened {
		version = c.version + 1
	}
	data := make([]eventstore.EventData, 0, k)
	prev := c.prevHash
	for range k {
		ev := c.next(rng)
		body, err := domain.EncodeEventData(ev)
		if err != nil {
			return err
		}
		c.n++
		evID := uuid.NewSHA1(c.id, fmt.Appendf(nil, "%d", c.n))
		agency := c.agencies[rng.IntN(len(c.agencies))]
		occurred := now.Add(-time.Duration(rng.Int64N(int64(72 * time.Hour))))
		meta := domain.Metadata{
			SchemaVersion: domain.SchemaVersion(ev.EventType()), OccurredAt: occurred, RecordedAt: time.Now().UTC(),
			Actor:         domain.Actor{Subject: fmt.Sprintf("officer-%03d", rng.IntN(500)), Role: domain.RoleInvestigator, Agency: agency},
			CorrelationID: uuid.New(), CausationID: uuid.New(), PrevHash: prev,
		}
		se, m, err := domain.Seal(evID, stream, version, ev.EventType(), body, meta)
		if err != nil {
			return err
		}
		prev = m.Hash
		data = append(data, eventstore.EventData{ID: evID, Type: ev.EventType(), Data: se.Data, Metadata: se.Metadata})
		if domain.IsRetractable(ev.EventType()) {
			c.retractable = append(c.retractable, evID)
		}
		version++
	}
	res, err := store.Append(ctx, stream, expected, data...)
	if err != nil {
		return fmt.Errorf("append to %s: %w", stream, err)
	}
	c.version, c.prevHash = res.Revision, prev
	return nil
}

// next invents the case's next event.
func (c *genCase) next(rng *rand.Rand) domain.Event {
	if !c.opened {
		c.opened = true
		crimes := []string{domain.CrimePeopleSmuggling}
		if rng.IntN(2) == 0 {
			crimes = append(crimes, domain.CrimeTypes[1+rng.IntN(len(domain.CrimeTypes)-1)])
		}
		return domain.CaseOpened{Reference: fmt.Sprintf("%s-%s", strings.ToUpper(c.lead[:3]), c.id.String()[:8]),
			Title: "Operation " + c.id.String()[9:13], LeadAgency: c.lead, CrimeTypes: crimes,
			Location: genLocations[rng.IntN(len(genLocations))]}
	}
	loc := genLocations[rng.IntN(len(genLocations))]
	switch r := rng.Float64(); {
	case r < 0.01:
		for _, a := range genAgencies {
			if !contains(c.agencies, a) {
				c.agencies = append(c.agencies, a)
				return domain.AgencyJoined{Agency: a}
			}
		}
	case r < 0.03:
		g := uuid.NewSHA1(idSpace, fmt.Appendf(nil, "bench-group-%d", rng.IntN(c.groupPool)))
		if !containsID(c.groups, g) {
			c.groups = append(c.groups, g)
			return domain.OrganisedCrimeGroupLinked{GroupID: g, Name: "Network " + g.String()[:6]}
		}
	case r < 0.11:
		p := uuid.New()
		c.persons = append(c.persons, p)
		return domain.SuspectIdentified{PersonID: p, Name: "Suspect " + p.String()[:8], Nationality: "GB"}
	case r < 0.21:
		return domain.ArrestMade{PersonID: c.person(rng), Location: loc, Offence: genOffences[rng.IntN(len(genOffences))]}
	case r < 0.27:
		return domain.SuspectCharged{PersonID: c.person(rng), Charges: []string{genOffences[rng.IntN(len(genOffences))]}}
	case r < 0.39:
		com := domain.Commodities[rng.IntN(len(domain.Commodities)-1)]
		return domain.SeizureRecorded{Commodity: com, Unit: domain.UnitFor(com), Location: loc,
			Quantity: domain.QuantityFromMicros(1 + rng.Int64N(50_000_000_000)), ExhibitRef: "EX-" + c.id.String()[:6]}
	case r < 0.54:
		return domain.StowawaysDetected{Location: loc, Method: domain.Methods[rng.IntN(len(domain.Methods))], People: 1 + rng.IntN(12), Vehicle: "lorry"}
	case r < 0.56:
		for _, g := range c.groups {
			if !c.dismantled[g] {
				c.dismantled[g] = true
				return domain.GangDismantled{GroupID: g}
			}
		}
	case r < 0.58:
		if len(c.retractable) > 0 {
			i := rng.IntN(len(c.retractable))
			target := c.retractable[i]
			c.retractable = append(c.retractable[:i], c.retractable[i+1:]...)
			return domain.EntryRetracted{EventID: target, Reason: "recorded in error"}
		}
	case r < 0.585:
		c.closed = !c.closed
		if c.closed {
			return domain.CaseClosed{Outcome: "charged"}
		}
		return domain.CaseReopened{Reason: "new intelligence"}
	}
	return domain.IntelligenceLogged{Summary: "Intelligence from the joint coordination centre about lorries at " + loc +
		": drivers approached at the services, loads changed before the port.", Grading: "2B1"}
}

func (c *genCase) person(rng *rand.Rand) uuid.UUID {
	if len(c.persons) == 0 {
		p := uuid.New()
		c.persons = append(c.persons, p)
		return p
	}
	return c.persons[rng.IntN(len(c.persons))]
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsID(s []uuid.UUID, v uuid.UUID) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
