package domain

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// chainOfEveryType is a case stream with every event type in it.
func chainOfEveryType(t testing.TB) []Entry {
	_, entries := run(t, openCase, identifyA, linkG, joinFR, intel, arrestA, chargeA, seizeCoke, detect,
		dismantle, retract(5), closeCase, reopen)
	return entries
}

func clone(events []StoredEvent) []StoredEvent {
	out := slices.Clone(events)
	for i := range out {
		out[i].Data = bytes.Clone(out[i].Data)
		out[i].Metadata = bytes.Clone(out[i].Metadata)
	}
	return out
}

func wantInvalidAt(t *testing.T, what string, got VerifyResult, version uint64) {
	t.Helper()
	if got.Valid || got.FirstInvalidVersion == nil || *got.FirstInvalidVersion != version {
		at := "none"
		if got.FirstInvalidVersion != nil {
			at = strconv.FormatUint(*got.FirstInvalidVersion, 10)
		}
		t.Fatalf("%s: want invalid at version %d, got valid=%v at %s (%s)", what, version, got.Valid, at, got.Reason)
	}
	if got.Reason == "" {
		t.Fatalf("%s: no reason given", what)
	}
}

func TestVerifyValidChain(t *testing.T) {
	entries := chainOfEveryType(t)
	got := Verify(storedOf(entries))
	if !got.Valid || got.Checked != len(entries) || got.HeadHash != entries[len(entries)-1].Metadata.Hash || got.FirstInvalidVersion != nil {
		t.Fatalf("valid chain: %+v", got)
	}
	if e := VerifyEntries(entries); e != got {
		t.Fatalf("VerifyEntries %+v differs from Verify %+v", e, got)
	}
	if empty := Verify(nil); !empty.Valid || empty.Checked != 0 || empty.HeadHash != "" {
		t.Fatalf("empty stream: %+v", empty)
	}
	// The chain starts at "" and links each event to the one before.
	if entries[0].Metadata.PrevHash != "" {
		t.Fatal("version 0 has a prev_hash")
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].Metadata.PrevHash != entries[i-1].Metadata.Hash || len(entries[i].Metadata.Hash) != 64 {
			t.Fatalf("link %d broken", i)
		}
	}
	// JSON shape for the API.
	b, _ := json.Marshal(got)
	if !strings.Contains(string(b), `"valid":true`) || strings.Contains(string(b), "first_invalid_version") {
		t.Fatalf("JSON %s", b)
	}
}

// Every single byte of every stored event, changed, is caught at that
// event's version.
func TestVerifyDetectsEveryChangedByte(t *testing.T) {
	stored := storedOf(chainOfEveryType(t))
	// verifiers[k] has checked versions 0..k-1; copying it checks a changed
	// version k without re-checking what comes before (Verify itself stops
	// at the first break, so what comes after does not matter).
	verifiers := make([]ChainVerifier, len(stored))
	v := NewChainVerifier("")
	for k, e := range stored {
		verifiers[k] = *v
		v.Add(e)
	}
	checked := 0
	for k := range stored {
		for _, part := range []string{"data", "metadata"} {
			n := len(stored[k].Data)
			masks := []byte{0x01}
			if part == "metadata" {
				n = len(stored[k].Metadata)
				masks = append(masks, 0x20) // letter case: "Hash" would decode as "hash"
			}
			for i := range n {
				for _, mask := range masks {
					e := clone(stored[k : k+1])[0]
					b := e.Data
					if part == "metadata" {
						b = e.Metadata
					}
					b[i] ^= mask
					cv := verifiers[k]
					cv.Add(e)
					got := cv.Result()
					if got.Valid || got.FirstInvalidVersion == nil || *got.FirstInvalidVersion != uint64(k) {
						t.Fatalf("%s byte %d of version %d flipped (%q): %+v", part, i, k, b, got)
					}
					checked++
				}
			}
		}
	}
	// And through Verify itself, for one change per event.
	for k := range stored {
		events := clone(stored)
		events[k].Data[len(events[k].Data)/2] ^= 1
		wantInvalidAt(t, "changed byte", Verify(events), uint64(k))
	}
	t.Logf("%d single-byte changes, each detected at its version", checked)
}

func TestVerifyDetectsChangedEnvelope(t *testing.T) {
	stored := storedOf(chainOfEveryType(t))
	k := 5
	for name, change := range map[string]func(*StoredEvent){
		"event id":     func(e *StoredEvent) { e.ID = uuid.New() },
		"type":         func(e *StoredEvent) { e.Type = TypeIntelligenceLogged },
		"stream":       func(e *StoredEvent) { e.Stream = StreamName(uuid.New()) },
		"whitespace":   func(e *StoredEvent) { e.Metadata = append([]byte(" "), e.Metadata...) }, // harmless: same canonical bytes
		"data emptied": func(e *StoredEvent) { e.Data = nil },
	} {
		events := clone(stored)
		change(&events[k])
		got := Verify(events)
		if name == "whitespace" {
			if !got.Valid {
				t.Errorf("insignificant whitespace broke the chain: %+v", got)
			}
			continue
		}
		wantInvalidAt(t, name, got, uint64(k))
	}
}

