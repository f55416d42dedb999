package projections

import (
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
)

// Agencies of the fixture.
const (
	ukba   = "UK Border Agency"
	soca   = "SOCA"
	police = "Police aux Frontières"
)

// fixture is a fixed log around the press release of 6 June 2011: two
// agencies' cases pursuing one gang jointly, retractions (one recorded
// after the fact it retracts, one of a gang's first dismantling), events
// exactly at the period's ends, and amounts whose sum is exact only in
// decimal (0.1 + 0.2).
type fixture struct {
	caseA, caseB, caseC uuid.UUID
	gang1, gang2, gang3 uuid.UUID
	// ids of interesting events
	arrestBeforeFrom, arrestAtFrom, arrestFrench, arrestAtTo, arrestRetracted written
	dismantleB1, dismantleA1, dismantleB2, dismantleAtTo                      written
	retractDismantleB1                                                        written
	// recordedAt of the retraction of the first dismantling (as_of tests)
	beforeRetraction, afterRetraction time.Time
	beforeArrestRetraction            time.Time
}

func writeFixture(w *logWriter) fixture {
	f := fixture{
		caseA: id("case-A"), caseB: id("case-B"), caseC: id("case-C"),
		gang1: id("gang-1"), gang2: id("gang-2"), gang3: id("gang-3"),
	}
	// Case A: UKBA at Calais, joined by the French border police.
	w.write(f.caseA,
		pending{ev: domain.CaseOpened{Reference: "UKBA-CAL-2010-001", Title: "Lorry smuggling ring, Calais", LeadAgency: ukba,
			CrimeTypes: []string{domain.CrimePeopleSmuggling}, Location: "Calais"}, occurred: at("2010-05-20T08:00:00Z"), agency: ukba},
		pending{ev: domain.AgencyJoined{Agency: police}, occurred: at("2010-05-21T09:00:00Z"), agency: ukba},
		pending{ev: domain.OrganisedCrimeGroupLinked{GroupID: f.gang1, Name: "Network 1"}, occurred: at("2010-05-22T09:00:00Z"), agency: ukba},
	)
	f.arrestBeforeFrom = w.one(f.caseA, domain.ArrestMade{PersonID: id("p1"), Location: "Calais", Offence: "facilitation"},
		at("2010-06-05T23:59:59.999999999Z"), ukba)
	f.arrestAtFrom = w.one(f.caseA, domain.ArrestMade{PersonID: id("p2"), Location: "Coquelles", Offence: "facilitation"},
		at("2010-06-06T00:00:00Z"), ukba)
	f.arrestFrench = w.one(f.caseA, domain.ArrestMade{PersonID: id("p3"), Location: "Calais", Offence: "aide au séjour irrégulier"},
		at("2010-07-15T10:00:00Z"), police)
	f.arrestRetracted = w.one(f.caseA, domain.ArrestMade{PersonID: id("p4"), Location: "Calais", Offence: "facilitation"},
		at("2010-08-01T10:00:00Z"), ukba)
	w.one(f.caseA, domain.ArrestMade{PersonID: id("p5"), Location: "Dunkirk", Offence: "facilitation", Agency: soca},
		at("2011-02-28T23:30:00Z"), ukba)
	w.write(f.caseA,
		pending{ev: domain.StowawaysDetected{Location: "Calais ferry port", Method: domain.MethodCO2Probe, People: 3}, occurred: at("2010-09-01T04:00:00Z"), agency: ukba},
		pending{ev: domain.StowawaysDetected{Location: "Coquelles", Method: domain.MethodHeartbeatMonitor, People: 5}, occurred: at("2010-12-24T22:00:00Z"), agency: ukba},
		pending{ev: domain.StowawaysDetected{Location: "Coquelles", Method: domain.MethodSnifferDog, People: 2}, occurred: at("2011-01-10T01:00:00Z"), agency: police},
		pending{ev: domain.SeizureRecorded{Commodity: domain.CommodityCash, Quantity: domain.QuantityFromMicros(100_000), Unit: domain.UnitGBP, Location: "Calais"}, occurred: at("2010-10-01T10:00:00Z"), agency: ukba},
		pending{ev: domain.SeizureRecorded{Commodity: domain.CommodityCash, Quantity: domain.QuantityFromMicros(200_000), Unit: domain.UnitGBP, Location: "Calais"}, occurred: at("2010-10-02T10:00:00Z"), agency: ukba},
		pending{ev: domain.SeizureRecorded{Commodity: domain.CommodityCannabis, Quantity: domain.QuantityFromMicros(1_500_000), Unit: domain.UnitKg, Location: "Coquelles"}, occurred: at("2011-03-03T10:00:00Z"), agency: ukba},
	)
	retractedSeizure := w.one(f.caseA, domain.SeizureRecorded{Commodity: domain.CommodityCannabis, Quantity: domain.QuantityFromMicros(999_000_000), Unit: domain.UnitKg, Location: "Coquelles"},
		at("2011-03-04T10:00:00Z"), ukba)
	retractedDetection := w.one(f.caseA, domain.StowawaysDetected{Location: "Calais ferry port", Method: domain.MethodScanner, People: 40},
		at("2011-04-01T04:00:00Z"), ukba)

	// Case B: SOCA at Dover, the same gang.
	w.write(f.caseB,
		pending{ev: domain.CaseOpened{Reference: "SOCA-DOV-2010-044", Title: "Dover cash couriers", LeadAgency: soca,
			CrimeTypes: []string{domain.CrimeCash, domain.CrimeClassADrugs}, Location: "Dover"}, occurred: at("2010-11-02T08:00:00Z"), agency: soca},
		pending{ev: domain.OrganisedCrimeGroupLinked{GroupID: f.gang1, Name: "Network 1"}, occurred: at("2010-11-03T09:00:00Z"), agency: soca},
		pending{ev: domain.OrganisedCrimeGroupLinked{GroupID: f.gang2, Name: "Network 2"}, occurred: at("2010-11-03T09:00:00Z"), agency: soca},
		pending{ev: domain.OrganisedCrimeGroupLinked{GroupID: f.gang3, Name: "Network 3"}, occurred: at("2010-11-03T09:00:00Z"), agency: soca},
		pending{ev: domain.SeizureRecorded{Commodity: domain.CommodityCash, Quantity: domain.QuantityFromMicros(4_250_000_000_000), Unit: domain.UnitGBP, Location: "Dover"}, occurred: at("2011-01-05T10:00:00Z"), agency: soca},
		pending{ev: domain.SeizureRecorded{Commodity: domain.CommodityClassADrugs, Quantity: domain.QuantityFromMicros(1_000_000_001), Unit: domain.UnitKg, Location: "Dover"}, occurred: at("2011-01-06T10:00:00Z"), agency: soca},
	)
	// Gang 1 is first dismantled by SOCA (January), then by UKBA (February);
	// it counts once. Gang 2 in March; gang 3 exactly at the period's end.
	f.dismantleB1 = w.one(f.caseB, domain.GangDismantled{GroupID: f.gang1}, at("2011-01-20T06:00:00Z"), soca)
	f.dismantleA1 = w.one(f.caseA, domain.GangDismantled{GroupID: f.gang1}, at("2011-02-10T06:00:00Z"), ukba)
	f.dismantleB2 = w.one(f.caseB, domain.GangDismantled{GroupID: f.gang2}, at("2011-03-01T06:00:00Z"), soca)
	f.dismantleAtTo = w.one(f.caseB, domain.GangDismantled{GroupID: f.gang3}, at("2011-06-06T00:00:00Z"), soca)

	// Case C: closed, then reopened, then closed again.
	w.write(f.caseC,
		pending{ev: domain.CaseOpened{Reference: "UKBA-DOV-2011-003", Title: "Tobacco lorries", LeadAgency: ukba,
			CrimeTypes: []string{domain.CrimeTobacco}, Location: "Dover"}, occurred: at("2011-01-02T08:00:00Z"), agency: ukba},
		pending{ev: domain.SeizureRecorded{Commodity: domain.CommodityCigarettes, Quantity: domain.QuantityFromMicros(245_000_000_000_000), Unit: domain.UnitSticks, Location: "Dover"}, occurred: at("2011-02-02T10:00:00Z"), agency: ukba},
		pending{ev: domain.SeizureRecorded{Commodity: domain.CommodityHandRollingTobacco, Quantity: domain.QuantityFromMicros(100_000_000_000), Unit: domain.UnitKg, Location: "Dover"}, occurred: at("2011-02-03T10:00:00Z"), agency: ukba},
		pending{ev: domain.CaseClosed{Outcome: "charged"}, occurred: at("2011-03-01T10:00:00Z"), agency: ukba},
		pending{ev: domain.CaseReopened{Reason: "new intelligence"}, occurred: at("2011-03-05T10:00:00Z"), agency: ukba},
		pending{ev: domain.CaseClosed{Outcome: "convicted"}, occurred: at("2011-05-01T10:00:00Z"), agency: ukba},
	)

	// Retractions, recorded after the facts they retract.
	f.beforeArrestRetraction = w.recordedAt.Add(-time.Second)
	w.one(f.caseA, domain.EntryRetracted{EventID: f.arrestRetracted.ID, Reason: "wrong person"}, at("2010-08-02T10:00:00Z"), ukba)
	w.one(f.caseA, domain.EntryRetracted{EventID: retractedSeizure.ID, Reason: "typo: 999 kg"}, at("2011-03-05T10:00:00Z"), ukba)
	w.one(f.caseA, domain.EntryRetracted{EventID: retractedDetection.ID, Reason: "duplicate"}, at("2011-04-02T10:00:00Z"), ukba)
	f.beforeRetraction = w.recordedAt.Add(-time.Second)
	f.retractDismantleB1 = w.one(f.caseB, domain.EntryRetracted{EventID: f.dismantleB1.ID, Reason: "not dismantled yet"}, at("2011-05-01T10:00:00Z"), soca)
	f.afterRetraction = w.recordedAt
	// An arrest exactly at the end of the period: excluded.
	f.arrestAtTo = w.one(f.caseB, domain.ArrestMade{PersonID: id("p6"), Location: "Dover", Offence: "money laundering"},
		at("2011-06-06T00:00:00Z"), soca)
	return f
}
