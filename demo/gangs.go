package demo

import (
	"time"

	"github.com/casebook/casebook/domain"
	"github.com/google/uuid"
)

// gangSpec describes an investigation into one organised crime group.
type gangSpec struct {
	operation   string // case title prefix, e.g. "Operation Harrier"
	group       string // the group's name as linked
	lead        string
	joins       []string // agencies joining through the JOCC at Calais
	crimes      []string
	location    string
	nat         []string
	opened      time.Time
	dismantled  time.Time // zero: not dismantled
	before, in  int       // arrests before PeriodFrom / in the period
	offence     string
	charges     []string
	ukPlaces    []string // where the lead (UK) agency arrests
	frPlaces    []string // where PAF arrests in joint cases
	closeReason string
}

var (
	chargeFacilitation = []string{"Assisting unlawful immigration (Immigration Act 1971 s.25)"}
	chargeAideSejour   = []string{"Aide à l'entrée et au séjour irréguliers en bande organisée"}
	chargeClassA       = []string{"Fraudulent evasion of the prohibition on importing a class A drug (CEMA 1979 s.170)", "Conspiracy to supply a controlled drug of class A"}
	chargeCannabis     = []string{"Fraudulent evasion of the prohibition on importing a class B drug (CEMA 1979 s.170)"}
	chargeTobacco      = []string{"Fraudulent evasion of excise duty (CEMA 1979 s.170)"}
	chargeFirearms     = []string{"Importation of prohibited weapons (CEMA 1979 s.170)", "Possession of a firearm with intent to endanger life"}
	chargeCash         = []string{"Removing criminal property from England and Wales (POCA 2002 s.327)", "Money laundering conspiracy"}
)

