package jsontext_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/internal/jsontext"
)

// TestValueEndMatchesRawMessage: the span ValueEnd finds is the value
// encoding/json hands back as a json.RawMessage, for every kind of value,
// escapes and nesting included.
func TestValueEndMatchesRawMessage(t *testing.T) {
	for _, value := range []string{
		`"plain"`, `"a \"quoted\" word"`, `"ends in a backslash \\"`, `"\\\\\""`, `"\u00e9t\u00e9"`,
		`0`, `-12.5e3`, `true`, `false`, `null`,
		`{}`, `[]`, `{"a":{"b":["}",{"c":"]"}]}}`, `[1,"two",{"three":[3]}]`, `{"k":"v\\"}`,
	} {
		doc := []byte(`{"x": ` + value + ` , "y":1}`)
		var members map[string]json.RawMessage
		if err := json.Unmarshal(doc, &members); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		start := jsontext.SkipSpace(doc, len(`{"x":`))
		if got := string(doc[start:jsontext.ValueEnd(doc, start)]); got != string(members["x"]) {
			t.Errorf("value %s: span %s, want %s", value, got, members["x"])
		}
	}
}

func TestAppendUUIDMatchesString(t *testing.T) {
	for range 100 {
		id := uuid.New()
		if got := string(jsontext.AppendUUID([]byte("id="), id)); got != "id="+id.String() {
			t.Fatalf("%s, want id=%s", got, id)
		}
	}
}

// TestPlainString: strings without escapes or control bytes give their
// bytes and the end; anything else, unterminated ones included, is refused.
func TestPlainString(t *testing.T) {
	for _, tc := range []struct {
		doc, value string
		ascii, ok  bool
	}{
		{`"Calais",1`, "Calais", true, true},
		{`""`, "", true, true},
		{`"Coquelles é"`, "Coquelles é", false, true},
		{`"a \"quote\""`, "", false, false},
		{"\"tab\there\"", "", false, false},
		{`"no end`, "", false, false},
	} {
		value, end, ascii, ok := jsontext.PlainString([]byte(tc.doc), 0)
		if ok != tc.ok || string(value) != tc.value || ascii != tc.ascii {
			t.Errorf("%s: %q ascii=%v ok=%v, want %q ascii=%v ok=%v", tc.doc, value, ascii, ok, tc.value, tc.ascii, tc.ok)
		}
		if ok && tc.doc[end-1] != '"' {
			t.Errorf("%s: end %d is not just past the closing quote", tc.doc, end)
		}
	}
}
