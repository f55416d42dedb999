package eventstore

import (
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits bound what a store accepts. Backends apply them before writing
// anything, so a rejected append leaves no trace.
type Limits struct {
	MaxStreamNameLength int // bytes; default 256
	MaxEventSize        int // bytes of type + data + metadata; default 1 MiB
	MaxTypeLength       int // bytes; default 256
	MaxEventsPerAppend  int // default 10,000
}

// DefaultLimits are the limits a store uses unless configured otherwise.
var DefaultLimits = Limits{
	MaxStreamNameLength: 256,
	MaxEventSize:        1 << 20,
	MaxTypeLength:       256,
	MaxEventsPerAppend:  10_000,
}

// WithDefaults fills zero fields from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	if l.MaxStreamNameLength <= 0 {
		l.MaxStreamNameLength = DefaultLimits.MaxStreamNameLength
	}
	if l.MaxEventSize <= 0 {
		l.MaxEventSize = DefaultLimits.MaxEventSize
	}
	if l.MaxTypeLength <= 0 {
		l.MaxTypeLength = DefaultLimits.MaxTypeLength
	}
	if l.MaxEventsPerAppend <= 0 {
		l.MaxEventsPerAppend = DefaultLimits.MaxEventsPerAppend
	}
	return l
}

// ValidateStreamName checks that name is non-empty, valid UTF-8, within the
// length limit, free of control characters, and not a system stream ("$…").
func (l Limits) ValidateStreamName(name string) error {
	l = l.WithDefaults()
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidStreamName)
	case len(name) > l.MaxStreamNameLength:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidStreamName, len(name), l.MaxStreamNameLength)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidStreamName)
	case name[0] == '$':
		return fmt.Errorf("%w: %q is reserved for system streams", ErrInvalidStreamName, name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: contains control character %U", ErrInvalidStreamName, r)
		}
	}
	return nil
}

// ValidateAppend checks a whole append before anything is written.
func (l Limits) ValidateAppend(stream string, events []EventData) error {
	l = l.WithDefaults()
	if err := l.ValidateStreamName(stream); err != nil {
		return err
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: an append needs at least one event", ErrInvalidEvent)
	}
	if len(events) > l.MaxEventsPerAppend {
		return fmt.Errorf("%w: %d events in one append, limit %d", ErrInvalidEvent, len(events), l.MaxEventsPerAppend)
	}
	// Most appends carry one event or a few: compare ids pairwise then,
	// and keep the map (with its allocation) for long appends.
	var seen map[uuid.UUID]struct{}
	if len(events) > 8 {
		seen = make(map[uuid.UUID]struct{}, len(events))
	}
	for i, ev := range events {
		if ev.ID == uuid.Nil {
			return fmt.Errorf("%w: event %d has no id", ErrInvalidEvent, i)
		}
		if idRepeated(events, i, seen) {
			return fmt.Errorf("%w: event id %s appears twice in one append", ErrInvalidEvent, ev.ID)
		}
		if ev.Type == "" || len(ev.Type) > l.MaxTypeLength || !utf8.ValidString(ev.Type) {
			return fmt.Errorf("%w: event %d: type must be 1..%d bytes of UTF-8", ErrInvalidEvent, i, l.MaxTypeLength)
		}
		if size := len(ev.Type) + len(ev.Data) + len(ev.Metadata); size > l.MaxEventSize {
			return fmt.Errorf("%w: event %d is %d bytes, limit %d", ErrEventTooLarge, i, size, l.MaxEventSize)
		}
		if !json.Valid(ev.Data) {
			return fmt.Errorf("%w: event %d: data is not valid JSON", ErrInvalidEvent, i)
		}
		if len(ev.Metadata) > 0 && !json.Valid(ev.Metadata) {
			return fmt.Errorf("%w: event %d: metadata is not valid JSON", ErrInvalidEvent, i)
		}
	}
	return nil
}

// idRepeated reports whether events[i]'s id is the id of an earlier event of
// the append; seen (nil for short appends) remembers the ids checked so far.
func idRepeated(events []EventData, i int, seen map[uuid.UUID]struct{}) bool {
	id := events[i].ID
	if seen == nil {
		for j := range i {
			if events[j].ID == id {
				return true
			}
		}
		return false
	}
	if _, dup := seen[id]; dup {
		return true
	}
	seen[id] = struct{}{}
	return false
}
