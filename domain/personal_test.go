package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// fakeSealer is a TEST DOUBLE of the core's sealer: it "seals" by writing
// a digest of what it was given (deterministic, so fixtures are stable),
// and remembers each call.
type fakeSealer struct {
	calls []string // "<key>|<event id>|<field>|<plaintext>"
}

func (f *fakeSealer) seal(key KeyRef, eventID uuid.UUID, field, plaintext string) (string, error) {
	call := key.String() + "|" + eventID.String() + "|" + field + "|" + plaintext
	f.calls = append(f.calls, call)
	sum := sha256.Sum256([]byte(call))
	blob := append(sum[:SealNonceSize:SealNonceSize], sum[:]...) // nonce, 32 bytes "ciphertext"
	blob = append(blob, sum[:SealTagSize]...)                    // tag
	return FormatSealed(key, blob), nil
}

// runSealed is run with every command sealed by the test double.
func runSealed(t testing.TB, s *fakeSealer, cmds ...cmd) (Case, []Entry) {
	t.Helper()
	c := NewCase(testCaseID)
	var entries []Entry
	for i, k := range cmds {
		command := k.toCommand(i)
		command.Seal = s.seal
		e, err := Decide(c, command)
		if err != nil {
			t.Fatalf("given command %d (%s %s): %v", i, k.typ, k.data, err)
		}
		e.Position = uint64(100 + i)
		e.Stored.Position = e.Position
		if err := c.Apply(e); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		entries = append(entries, e)
	}
	return c, entries
}

func eraseA(reason string) cmd {
	return cmd{typ: TypePersonErased, data: `{"person_id":"` + personA.String() + `","reason":"` + reason + `"}`}
}

func TestDecideSealsPersonalFieldsAfterTheRules(t *testing.T) {
	s := &fakeSealer{}
	_, entries := runSealed(t, s, openCase, identifyA, intel, identifyB)
	stored := string(entries[1].Stored.Data) + string(entries[2].Stored.Data) + string(entries[3].Stored.Data)
	for _, plain := range []string{"John Doe", "1975-03-14", "British", "Driver paid", "Richard Roe"} {
		if strings.Contains(stored, plain) {
			t.Errorf("stored data holds %q in plain text: %s", plain, stored)
		}
	}
	want := []string{
		PersonKey(testCaseID, personA).String() + "|" + eventID(1).String() + "|name|John Doe",
		PersonKey(testCaseID, personA).String() + "|" + eventID(1).String() + "|date_of_birth|1975-03-14",
		PersonKey(testCaseID, personA).String() + "|" + eventID(1).String() + "|nationality|British",
		CaseKey(testCaseID).String() + "|" + eventID(2).String() + "|summary|Driver paid to carry migrants",
		PersonKey(testCaseID, personB).String() + "|" + eventID(3).String() + "|name|Richard Roe",
	}
	if strings.Join(s.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("sealer calls:\n%s\nwant:\n%s", strings.Join(s.calls, "\n"), strings.Join(want, "\n"))
	}
	// The chain covers what is stored.
	if v := VerifyEntries(entries); !v.Valid {
		t.Fatalf("chain: %+v", v)
	}
	// The grading and person id stay readable: only personal fields are sealed.
	if !strings.Contains(string(entries[2].Stored.Data), `"grading":"2B1"`) ||
		!strings.Contains(string(entries[1].Stored.Data), personA.String()) {
		t.Errorf("non-personal fields sealed: %s %s", entries[1].Stored.Data, entries[2].Stored.Data)
	}
	// Plaintext bounds apply before sealing: a name too long is refused,
	// and the sealer never sees it.
	s.calls = nil
	c, _ := runSealed(t, s, openCase)
	long := `{"person_id":"` + personA.String() + `","name":"` + strings.Repeat("x", MaxNameLength+1) + `"}`
	command := cmd{typ: TypeSuspectIdentified, data: long}.toCommand(1)
	command.Seal = s.seal
	if _, err := Decide(c, command); !errors.Is(err, ErrValidation) || len(s.calls) != 0 {
		t.Errorf("long name: %v, sealer calls %v", err, s.calls)
	}
}

func TestDecideSealErrorIsReturned(t *testing.T) {
	c, _ := run(t, openCase)
	command := identifyA.toCommand(1)
	boom := &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: "the key store is not answering"}
	command.Seal = func(KeyRef, uuid.UUID, string, string) (string, error) { return "", boom }
	if _, err := Decide(c, command); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the sealer's error", err)
	}
}

