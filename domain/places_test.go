package domain

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestDefaultPlacesAreValid(t *testing.T) {
	p := DefaultPlaces()
	if len(p.Codes()) != len(DefaultPlaceList) {
		t.Fatalf("%d codes for %d places", len(p.Codes()), len(DefaultPlaceList))
	}
	// The places of the 2011 release, and the catch-all.
	for _, want := range []string{"DOVER", "COQUELLES", "CALAIS", PlaceOther} {
		if got, ok := p.Canonical(strings.ToLower(want)); !ok || got != want {
			t.Errorf("Canonical(%q) = %q, %v", strings.ToLower(want), got, ok)
		}
	}
	if p.Name("le_havre") != "Le Havre" || p.Name("nowhere") != "" {
		t.Errorf("names: %q %q", p.Name("le_havre"), p.Name("nowhere"))
	}
}

func TestNewPlaces(t *testing.T) {
	p, err := NewPlaces([]Place{{" Kent-1 ", ""}, {"EASTBOURNE", "Eastbourne"}})
	if err != nil {
		t.Fatal(err)
	}
	// OTHER is always there: the upcast of old events needs it.
	if got := strings.Join(p.Codes(), ","); got != "Kent-1,EASTBOURNE,OTHER" {
		t.Errorf("codes %s", got)
	}
	if c, ok := p.Canonical("KENT-1"); !ok || c != "Kent-1" || p.Name(c) != "Kent-1" {
		t.Errorf("canonical %q %v, name %q", c, ok, p.Name(c))
	}
	// A configured OTHER keeps its spelling OTHER and takes the given name.
	p, err = NewPlaces([]Place{{"other", "Elsewhere"}})
	if err != nil || strings.Join(p.Codes(), ",") != PlaceOther || p.Name("OTHER") != "Elsewhere" {
		t.Errorf("configured other: %v %v", p.List(), err)
	}
	for _, bad := range [][]Place{nil, {{"Home of John Quincy Public", ""}}, {{"X", ""}}, {{"DOVER", ""}, {"dover", ""}}, {{strings.Repeat("A", 33), ""}}} {
		if _, err := NewPlaces(bad); err == nil {
			t.Errorf("NewPlaces(%v) accepted", bad)
		}
	}
}