func (b *builder) gangCases() {
	specs := []gangSpec{
		// Dismantled before the year to 6 June 2011: not in its figures.
		{operation: "Operation Osprey", group: "Osprey heroin importation group", lead: AgencySOCA,
			crimes: []string{domain.CrimeClassADrugs}, location: "DOVER", nat: []string{"GBR", "NLD", "ALB"},
			opened: date(2009, 1, 19), dismantled: date(2009, 10, 6), before: 14,
			offence: "Importation of class A drugs", charges: chargeClassA, ukPlaces: []string{"DOVER", "LONDON", "LIVERPOOL"},
			closeReason: "Group dismantled; principals charged"},
		{operation: "Operation Larch", group: "Larch facilitation network", lead: AgencyUKBA,
			crimes: []string{domain.CrimePeopleSmuggling}, location: "CALAIS", nat: []string{"IRQ", "GBR"},
			opened: date(2009, 5, 4), dismantled: date(2010, 2, 23), before: 11,
			offence: "Facilitating illegal entry", charges: chargeFacilitation, ukPlaces: []string{"DOVER", "BIRMINGHAM", "COQUELLES"},
			closeReason: "Network dismantled"},

		// The nine dismantled in the year to 6 June 2011.
		{operation: "Operation Harrier", group: "Harrier Kurdish facilitation network", lead: AgencySOCA, joins: []string{AgencyPAF},
			crimes: []string{domain.CrimePeopleSmuggling, domain.CrimeMoneyLaundering}, location: "CALAIS", nat: []string{"IRQ", "GBR", "FRA"},
			opened: date(2009, 11, 2), dismantled: date(2010, 10, 14), before: 3, in: 14,
			offence: "Facilitating illegal entry", charges: chargeFacilitation, ukPlaces: []string{"BIRMINGHAM", "DOVER", "LONDON"}, frPlaces: []string{"CALAIS", "LILLE"},
			closeReason: "Network dismantled in a joint operation coordinated through the JOCC"},
		{operation: "Operation Mekong", group: "Mekong facilitation network", lead: AgencyUKBA, joins: []string{AgencyPAF},
			crimes: []string{domain.CrimePeopleSmuggling}, location: "COQUELLES", nat: []string{"VNM", "GBR"},
			opened: date(2010, 3, 22), dismantled: date(2011, 1, 27), before: 2, in: 16,
			offence: "Facilitating illegal entry", charges: chargeFacilitation, ukPlaces: []string{"COQUELLES", "FOLKESTONE", "LONDON"}, frPlaces: []string{"COQUELLES", "PARIS"},
			closeReason: "Network dismantled"},
		{operation: "Operation Kestrel", group: "Kestrel heroin importation group", lead: AgencySOCA,
			crimes: []string{domain.CrimeClassADrugs}, location: "DOVER", nat: []string{"GBR", "NLD", "ALB"},
			opened: date(2009, 12, 7), dismantled: date(2011, 3, 3), before: 2, in: 15,
			offence: "Importation of class A drugs", charges: chargeClassA, ukPlaces: []string{"DOVER", "LIVERPOOL", "LONDON"},
			closeReason: "Group dismantled; principals remanded"},
		{operation: "Operation Albion", group: "Albion cannabis importation group", lead: AgencyUKBA, joins: []string{AgencySOCA},
			crimes: []string{domain.CrimeCannabis}, location: "COQUELLES", nat: []string{"GBR", "NLD"},
			opened: date(2010, 1, 11), dismantled: date(2010, 12, 9), before: 1, in: 14,
			offence: "Importation of cannabis", charges: chargeCannabis, ukPlaces: []string{"COQUELLES", "DOVER", "MANCHESTER"},
			closeReason: "Group dismantled"},
		{operation: "Operation Tobacco Road", group: "Tobacco Road excise fraud group", lead: AgencyUKBA,
			crimes: []string{domain.CrimeTobacco}, location: "DOVER", nat: []string{"LTU", "POL", "GBR"},
			opened: date(2010, 4, 12), dismantled: date(2011, 4, 20), before: 0, in: 13,
			offence: "Excise fraud (cigarettes)", charges: chargeTobacco, ukPlaces: []string{"DOVER", "THURROCK", "COQUELLES"},
			closeReason: "Group dismantled; duty assessed"},
		{operation: "Operation Corvid", group: "Corvid firearms supply group", lead: AgencySOCA, joins: []string{AgencyPAF},
			crimes: []string{domain.CrimeFirearms}, location: "COQUELLES", nat: []string{"GBR", "FRA", "ROU"},
			opened: date(2010, 5, 3), dismantled: date(2011, 2, 10), before: 0, in: 10,
			offence: "Importation of prohibited weapons", charges: chargeFirearms, ukPlaces: []string{"COQUELLES", "DOVER", "NOTTINGHAM"}, frPlaces: []string{"COQUELLES", "LILLE"},
			closeReason: "Group dismantled"},
		{operation: "Opération Dunes", group: "Dunes Afghan facilitation network", lead: AgencyPAF, joins: []string{AgencyUKBA},
			crimes: []string{domain.CrimePeopleSmuggling}, location: "DUNKIRK", nat: []string{"AFG", "FRA"},
			opened: date(2010, 2, 15), dismantled: date(2010, 9, 22), before: 3, in: 14,
			offence: "Aide à l'entrée irrégulière", charges: chargeAideSejour, ukPlaces: []string{"DOVER"}, frPlaces: []string{"DUNKIRK", "CALAIS", "GRANDE-SYNTHE"},
			closeReason: "Réseau démantelé"},
		{operation: "Operation Ledger", group: "Ledger cash courier network", lead: AgencySOCA,
			crimes: []string{domain.CrimeCash, domain.CrimeMoneyLaundering}, location: "DOVER", nat: []string{"GBR", "ROU"},
			opened: date(2010, 6, 1), dismantled: date(2011, 5, 12), before: 0, in: 12,
			offence: "Money laundering (cash couriers)", charges: chargeCash, ukPlaces: []string{"DOVER", "LONDON", "COQUELLES"},
			closeReason: "Network dismantled; cash forfeiture proceedings"},
		{operation: "Operation Zeeland", group: "Zeeland Albanian facilitation network", lead: AgencyUKBA,
			crimes: []string{domain.CrimePeopleSmuggling}, location: "ZEEBRUGGE", nat: []string{"ALB", "GBR"},
			opened: date(2010, 7, 5), dismantled: date(2011, 5, 26), before: 0, in: 12,
			offence: "Facilitating illegal entry", charges: chargeFacilitation, ukPlaces: []string{"ZEEBRUGGE", "DOVER", "LONDON"},
			closeReason: "Network dismantled"},
	}

	var harrierGroup uuid.UUID
	for _, s := range specs {
		group := b.gangCase(s)
		if s.operation == "Operation Harrier" {
			harrierGroup = group
		}
	}

	b.jointTwinCase(harrierGroup)
	b.retractedDismantlingCase()
}

