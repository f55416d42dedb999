package kurrentdbtest

import (
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
)

// record is one event of the in-memory transaction log.
type record struct {
	id          uuid.UUID
	stream      string
	revision    uint64
	eventType   string
	contentType string
	data        []byte
	metadata    []byte
	created     int64  // .NET ticks (100 ns) since the Unix epoch
	position    uint64 // commit == prepare position
	epoch       uint64 // server run that wrote it (for the in-memory idempotency cache)
}

type streamState struct {
	events  []int // indexes into log.records, by revision
	deleted bool  // soft-deleted or tombstoned
	tomb    bool
}

// memLog is the node's data. It survives Stop/Restart of the Server.
type memLog struct {
	mu      sync.Mutex
	records []*record
	streams map[string]*streamState
	next    uint64        // position of the next record
	changed chan struct{} // closed and replaced on every write
	now     func() time.Time
}

func newMemLog(now func() time.Time) *memLog {
	return &memLog{
		streams: make(map[string]*streamState),
		// A real log starts with chunk headers and epoch records, so the first
		// event never sits at position 0 (which clients use for "start").
		next:    512,
		changed: make(chan struct{}),
		now:     now,
	}
}

// recordSize approximates a prepare record's size on disk so that positions
// look like KurrentDB's byte offsets: increasing, not dense.
func recordSize(stream, eventType string, data, metadata []byte) uint64 {
	return uint64(96 + len(stream) + len(eventType) + len(data) + len(metadata))
}

// appendLocked writes events to stream. Callers hold l.mu and have checked
// the expected revision.
func (l *memLog) appendLocked(stream string, epoch uint64, events []proposed) []*record {
	st := l.streams[stream]
	if st == nil {
		st = &streamState{}
		l.streams[stream] = st
	}
	ticks := l.now().UTC().UnixNano() / 100
	out := make([]*record, 0, len(events))
	for _, e := range events {
		r := &record{
			id:          e.id,
			stream:      stream,
			revision:    uint64(len(st.events)),
			eventType:   e.eventType,
			contentType: e.contentType,
			data:        e.data,
			metadata:    e.metadata,
			created:     ticks,
			position:    l.next,
			epoch:       epoch,
		}
		l.next += recordSize(stream, e.eventType, e.data, e.metadata)
		st.events = append(st.events, len(l.records))
		l.records = append(l.records, r)
		out = append(out, r)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return out
}

// lastRevision returns the stream's last revision, or -1 when it has no events.
func (l *memLog) lastRevisionLocked(stream string) int64 {
	st := l.streams[stream]
	if st == nil {
		return -1
	}
	return int64(len(st.events)) - 1
}

// indexAfter returns the index of the first record with position > pos.
func (l *memLog) indexAfterLocked(pos uint64) int {
	return sort.Search(len(l.records), func(i int) bool { return l.records[i].position > pos })
}

// indexAtOrAfter returns the index of the first record with position >= pos.
func (l *memLog) indexAtOrAfterLocked(pos uint64) int {
	return sort.Search(len(l.records), func(i int) bool { return l.records[i].position >= pos })
}

// validPositionLocked reports whether pos is a record boundary the server
// would accept: 0, an event's position, or the end of the log.
func (l *memLog) validPositionLocked(pos uint64) bool {
	if pos == 0 || pos == l.next {
		return true
	}
	i := l.indexAtOrAfterLocked(pos)
	return i < len(l.records) && l.records[i].position == pos
}

type proposed struct {
	id          uuid.UUID
	eventType   string
	contentType string
	data        []byte
	metadata    []byte
}