// An edited event whose hash the forger recomputed still breaks the chain:
// at the next event, whose prev_hash no longer matches.
func TestVerifyDetectsRehashedEvent(t *testing.T) {
	stored := storedOf(chainOfEveryType(t))
	events := clone(stored)
	k := 5
	m, err := DecodeMetadata(events[k].Metadata)
	if err != nil {
		t.Fatal(err)
	}
	events[k].Data = bytes.Replace(events[k].Data, []byte("DOVER"), []byte("CALAIS"), 1)
	forged, _, err := Seal(events[k].ID, events[k].Stream, events[k].Version, events[k].Type, events[k].Data, m)
	if err != nil {
		t.Fatal(err)
	}
	events[k] = forged
	wantInvalidAt(t, "re-hashed event", Verify(events), uint64(k+1))
}

func TestVerifyDetectsDroppedEvent(t *testing.T) {
	stored := storedOf(chainOfEveryType(t))
	for k := 0; k < len(stored)-1; k++ {
		events := slices.Delete(clone(stored), k, k+1)
		got := Verify(events)
		wantInvalidAt(t, "dropped event", got, uint64(k))
		if !strings.Contains(got.Reason, "missing or out of order") {
			t.Fatalf("dropped event: the reason does not say so: %s", got.Reason)
		}
		// A forger who also renumbers the versions after the gap is caught
		// at the same version (by prev_hash, and the version is hashed).
		for i := k; i < len(events); i++ {
			events[i].Version = uint64(i)
		}
		wantInvalidAt(t, "dropped event, renumbered", Verify(events), uint64(k))
	}
}

func TestVerifyDetectsSwappedEvents(t *testing.T) {
	stored := storedOf(chainOfEveryType(t))
	for k := 0; k < len(stored)-1; k++ {
		events := clone(stored)
		events[k], events[k+1] = events[k+1], events[k]
		wantInvalidAt(t, "swapped events", Verify(events), uint64(k))
		events[k].Version, events[k+1].Version = uint64(k), uint64(k+1)
		wantInvalidAt(t, "swapped events, renumbered", Verify(events), uint64(k))
	}
}

func TestChainVerifierStopsAtFirstBreak(t *testing.T) {
	stored := clone(storedOf(chainOfEveryType(t)))
	stored[3].Data[2] ^= 1
	stored[7].Data[2] ^= 1
	v := NewChainVerifier(stored[0].Stream)
	for i, e := range stored {
		if ok := v.Add(e); ok != (i < 3) {
			t.Fatalf("Add(%d) = %v", i, ok)
		}
	}
	r := v.Result()
	if r.Valid || r.Checked != 4 || r.FirstInvalidVersion == nil || *r.FirstInvalidVersion != 3 {
		t.Fatalf("result %+v", r)
	}
	m, _ := DecodeMetadata(stored[2].Metadata)
	if r.HeadHash != m.Hash {
		t.Fatalf("head hash %s, want the last valid event's %s", r.HeadHash, m.Hash)
	}
}

