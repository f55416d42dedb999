package casehttp

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"testing"

	"github.com/google/uuid"
)

// recordEventBodies are bodies of POST /v1/cases/{id}/events: the usual
// shapes, which the direct scan should take, and the unusual ones it must
// leave to encoding/json.
var recordEventBodies = []struct {
	body string
	fast bool // scanRecordEventRequest should read it itself
}{
	{`{"type":"IntelligenceLogged","data":{"summary":"Lorry with concealed compartment seen at Coquelles","grading":"2B1"}}`, true},
	{`{"id":"0b9f0c2e-7c1d-4d8e-9f3a-5b6c7d8e9f01","type":"CaseClosed","occurred_at":"2011-06-06T09:30:00Z","data":{"outcome":"charged"}}`, true},
	{" \n\t{ \"data\" : { \"a\" : [1, {\"b\": \"}\\\"]\"}], \"c\": null } , \"type\" : \"X\" }\r\n", true},
	{`{"type":"NotAType","data":{"s":"caf\u00e9 \"quoted\" é"}}`, true},
	{`{"type":null,"data":null}`, true},
	{`{"id":null,"occurred_at":null,"type":"","data":[]}`, true},
	{`{"type":"X","data":"text"}`, true},
	{`{"type":"X","data":-1.5e+3}`, true},
	{`{"type":"X","data":true}`, true},
	{`{"type":"X","data":{}}`, true},
	{`{}`, true},
	{`{"id":"","type":"x","data":{}}`, true},

	{``, false},
	{`   `, false},
	{`null`, false},
	{`[]`, false},
	{`"x"`, false},
	{`{`, false},
	{`{"type":"X","data":{}}}`, false},
	{`{"type":"X","data":{}} {}`, false},
	{`{"type":"X","data":{},}`, false},
	{`{"type":"X","extra":1,"data":{}}`, false},
	{`{"Type":"X","data":{}}`, false},
	{`{"TYPE":"X","DATA":{}}`, false},
	{`{"type":"X","type":"Y","data":{}}`, false},
	{`{"type":"X","data":{"a":1},"data":{"b":2}}`, false},
	{`{"type":"X","data":{},"type":null}`, false},
	{`{"type":"A\u0042","data":{}}`, false},
	{`{"type":"caf` + "\xc3\xa9" + `","data":{}}`, false},
	{`{"type":"bad ` + "\xff" + `","data":{}}`, false},
	{`{"type":1,"data":{}}`, false},
	{`{"type":["X"],"data":{}}`, false},
	{`{"type":{"a":1},"data":{}}`, false},
	{`{"type":true,"data":{}}`, false},
	{`{"id":5,"type":"X","data":{}}`, false},
	{`{"occurred_at":false,"type":"X","data":{}}`, false},
	{`{"\u0074ype":"X","data":{}}`, false},
	{"\xff\xfe", false},
	{`{"type":"X","data":{"a":` + "\x01" + `}}`, false},
}

// decodeBoth runs body through the direct scan and through encoding/json,
// failing when the scan accepted it with another answer.
func decodeBoth(t *testing.T, body []byte) (fast bool) {
	t.Helper()
	got, ok := scanRecordEventRequest(body)
	var want recordEventRequest
	err := decodeJSONBytes(body, &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("scan accepted %q, which decodeJSONBytes refuses: %v", body, err)
	}
	if !reflect.DeepEqual(show(got), show(want)) {
		t.Fatalf("%q: scan read %v, encoding/json %v", body, show(got), show(want))
	}
	return true
}

// show spells out a request, pointers and all, for comparing and printing.
func show(r recordEventRequest) string {
	str := func(p *string) string {
		if p == nil {
			return "nil"
		}
		return strconv.Quote(*p)
	}
	data := "nil"
	if r.Data != nil {
		data = strconv.Quote(string(r.Data))
	}
	return fmt.Sprintf("{id %s type %s occurred_at %s data %s}", str(r.ID), str(r.Type), str(r.OccurredAt), data)
}

func TestScanRecordEventRequestAgreesWithEncodingJSON(t *testing.T) {
	for _, tc := range recordEventBodies {
		if fast := decodeBoth(t, []byte(tc.body)); fast != tc.fast {
			t.Errorf("%q: read directly %v, want %v", tc.body, fast, tc.fast)
		}
		// Whatever path it takes, the answer is decodeJSONBytes's.
		got, gotErr := decodeRecordEventRequest([]byte(tc.body))
		var want recordEventRequest
		wantErr := decodeJSONBytes([]byte(tc.body), &want)
		if show(got) != show(want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%q: %v %v, want %v %v", tc.body, show(got), gotErr, show(want), wantErr)
		}
	}
}

func TestScanRecordEventRequestInternsEventTypes(t *testing.T) {
	req, ok := scanRecordEventRequest([]byte(`{"type":"IntelligenceLogged","data":{}}`))
	if !ok || req.Type == nil || *req.Type != "IntelligenceLogged" {
		t.Fatalf("%v %v", show(req), ok)
	}
	// AllocsPerRun counts every goroutine's allocations, and servers of
	// other tests in this binary may still be winding down: background
	// work only adds, so the least of a few measurements is the scan's own.
	least := math.Inf(1)
	for range 5 {
		least = min(least, testing.AllocsPerRun(100, func() { _, _ = scanRecordEventRequest([]byte(`{"type":"IntelligenceLogged","data":{}}`)) }))
	}
	if least > 2 {
		t.Errorf("%v allocations: more than the type's pointer and the data's copy", least)
	}
}

func FuzzScanRecordEventRequest(f *testing.F) {
	for _, tc := range recordEventBodies {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { decodeBoth(t, body) })
}

func TestRecordedEventJSONIsEncodingJSONs(t *testing.T) {
	for _, e := range []recordedEvent{
		{},
		{ID: uuid.New(), CaseID: uuid.New(), Version: 1, Position: 2},
		{ID: uuid.MustParse("ffffffff-ffff-ffff-ffff-ffffffffffff"), CaseID: uuid.MustParse("0b9f0c2e-7c1d-4d8e-9f3a-5b6c7d8e9f01"),
			Version: math.MaxUint64, Position: math.MaxUint64 - 1},
	} {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.appendJSON(nil); string(got) != string(want) {
			t.Errorf("%s, want %s", got, want)
		}
	}
}

func TestHeaderValues(t *testing.T) {
	id := uuid.MustParse("0b9f0c2e-7c1d-4d8e-9f3a-5b6c7d8e9f01")
	for _, v := range []uint64{0, 1, 99, 100, 12345, math.MaxUint64} {
		if got, want := etag(v), fmt.Sprintf(`"%d"`, v); got != want {
			t.Errorf("etag %s, want %s", got, want)
		}
		want := "/v1/cases/" + id.String() + "/events?from_version=" + strconv.FormatUint(v, 10) + "&limit=1"
		if got := eventLocation(id, v); got != want {
			t.Errorf("location %s, want %s", got, want)
		}
	}
}
