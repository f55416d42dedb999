package domain

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// Commands of the retention tests.
var (
	openHeron    = cmd{typ: TypeCaseOpened, data: `{"reference":"OP-HERON-2011","title":"Cash couriers at the Eastern Docks","lead_agency":"UKBA","crime_types":["cash","money_laundering"],"location":"dover","location_detail":"Eastern Docks, lane 7"}`}
	arrestAtHome = cmd{typ: TypeArrestMade, data: `{"person_id":"` + personA.String() + `","location":"OTHER","location_detail":"Home of John Doe, 4 Quay Street","offence":"money laundering"}`}
	seizeCash    = cmd{typ: TypeSeizureRecorded, data: `{"commodity":"cash","quantity":25000,"unit":"gbp","location":"DOVER","location_detail":"Eastern Docks, lane 7","exhibit_ref":"EX-9"}`}
	retain       = cmd{typ: TypeRetentionReviewed, data: `{"decision":"retain","reason":"proceedings pending","next_review":"2021-06-06"}`}
	retainAgain  = cmd{typ: TypeRetentionReviewed, data: `{"decision":"retain","reason":"still needed for a policing purpose"}`}
	dispose      = cmd{typ: TypeRetentionReviewed, data: `{"decision":"dispose","reason":"no policing purpose remains"}`}
)

func review(data string) cmd { return cmd{typ: TypeRetentionReviewed, data: data} }

// generateRetentionStream writes a case of the current schemas: places as
// codes with their details sealed, a closure, a retention review that
// retains and one that disposes.
func generateRetentionStream(t *testing.T) []StoredEvent {
	s := &fakeSealer{}
	_, entries := runSealed(t, s, openHeron, identifyA, intel, arrestAtHome, seizeCash, detect, closeCase, retain, dispose)
	return storedOf(entries)
}

func TestRetentionReviewRules(t *testing.T) {
	s := &fakeSealer{}
	closed := []cmd{openHeron, identifyA, intel, closeCase}
	for _, tc := range []struct {
		name  string
		given []cmd
		cmd   cmd
		code  string
		field string
	}{
		{"an open case", []cmd{openHeron}, retain, CodeCaseNotClosed, ""},
		{"a reopened case", append(slices.Clone(closed), reopen), dispose, CodeCaseNotClosed, ""},
		{"an unknown decision", closed, review(`{"decision":"archive","reason":"r"}`), CodeValidation, "decision"},
		{"no reason", closed, review(`{"decision":"retain","reason":" "}`), CodeValidation, "reason"},
		{"next_review with dispose", closed, review(`{"decision":"dispose","reason":"r","next_review":"2030-01-01"}`), CodeValidation, "next_review"},
		{"next_review today", closed, review(`{"decision":"retain","reason":"r","next_review":"2011-06-06"}`), CodeValidation, "next_review"},
		{"next_review not a date", closed, review(`{"decision":"retain","reason":"r","next_review":"June 2020"}`), CodeValidation, "next_review"},
		{"next_review beyond a century", closed, review(`{"decision":"retain","reason":"r","next_review":"2111-06-07"}`), CodeValidation, "next_review"},
		{"a disposed case", append(slices.Clone(closed), dispose), retain, CodeCaseDisposed, ""},
		{"reopening a disposed case", append(slices.Clone(closed), dispose), reopen, CodeCaseDisposed, ""},
		{"erasing a person of a disposed case", append(slices.Clone(closed), dispose), eraseA("wrongly held"), CodePersonAlreadyErased, "person_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := runSealed(t, s, tc.given...)
			k := tc.cmd.toCommand(len(tc.given))
			k.Seal = s.seal
			_, err := Decide(c, k)
			de, ok := AsError(err)
			if !ok || de.Code != tc.code || de.Field != tc.field {
				t.Fatalf("%v, want %s on %q", err, tc.code, tc.field)
			}
		})
	}
	// At the bounds: a century ahead is accepted; a retraction after the
	// disposal too (figures can still be corrected).
	runSealed(t, s, append(slices.Clone(closed), review(`{"decision":"retain","reason":"r","next_review":"2111-06-06"}`))...)
	runSealed(t, s, append(slices.Clone(closed), dispose, retract(2))...)
}

// Disposal needs every personal field sealed: plaintext (written before
// encryption) cannot be erased by destroying keys.
func TestDisposalOfPlaintextIsRefused(t *testing.T) {
	c, _ := run(t, openHeron, identifyA, closeCase) // no sealer: plain text
	_, err := Decide(c, dispose.toCommand(3))
	if de, ok := AsError(err); !ok || de.Code != CodePersonalDataUnsealed {
		t.Fatalf("%v", err)
	}
	// Retaining is fine; so is disposing of a case without personal data.
	if _, err := Decide(c, retain.toCommand(3)); err != nil {
		t.Fatal(err)
	}
	plain, _ := run(t, openCase, seizeCoke, closeCase)
	if _, err := Decide(plain, dispose.toCommand(3)); err != nil {
		t.Fatal(err)
	}
	// Plaintext under the case's key counts too.
	c, _ = run(t, openCase, intel, closeCase)
	if _, err := Decide(c, dispose.toCommand(3)); err == nil {
		t.Fatal("plain intelligence disposed of")
	}
}

