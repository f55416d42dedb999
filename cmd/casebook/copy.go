package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/casebook/casebook/cmd/casebook/internal/ndjson"
	"github.com/casebook/casebook/eventstore"
)

// copier appends events read from a log (an export file, another store) to
// a target store, in the order given, preserving ids, types, data, metadata
// and revisions.
//
// It is resumable: for each stream it first asks the target how far that
// stream already goes, skips what is there (checking that the target's last
// event is the one the source has at that revision, so a different store is
// never silently merged) and appends the rest with an exact expected
// revision. An interrupted run leaves whole appends behind (appends are
// atomic), so re-running continues where it stopped and duplicates nothing.
// Consecutive events of one stream go in one append, up to a size bound.
type copier struct {
	dst        eventstore.Store
	heads      map[string]*targetHead
	emptyStart bool // the target was empty at the start: no head lookups needed

	stream string
	batch  []eventstore.EventData
	first  uint64 // revision of batch[0]
	bytes  int

	copied, skipped int64
	onAppend        func(n int) // progress: n events were appended
}

type targetHead struct {
	next uint64               // the target's next revision (0: no stream)
	last eventstore.EventData // the target's event at next-1
}

const (
	maxBatchEvents = 500
	maxBatchBytes  = 4 << 20
)

func newCopier(ctx context.Context, dst eventstore.Store) (*copier, error) {
	empty, err := storeIsEmpty(ctx, dst)
	if err != nil {
		return nil, err
	}
	return &copier{dst: dst, heads: make(map[string]*targetHead), emptyStart: empty}, nil
}

// head returns what the target holds of stream.
func (c *copier) head(ctx context.Context, stream string) (*targetHead, error) {
	if h, ok := c.heads[stream]; ok {
		return h, nil
	}
	h := &targetHead{}
	if !c.emptyStart {
		last, found, err := lastEvent(ctx, c.dst, stream)
		if err != nil {
			return nil, err
		}
		if found {
			h.next = last.Revision + 1
			h.last = eventstore.EventData{ID: last.ID, Type: last.Type, Data: last.Data, Metadata: last.Metadata}
		}
	}
	c.heads[stream] = h
	return h, nil
}

// lastEvent reads a stream's last event.
func lastEvent(ctx context.Context, st eventstore.Store, stream string) (eventstore.RecordedEvent, bool, error) {
	for ev, err := range st.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Direction: eventstore.Backward, FromEnd: true, Limit: 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return eventstore.RecordedEvent{}, false, nil
		}
		if err != nil {
			return eventstore.RecordedEvent{}, false, fmt.Errorf("read the target's stream %s: %w", stream, err)
		}
		return ev, true, nil
	}
	return eventstore.RecordedEvent{}, false, nil
}

// add copies one event (buffered; call flush at the end).
func (c *copier) add(ctx context.Context, rec ndjson.Record) error {
	if c.stream == rec.Stream && len(c.batch) > 0 && rec.Revision == c.first+uint64(len(c.batch)) {
		return c.buffer(ctx, rec)
	}
	if err := c.flush(ctx); err != nil {
		return err
	}
	h, err := c.head(ctx, rec.Stream)
	if err != nil {
		return err
	}
	switch {
	case rec.Revision+1 < h.next:
		c.skipped++ // already copied by an earlier run
		return nil
	case rec.Revision+1 == h.next:
		if src := rec.EventData(); !sameEvent(src, h.last) {
			return fmt.Errorf("the target's stream %s has event %s at revision %d where the source has %s, with other content: the target holds different data; refusing to merge",
				rec.Stream, h.last.ID, rec.Revision, src.ID)
		}
		c.skipped++
		return nil
	case rec.Revision > h.next:
		return fmt.Errorf("stream %s: the source continues at revision %d but the target's next revision is %d: events are missing in between",
			rec.Stream, rec.Revision, h.next)
	}
	c.stream, c.first = rec.Stream, rec.Revision
	return c.buffer(ctx, rec)
}

func (c *copier) buffer(ctx context.Context, rec ndjson.Record) error {
	ev := rec.EventData()
	c.batch = append(c.batch, ev)
	c.bytes += len(ev.Data) + len(ev.Metadata) + len(ev.Type)
	if len(c.batch) >= maxBatchEvents || c.bytes >= maxBatchBytes {
		next := c.first + uint64(len(c.batch))
		if err := c.flush(ctx); err != nil {
			return err
		}
		// keep batching the same stream
		c.stream, c.first = rec.Stream, next
	}
	return nil
}

// flush appends the buffered events.
func (c *copier) flush(ctx context.Context) error {
	if len(c.batch) == 0 {
		return nil
	}
	expected := eventstore.NoStream
	if c.first > 0 {
		expected = eventstore.Exact(c.first - 1)
	}
	res, err := c.dst.Append(ctx, c.stream, expected, c.batch...)
	if err != nil {
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			return fmt.Errorf("stream %s changed in the target while copying (is something else writing to it?): %w", c.stream, err)
		}
		return fmt.Errorf("append %d events to %s at revision %d: %w", len(c.batch), c.stream, c.first, err)
	}
	n := len(c.batch)
	last := c.first + uint64(n) - 1
	if res.Revision != last {
		return fmt.Errorf("append to %s: the target answered revision %d, expected %d", c.stream, res.Revision, last)
	}
	c.heads[c.stream] = &targetHead{next: last + 1, last: c.batch[n-1]}
	if res.Duplicate {
		c.skipped += int64(n)
	} else {
		c.copied += int64(n)
	}
	if c.onAppend != nil {
		c.onAppend(n)
	}
	c.batch = c.batch[:0]
	c.bytes = 0
	return nil
}

// sameEvent compares two events byte for byte.
func sameEvent(a, b eventstore.EventData) bool {
	return a.ID == b.ID && a.Type == b.Type && bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Metadata, b.Metadata)
}