func TestCommandsMayNotLookSealed(t *testing.T) {
	c, _ := run(t, openCase)
	for _, data := range []string{
		`{"person_id":"` + personA.String() + `","name":"cbk:enc:v1:case:AAAA"}`,
		`{"person_id":"` + personA.String() + `","name":"J","nationality":"cbk:enc:whatever"}`,
	} {
		_, err := Decide(c, cmd{typ: TypeSuspectIdentified, data: data}.toCommand(1))
		if !errors.Is(err, ErrValidation) {
			t.Errorf("%s: %v, want a validation error", data, err)
		}
	}
	if _, err := Decide(c, cmd{typ: TypeIntelligenceLogged, data: `{"summary":"cbk:enc:v1:case:AAAA","grading":"1A1"}`}.toCommand(1)); !errors.Is(err, ErrValidation) {
		t.Errorf("sealed-looking summary: %v", err)
	}
}

func TestSealedValueForm(t *testing.T) {
	blob := bytes.Repeat([]byte{7}, SealNonceSize+SealTagSize+5)
	v := FormatSealed(PersonKey(testCaseID, personA), blob)
	if !strings.HasPrefix(v, "cbk:enc:v1:person-"+personA.String()+":") {
		t.Fatalf("form: %s", v)
	}
	name, got, ok := ParseSealed(v)
	if !ok || name != "person-"+personA.String() || !bytes.Equal(got, blob) {
		t.Fatalf("parse: %q %x %v", name, got, ok)
	}
	for _, bad := range []string{"cbk:enc:v1:case", "cbk:enc:v1:case:!!!", "cbk:enc:v1:nobody:AAAA",
		"cbk:enc:v1:person-x:" + strings.Repeat("A", 60), "cbk:enc:v1:case:AAAA" /* too short */} {
		if _, _, ok := ParseSealed(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestCheckRecordedAcceptsSealedFieldsByForm(t *testing.T) {
	s := &fakeSealer{}
	_, entries := runSealed(t, s, openCase, identifyA, intel)
	replay := func(mutate func(data string) string) *Error {
		c := NewCase(testCaseID)
		for i, e := range entries {
			if i == 1 && mutate != nil {
				e.Data = json.RawMessage(mutate(string(e.Data)))
				ev, err := DecodeEventData(e.Type, 1, e.Data)
				if err != nil {
					return fieldError("data", "%v", err)
				}
				e.Event = ev
			}
			if err := CheckRecorded(&c, e, nil, nil); err != nil {
				return err
			}
			if err := c.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	}
	if err := replay(nil); err != nil {
		t.Fatalf("sealed events refused: %v", err)
	}
	sealedName := func(data string) string {
		var m map[string]string
		_ = json.Unmarshal([]byte(data), &m)
		return m["name"]
	}
	for name, mutate := range map[string]func(string) string{
		"under another person's key": func(d string) string {
			return strings.ReplaceAll(d, "person-"+personA.String(), "person-"+personB.String())
		},
		"under the case key": func(d string) string {
			return strings.Replace(d, "person-"+personA.String(), "case", 1)
		},
		"malformed": func(d string) string { return strings.Replace(d, sealedName(d), "cbk:enc:v1:case", 1) },
		"too long": func(d string) string {
			return strings.Replace(d, sealedName(d), FormatSealed(PersonKey(testCaseID, personA), make([]byte, 40+MaxNameLength*4)), 1)
		},
	} {
		if err := replay(mutate); err == nil || err.Code != CodeValidation {
			t.Errorf("%s: %v, want a validation error", name, err)
		}
	}
}

func TestPersonErasedRules(t *testing.T) {
	s := &fakeSealer{}
	decide := func(c Case, n int, k cmd) error {
		command := k.toCommand(n)
		command.Seal = s.seal
		_, err := Decide(c, command)
		return err
	}
	t.Run("no personal data of that person", func(t *testing.T) {
		c, _ := runSealed(t, s, openCase, identifyB)
		if err := decide(c, 2, eraseA("subject access request upheld")); !errors.Is(err, ErrSuspectNotIdentified) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("already erased", func(t *testing.T) {
		c, _ := runSealed(t, s, openCase, identifyA, eraseA("retention period over"))
		err := decide(c, 3, eraseA("again"))
		if de, ok := AsError(err); !ok || de.Code != CodePersonAlreadyErased {
			t.Errorf("got %v", err)
		}
	})
	t.Run("plain text cannot be erased by a key", func(t *testing.T) {
		c, _ := run(t, openCase, identifyA)
		err := decide(c, 2, eraseA("retention period over"))
		if de, ok := AsError(err); !ok || de.Code != CodePersonalDataUnsealed {
			t.Errorf("got %v", err)
		}
	})
	t.Run("on a closed case, and of a retracted identification", func(t *testing.T) {
		c, _ := runSealed(t, s, openCase, identifyA, retract(1), closeCase)
		if err := decide(c, 4, eraseA("wrongly held")); err != nil {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no new data of an erased person", func(t *testing.T) {
		c, _ := runSealed(t, s, openCase, identifyA, retract(1), eraseA("wrongly held"))
		err := decide(c, 4, identifyA)
		if de, ok := AsError(err); !ok || de.Code != CodePersonErased {
			t.Errorf("got %v", err)
		}
	})
	t.Run("reason required, person id a UUID", func(t *testing.T) {
		c, _ := runSealed(t, s, openCase, identifyA)
		if err := decide(c, 2, cmd{typ: TypePersonErased, data: `{"person_id":"` + personA.String() + `","reason":"  "}`}); !errors.Is(err, ErrValidation) {
			t.Errorf("blank reason: %v", err)
		}
		if err := decide(c, 2, cmd{typ: TypePersonErased, data: `{"person_id":"nobody","reason":"r"}`}); !errors.Is(err, ErrValidation) {
			t.Errorf("bad person id: %v", err)
		}
	})
}

func TestErasureFold(t *testing.T) {
	s := &fakeSealer{}
	c, entries := runSealed(t, s, openCase, identifyA, identifyB, arrestA, chargeA, intel, eraseA("retention period over"))
	before, _ := runSealed(t, s, openCase, identifyA, identifyB, arrestA, chargeA, intel)
	if c.Counts != before.Counts {
		t.Errorf("figures changed by the erasure: %+v, were %+v", c.Counts, before.Counts)
	}
	at, ok := c.ErasedAt(personA)
	if !ok || !at.Equal(entries[6].Metadata.RecordedAt) {
		t.Fatalf("ErasedAt = %v %v", at, ok)
	}
	if _, ok := c.ErasedAt(personB); ok {
		t.Error("person B erased too")
	}
	sa, _ := c.Suspect(personA)
	if sa.Name != "" || sa.DateOfBirth != "" || sa.Nationality != "" || sa.Arrests != 1 || len(sa.Charges) != 2 {
		t.Errorf("suspect A after erasure: %+v", sa)
	}
	got, err := json.Marshal(sa)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"person_id":"` + personA.String() + `","name":null,"date_of_birth":null,"nationality":null,"identified_at":"2011-06-06T12:01:00Z","event_id":"` +
		eventID(1).String() + `","arrests":1,"charges":["facilitation","conspiracy"],"erased_at":"2011-06-06T12:06:00Z"}`
	if string(got) != want {
		t.Errorf("suspect JSON\n got %s\nwant %s", got, want)
	}
	// Another person's entry, not erased, keeps its form.
	sb, _ := c.Suspect(personB)
	if b, _ := json.Marshal(sb); strings.Contains(string(b), "null") || strings.Contains(string(b), "erased_at") {
		t.Errorf("suspect B: %s", b)
	}
	if got := c.Erasures(); len(got) != 1 || got[0] != personA {
		t.Errorf("Erasures = %v", got)
	}
	// The clone is independent.
	cl := c.Clone()
	cl.Apply(Entry{}) //nolint:errcheck // refused; changes nothing
	if _, ok := cl.ErasedAt(personA); !ok {
		t.Error("clone lost the erasure")
	}
}

func TestViewDataWritesNulls(t *testing.T) {
	ev := SuspectIdentified{PersonID: personA, Name: "John Doe"}
	got, err := ViewData(ev, []string{"name", "date_of_birth", "nationality"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"person_id":"` + personA.String() + `","name":null,"date_of_birth":null,"nationality":null}`
	if string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	got, _ = ViewData(IntelligenceLogged{Summary: "x", Grading: "1A1"}, nil)
	if string(got) != `{"summary":"x","grading":"1A1"}` {
		t.Errorf("no nulls: %s", got)
	}
	u := Suspect{PersonID: personA, Name: "", Nationality: "British", Charges: []string{},
		Unreadable: &Unreadable{Type: ProblemKeyUnavailable, Code: CodeKeyUnavailable, Fields: []string{"name"}, Detail: "missing"}}
	b, _ := json.Marshal(u)
	if !strings.Contains(string(b), `"name":null`) || !strings.Contains(string(b), `"nationality":"British"`) ||
		strings.Contains(string(b), "date_of_birth") || !strings.Contains(string(b), `"unreadable":{"type":"/problems/key-unavailable"`) {
		t.Errorf("unreadable suspect: %s", b)
	}
}

// generateSealedStream writes a case whose personal fields are sealed (by
// the test double: the form is what matters) and a person erased.
func generateSealedStream(t *testing.T) []StoredEvent {
	s := &fakeSealer{}
	_, entries := runSealed(t, s, openCase, identifyA, identifyB, intel, arrestA, eraseA("retention period over"), closeCase)
	return storedOf(entries)
}