// places are where agency's officers make this investigation's arrests.
func (s gangSpec) places(agency string) []string {
	if agency == AgencyPAF && len(s.frPlaces) > 0 {
		return s.frPlaces
	}
	return s.ukPlaces
}

// gangCase builds one investigation and returns the group's id.
func (b *builder) gangCase(s gangSpec) uuid.UUID {
	cb := b.newCase(s.lead, refPrefix(s.lead), s.operation+": "+s.group, s.location, s.crimes, s.opened.Add(9*time.Hour))
	cb.nat = s.nat
	end := s.dismantled
	if end.IsZero() {
		end = PeriodTo.Add(-24 * time.Hour)
	}
	groupID := b.uuid()
	cb.next(end, s.lead, domain.TypeIntelligenceLogged, domain.IntelligenceLogged{
		Summary: "Source reporting links a group to " + s.offence + " through " + s.location, Grading: b.grading()})
	cb.next(end, s.lead, domain.TypeOrganisedCrimeGroupLinked, domain.OrganisedCrimeGroupLinked{GroupID: groupID, Name: s.group})
	joinedAt := cb.clock
	for _, a := range s.joins {
		// Joint working through the JOCC at Calais, opened in March 2010.
		t := cb.clock.Add(48 * time.Hour)
		if jocc := date(2010, 3, 16); t.Before(jocc) {
			t = jocc.Add(10 * time.Hour)
		}
		cb.join(a, t)
		joinedAt = t
	}
	for i := 0; i < 2+b.rng.IntN(3); i++ {
		cb.intel(end, s.lead, b.pick(intelSummaries))
	}
	// Arrests before the period, then in it, all before the dismantling
	// (the last few on the day of the strike).
	first := maxTime(cb.clock, joinedAt).Add(24 * time.Hour)
	if s.before > 0 {
		for _, t := range b.spread(s.before, first, minTime(PeriodFrom, end).Add(-time.Hour)) {
			cb.arrest(t, s.lead, b.pick(s.places(s.lead)), s.offence, s.charges)
		}
	}
	if s.in > 0 {
		from := maxTime(first, PeriodFrom)
		strike := s.in / 3
		for i, t := range b.spread(s.in-strike, from, end) {
			agency := s.lead
			if len(s.joins) > 0 && s.joins[0] == AgencyPAF && i%3 == 1 {
				agency = AgencyPAF
			}
			cb.arrest(t, agency, b.pick(s.places(agency)), s.offence, s.charges)
		}
		// the day of action
		for i := 0; i < strike; i++ {
			t := end.Add(time.Duration(5*60+b.rng.IntN(6*60)) * time.Minute)
			cb.arrest(t, s.lead, b.pick(s.places(s.lead)), s.offence, s.charges)
		}
	}
	if !s.dismantled.IsZero() {
		cb.at(s.dismantled.Add(18*time.Hour), s.lead, domain.TypeGangDismantled, domain.GangDismantled{GroupID: groupID})
		if s.dismantled.Before(date(2011, 5, 1)) {
			cb.close(s.dismantled.Add(21*24*time.Hour), s.closeReason)
		}
	}
	return groupID
}

