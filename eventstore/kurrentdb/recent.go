package kurrentdb

import (
	"slices"
	"sync"

	"github.com/casebook/casebook/eventstore"
	"github.com/google/uuid"
)

// recentAppends remembers the appends this Store wrote, by event ID, so that
// it can tell a retry of a whole append from an append that reuses some of
// its IDs (a prefix, a suffix, another stream). KurrentDB keeps neither
// append boundaries nor an index by event ID, so this knowledge is the
// process's own: it does not survive a restart and is not shared between
// casebookd nodes. What does survive is the stored events themselves, which
// Append checks in every case (see matchTail and matchAt).
type recentAppends struct {
	mu     sync.Mutex
	byID   map[uuid.UUID]*appendRecord
	order  []*appendRecord // oldest first, for eviction
	ids    int
	maxIDs int
}

type appendRecord struct {
	stream string
	first  uint64
	ids    []uuid.UUID
}

func newRecentAppends(maxIDs int) *recentAppends {
	return &recentAppends{byID: make(map[uuid.UUID]*appendRecord), maxIDs: maxIDs}
}

// add records an append that this Store wrote.
func (r *recentAppends) add(stream string, first uint64, events []eventstore.EventData) {
	rec := &appendRecord{stream: stream, first: first, ids: make([]uuid.UUID, len(events))}
	for i, e := range events {
		rec.ids[i] = e.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range rec.ids {
		r.byID[id] = rec
	}
	r.order = append(r.order, rec)
	r.ids += len(rec.ids)
	for r.ids > r.maxIDs && len(r.order) > 1 {
		old := r.order[0]
		r.order[0] = nil
		r.order = r.order[1:]
		r.ids -= len(old.ids)
		for _, id := range old.ids {
			if r.byID[id] == old {
				delete(r.byID, id)
			}
		}
	}
}

// lookup returns the remembered append that holds one of events' IDs, and
// whether events are exactly that append's events (IDs, in order).
func (r *recentAppends) lookup(events []eventstore.EventData) (rec *appendRecord, knownID uuid.UUID, whole bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range events {
		if found := r.byID[e.ID]; found != nil {
			rec, knownID = found, e.ID
			break
		}
	}
	if rec == nil {
		return nil, uuid.Nil, false
	}
	whole = len(rec.ids) == len(events) && slices.EqualFunc(rec.ids, events, func(id uuid.UUID, e eventstore.EventData) bool {
		return id == e.ID
	})
	return rec, knownID, whole
}
