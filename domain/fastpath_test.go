package domain

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// These tests hold the fast paths of decode.go, hash.go and entry.go to the
// implementations they replaced (legacy_test.go): same results, same errors,
// byte for byte.

// legacyNilCause is what the old decodeStrict said when the whole decode
// failed but no field alone did: it printed a shadowed, nil error.
const legacyNilCause = "event data could not be decoded: <nil>"

// sameError fails unless a and b are both nil or the same error: same text,
// and the same *Error when they are domain errors.
func sameError(t *testing.T, what string, a, b error) {
	t.Helper()
	if (a == nil) != (b == nil) {
		t.Fatalf("%s: error %v, legacy %v", what, a, b)
	}
	if a == nil {
		return
	}
	da, okA := AsError(a)
	db, okB := AsError(b)
	if okA && okB && db.Message == legacyNilCause && strings.HasPrefix(da.Message, "event data could not be decoded: ") {
		// The one intended difference: the old message lost the
		// decoder's error (an unknown key of a nested object).
		db = &Error{Code: db.Code, Kind: db.Kind, Field: db.Field, Message: da.Message}
		b = db
	}
	if a.Error() != b.Error() {
		t.Fatalf("%s: error %q, legacy %q", what, a, b)
	}
	if okA != okB || (okA && !reflect.DeepEqual(da, db)) {
		t.Fatalf("%s: error %#v, legacy %#v", what, a, b)
	}
}

// objectSamples are JSON inputs (and non-inputs) for the object scanners,
// chosen for their edges: whitespace, escapes, duplicates, nesting,
// invalid UTF-8, truncation, trailing data.
var objectSamples = []string{
	``, ` `, `{`, `}`, `{}`, ` { } `, "\t{\n}\r\n", `[]`, `null`, `"x"`, `12`, `{} {}`, `{}x`, `{},`,
	`{"a":1}`, `{"a" : 1 , "b" : [1, 2, {"c":"d"}] }`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`,
	`{"a\"b":"c\\"}`, `{"a\\":"\\\""}`, `{"\ud83d\ude00":true}`, `{"\ud800":false}`, "{\"\xff\":1}",
	"{\"\xc3\xa9\":\"\xe2\x80\xa8\"}", `{"a":-1.5e+3,"b":0,"c":null,"d":true,"e":false}`,
	`{"a":{"a":{"a":[[[]]]}},"b":"}]"}`, `{"a":"x",}`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a":1 "b":2}`,
	`{"a":01}`, `{"a":1.}`, `{"a":"` + "\x01" + `"}`, `{"a":"\x"}`, `{"a":tru}`, `{"a":1}}`,
	`1e400`, ` -1e999 `, `{"a":1e400}`, `{"A":1,"a":2}`, `{"a":[1,2,3],"a":{}}`, `{"a":1,"b":2,"a":[}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k3":3}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k18":3}`,
}

func checkScanMembers(t *testing.T, data []byte) {
	t.Helper()
	members, err := scanMembers(data, nil)
	keys, values, slowErr := scanObjectSlow(data)
	sameError(t, string(data), err, slowErr)
	if err != nil {
		return
	}
	if len(members) != len(keys) {
		t.Fatalf("%s: %d members, legacy %d", data, len(members), len(keys))
	}
	for i, m := range members {
		if string(m.key) != keys[i] || !bytes.Equal(m.value, values[i]) {
			t.Fatalf("%s: member %d is %q: %s, legacy %q: %s", data, i, m.key, m.value, keys[i], values[i])
		}
	}
}

func TestScanMembersMatchesTokenWalk(t *testing.T) {
	for _, s := range objectSamples {
		checkScanMembers(t, []byte(s))
	}
	for _, c := range seedCommands {
		checkScanMembers(t, []byte(c.data))
	}
}

func FuzzScanMembers(f *testing.F) {
	for _, s := range objectSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScanMembers(t, data)
	})
}

