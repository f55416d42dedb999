package domain

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// randomCommand draws a command for the case's current state: mostly ones
// that should be accepted, some that break a rule (which Decide must refuse
// without changing anything).
func randomCommand(r *rand.Rand, c *Case, n int) Command {
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	person := func() uuid.UUID {
		if len(c.Suspects) > 0 && r.IntN(10) > 0 {
			return c.Suspects[r.IntN(len(c.Suspects))].PersonID
		}
		return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "person-%d", r.IntN(8)))
	}
	group := func() uuid.UUID {
		if len(c.Groups) > 0 && r.IntN(10) > 0 {
			return c.Groups[r.IntN(len(c.Groups))].GroupID
		}
		return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "group-%d", r.IntN(4)))
	}
	places := []string{"Calais", "Coquelles", "Dover", "Dunkirk", "Zeebrugge"}
	var typ string
	var data any
	switch k := r.IntN(14); {
	case c.Status == StatusClosed && r.IntN(2) == 0:
		typ, data = TypeCaseReopened, CaseReopened{Reason: "new evidence"}
	case !c.Exists() || k == 0:
		typ, data = TypeCaseOpened, CaseOpened{Reference: fmt.Sprintf("R-%d", n), Title: "Case", CrimeTypes: []string{pick(CrimeTypes)}, Location: pick(places)}
	case k == 1:
		typ, data = TypeAgencyJoined, AgencyJoined{Agency: pick([]string{"SOCA", "Police aux Frontières", "JOCC", "UKBA"})}
	case k == 2:
		typ, data = TypeOrganisedCrimeGroupLinked, OrganisedCrimeGroupLinked{GroupID: group(), Name: "Group"}
	case k == 3:
		typ, data = TypeSuspectIdentified, SuspectIdentified{PersonID: person(), Name: "Suspect", Nationality: "French"}
	case k == 4:
		typ, data = TypeIntelligenceLogged, IntelligenceLogged{Summary: "tip-off", Grading: fmt.Sprintf("%d%c%d", 1+r.IntN(3), 'A'+rune(r.IntN(5)), 1+r.IntN(2))}
	case k == 5:
		typ, data = TypeArrestMade, ArrestMade{PersonID: person(), Location: pick(places), Offence: "facilitation"}
	case k == 6:
		typ, data = TypeSuspectCharged, SuspectCharged{PersonID: person(), Charges: []string{"conspiracy"}}
	case k == 7:
		com := pick(Commodities)
		unit := UnitFor(com)
		if unit == "" {
			unit = pick(Units)
		}
		q := QuantityFromMicros(int64(1+r.IntN(5000)) * 10_000)
		if unit == UnitSticks || unit == UnitItems {
			q = QuantityFromMicros(int64(1+r.IntN(1000)) * QuantityScale)
		}
		typ, data = TypeSeizureRecorded, SeizureRecorded{Commodity: com, Quantity: q, Unit: unit, Location: pick(places)}
	case k == 8:
		typ, data = TypeStowawaysDetected, StowawaysDetected{Location: pick(places), Method: pick(Methods), People: 1 + r.IntN(30)}
	case k == 9:
		typ, data = TypeGangDismantled, GangDismantled{GroupID: group()}
	case k == 10:
		typ, data = TypeCaseClosed, CaseClosed{Outcome: "done"}
	case k == 11:
		typ, data = TypeCaseReopened, CaseReopened{Reason: "more"}
	default:
		// Retract one of the earlier events (any kind: some are refused).
		typ, data = TypeEntryRetracted, EntryRetracted{EventID: eventID(r.IntN(n + 1)), Reason: "error"}
	}
	b, _ := json.Marshal(data)
	k := Command{EventID: eventID(n), Type: typ, Data: b, Actor: officerUKBA,
		Now: testNow.Add(time.Duration(n) * time.Minute)}
	if r.IntN(3) == 0 {
		k.OccurredAt = at(testNow.Add(-time.Duration(r.IntN(1000)) * time.Hour))
	}
	return k
}

// storeRoundTrip is what a store does to an event: keep its bytes, and hand
// them back (here through the NDJSON export line, as export/import would).
func storeRoundTrip(t testing.TB, se StoredEvent) StoredEvent {
	b, err := json.Marshal(fixtureLine{ID: se.ID, Stream: se.Stream, Type: se.Type, Version: se.Version,
		Position: se.Position, Data: se.Data, Metadata: se.Metadata})
	if err != nil {
		t.Fatal(err)
	}
	var l fixtureLine
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return StoredEvent{ID: l.ID, Stream: l.Stream, Type: l.Type, Version: l.Version, Position: l.Position,
		Data: l.Data, Metadata: l.Metadata}
}

