package demo

import (
	"fmt"
	"time"

	"github.com/casebook/casebook/domain"
)

// Incidents (vehicles searched with stowaways found) per year. The
// press-release years had lorries with dozens of people aboard; the counts
// keep the demo to about a thousand detection events.
var incidentsByYear = map[int]int{2009: 700, 2010: 330, 2011: 150}

// Share of detections per control point, and the methods used there.
var detectionSites = []struct {
	location string
	weight   int
	methods  []string
	vehicles []string
}{
	{"CALAIS", 40, []string{domain.MethodCO2Probe, domain.MethodHeartbeatMonitor, domain.MethodSnifferDog, domain.MethodVisualSearch, domain.MethodScanner},
		[]string{"HGV", "HGV (curtain-sider)", "HGV (refrigerated)", "van", "car"}},
	{"COQUELLES", 25, []string{domain.MethodScanner, domain.MethodHeartbeatMonitor, domain.MethodSnifferDog, domain.MethodCO2Probe, domain.MethodVisualSearch},
		[]string{"HGV", "freight shuttle wagon", "coach", "car"}},
	{"DUNKIRK", 15, []string{domain.MethodCO2Probe, domain.MethodHeartbeatMonitor, domain.MethodSnifferDog, domain.MethodVisualSearch},
		[]string{"HGV", "HGV (refrigerated)", "van"}},
	{"DOVER", 10, []string{domain.MethodVisualSearch, domain.MethodSnifferDog, domain.MethodScanner},
		[]string{"HGV", "van", "car", "coach"}},
	{"ZEEBRUGGE", 10, []string{domain.MethodHeartbeatMonitor, domain.MethodCO2Probe, domain.MethodVisualSearch, domain.MethodScanner},
		[]string{"HGV", "HGV (refrigerated)", "trailer (unaccompanied)"}},
}

// Drivers arrested for facilitation at the controls, logged on the
// detection cases.
const (
	detectionArrestsInPeriod     = 10
	detectionArrestsBeforePeriod = 8
)

func (b *builder) detectionCases() {
	for _, year := range []int{2009, 2010, 2011} {
		from := date(year, 1, 1)
		to := date(year+1, 1, 1)
		if year == 2011 {
			to = PeriodTo.Add(-4 * time.Hour)
		}
		// Split the year's incidents between the sites, then the year's
		// people between all incidents.
		total := incidentsByYear[year]
		perSite := make([]int, len(detectionSites))
		given := 0
		for i, s := range detectionSites {
			perSite[i] = total * s.weight / 100
			given += perSite[i]
		}
		perSite[0] += total - given
		people := b.split(int64(StowawaysByYear[year]), total)
		k := 0
		for i, s := range detectionSites {
			opened := from.Add(time.Duration(5+i) * time.Minute)
			cb := b.newCase(AgencyUKBA, "UKBA", fmt.Sprintf("Clandestine detections at %s, %d", domain.DefaultPlaces().Name(s.location), year), s.location,
				[]string{domain.CrimePeopleSmuggling}, opened)
			cb.nat = []string{"GBR", "POL", "ROU", "LTU", "NLD", "FRA"}
			for _, t := range b.spread(perSite[i], opened.Add(6*time.Hour), to) {
				cb.at(t, AgencyUKBA, domain.TypeStowawaysDetected, domain.StowawaysDetected{
					Location: s.location, Method: b.pick(s.methods), People: int(people[k]), Vehicle: b.pick(s.vehicles),
				})
				k++
			}
			if year < 2011 {
				cb.close(to.Add(36*time.Hour), fmt.Sprintf("Annual detections log for %d closed", year))
			}
			b.detectionExtras(cb, year, s.location)
		}
	}
}

// detectionExtras adds the drivers arrested at the controls, the two arrests
// either side of the period's start (23:59 on 6 June 2010 is outside the
// year to 6 June 2011, midnight is inside), and a detection logged twice
// and retracted.
func (b *builder) detectionExtras(cb *caseBuilder, year int, location string) {
	const offence = "Facilitating illegal entry (driver)"
	switch {
	case year == 2009 && location == "CALAIS":
		for _, t := range b.spread(detectionArrestsBeforePeriod/2, date(2009, 3, 1), date(2009, 12, 1)) {
			cb.arrest(t, AgencyUKBA, location, offence, chargeFacilitation)
		}
	case year == 2010 && location == "COQUELLES":
		for _, t := range b.spread(detectionArrestsBeforePeriod/2, date(2010, 1, 15), date(2010, 5, 30)) {
			cb.arrest(t, AgencyUKBA, location, offence, chargeFacilitation)
		}
	case year == 2010 && location == "DOVER":
		cb.arrest(PeriodFrom.Add(-time.Minute), AgencyUKBA, location, offence, chargeFacilitation) // 23:59 on 6 June 2010: before the period
		cb.arrest(PeriodFrom, AgencyUKBA, location, offence, chargeFacilitation)                   // the period's first instant
		for _, t := range b.spread(detectionArrestsInPeriod/2-1, date(2010, 6, 10), date(2010, 12, 20)) {
			cb.arrest(t, AgencyUKBA, location, offence, chargeFacilitation)
		}
	case year == 2011 && location == "CALAIS":
		for _, t := range b.spread(detectionArrestsInPeriod/2, date(2011, 1, 10), date(2011, 6, 1)) {
			cb.arrest(t, AgencyUKBA, location, offence, chargeFacilitation)
		}
		// A detection keyed in twice: the copy is retracted, so the year's
		// figure stays exact.
		for i := len(cb.c.Steps) - 1; i >= 0; i-- {
			st := cb.c.Steps[i]
			if st.Type != domain.TypeStowawaysDetected {
				continue
			}
			dup := cb.at(st.OccurredAt.Add(time.Minute), AgencyUKBA, domain.TypeStowawaysDetected, st.Data)
			cb.retract(st.OccurredAt.Add(2*time.Hour), AgencyUKBA, dup, "Same detection keyed in twice")
			break
		}
	}
}