// legacyDecoders are the old DecodeCommand of each event type.
var legacyDecoders = map[string]func(string, []byte, Actor, time.Time) (Event, error){
	TypeCaseOpened:                legacyDecodeCommand[CaseOpened],
	TypeAgencyJoined:              legacyDecodeCommand[AgencyJoined],
	TypeOrganisedCrimeGroupLinked: legacyDecodeCommand[OrganisedCrimeGroupLinked],
	TypeSuspectIdentified:         legacyDecodeCommand[SuspectIdentified],
	TypeIntelligenceLogged:        legacyDecodeCommand[IntelligenceLogged],
	TypeArrestMade:                legacyDecodeCommand[ArrestMade],
	TypeSuspectCharged:            legacyDecodeCommand[SuspectCharged],
	TypeSeizureRecorded:           legacyDecodeCommand[SeizureRecorded],
	TypeStowawaysDetected:         legacyDecodeCommand[StowawaysDetected],
	TypeGangDismantled:            legacyDecodeCommand[GangDismantled],
	TypeCaseClosed:                legacyDecodeCommand[CaseClosed],
	TypeCaseReopened:              legacyDecodeCommand[CaseReopened],
	TypeEntryRetracted:            legacyDecodeCommand[EntryRetracted],
}

// checkDecodeMatchesLegacy decodes data as the command of every event type
// and as metadata, new and old, and fails if they differ in any way.
func checkDecodeMatchesLegacy(t *testing.T, data []byte) {
	t.Helper()
	for typ, legacy := range legacyDecoders {
		ev, err := DecodeCommand(typ, data, officerUKBA, testNow)
		want, wantErr := legacy(typ, data, officerUKBA, testNow)
		sameError(t, typ+" "+string(data), err, wantErr)
		if !reflect.DeepEqual(ev, want) {
			t.Fatalf("%s %s: decoded %#v, legacy %#v", typ, data, ev, want)
		}
	}
	m, err := DecodeMetadata(data)
	want, wantErr := legacyDecodeMetadata(data)
	sameError(t, "metadata "+string(data), err, wantErr)
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("metadata %s: decoded %#v, legacy %#v", data, m, want)
	}
}

// decodeSamples are event data and metadata around the edges of strict
// decoding: unknown, misspelt and duplicate keys, nulls, wrong types,
// unknown keys of nested objects.
var decodeSamples = []string{
	`{"summary":"Lorry with concealed compartment seen at Coquelles","grading":"2B1"}`,
	`{"summary":"x","grading":"2b1","Grading":"1A1"}`, `{"Summary":"x","grading":"2B1"}`,
	`{"summary":null,"grading":"2B1"}`, `{"summary":1,"grading":"2B1"}`, `{"summary":"x","grading":"2B1","extra":{}}`,
	`{"person_id":"a0000000-0000-4000-8000-00000000000a","location":"Dover","offence":"Smuggling","agency":""}`,
	`{"person_id":"not-a-uuid","location":"Dover","offence":"x"}`, `{"person_id":12,"location":"Dover","offence":"x"}`,
	`{"commodity":"cocaine","quantity":"12.5","unit":"kg","location":"Dover"}`,
	`{"commodity":"cocaine","quantity":"x","unit":"kg","location":"Dover"}`,
	`{"suspect_id":"a","charges":["a",1]}`, `{"person_id":"a0000000-0000-4000-8000-00000000000a","charges":["a",1]}`,
	`{"location":"Calais","method":"scanner","people":"3"}`, `{"location":"Calais","method":"scanner","people":1.5}`,
	`{"schema_version":1,"occurred_at":"2011-06-06T12:00:00Z","recorded_at":"2011-06-06T12:00:00.123456789Z","actor":{"subject":"a","role":"b","agency":"c"},"correlation_id":"e0000000-0000-4000-8000-000000000000","causation_id":"e0000000-0000-4000-8000-000000000000","prev_hash":"","hash":"00"}`,
	`{"schema_version":1,"occurred_at":"2011-06-06T12:00:00Z","recorded_at":"2011-06-06T12:00:00Z","actor":{"subject":"a","role":"b","agency":"c","x":1},"correlation_id":"e0000000-0000-4000-8000-000000000000","causation_id":"e0000000-0000-4000-8000-000000000000","prev_hash":"","hash":"00"}`,
	`{"schema_version":1,"occurred_at":"2011-06-06T12:00:00Z","recorded_at":"2011-06-06T12:00:00Z","actor":{"Subject":"a","ROLE":"b","agency":"c"},"correlation_id":"e0000000-0000-4000-8000-000000000000","causation_id":"e0000000-0000-4000-8000-000000000000","prev_hash":"","hash":"00"}`,
	`{"schema_version":"1","occurred_at":"2011-06-06T12:00:00Z","recorded_at":"2011-06-06T12:00:00Z","actor":{},"correlation_id":"e0000000-0000-4000-8000-000000000000","causation_id":"e0000000-0000-4000-8000-000000000000","prev_hash":"","hash":"00"}`,
	`{"schema_version":1,"occurred_at":"yesterday","recorded_at":"2011-06-06T12:00:00Z","actor":[],"correlation_id":"e0000000-0000-4000-8000-000000000000","causation_id":"e0000000-0000-4000-8000-000000000000","prev_hash":"","hash":"00"}`,
}