// A location is a code of the list: matched case-insensitively, stored
// canonical; free text goes to location_detail, unknown codes are refused.
func TestDecideCanonicalPlaces(t *testing.T) {
	places, err := NewPlaces([]Place{{"DOVER", "Dover"}, {"Kent-1", "Kent coast"}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := run(t, openCase, identifyA)
	decide := func(data string, places *Places) (Entry, error) {
		k := cmd{typ: TypeArrestMade, data: data}.toCommand(2)
		k.Places = places
		return Decide(c, k)
	}
	person := `"person_id":"` + personA.String() + `",`
	for _, tc := range []struct {
		data   string
		places *Places
		want   string // stored data; "" = refused
	}{
		{`{` + person + `"location":" dover ","offence":"x"}`, places, `{` + person + `"location":"DOVER","offence":"x","agency":"UKBA"}`},
		{`{` + person + `"location":"KENT-1","location_detail":" lay-by on the A20 ","offence":"x"}`, places,
			`{` + person + `"location":"Kent-1","location_detail":"lay-by on the A20","offence":"x","agency":"UKBA"}`},
		{`{` + person + `"location":"other","location_detail":"Home of John Quincy Public","offence":"x"}`, places,
			`{` + person + `"location":"OTHER","location_detail":"Home of John Quincy Public","offence":"x","agency":"UKBA"}`},
		{`{` + person + `"location":"Calais","offence":"x"}`, places, ""}, // not in this list
		{`{` + person + `"location":"Calais","offence":"x"}`, nil, `{` + person + `"location":"CALAIS","offence":"x","agency":"UKBA"}`},
		{`{` + person + `"location":"Home of John Quincy Public","offence":"x"}`, nil, ""},
	} {
		e, err := decide(tc.data, tc.places)
		if tc.want == "" {
			if de, ok := AsError(err); !ok || de.Field != "location" || de.Kind != KindInvalid ||
				(de.Code != CodeUnknownPlace && de.Code != CodeValidation) {
				t.Errorf("%s: %v, want unknown_place on location", tc.data, err)
			}
			continue
		}
		if err != nil || string(e.Data) != tc.want {
			t.Errorf("%s: stored %s (%v), want %s", tc.data, e.Data, err, tc.want)
		}
	}
	_, err = decide(`{`+person+`"location":"DOVER","location_detail":"`+strings.Repeat("x", MaxNameLength+1)+`","offence":"x"}`, places)
	if de, ok := AsError(err); !ok || de.Field != "location_detail" {
		t.Errorf("long detail: %v", err)
	}
	_, err = decide(`{`+person+`"location":"DOVER","location_detail":"cbk:enc:v1:case:AAAA","offence":"x"}`, places)
	if de, ok := AsError(err); !ok || de.Field != "location_detail" {
		t.Errorf("detail in the sealed form: %v", err)
	}
}

// The detail is personal data: sealed under the case's key, like
// intelligence.
func TestLocationDetailIsSealedUnderTheCaseKey(t *testing.T) {
	s := &fakeSealer{}
	_, entries := runSealed(t, s, openCase, detect)
	if bytes.Contains(entries[1].Stored.Data, []byte("ferry port")) || !bytes.Contains(entries[1].Stored.Data, []byte(`"location":"CALAIS"`)) {
		t.Fatalf("stored %s", entries[1].Stored.Data)
	}
	if want := CaseKey(testCaseID).String() + "|" + eventID(1).String() + "|location_detail|ferry port, lane 4"; len(s.calls) != 1 || s.calls[0] != want {
		t.Errorf("sealer calls %v, want %s", s.calls, want)
	}
	if fs := PersonalFields(testCaseID, entries[1].Event); len(fs) != 1 || fs[0].Key != CaseKey(testCaseID) || !IsSealed(fs[0].Value) {
		t.Errorf("personal fields %+v", fs)
	}
	if !HasPersonalFields(TypeCaseOpened) || HasPersonalFields(TypeGangDismantled) {
		t.Error("HasPersonalFields")
	}
}

// generateLegacyPlacesStream writes the events that carry a location as
// they were stored before places were codes: free text, a place's code, a
// place's name in any letter case, an address.
func generateLegacyPlacesStream(t *testing.T) []StoredEvent {
	id := uuid.MustParse("1e9ac1e5-0000-4000-8000-000000000002")
	stream := StreamName(id)
	actor := Actor{Subject: "officer.jones", Role: RoleInvestigator, Agency: "UKBA"}
	at := time.Date(2010, 4, 1, 8, 30, 0, 0, time.UTC)
	p := "c1000000-0000-4000-8000-00000000000a"
	events := []fixtureEvent{
		{TypeCaseOpened, 1, `{"reference":"UKBA-2010-0077","title":"Port of Le Havre cannabis","lead_agency":"UKBA","crime_types":["cannabis"],"location":"le havre"}`},
		{TypeSuspectIdentified, 1, `{"person_id":"` + p + `","name":"John Quincy Public"}`},
		{TypeArrestMade, 1, `{"person_id":"` + p + `","location":"Home of John Quincy Public","offence":"Importation of cannabis","agency":"UKBA"}`},
		{TypeSeizureRecorded, 1, `{"commodity":"cannabis","quantity":"12.5","unit":"kg","location":" dover "}`},
		{TypeSeizureRecorded, 2, `{"commodity":"cannabis","quantity":3,"unit":"kg","location":"Felixstowe"}`},
		{TypeStowawaysDetected, 2, `{"location":"Calais ferry port","method":"co2_probe","people":3}`},
		{TypeStowawaysDetected, 1, `{"location":"COQUELLES","method":"scanner","count":1}`},
		{TypeArrestMade, 1, `{"person_id":"` + p + `","location":"Zeebrugge","offence":"Importation of cannabis","agency":"UKBA"}`},
	}
	return sealFixture(t, stream, actor, at, events, "1e9ac1e5-0000-4000-8000-0000000001e", 2000)
}

// Old free-text locations read as codes, the text kept as detail when it
// names no known place; the stored bytes (and so the chain) are untouched.
func TestFixtureUpcastsFreeTextPlaces(t *testing.T) {
	stored := readFixture(t, filepath.Join("testdata", "stream-legacy-places.ndjson"))
	entries, err := DecodeStoredAll(stored)
	if err != nil {
		t.Fatal(err)
	}
	p := `"person_id":"c1000000-0000-4000-8000-00000000000a",`
	want := []string{
		`{"reference":"UKBA-2010-0077","title":"Port of Le Havre cannabis","lead_agency":"UKBA","crime_types":["cannabis"],"location":"LE_HAVRE"}`,
		`{` + p + `"name":"John Quincy Public"}`,
		`{` + p + `"location":"OTHER","location_detail":"Home of John Quincy Public","offence":"Importation of cannabis","agency":"UKBA"}`,
		`{"commodity":"cannabis","quantity":12.5,"unit":"kg","location":"DOVER"}`,
		`{"commodity":"cannabis","quantity":3,"unit":"kg","location":"FELIXSTOWE"}`,
		`{"location":"OTHER","location_detail":"Calais ferry port","method":"co2_probe","people":3}`,
		`{"location":"COQUELLES","method":"scanner","people":1}`,
		`{` + p + `"location":"ZEEBRUGGE","offence":"Importation of cannabis","agency":"UKBA"}`,
	}
	for i, e := range entries {
		if string(e.Data) != want[i] {
			t.Errorf("version %d (%s v%d): %s, want %s", i, e.Type, e.Metadata.SchemaVersion, e.Data, want[i])
		}
	}
	if v := Verify(stored); !v.Valid {
		t.Fatalf("chain: %+v", v)
	}
	// Judged as Decide would have written them, with the built-in list
	// whatever the configuration (its code was the upcast's choice).
	onlyDover, _ := NewPlaces([]Place{{"DOVER", "Dover"}})
	c := NewCase(uuid.MustParse("1e9ac1e5-0000-4000-8000-000000000002"))
	for _, e := range entries {
		if err := CheckRecorded(&c, e, nil, onlyDover); err != nil {
			t.Fatalf("version %d: %v", e.Version, err)
		}
		if err := c.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if c.Location != "LE_HAVRE" || !c.casePlain {
		t.Errorf("location %q, plain case-key data %v", c.Location, c.casePlain)
	}
	// A v3 event is judged by the configured list.
	e := entries[4]
	e.Metadata.SchemaVersion = SchemaVersion(TypeSeizureRecorded)
	before, rerr := Replay(entries[:4])
	if rerr != nil {
		t.Fatal(rerr)
	}
	if err := CheckRecorded(&before, e, nil, onlyDover); err == nil || err.Code != CodeUnknownPlace {
		t.Errorf("a current event at a place not configured: %v", err)
	}
	// A location_detail in an old schema is not a field of it.
	if _, err := DecodeEventData(TypeArrestMade, 1, []byte(`{`+p+`"location":"x","location_detail":"y","offence":"o"}`)); err == nil {
		t.Error("v1 with location_detail decoded")
	}
}