func TestDisposalFold(t *testing.T) {
	s := &fakeSealer{}
	c, entries := runSealed(t, s, openHeron, identifyA, identifyB, intel, eraseA("wrongly held"), closeCase, dispose)
	d, ok := c.Disposal()
	if !ok || d.EventID != entries[6].ID || c.DisposedAt == nil || !c.DisposedAt.Equal(entries[6].Metadata.RecordedAt) {
		t.Fatalf("disposal %+v %v, disposed_at %v", d, ok, c.DisposedAt)
	}
	// Every person erased: B by the disposal, A by their own erasure first.
	erA, _ := c.Erasure(personA)
	erB, _ := c.Erasure(personB)
	if erA.EventID != entries[4].ID || erB.EventID != entries[6].ID {
		t.Errorf("erasures %+v %+v", erA, erB)
	}
	for _, sp := range c.Suspects {
		if sp.Name != "" || sp.ErasedAt == nil {
			t.Errorf("suspect %+v", sp)
		}
	}
	keys := c.KeysOf()
	want := []KeyRef{CaseKey(testCaseID), PersonKey(testCaseID, personA), PersonKey(testCaseID, personB)}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	b, _ := json.Marshal(c)
	if !strings.Contains(string(b), `"disposed_at":"`) || !strings.Contains(string(b), `"name":null`) {
		t.Errorf("case JSON %s", b)
	}
	if c.Counts.Suspects != 2 || c.Counts.IntelligenceReports != 1 {
		t.Errorf("figures changed: %+v", c.Counts)
	}
	if _, due := c.ReviewDue(DefaultRetention()); due {
		t.Error("a disposed case is due for review")
	}
}

func TestReviewDue(t *testing.T) {
	table := DefaultRetention()
	s := &fakeSealer{}
	c, _ := runSealed(t, s, openHeron)
	if _, ok := c.ReviewDue(table); ok {
		t.Error("an open case has a review date")
	}
	closedAt := time.Date(2010, 2, 28, 9, 30, 0, 0, time.UTC)
	closeAt := closeCase
	closeAt.occurred = &closedAt
	// cash (6 years) and money laundering (10): the longest applies.
	c, _ = runSealed(t, s, openHeron, closeAt)
	if got, ok := c.ReviewDue(table); !ok || !got.Equal(closedAt.AddDate(10, 0, 0)) {
		t.Errorf("due %s %v, want 10 years after the closure", got, ok)
	}
	// Retained until a date; retained again without one: a period from the decision.
	c, entries := runSealed(t, s, openHeron, closeAt, retain)
	if got, _ := c.ReviewDue(table); got.Format(time.DateOnly) != "2021-06-06" {
		t.Errorf("due %s after retain with next_review", got)
	}
	c, entries = runSealed(t, s, openHeron, closeAt, retain, retainAgain)
	if got, _ := c.ReviewDue(table); !got.Equal(entries[3].Metadata.OccurredAt.AddDate(10, 0, 0)) {
		t.Errorf("due %s after retain without next_review", got)
	}
	if r, ok := c.LastReview(); !ok || r.Decision != DecisionRetain || r.NextReview != nil || r.Version != 3 {
		t.Errorf("last review %+v", r)
	}
	// Reopened: no date; closed again: the clock starts again.
	c, entries = runSealed(t, s, openHeron, closeAt, retain, reopen, closeCase)
	if got, _ := c.ReviewDue(table); !got.Equal(entries[4].Metadata.OccurredAt.AddDate(10, 0, 0)) {
		t.Errorf("due %s after closing again", got)
	}
	if _, ok := c.LastReview(); ok {
		t.Error("a review of an earlier closure is the last")
	}
	// A configured table: cash alone for 3 years.
	rules := slices.Clone(DefaultRetentionRules)
	for i := range rules {
		rules[i].Years = 3
	}
	short, err := NewRetentionTable(rules)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = runSealed(t, s, openHeron, closeAt)
	if got, _ := c.ReviewDue(short); !got.Equal(closedAt.AddDate(3, 0, 0)) {
		t.Errorf("due %s with a 3-year table", got)
	}
}

func TestRetentionTable(t *testing.T) {
	d := DefaultRetention()
	for _, r := range d.Rules() {
		if r.Years > 75 || r.Years < 1 {
			t.Errorf("default period of %s: %d years", r.CrimeType, r.Years)
		}
	}
	if y, g := d.Period([]string{CrimeTobacco, CrimeFirearms}); y != 10 || g != RetentionSerious {
		t.Errorf("period %d %s", y, g)
	}
	if y, g := d.Period([]string{CrimeTobacco}); y != 6 || g != RetentionOther {
		t.Errorf("period %d %s", y, g)
	}
	if y, _ := d.Period(nil); y != 6 {
		t.Errorf("no crime type: %d", y)
	}
	ok := slices.Clone(DefaultRetentionRules)
	for name, rules := range map[string][]RetentionRule{
		"missing":      ok[1:],
		"twice":        append(slices.Clone(ok), ok[0]),
		"unknown":      append(slices.Clone(ok), RetentionRule{"jaywalking", 1, "other"}),
		"zero years":   append(slices.Clone(ok[1:]), RetentionRule{ok[0].CrimeType, 0, "x"}),
		"a century+1":  append(slices.Clone(ok[1:]), RetentionRule{ok[0].CrimeType, 101, "x"}),
		"a bad group":  append(slices.Clone(ok[1:]), RetentionRule{ok[0].CrimeType, 5, "Group 1"}),
		"an empty one": append(slices.Clone(ok[1:]), RetentionRule{ok[0].CrimeType, 5, ""}),
	} {
		if _, err := NewRetentionTable(rules); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