func TestDecodeMatchesLegacy(t *testing.T) {
	for _, s := range decodeSamples {
		checkDecodeMatchesLegacy(t, []byte(s))
	}
	for _, s := range objectSamples {
		checkDecodeMatchesLegacy(t, []byte(s))
	}
	for _, c := range seedCommands {
		checkDecodeMatchesLegacy(t, []byte(c.data))
		checkDecodeMatchesLegacy(t, []byte(" "+strings.ReplaceAll(c.data, ",", " ,\n ")+"\n"))
	}
}

func FuzzDecodeMatchesLegacy(f *testing.F) {
	for _, s := range decodeSamples {
		f.Add([]byte(s))
	}
	for _, c := range seedCommands {
		f.Add([]byte(c.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeMatchesLegacy(t, data)
	})
}

func TestHasNestedStructs(t *testing.T) {
	if !hasNestedStructs(reflect.TypeFor[Metadata]()) {
		t.Error("Metadata has Actor, a nested struct")
	}
	for _, v := range []any{CaseOpened{}, SeizureRecorded{}, SuspectCharged{}, EntryRetracted{}, StowawaysDetected{}} {
		if hasNestedStructs(reflect.TypeOf(v)) {
			t.Errorf("%T has no nested struct (Quantity, uuid.UUID and []string decode themselves)", v)
		}
	}
	type withSlice struct{ A []Actor }
	type withPointer struct{ A *struct{ B int } }
	type withMap struct{ A map[string]Actor }
	for _, v := range []any{withSlice{}, withPointer{}, withMap{}} {
		if !hasNestedStructs(reflect.TypeOf(v)) {
			t.Errorf("%T has a nested struct", v)
		}
	}
}

// randomString draws strings that need every kind of JSON escaping, and
// plain ones.
func randomString(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", "officer.smith", "UKBA", "Police aux Frontières", `"`, `\`, "/", "<", ">", "&",
		"\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f", "é", "€", "\u2028", "\u2029", "😀",
		"\xff", "\xc3", "\xed\xa0\x80", "\ufffd", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randomUUID(r *rand.Rand) uuid.UUID {
	var id uuid.UUID
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	return id
}

// randomTime draws zero times, times with and without nanoseconds, in and
// out of json's year range 0…9999, in several zones, with and without a
// monotonic reading.
func randomTime(r *rand.Rand) time.Time {
	var t time.Time
	switch r.IntN(6) {
	case 0:
		return time.Time{}
	case 1:
		t = time.Now()
	case 2:
		t = time.Unix(r.Int64N(1<<40)-1<<39, 0)
	case 3:
		t = time.Date(r.IntN(12000)-1000, time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC)
	default:
		ns := []int{0, 1, 10, 100000, 123456789, 999999999, 500000000}[r.IntN(7)]
		t = time.Date(1990+r.IntN(60), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), ns, time.UTC)
	}
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("CET", 3600), time.FixedZone("odd", -(9*3600 + 30*60 + 17))}
	return t.In(zones[r.IntN(len(zones))])
}

func randomMetadata(r *rand.Rand) Metadata {
	return Metadata{
		SchemaVersion: []int{0, 1, 2, -1, 1 << 40, r.Int()}[r.IntN(6)],
		OccurredAt:    randomTime(r),
		RecordedAt:    randomTime(r),
		Actor:         Actor{Subject: randomString(r), Role: randomString(r), Agency: randomString(r)},
		CorrelationID: randomUUID(r),
		CausationID:   randomUUID(r),
		PrevHash:      randomString(r),
		Hash:          randomString(r),
	}
}

func TestEncodeMetadataMatchesJSONMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		m := randomMetadata(r)
		got, err := EncodeMetadata(m)
		want, wantErr := legacyEncodeMetadata(m)
		sameError(t, "encode metadata", err, wantErr)
		if !bytes.Equal(got, want) {
			t.Fatalf("EncodeMetadata(%#v):\n got %s\nwant %s", m, got, want)
		}
	}
}

func FuzzEncodeMetadata(f *testing.F) {
	f.Add("officer.smith", "investigator", "UKBA", "", "00", int64(0), int64(0))
	f.Add("<\u2028>", "\xff", "é", `"\`, "\x00", int64(-1<<62), int64(253402300800))
	f.Fuzz(func(t *testing.T, subject, role, agency, prev, hash string, occurred, recorded int64) {
		m := Metadata{SchemaVersion: 1, OccurredAt: time.Unix(occurred, occurred%1e9), RecordedAt: time.Unix(recorded, 0),
			Actor: Actor{Subject: subject, Role: role, Agency: agency}, PrevHash: prev, Hash: hash}
		got, err := EncodeMetadata(m)
		want, wantErr := legacyEncodeMetadata(m)
		sameError(t, "encode metadata", err, wantErr)
		if !bytes.Equal(got, want) {
			t.Fatalf("EncodeMetadata(%#v):\n got %s\nwant %s", m, got, want)
		}
	})
}

// dataSamples are event data to hash: compact, spaced, invalid.
var dataSamples = []string{
	`{"summary":"Lorry with concealed compartment seen at Coquelles","grading":"2B1"}`,
	`{ "summary" : "a \" b" , "grading":"2B1" }`, "{\n\t\"a\": [1, 2]\r\n}", `{"a":"\\"}`, `{"a":"\\\" "}`,
	`{}`, ` {}`, `{} `, `[1 ,2]`, `"x y"`, `{`, ``, `{"a":1}x`, `{"a" 1}`, `nul`,
}

func TestCompactJSONMatchesJSONCompact(t *testing.T) {
	for _, s := range append(dataSamples, objectSamples...) {
		checkCompactJSON(t, []byte(s))
	}
}

func checkCompactJSON(t *testing.T, data []byte) {
	t.Helper()
	got, err := compactJSON(data)
	var want bytes.Buffer
	wantErr := json.Compact(&want, data)
	sameError(t, "compact "+string(data), err, wantErr)
	if err == nil && !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("compactJSON(%s) = %s, json.Compact %s", data, got, want.Bytes())
	}
}

