package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/projections"
)

var analystAnn = core.Identity{Subject: "analyst.ann", Role: domain.RoleAnalyst, Agency: "HO"}

// TestReportFiltersAreCanonicalized: the agency filter of a report is an
// agency code in any letter case, answered (and compared) in its
// configured form; an unknown one is refused as on the case list; a
// location is a place code in any letter case, answered in its configured
// form; an unknown place is refused like an unknown agency; the gangs
// report refuses a location.
func TestReportFiltersAreCanonicalized(t *testing.T) {
	f := newAccessFixture(t, core.Config{})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	res := f.record(id, domain.TypeArrestMade, arrest(personA)) // UKBA's, at Dover
	report := func(name, agency, location string) (core.ReportAnswer, error) {
		q := core.ReportQuery{MinPosition: res.Position}
		q.Agency, q.Location = agency, location
		return f.svc.Report(f.ctx, analystAnn, name, q)
	}
	for _, tc := range []struct {
		agency, location string
		want             int64
		echoAgency       string
		echoLocation     string
	}{
		{"", "", 1, "", ""},
		{"ukba", "", 1, "UKBA", ""},
		{" Ukba ", "", 1, "UKBA", ""},
		{"SOCA", "", 0, "SOCA", ""},
		{"", " Dover ", 1, "", "DOVER"},
		{"", "dover", 1, "", "DOVER"},
		{"ukba", "Calais", 0, "UKBA", "CALAIS"},
		{"soca", "DOVER", 0, "SOCA", "DOVER"},
	} {
		a, err := report(core.ReportArrests, tc.agency, tc.location)
		if err != nil {
			t.Fatalf("arrests of %q at %q: %v", tc.agency, tc.location, err)
		}
		r := a.Body.(projections.ArrestsReport)
		if r.Total != tc.want || r.Agency != tc.echoAgency || r.Location != tc.echoLocation {
			t.Errorf("arrests of %q at %q: total %d, echoed %q %q; want %d, %q %q",
				tc.agency, tc.location, r.Total, r.Agency, r.Location, tc.want, tc.echoAgency, tc.echoLocation)
		}
	}
	for _, tc := range []struct {
		report, agency, location string
		field, code              string
	}{
		{core.ReportArrests, "NOPE", "", "agency", domain.CodeUnknownAgency},
		{core.ReportSummary, "Her Majesty's Revenue", "", "agency", domain.CodeUnknownAgency},
		{core.ReportGangsDismantled, "", "Dover", "location", domain.CodeInvalidParameter},
		{core.ReportSeizures, "", "   ", "location", domain.CodeInvalidParameter},
		{core.ReportArrests, "", "Home of John Quincy Public", "location", domain.CodeInvalidParameter},
		{core.ReportDetections, "", strings.Repeat("é", domain.MaxNameLength+1), "location", domain.CodeInvalidParameter},
	} {
		_, err := report(tc.report, tc.agency, tc.location)
		var de *domain.Error
		if !errors.As(err, &de) || de.Kind != domain.KindMalformed || de.Field != tc.field || de.Code != tc.code {
			t.Errorf("%s of %q at %.20q: %v, want a malformed %s (%s)", tc.report, tc.agency, tc.location, err, tc.field, tc.code)
		}
	}
	// The gangs report takes an agency, canonicalized.
	a, err := report(core.ReportGangsDismantled, "paf", "")
	if err != nil {
		t.Fatal(err)
	}
	if r := a.Body.(projections.GangsReport); r.Agency != "PAF" || r.Total != 0 {
		t.Errorf("gangs of paf: %+v", r)
	}
}
