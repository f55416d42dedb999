package demo

import (
	"fmt"
	"sort"
	"time"

	"github.com/casebook/casebook/domain"
)

// seizureSpec tells how one commodity's total is split into seizures.
type seizureSpec struct {
	commodity string
	unit      string
	total     int64 // micros
	grain     int64 // micros of the smallest realistic amount (0.1 kg, £5, a carton of 200)
	seizures  int
	crime     string
	lead      []string // agencies that lead such cases, drawn at random
	what      string   // for titles: "Heroin in HGV"
	offence   string
	charges   []string
}

type seizure struct {
	spec *seizureSpec
	at   time.Time
	qty  int64 // micros
	loc  string
}

// Seizure arrests: drivers and couriers arrested at the port.
const (
	seizureArrestsInPeriod     = 30
	seizureArrestsBeforePeriod = 25
)

func (b *builder) seizureCases() {
	specs := []seizureSpec{
		{domain.CommodityClassADrugs, domain.UnitKg, 1_023_400_000, 100_000, 22, domain.CrimeClassADrugs, []string{AgencyUKBA, AgencyUKBA, AgencySOCA}, "Class A drugs concealed in freight", "Importation of class A drugs", chargeClassA},
		{domain.CommodityCannabis, domain.UnitKg, 15_000_000_000, 100_000, 26, domain.CrimeCannabis, []string{AgencyUKBA}, "Cannabis concealed in freight", "Importation of cannabis", chargeCannabis},
		{domain.CommodityCash, domain.UnitGBP, 4_250_000_000_000, 5_000_000, 30, domain.CrimeCash, []string{AgencyUKBA, AgencySOCA}, "Undeclared cash carried outbound", "Money laundering (cash courier)", chargeCash},
		{domain.CommodityCigarettes, domain.UnitSticks, 245_000_000_000_000, 200_000_000, 40, domain.CrimeTobacco, []string{AgencyUKBA}, "Cigarettes concealed in freight", "Excise fraud (cigarettes)", chargeTobacco},
		{domain.CommodityHandRollingTobacco, domain.UnitKg, 100_000_000_000, 50_000, 28, domain.CrimeTobacco, []string{AgencyUKBA}, "Hand-rolling tobacco concealed in freight", "Excise fraud (hand-rolling tobacco)", chargeTobacco},
		{domain.CommodityFirearms, domain.UnitItems, 60_000_000, 1_000_000, 12, domain.CrimeFirearms, []string{AgencyUKBA, AgencySOCA}, "Firearms concealed in a vehicle", "Importation of prohibited weapons", chargeFirearms},
	}

	var all []seizure
	byCommodity := make([][]seizure, len(specs))
	for i := range specs {
		s := &specs[i]
		parts := b.split(s.total/s.grain, s.seizures)
		times := b.spread(len(parts), FirstDay.Add(24*time.Hour), PeriodTo.Add(-26*time.Hour))
		for j, p := range parts {
			loc := "DOVER"
			if b.rng.IntN(5) < 2 {
				loc = "COQUELLES"
			}
			sz := seizure{spec: s, at: times[j].Add(time.Duration(b.rng.IntN(16*60)) * time.Minute), qty: p * s.grain, loc: loc}
			byCommodity[i] = append(byCommodity[i], sz)
			all = append(all, sz)
		}
	}

	// Choose which seizures led to the driver's arrest: exactly the planned
	// number in the period and before it (seizure times are at least a day
	// clear of the period's edges, so the arrest an hour later falls on the
	// same side).
	arrestKey := func(sz seizure) string { return sz.spec.commodity + sz.at.String() + fmt.Sprint(sz.qty) }
	chosen := make(map[string]bool)
	var in, before []seizure
	for _, sz := range all {
		if !sz.at.Before(PeriodFrom) {
			in = append(in, sz)
		} else {
			before = append(before, sz)
		}
	}
	for _, pool := range []struct {
		list []seizure
		n    int
	}{{in, seizureArrestsInPeriod}, {before, seizureArrestsBeforePeriod}} {
		idx := b.rng.Perm(len(pool.list))
		for _, k := range idx[:pool.n] {
			chosen[arrestKey(pool.list[k])] = true
		}
	}

	for _, list := range byCommodity {
		sort.Slice(list, func(i, j int) bool { return list[i].at.Before(list[j].at) })
		// Consecutive seizures at one port form one investigation of one
		// to four seizures.
		for len(list) > 0 {
			n := 1 + b.rng.IntN(4)
			if n > len(list) {
				n = len(list)
			}
			b.seizureCase(list[:n], chosen, arrestKey)
			list = list[n:]
		}
	}
	b.duplicateSeizureCase()
}