func FuzzCompactJSON(f *testing.F) {
	for _, s := range append(dataSamples, objectSamples...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCompactJSON(t, data)
	})
}

func TestComputeHashAndSealMatchLegacy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		m := randomMetadata(r)
		data := []byte(dataSamples[i%len(dataSamples)])
		id := randomUUID(r)
		stream, typ := randomString(r), randomString(r)
		version := []uint64{0, 1, 1<<64 - 1, r.Uint64()}[r.IntN(4)]

		in := HashInput{PrevHash: m.PrevHash, Stream: stream, Version: version, EventID: id, Type: typ,
			SchemaVersion: m.SchemaVersion, OccurredAt: m.OccurredAt, RecordedAt: m.RecordedAt, Actor: m.Actor,
			CorrelationID: m.CorrelationID, CausationID: m.CausationID, Data: data}
		h, err := ComputeHash(in)
		want, wantErr := legacyComputeHash(in)
		sameError(t, "compute hash", err, wantErr)
		if h != want {
			t.Fatalf("ComputeHash(%#v) = %s, legacy %s", in, h, want)
		}

		se, sm, err := Seal(id, stream, version, typ, data, m)
		wantSE, wantM, wantErr := legacySeal(id, stream, version, typ, data, m)
		sameError(t, "seal", err, wantErr)
		if !reflect.DeepEqual(se, wantSE) || !reflect.DeepEqual(sm, wantM) {
			t.Fatalf("Seal of %s, %#v:\n got %+v %+v\nwant %+v %+v", data, m, se, sm, wantSE, wantM)
		}
	}
}
