// Package ndjson is Casebook's export format: newline-delimited JSON, one
// stored event per line with its full envelope, so an export can be read
// with jq, diffed, and imported into another store unchanged.
//
// A line looks like
//
//	{"stream":"case-…","revision":3,"position":17,"id":"…","type":"ArrestMade","recorded_at":"2011-06-06T09:00:00Z","data":{…},"metadata":{…}}
//
// data and metadata are the stored bytes verbatim (not re-encoded), so an
// import reproduces them byte for byte and their hash chains still verify.
// A stored document that contains a line break (pretty-printed JSON written
// by another client) cannot sit verbatim on one line; it is then carried
// base64-encoded in data_base64 / metadata_base64 instead.
// position and recorded_at describe the source store and are informational:
// the target store assigns its own.
//
// An event with sealed personal fields (see domain/personal.go) carries,
// when the exporter holds the keys, an "opened" member beside its stored
// data: {"data": <the data with those fields opened>, "erased_at"?,
// "unreadable"?} — the fields of an erased person are null there. It is
// informational too (import writes the stored data and ignores it), and
// absent from exports made with --sealed.
package ndjson

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/casebook/casebook/eventstore"
	"github.com/google/uuid"
)

// Record is one exported event.
type Record struct {
	Stream     string          `json:"stream"`
	Revision   uint64          `json:"revision"`
	Position   uint64          `json:"position"`
	ID         uuid.UUID       `json:"id"`
	Type       string          `json:"type"`
	RecordedAt time.Time       `json:"recorded_at"`
	Data       json.RawMessage `json:"data,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	DataB64    []byte          `json:"data_base64,omitempty"`
	MetaB64    []byte          `json:"metadata_base64,omitempty"`
	Opened     *Opened         `json:"opened,omitempty"`
}

// Opened is an event's data with its sealed personal fields opened.
type Opened struct {
	Data       json.RawMessage `json:"data"`
	ErasedAt   *time.Time      `json:"erased_at,omitempty"`
	Unreadable json.RawMessage `json:"unreadable,omitempty"`
}

// FromRecorded converts a stored event.
func FromRecorded(ev eventstore.RecordedEvent) Record {
	return Record{
		Stream: ev.Stream, Revision: ev.Revision, Position: uint64(ev.Position),
		ID: ev.ID, Type: ev.Type, RecordedAt: ev.RecordedAt.UTC(),
		Data: ev.Data, Metadata: ev.Metadata,
	}
}

// EventData returns the record as an event to append (data and metadata
// decoded from base64 when they were carried that way).
func (r Record) EventData() eventstore.EventData {
	data, meta := []byte(r.Data), []byte(r.Metadata)
	if r.DataB64 != nil {
		data = r.DataB64
	}
	if r.MetaB64 != nil {
		meta = r.MetaB64
	}
	return eventstore.EventData{ID: r.ID, Type: r.Type, Data: data, Metadata: meta}
}

// Writer writes records, one per line.
type Writer struct {
	w   *bufio.Writer
	buf bytes.Buffer
}

// NewWriter returns a Writer on w. Call Flush at the end.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 256<<10)} }

// Write appends one record as a line.
func (w *Writer) Write(r Record) error {
	b := &w.buf
	b.Reset()
	b.WriteString(`{"stream":`)
	writeString(b, r.Stream)
	b.WriteString(`,"revision":`)
	b.WriteString(strconv.FormatUint(r.Revision, 10))
	b.WriteString(`,"position":`)
	b.WriteString(strconv.FormatUint(r.Position, 10))
	b.WriteString(`,"id":"`)
	b.WriteString(r.ID.String())
	b.WriteString(`","type":`)
	writeString(b, r.Type)
	b.WriteString(`,"recorded_at":"`)
	b.WriteString(r.RecordedAt.UTC().Format(time.RFC3339Nano))
	b.WriteByte('"')
	writeDoc(b, "data", r.EventData().Data)
	writeDoc(b, "metadata", r.EventData().Metadata)
	if r.Opened != nil {
		opened, err := json.Marshal(r.Opened)
		if err != nil {
			return fmt.Errorf("ndjson: opened data of %s: %w", r.ID, err)
		}
		b.WriteString(`,"opened":`)
		b.Write(opened)
	}
	b.WriteString("}\n")
	_, err := w.w.Write(b.Bytes())
	return err
}

// Flush writes buffered lines to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

// writeDoc writes ,"name":<doc> with doc's bytes verbatim when they fit on
// one line, or ,"name_base64":"…" when they do not. An empty document is
// left out (a stored event without metadata).
func writeDoc(b *bytes.Buffer, name string, doc []byte) {
	if len(doc) == 0 {
		return
	}
	if json.Valid(doc) && !bytes.ContainsAny(doc, "\r\n") {
		b.WriteString(`,"` + name + `":`)
		b.Write(doc)
		return
	}
	b.WriteString(`,"` + name + `_base64":"`)
	b.WriteString(base64.StdEncoding.EncodeToString(doc))
	b.WriteByte('"')
}

// Reader reads records line by line.
type Reader struct {
	s    *bufio.Scanner
	line int
}

// MaxLine bounds one line: an event is at most a few MiB once encoded.
const MaxLine = 16 << 20

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), MaxLine)
	return &Reader{s: s}
}

// Line is the number of the line last read (1-based).
func (r *Reader) Line() int { return r.line }

// Read returns the next record, or io.EOF after the last. Blank lines are
// skipped.
func (r *Reader) Read() (Record, error) {
	for r.s.Scan() {
		r.line++
		line := bytes.TrimSpace(r.s.Bytes())
		if len(line) == 0 {
			continue
		}
		rec, err := Decode(line)
		if err != nil {
			return Record{}, fmt.Errorf("line %d: %w", r.line, err)
		}
		return rec, nil
	}
	if err := r.s.Err(); err != nil {
		return Record{}, fmt.Errorf("line %d: %w", r.line+1, err)
	}
	return Record{}, io.EOF
}

// ErrInvalidRecord marks a line that is not a valid export record.
var ErrInvalidRecord = errors.New("invalid export record")

// Decode parses one line.
func Decode(line []byte) (Record, error) {
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	switch {
	case rec.Stream == "":
		return Record{}, fmt.Errorf("%w: no stream", ErrInvalidRecord)
	case rec.ID == uuid.Nil:
		return Record{}, fmt.Errorf("%w: no id", ErrInvalidRecord)
	case rec.Type == "":
		return Record{}, fmt.Errorf("%w: no type", ErrInvalidRecord)
	case rec.Data == nil && rec.DataB64 == nil:
		return Record{}, fmt.Errorf("%w: no data", ErrInvalidRecord)
	case rec.Data != nil && rec.DataB64 != nil, rec.Metadata != nil && rec.MetaB64 != nil:
		return Record{}, fmt.Errorf("%w: a document given both verbatim and base64", ErrInvalidRecord)
	}
	// json.RawMessage keeps the bytes exactly as they appear on the line.
	rec.Data = bytes.Clone(rec.Data)
	rec.Metadata = bytes.Clone(rec.Metadata)
	return rec, nil
}
