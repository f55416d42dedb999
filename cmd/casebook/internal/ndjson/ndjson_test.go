package ndjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestRoundTripKeepsDocumentsByteForByte(t *testing.T) {
	recs := []Record{
		{Stream: "case-1", Revision: 0, Position: 1, ID: uuid.New(), Type: "CaseOpened", RecordedAt: time.Date(2011, 6, 6, 9, 0, 0, 123, time.UTC),
			Data: json.RawMessage(`{"b":1,  "a":"<&>\u00e9"}`), Metadata: json.RawMessage(`{"hash":"ab"}`)},
		// a pretty-printed document cannot sit on one line verbatim
		{Stream: "case-1", Revision: 1, Position: 2, ID: uuid.New(), Type: "X", RecordedAt: time.Unix(0, 0).UTC(),
			Data: json.RawMessage("{\n  \"a\": 1\n}")},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("%d lines, want 2:\n%s", n, buf.String())
	}
	r := NewReader(&buf)
	for i, want := range recs {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		ed, wd := got.EventData(), want.EventData()
		if !bytes.Equal(ed.Data, wd.Data) || !bytes.Equal(ed.Metadata, wd.Metadata) {
			t.Errorf("record %d: data %q metadata %q, want %q %q", i, ed.Data, ed.Metadata, wd.Data, wd.Metadata)
		}
		if got.ID != want.ID || got.Stream != want.Stream || got.Revision != want.Revision || got.Type != want.Type || !got.RecordedAt.Equal(want.RecordedAt) {
			t.Errorf("record %d: envelope %+v, want %+v", i, got, want)
		}
	}
	if _, err := r.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last record: %v, want EOF", err)
	}
}

func TestDecodeRejectsBadLines(t *testing.T) {
	id := uuid.New().String()
	for name, line := range map[string]string{
		"not json":      `{"stream":`,
		"unknown field": `{"stream":"s","id":"` + id + `","type":"T","data":{},"extra":1}`,
		"no stream":     `{"id":"` + id + `","type":"T","data":{}}`,
		"no id":         `{"stream":"s","type":"T","data":{}}`,
		"no type":       `{"stream":"s","id":"` + id + `","data":{}}`,
		"no data":       `{"stream":"s","id":"` + id + `","type":"T"}`,
	} {
		if _, err := Decode([]byte(line)); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: err = %v, want ErrInvalidRecord", name, err)
		}
	}
}