// jointTwinCase is the French side of Operation Harrier: PAF's own case on
// the same network, joined by SOCA, which dismantles the same group two days
// before SOCA logs it. The gang counts once, at its first dismantling.
func (b *builder) jointTwinCase(group uuid.UUID) {
	opened := date(2010, 4, 6).Add(8 * time.Hour)
	cb := b.newCase(AgencyPAF, "PAF", "Opération Lumière: Harrier network (French side), coordinated through the JOCC at Calais",
		"CALAIS", []string{domain.CrimePeopleSmuggling}, opened)
	cb.nat = []string{"IRQ", "FRA"}
	cb.join(AgencySOCA, opened.Add(26*time.Hour))
	cb.at(opened.Add(50*time.Hour), AgencyPAF, domain.TypeOrganisedCrimeGroupLinked,
		domain.OrganisedCrimeGroupLinked{GroupID: group, Name: "Harrier Kurdish facilitation network"})
	cb.intel(date(2010, 6, 1), AgencyPAF, "Passeurs operating from the Calais jungle camps; payments via hawala in Lille")
	for _, t := range b.spread(8, PeriodFrom.Add(24*time.Hour), date(2010, 10, 12)) {
		cb.arrest(t, AgencyPAF, b.pick([]string{"CALAIS", "LILLE", "DUNKIRK"}), "Aide à l'entrée irrégulière", chargeAideSejour)
	}
	cb.at(date(2010, 10, 12).Add(17*time.Hour), AgencyPAF, domain.TypeGangDismantled, domain.GangDismantled{GroupID: group})
	cb.close(date(2010, 11, 30), "Réseau démantelé (opération conjointe)")
}

// retractedDismantlingCase holds the demo's corrections: a dismantling that
// was logged in error and retracted (the group is still active, so it does
// not count), and three arrests retracted as duplicates or wrong entries.
func (b *builder) retractedDismantlingCase() {
	opened := date(2010, 8, 2).Add(9 * time.Hour)
	cb := b.newCase(AgencyUKBA, refPrefix(AgencyUKBA), "Operation Marten: Marten facilitation network", "CALAIS",
		[]string{domain.CrimePeopleSmuggling}, opened)
	cb.nat = []string{"IRQ", "AFG", "GBR"}
	group := b.uuid()
	cb.at(opened.Add(3*time.Hour), AgencyUKBA, domain.TypeOrganisedCrimeGroupLinked, domain.OrganisedCrimeGroupLinked{GroupID: group, Name: "Marten facilitation network"})
	cb.join(AgencyPAF, opened.Add(30*time.Hour))
	badIntel := cb.at(opened.Add(40*time.Hour), AgencyUKBA, domain.TypeIntelligenceLogged,
		domain.IntelligenceLogged{Summary: "Driver of HGV linked to the network by phone analysis", Grading: "3E2"})
	cb.retract(opened.Add(60*time.Hour), AgencyUKBA, badIntel, "Phone attribution wrong; intelligence withdrawn by the source unit")
	var arrests []uuid.UUID
	for _, t := range b.spread(8, date(2010, 9, 1), date(2011, 2, 1)) {
		arrests = append(arrests, cb.arrest(t, AgencyUKBA, b.pick([]string{"CALAIS", "DOVER", "COQUELLES"}), "Facilitating illegal entry", chargeFacilitation))
	}
	// Five of the eight arrests stand; three are retracted.
	reasons := []string{"Duplicate entry of an arrest already logged", "Logged against the wrong person", "Person was detained, not arrested"}
	for i, id := range arrests[:3] {
		cb.retract(date(2011, 2, 3+i).Add(10*time.Hour), AgencyUKBA, id, reasons[i])
	}
	dismantling := cb.at(date(2011, 3, 15).Add(16*time.Hour), AgencyUKBA, domain.TypeGangDismantled, domain.GangDismantled{GroupID: group})
	cb.retract(date(2011, 3, 17).Add(9*time.Hour), AgencyUKBA, dismantling,
		"Logged in error: only one cell was disrupted and the network is still active")
}

var intelSummaries = []string{
	"Surveillance at the Calais port approaches shows repeated contact between drivers and a known facilitator",
	"Financial intelligence: structured cash deposits linked to a haulage company",
	"Covert human intelligence source reports a new route via the Channel Tunnel freight shuttle",
	"Telephone analysis links the principal to three HGVs stopped at the juxtaposed controls",
	"Partner agency reporting through the JOCC identifies the group's logistics cell in Lille",
	"ANPR hits place a suspect vehicle at Coquelles on each detection date",
	"Debrief of detected stowaways names the same agent in the Calais camps",
}

func refPrefix(agency string) string {
	switch agency {
	case AgencySOCA:
		return "SOCA"
	case AgencyPAF:
		return "PAF"
	default:
		return "UKBA"
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