// Property: deciding a sequence live and replaying what was stored give the
// same state, at the end and at every version and recorded time between.
func TestReplayEqualsLiveDecisions(t *testing.T) {
	sequences, length := 100, 80
	if testing.Short() {
		sequences = 30
	}
	accepted, refused := 0, 0
	for seq := range sequences {
		r := rand.New(rand.NewPCG(uint64(seq), 42))
		live := NewCase(testCaseID)
		var stored []StoredEvent
		var snapshots []Case
		n := 0
		for range length {
			k := randomCommand(r, &live, n)
			before := live.Clone()
			e, err := Decide(live, k)
			if err != nil {
				if _, ok := AsError(err); !ok {
					t.Fatalf("seq %d: non-domain error %v", seq, err)
				}
				if !reflect.DeepEqual(before, live) {
					t.Fatalf("seq %d: a refused command changed the state", seq)
				}
				refused++
				continue
			}
			e.Position = uint64(10 + n)
			e.Stored.Position = e.Position
			if err := live.Apply(e); err != nil {
				t.Fatalf("seq %d: apply: %v", seq, err)
			}
			stored = append(stored, storeRoundTrip(t, e.Stored))
			snapshots = append(snapshots, live.Clone())
			accepted++
			n++
		}
		if v := Verify(stored); !v.Valid || v.Checked != len(stored) {
			t.Fatalf("seq %d: chain %+v", seq, v)
		}
		entries, err := DecodeStoredAll(stored)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		replayed, err := Replay(entries)
		if err != nil {
			t.Fatalf("seq %d: replay: %v", seq, err)
		}
		if !reflect.DeepEqual(live, replayed) {
			t.Fatalf("seq %d: replayed state differs from live:\nlive     %s\nreplayed %s", seq, mustJSON(t, live), mustJSON(t, replayed))
		}
		// Time travel gives the intermediate states (a sample of them:
		// each check replays from version 0).
		for range 4 {
			if len(snapshots) == 0 {
				break
			}
			v := r.IntN(len(snapshots))
			at, err := StateAtVersion(entries, uint64(v))
			if err != nil || !reflect.DeepEqual(at, snapshots[v]) {
				t.Fatalf("seq %d: state at version %d differs (%v)", seq, v, err)
			}
			asOf, err := StateAsOf(entries, entries[v].Metadata.RecordedAt)
			if err != nil || !reflect.DeepEqual(asOf, snapshots[v]) {
				t.Fatalf("seq %d: state as of %s differs (%v)", seq, entries[v].Metadata.RecordedAt, err)
			}
		}
	}
	t.Logf("%d sequences: %d commands accepted, %d refused", sequences, accepted, refused)
	if accepted < sequences*length/2 || refused == 0 {
		t.Fatalf("generator is lopsided: %d accepted, %d refused", accepted, refused)
	}
}

func TestTimeTravelBounds(t *testing.T) {
	_, entries := run(t, openCase, identifyA, arrestA)
	if _, err := StateAtVersion(entries, 3); !isCode(err, CodeVersionNotFound) {
		t.Errorf("version beyond the head: %v", err)
	}
	if _, err := StateAsOf(entries, entries[0].Metadata.RecordedAt.Add(-time.Nanosecond)); !isCode(err, CodeCaseNotFound) {
		t.Errorf("before the case was opened: %v", err)
	}
	c, err := StateAsOf(entries, entries[1].Metadata.RecordedAt.Add(30*time.Second))
	if err != nil || c.Version != 1 || c.Counts.Arrests != 0 {
		t.Errorf("between versions 1 and 2: %+v %v", c, err)
	}
	c, err = StateAsOf(entries, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || c.Version != 2 {
		t.Errorf("far future: %v %v", c.Version, err)
	}
}

func isCode(err error, code string) bool {
	de, ok := AsError(err)
	return ok && de.Code == code
}

// Apply refuses what cannot be one case's stream.
func TestApplyRefusesImpossibleStreams(t *testing.T) {
	_, entries := run(t, openCase, identifyA, arrestA)
	for name, seq := range map[string][]Entry{
		"gap":                 {entries[0], entries[2]},
		"event before opened": {entries[1]},
		"opened twice":        {entries[0], func() Entry { e := entries[0]; e.Version = 1; return e }()},
		"same id twice":       {entries[0], func() Entry { e := entries[1]; e.ID = entries[0].ID; return e }()},
		"no decoded event":    {func() Entry { e := entries[0]; e.Event = nil; return e }()},
	} {
		if _, err := Replay(seq); err == nil || !strings.Contains(err.Error(), "cannot be decoded") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	c, _ := run(t, openCase, identifyA, linkG, chargeA, seizeCoke, dismantle)
	snapshot := mustJSON(t, c)
	cp := c.Clone()
	e, err := Decide(cp, retract(5).toCommand(6))
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Apply(e); err != nil {
		t.Fatal(err)
	}
	e, _ = Decide(cp, retract(3).toCommand(7))
	_ = cp.Apply(e)
	cp.Agencies[0] = "changed"
	cp.Suspects[0].Name = "changed"
	if string(mustJSON(t, c)) != string(snapshot) {
		t.Fatal("changing a clone changed the original")
	}
	if _, _, retracted, _ := c.Entry(eventID(5)); retracted {
		t.Fatal("the clone's retraction leaked into the original's index")
	}
}