func (b *builder) seizureCase(list []seizure, arrested map[string]bool, key func(seizure) string) {
	s := list[0].spec
	lead := b.pick(s.lead)
	loc := list[0].loc
	opened := list[0].at.Add(-time.Duration(60+b.rng.IntN(180)) * time.Minute)
	title := fmt.Sprintf("%s at %s", s.what, loc)
	if len(list) > 1 {
		title = fmt.Sprintf("%s through %s (%d seizures)", s.what, loc, len(list))
	}
	cb := b.newCase(lead, refPrefix(lead), title, loc, []string{s.crime}, opened)
	cb.nat = []string{"GBR", "NLD", "POL", "LTU", "ROU", "FRA"}
	if b.rng.IntN(2) == 0 {
		cb.at(opened.Add(20*time.Minute), lead, domain.TypeIntelligenceLogged,
			domain.IntelligenceLogged{Summary: "Targeting: consignment selected on intelligence at the " + loc + " controls", Grading: b.grading()})
	}
	for _, sz := range list {
		exhibit := fmt.Sprintf("%s/%d/%05d", exhibitPrefix(sz.loc), sz.at.Year(), b.rng.IntN(100000))
		cb.at(sz.at, lead, domain.TypeSeizureRecorded, domain.SeizureRecorded{
			Commodity: s.commodity, Quantity: domain.QuantityFromMicros(sz.qty), Unit: s.unit, Location: sz.loc, ExhibitRef: exhibit,
		})
		if arrested[key(sz)] {
			cb.arrest(sz.at.Add(time.Duration(20+b.rng.IntN(40))*time.Minute), lead, sz.loc, s.offence, s.charges)
		}
	}
	last := list[len(list)-1].at
	if last.Before(date(2011, 3, 1)) {
		cb.close(last.Add(time.Duration(30+b.rng.IntN(60))*24*time.Hour), b.pick([]string{
			"Goods forfeited; driver convicted", "Goods forfeited; no further action", "Goods forfeited; file passed to HMRC",
		}))
		// One closed case is reopened when laboratory results link it to a
		// wider investigation.
		if s.commodity == domain.CommodityClassADrugs && !b.reopened {
			b.reopened = true
			cb.at(cb.clock.Add(10*24*time.Hour), lead, domain.TypeCaseReopened,
				domain.CaseReopened{Reason: "Laboratory results match the purity profile of consignments under investigation by SOCA"})
			cb.intel(cb.clock.Add(30*24*time.Hour), lead, "Forensic link to the Kestrel heroin importation group")
		}
	}
}

// duplicateSeizureCase logs one cannabis seizure twice by mistake and
// retracts the duplicate: the totals must not count it.
func (b *builder) duplicateSeizureCase() {
	at := date(2010, 11, 4).Add(14 * time.Hour)
	cb := b.newCase(AgencyUKBA, "UKBA", "Cannabis concealed in freight at Dover (entry corrected)", "DOVER",
		[]string{domain.CrimeCannabis}, at.Add(-2*time.Hour))
	cb.nat = []string{"GBR", "NLD"}
	dup := cb.at(at.Add(5*time.Minute), AgencyUKBA, domain.TypeSeizureRecorded, domain.SeizureRecorded{
		Commodity: domain.CommodityCannabis, Quantity: domain.QuantityFromMicros(412_500_000), Unit: domain.UnitKg, Location: "DOVER", ExhibitRef: "DVR/2010/DUP01",
	})
	cb.retract(at.Add(26*time.Hour), AgencyUKBA, dup, "Logged in error against this case: the consignment was seized by Dutch customs at Rotterdam, not at Dover")
}

func exhibitPrefix(loc string) string {
	if loc == "COQUELLES" {
		return "CQL"
	}
	return "DVR"
}
