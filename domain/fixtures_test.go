package domain

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The files under testdata/ are event streams exactly as stored (one event a
// line: its envelope with the data and metadata bytes as the store holds
// them), written once by this file's generator and then frozen. They must
// decode, upcast and verify forever: a change to the domain that breaks them
// breaks every store in the field. Never regenerate them to make a failing
// test pass; add new files for new schema versions instead.
//
// To write missing fixtures (existing files are never overwritten):
//
//	CASEBOOK_WRITE_FIXTURES=1 go test ./domain -run TestFixtures
const fixturesEnv = "CASEBOOK_WRITE_FIXTURES"

// fixtureLine is one stored event in a fixture file.
type fixtureLine struct {
	ID       uuid.UUID       `json:"id"`
	Stream   string          `json:"stream"`
	Type     string          `json:"type"`
	Version  uint64          `json:"version"`
	Position uint64          `json:"position"`
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata"`
}

type fixture struct {
	file     string
	generate func(t *testing.T) []StoredEvent
}

var fixtures = []fixture{
	{"stream-every-type-current.ndjson", func(t *testing.T) []StoredEvent {
		return storedOf(chainOfEveryType(t))
	}},
	{"stream-legacy-v1.ndjson", generateLegacyStream},
	{"stream-sealed-erasure.ndjson", generateSealedStream},
	{"stream-legacy-places.ndjson", generateLegacyPlacesStream},
	{"stream-places-retention.ndjson", generateRetentionStream},
}

// generateLegacyStream writes SeizureRecorded and StowawaysDetected as
// schema v1 stored them: the quantity as a string, the number of people
// as "count".
func generateLegacyStream(t *testing.T) []StoredEvent {
	id := uuid.MustParse("1e9ac1e5-0000-4000-8000-000000000001")
	stream := StreamName(id)
	actor := Actor{Subject: "officer.jones", Role: RoleInvestigator, Agency: "UKBA"}
	at := time.Date(2010, 3, 15, 8, 30, 0, 0, time.UTC)
	events := []fixtureEvent{
		{TypeCaseOpened, 1, `{"reference":"UKBA-2010-0042","title":"Cannabis in refrigerated trailers","lead_agency":"UKBA","crime_types":["cannabis","people_smuggling"],"location":"Dover"}`},
		{TypeSeizureRecorded, 1, `{"commodity":"cannabis","quantity":"1250.500","unit":"kg","location":"Dover","exhibit_ref":"DOV/10/0042"}`},
		{TypeStowawaysDetected, 1, `{"location":"Coquelles","method":"heartbeat_monitor","count":4,"vehicle":"refrigerated trailer"}`},
		{TypeSeizureRecorded, 1, `{"commodity":"cash","quantity":"15000.00","unit":"gbp","location":"Dover"}`},
		{TypeStowawaysDetected, 1, `{"location":"Calais","method":"sniffer_dog","count":2}`},
		{TypeEntryRetracted, 1, `{"event_id":"1e9ac1e5-0000-4000-8000-0000000000e4","reason":"two people counted twice"}`},
		{TypeSeizureRecorded, 2, `{"commodity":"cannabis","quantity":0.25,"unit":"kg","location":"Dover"}`},
		{TypeStowawaysDetected, 2, `{"location":"Calais","method":"co2_probe","people":3}`},
	}
	return sealFixture(t, stream, actor, at, events, "1e9ac1e5-0000-4000-8000-0000000000e", 1000)
}

// fixtureEvent is one event of a generated fixture stream, with the schema
// version it is stored under.
type fixtureEvent struct {
	typ    string
	schema int
	data   string
}

// sealFixture chains events into stream as stored events: one an hour from
// at (each recorded a minute after it happened), ids idPrefix plus the
// event's index (one hex digit), positions from firstPosition.
func sealFixture(t *testing.T, stream string, actor Actor, at time.Time, events []fixtureEvent, idPrefix string, firstPosition uint64) []StoredEvent {
	t.Helper()
	var out []StoredEvent
	prev := ""
	for i, e := range events {
		eid := uuid.MustParse(idPrefix + string(rune('0'+i)))
		m := Metadata{SchemaVersion: e.schema, OccurredAt: at.Add(time.Duration(i) * time.Hour),
			RecordedAt: at.Add(time.Duration(i)*time.Hour + time.Minute), Actor: actor,
			CorrelationID: eid, CausationID: eid, PrevHash: prev}
		se, m, err := Seal(eid, stream, uint64(i), e.typ, []byte(e.data), m)
		if err != nil {
			t.Fatal(err)
		}
		se.Position = firstPosition + uint64(i)
		prev = m.Hash
		out = append(out, se)
	}
	return out
}

func readFixture(t *testing.T, path string) []StoredEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("fixture %s: %v (write it with %s=1)", path, err, fixturesEnv)
	}
	defer f.Close()
	var out []StoredEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l fixtureLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, StoredEvent{ID: l.ID, Stream: l.Stream, Type: l.Type, Version: l.Version,
			Position: l.Position, Data: []byte(l.Data), Metadata: []byte(l.Metadata)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFixture(t *testing.T, path string, events []StoredEvent) {
	var buf bytes.Buffer
	for _, e := range events {
		b, err := json.Marshal(fixtureLine{ID: e.ID, Stream: e.Stream, Type: e.Type, Version: e.Version,
			Position: e.Position, Data: e.Data, Metadata: e.Metadata})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeIfMissing(t *testing.T, path string, content func() []byte) {
	if _, err := os.Stat(path); err == nil || os.Getenv(fixturesEnv) == "" {
		return
	}
	if err := os.WriteFile(path, content(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

func TestFixturesDecodeAndVerifyForever(t *testing.T) {
	typesSeen := map[string]map[int]bool{}
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			path := filepath.Join("testdata", fx.file)
			if _, err := os.Stat(path); err != nil && os.Getenv(fixturesEnv) != "" {
				writeFixture(t, path, fx.generate(t))
				t.Logf("wrote %s", path)
			}
			stored := readFixture(t, path)
			if len(stored) == 0 {
				t.Fatal("empty fixture")
			}
			if got := Verify(stored); !got.Valid || got.Checked != len(stored) {
				t.Fatalf("fixture chain does not verify: %+v", got)
			}
			entries, err := DecodeStoredAll(stored)
			if err != nil {
				t.Fatalf("fixture does not decode: %v", err)
			}
			for _, e := range entries {
				if typesSeen[e.Type] == nil {
					typesSeen[e.Type] = map[int]bool{}
				}
				typesSeen[e.Type][e.Metadata.SchemaVersion] = true
				// Decoded data is in the current schema and decodes again
				// as such (what the API shows is current).
				if _, err := DecodeEventData(e.Type, SchemaVersion(e.Type), e.Data); err != nil {
					t.Errorf("version %d: upcast data %s is not current schema: %v", e.Version, e.Data, err)
				}
			}
			c, err := Replay(entries)
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			stateFile := path + ".state.json"
			got, _ := json.MarshalIndent(c, "", "  ")
			got = append(got, '\n')
			writeIfMissing(t, stateFile, func() []byte { return got })
			want, err := os.ReadFile(stateFile)
			if err != nil {
				t.Fatalf("golden state: %v (write it with %s=1)", err, fixturesEnv)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("state folded from %s differs from %s:\n%s", fx.file, stateFile, got)
			}
		})
	}
	// Every event type, and every schema version of it, is covered.
	for _, typ := range EventTypes() {
		for v := 1; v <= SchemaVersion(typ); v++ {
			if !typesSeen[typ][v] {
				t.Errorf("no fixture of %s schema v%d", typ, v)
			}
		}
	}
}

// The legacy fixture's v1 events read as the current schema says.
func TestFixtureUpcasts(t *testing.T) {
	entries, err := DecodeStoredAll(readFixture(t, filepath.Join("testdata", "stream-legacy-v1.ndjson")))
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]string{
		1: `{"commodity":"cannabis","quantity":1250.5,"unit":"kg","location":"DOVER","exhibit_ref":"DOV/10/0042"}`,
		2: `{"location":"COQUELLES","method":"heartbeat_monitor","people":4,"vehicle":"refrigerated trailer"}`,
		3: `{"commodity":"cash","quantity":15000,"unit":"gbp","location":"DOVER"}`,
		4: `{"location":"CALAIS","method":"sniffer_dog","people":2}`,
	}
	for v, w := range want {
		e := entries[v]
		if e.Metadata.SchemaVersion != 1 || string(e.Data) != w {
			t.Errorf("version %d (schema v%d): data %s, want %s", v, e.Metadata.SchemaVersion, e.Data, w)
		}
		if bytes.Equal(e.Stored.Data, e.Data) {
			t.Errorf("version %d: stored bytes were not kept apart from the upcast data", v)
		}
	}
	c, err := Replay(entries)
	if err != nil {
		t.Fatal(err)
	}
	if c.Counts.PeopleDetected != 7 || c.Counts.Detections != 2 || c.Counts.Retractions != 1 {
		t.Errorf("counts %+v", c.Counts)
	}
	i := slices.IndexFunc(c.Seizures, func(s SeizureTotal) bool { return s.Commodity == CommodityCannabis })
	if i < 0 || c.Seizures[i].Quantity.String() != "1250.75" {
		t.Errorf("seizures %+v", c.Seizures)
	}
}

func TestUpcastErrors(t *testing.T) {
	for _, tt := range []struct {
		typ    string
		schema int
		data   string
		code   string
		field  string
	}{
		{TypeSeizureRecorded, 1, `{"commodity":"cannabis","quantity":"lots","unit":"kg","location":"Dover"}`, CodeValidation, "quantity"},
		{TypeStowawaysDetected, 1, `{"location":"Calais","method":"scanner","count":1,"people":1}`, CodeValidation, "count"},
		{TypeStowawaysDetected, 4, `{}`, CodeUnsupportedSchemaVersion, "schema_version"},
		{TypeStowawaysDetected, 0, `{}`, CodeUnsupportedSchemaVersion, "schema_version"},
		{"Unheard", 1, `{}`, CodeUnknownEventType, "type"},
		{TypeStowawaysDetected, 1, `[`, CodeMalformedJSON, ""},
	} {
		_, err := DecodeEventData(tt.typ, tt.schema, []byte(tt.data))
		de, ok := AsError(err)
		if !ok || de.Code != tt.code || de.Field != tt.field {
			t.Errorf("%s v%d %s: %v, want %s on %q", tt.typ, tt.schema, tt.data, err, tt.code, tt.field)
		}
	}
	// A v1 quantity written as a number (never produced, but tolerated).
	ev, err := DecodeEventData(TypeSeizureRecorded, 1, []byte(`{"commodity":"cannabis","quantity":2,"unit":"kg","location":"Dover"}`))
	if err != nil || ev.(SeizureRecorded).Quantity.String() != "2" {
		t.Errorf("v1 numeric quantity: %v %v", ev, err)
	}
}

// DecodeStored reports corrupt stored events as such, naming the version.
func TestDecodeStoredCorrupt(t *testing.T) {
	stored := storedOf(chainOfEveryType(t))
	bad := stored[3]
	bad.Metadata = []byte(`{"schema_version":1}`)
	if _, err := DecodeStored(bad); err == nil || !bytes.Contains([]byte(err.Error()), []byte("version 3")) {
		t.Errorf("missing metadata fields: %v", err)
	}
	bad = stored[3]
	bad.Data = []byte(`{"agency":"X","extra":1}`)
	_, err := DecodeStored(bad)
	if de, ok := AsError(err); !ok || de.Field != "extra" {
		t.Errorf("unknown stored field: %v", err)
	}
	// History is fact: an event stored under looser rules still loads.
	old := stored[3]
	old.Data = []byte(`{"agency":"` + string(bytes.Repeat([]byte("A"), 500)) + `"}`)
	if _, err := DecodeStored(old); err != nil {
		t.Errorf("stored event judged by today's validation: %v", err)
	}
}
