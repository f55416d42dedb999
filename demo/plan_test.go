package demo

import (
	"reflect"
	"testing"
	"time"

	"github.com/casebook/casebook/domain"
	"github.com/google/uuid"
)

// tally counts a plan's figures by the reports' rules (retracted entries
// never count; a gang counts once, at its earliest unretracted dismantling),
// independently of the projections, so the plan itself is known to be right.
type tally struct {
	arrestsInPeriod int
	gangsInPeriod   int
	stowaways       map[int]int
	seizures        map[string]int64 // commodity → micros at Dover and Coquelles
	seizuresElse    int
	retractions     int
	joinedCases     int
}

func count(p Plan) tally {
	retracted := map[uuid.UUID]bool{}
	for _, c := range p.Cases {
		for _, s := range c.Steps {
			if r, ok := s.Data.(domain.EntryRetracted); ok {
				retracted[r.EventID] = true
			}
		}
	}
	t := tally{stowaways: map[int]int{}, seizures: map[string]int64{}}
	firstDismantled := map[uuid.UUID]time.Time{}
	inPeriod := func(at time.Time) bool { return !at.Before(PeriodFrom) && at.Before(PeriodTo) }
	for _, c := range p.Cases {
		joined := false
		for _, s := range c.Steps {
			if s.Type == domain.TypeEntryRetracted {
				t.retractions++
			}
			if s.Type == domain.TypeAgencyJoined {
				joined = true
			}
			if retracted[s.EventID] {
				continue
			}
			switch d := s.Data.(type) {
			case domain.ArrestMade:
				if inPeriod(s.OccurredAt) {
					t.arrestsInPeriod++
				}
			case domain.GangDismantled:
				if f, ok := firstDismantled[d.GroupID]; !ok || s.OccurredAt.Before(f) {
					firstDismantled[d.GroupID] = s.OccurredAt
				}
			case domain.StowawaysDetected:
				t.stowaways[s.OccurredAt.Year()] += d.People
			case domain.SeizureRecorded:
				if d.Location == "DOVER" || d.Location == "COQUELLES" {
					t.seizures[d.Commodity] += d.Quantity.Micros()
				} else {
					t.seizuresElse++
				}
			}
		}
		if joined {
			t.joinedCases++
		}
	}
	for _, at := range firstDismantled {
		if inPeriod(at) {
			t.gangsInPeriod++
		}
	}
	return t
}

func TestPlanReproducesThePressReleaseFigures(t *testing.T) {
	for _, seed := range []uint64{1, 2, 42, 20110606} {
		p := NewPlan(seed)
		got := count(p)
		if got.arrestsInPeriod != Arrests {
			t.Errorf("seed %d: arrests in the year to 6 June 2011 = %d, want %d", seed, got.arrestsInPeriod, Arrests)
		}
		if got.gangsInPeriod != GangsDismantled {
			t.Errorf("seed %d: gangs dismantled = %d, want %d", seed, got.gangsInPeriod, GangsDismantled)
		}
		if !reflect.DeepEqual(got.stowaways, StowawaysByYear) {
			t.Errorf("seed %d: stowaways by year = %v, want %v", seed, got.stowaways, StowawaysByYear)
		}
		for _, want := range SeizureTotals {
			if got.seizures[want.Commodity] != want.Micros {
				t.Errorf("seed %d: %s = %d micro-%s, want %d", seed, want.Commodity, got.seizures[want.Commodity], want.Unit, want.Micros)
			}
		}
		if got.seizuresElse != 0 {
			t.Errorf("seed %d: %d seizures away from Dover and Coquelles", seed, got.seizuresElse)
		}
		if got.retractions < 5 {
			t.Errorf("seed %d: only %d retractions", seed, got.retractions)
		}
		if got.joinedCases < 5 {
			t.Errorf("seed %d: only %d joint cases", seed, got.joinedCases)
		}
		if n := p.Events(); n < 1500 || n > 4000 {
			t.Errorf("seed %d: %d events; the demo should stay modest", seed, n)
		}
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	a, b := NewPlan(7), NewPlan(7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two plans for seed 7 differ")
	}
	c := NewPlan(8)
	if a.Cases[0].ID == c.Cases[0].ID {
		t.Fatal("seeds 7 and 8 gave the same first case id")
	}
}

// TestPlanObeysTheDomainOrder checks what the domain's rules will check
// when the plan is loaded, so a failure here points at the plan, not at
// the service: times in range and in order, suspects before their arrests,
// groups linked before they are dismantled, retractions after what they
// retract, nothing but reopen/retract on a closed case, unique ids.
func TestPlanObeysTheDomainOrder(t *testing.T) {
	p := NewPlan(1)
	ids := map[uuid.UUID]bool{}
	min := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range p.Cases {
		for _, id := range []uuid.UUID{c.ID, c.OpenID} {
			if ids[id] {
				t.Fatalf("id %s used twice", id)
			}
			ids[id] = true
		}
		suspects, groups, events := map[uuid.UUID]bool{}, map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
		closed := false
		last := c.OpenedAt
		for i, s := range c.Steps {
			where := c.Opened.Reference + " step " + s.Type
			if ids[s.EventID] {
				t.Fatalf("%s: id %s used twice", where, s.EventID)
			}
			ids[s.EventID] = true
			if s.OccurredAt.Before(last) || s.OccurredAt.Before(min) || !s.OccurredAt.Before(PeriodTo.Add(48*time.Hour)) {
				t.Fatalf("%s (%d): occurred_at %s out of order or range (previous %s)", where, i, s.OccurredAt, last)
			}
			last = s.OccurredAt
			if closed && s.Type != domain.TypeCaseReopened && s.Type != domain.TypeEntryRetracted {
				t.Fatalf("%s: logged on a closed case", where)
			}
			switch d := s.Data.(type) {
			case domain.SuspectIdentified:
				suspects[d.PersonID] = true
			case domain.ArrestMade:
				if !suspects[d.PersonID] {
					t.Fatalf("%s: arrest of an unidentified suspect", where)
				}
			case domain.SuspectCharged:
				if !suspects[d.PersonID] {
					t.Fatalf("%s: charge of an unidentified suspect", where)
				}
			case domain.OrganisedCrimeGroupLinked:
				groups[d.GroupID] = true
			case domain.GangDismantled:
				if !groups[d.GroupID] {
					t.Fatalf("%s: group not linked", where)
				}
			case domain.EntryRetracted:
				if !events[d.EventID] {
					t.Fatalf("%s: retracts an event not logged earlier on this case", where)
				}
			case domain.CaseClosed:
				closed = true
			case domain.CaseReopened:
				closed = false
			}
			events[s.EventID] = true
		}
	}
}