// The canonical encoding is fixed: this hash was computed once and must
// never change, or every stored chain would stop verifying.
func TestComputeHashIsStable(t *testing.T) {
	in := HashInput{
		PrevHash:      "",
		Stream:        "case-6d1e2f3a-0000-4000-8000-0000000000ca",
		Version:       0,
		EventID:       uuid.MustParse("e0000000-0000-4000-8000-000000000000"),
		Type:          TypeCaseOpened,
		SchemaVersion: 1,
		OccurredAt:    time.Date(2011, 6, 6, 12, 0, 0, 0, time.UTC),
		RecordedAt:    time.Date(2011, 6, 6, 12, 0, 0, 500, time.UTC),
		Actor:         officerUKBA,
		CorrelationID: uuid.MustParse("e0000000-0000-4000-8000-000000000000"),
		CausationID:   uuid.MustParse("e0000000-0000-4000-8000-000000000000"),
		Data:          []byte(`{ "reference": "R" }`),
	}
	h, err := ComputeHash(in)
	if err != nil {
		t.Fatal(err)
	}
	// Recomputed independently from the documented encoding (a few lines of
	// Python: hashlib.sha256 over struct.pack(">Q", len(f)) + f per field).
	const want = "21b03d5d3616398aaf1d29ecfd269d2ce08881d6a447a92cf681555c4074a7cd"
	if h != want {
		t.Fatalf("hash %s, want %s", h, want)
	}
	// Whitespace in the data does not matter; anything else does.
	in2 := in
	in2.Data = []byte(`{"reference":"R"}`)
	if h2, _ := ComputeHash(in2); h2 != h {
		t.Fatal("compacting the data changed the hash")
	}
	// A time in another zone is the same instant.
	in2.OccurredAt = in.OccurredAt.In(time.FixedZone("CET", 3600))
	if h2, _ := ComputeHash(in2); h2 != h {
		t.Fatal("the zone of a time changed the hash")
	}
	for name, change := range map[string]func(*HashInput){
		"prev":     func(x *HashInput) { x.PrevHash = "00" },
		"version":  func(x *HashInput) { x.Version = 1 },
		"schema":   func(x *HashInput) { x.SchemaVersion = 2 },
		"recorded": func(x *HashInput) { x.RecordedAt = x.RecordedAt.Add(1) },
		"subject":  func(x *HashInput) { x.Actor.Subject = "someone else" },
		"role":     func(x *HashInput) { x.Actor.Role = RoleAuditor },
		"agency":   func(x *HashInput) { x.Actor.Agency = "SOCA" },
		"corr":     func(x *HashInput) { x.CorrelationID = uuid.Nil },
		"caus":     func(x *HashInput) { x.CausationID = uuid.Nil },
		"data":     func(x *HashInput) { x.Data = []byte(`{"reference":"S"}`) },
		// Length prefixes: moving a byte from one field to the next
		// changes the hash.
		"boundary": func(x *HashInput) { x.Actor.Subject, x.Actor.Role = "officer.smit", "hinvestigator" },
	} {
		x := in
		change(&x)
		if h2, _ := ComputeHash(x); h2 == h {
			t.Errorf("changing %s did not change the hash", name)
		}
	}
	if _, err := ComputeHash(HashInput{Data: []byte(`{`)}); err == nil {
		t.Error("invalid data JSON hashed")
	}
}

// TestScanCanonicalMetadataReadsWhatUnmarshalReads: the fast path of
// CheckLink reads every envelope of a chain of every type as encoding/json
// does, and leaves to the slow path what it does not read (escaped strings,
// another key order, whitespace), where the chain still verifies.
func TestScanCanonicalMetadataReadsWhatUnmarshalReads(t *testing.T) {
	for _, se := range storedOf(chainOfEveryType(t)) {
		got, ok := scanCanonicalMetadata(se.Metadata)
		var want Metadata
		if err := json.Unmarshal(se.Metadata, &want); err != nil {
			t.Fatal(err)
		}
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("version %d: scanned %+v (ok %v), unmarshalled %+v", se.Version, got, ok, want)
		}
	}
	m := Metadata{SchemaVersion: 1, OccurredAt: testNow, RecordedAt: testNow,
		Actor:         Actor{Subject: `o'brien "the" <officer>`, Role: RoleInvestigator, Agency: "UKBA"},
		CorrelationID: eventID(1), CausationID: eventID(1), Hash: "ab"}
	canonical, err := EncodeMetadata(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{
		canonical, // the subject needs escapes
		[]byte(`{"schema_version":1, "occurred_at":"2011-06-07T00:00:00Z"}`),
		[]byte(`{"occurred_at":"2011-06-07T00:00:00Z","schema_version":1}`),
		[]byte(`{"schema_version":-1`),
		[]byte(``),
	} {
		if _, ok := scanCanonicalMetadata(b); ok {
			t.Fatalf("%s: read by the fast path", b)
		}
	}
	// Bytes a JSON string may not hold as they are: scanned, but not
	// accepted as canonical (re-encoding escapes them), so the strict
	// decode refuses them as encoding/json does.
	raw := bytes.Replace(storedOf(chainOfEveryType(t))[0].Metadata, []byte("officer.smith"), []byte("officer\x01smith"), 1)
	raw = bytes.Replace(raw, []byte(`\x01`), []byte{1}, 1)
	if _, ok := scanCanonicalMetadata(raw); !ok {
		t.Fatalf("%q: the scanner should read it (and leave the verdict to the re-encoding)", raw)
	}
	if _, ok := decodeCanonicalMetadata(raw); ok {
		t.Fatalf("%q: accepted as canonical", raw)
	}
	if _, err := DecodeMetadata(raw); err == nil {
		t.Fatalf("%q: decoded", raw)
	}
	// An escaped actor still verifies (through the slow path).
	se, _, err := Seal(eventID(2), StreamName(testCaseID), 0, TypeCaseOpened, []byte(`{"x":1}`), m)
	if err != nil {
		t.Fatal(err)
	}
	if res := Verify([]StoredEvent{se}); !res.Valid {
		t.Fatalf("escaped actor: %+v", res)
	}
}
