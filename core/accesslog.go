package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// accessLog records consultations in the access-log streams: one hash
// chain per case ("access-<case id>"), sealed exactly as case streams are.
//
// A consultation is on record before it is served: the first of a run of
// identical consultations (same caller, case, operation, version read,
// time travel, purpose and outcome) is appended at once, and the caller
// waits for it. Identical consultations within the merge window that
// follow are counted and written as one further entry when the window
// closes (or the server stops): ten seconds of one client re-reading a
// case at full speed add a handful of entries, not tens of thousands. What
// a kill -9 can lose is the count of the last window's repeats, never the
// fact that the caller consulted that version for that purpose.
type accessLog struct {
	store  eventstore.Store
	now    func() time.Time
	newID  func() uuid.UUID
	window time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	open    map[accessKey]*accessWindow
	closed  bool
	flushes sync.WaitGroup

	locks *caseLocks
	heads *accessHeads
	// lastPosition is the log position of the last entry this process
	// wrote: a query of the access log's read model waits for it, so an
	// auditor sees every consultation this server recorded before asking.
	lastPosition atomic.Uint64
}

// wrote records that an entry was written at pos.
func (l *accessLog) wrote(pos eventstore.Position) {
	for {
		cur := l.lastPosition.Load()
		if uint64(pos) <= cur || l.lastPosition.CompareAndSwap(cur, uint64(pos)) {
			return
		}
	}
}

// accessKey is what makes two consultations identical.
type accessKey struct {
	who                Identity
	caseID             uuid.UUID
	op, outcome        string
	read, from, at     int64 // -1: none
	asOf               int64 // UnixNano; 0: none
	purpose, reference string
	defaulted          bool
}

func keyOf(who Identity, a domain.CaseAccessed) accessKey {
	k := accessKey{who: who, caseID: a.CaseID, op: a.Operation, outcome: a.Outcome,
		read: optVersion(a.VersionRead), from: optVersion(a.FromVersion), at: optVersion(a.AtVersion),
		purpose: a.Purpose, reference: a.PurposeReference, defaulted: a.PurposeDefaulted}
	if a.AsOf != nil {
		k.asOf = a.AsOf.UnixNano()
	}
	return k
}

func optVersion(v *uint64) int64 {
	if v == nil {
		return -1
	}
	return int64(*v)
}

// accessWindow is a run of identical consultations being merged.
type accessWindow struct {
	ready chan struct{} // closed once the first entry is appended
	err   error         // its outcome
	timer *time.Timer

	repeats   int // identical consultations since the first
	repeatAt  time.Time
	lastAt    time.Time
	requestID string
	entry     domain.CaseAccessed
}

func newAccessLog(store eventstore.Store, now func() time.Time, newID func() uuid.UUID, window time.Duration, logger *slog.Logger) *accessLog {
	return &accessLog{store: store, now: now, newID: newID, window: window, logger: logger,
		open: map[accessKey]*accessWindow{}, locks: newCaseLocks(), heads: newAccessHeads(100_000)}
}

// record puts a consultation on record (a.Count and a.LastAt are set
// here). It returns once the consultation is durably recorded — or merged
// into an entry that is — and fails if it cannot be: a consultation that
// cannot be recorded must not be served.
func (l *accessLog) record(ctx context.Context, who Identity, a domain.CaseAccessed) error {
	now := l.now().UTC()
	a.Count, a.LastAt = 1, now
	if l.window <= 0 {
		return l.append(ctx, who, a, now)
	}
	key := keyOf(who, a)
	l.mu.Lock()
	if w := l.open[key]; w != nil {
		if w.repeats == 0 {
			w.repeatAt, w.requestID = now, a.RequestID
		}
		w.repeats++
		w.lastAt = now
		l.mu.Unlock()
		select {
		case <-w.ready:
			return w.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if l.closed {
		l.mu.Unlock()
		return l.append(ctx, who, a, now)
	}
	w := &accessWindow{ready: make(chan struct{}), entry: a}
	l.open[key] = w
	l.mu.Unlock()

	w.err = l.append(ctx, who, a, now)
	close(w.ready)
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.err != nil || l.closed {
		if l.open[key] == w {
			delete(l.open, key)
		}
		if w.err == nil {
			l.flushes.Add(1)
			go l.flush(key, w)
		}
		return w.err
	}
	l.flushes.Add(1)
	w.timer = time.AfterFunc(l.window, func() { l.flush(key, w) })
	return nil
}

// flush closes a window: its repeats, if any, become one entry.
func (l *accessLog) flush(key accessKey, w *accessWindow) {
	defer l.flushes.Done()
	l.mu.Lock()
	if l.open[key] == w {
		delete(l.open, key)
	}
	n := w.repeats // no repeat joins once the window is out of the map
	l.mu.Unlock()
	if n <= 0 {
		return
	}
	a := w.entry
	a.Count, a.LastAt, a.RequestID = n, w.lastAt, w.requestID
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.append(ctx, key.who, a, w.repeatAt); err != nil {
		// The consultations were served (the first was on record): this
		// loses their count, which an operator must hear about.
		l.logger.Error("access log: could not record merged consultations", "case_id", a.CaseID.String(),
			"subject", key.who.Subject, "operation", a.Operation, "count", n, "error", err.Error())
	}
}

// close writes every window's repeats now, and makes later consultations
// unmerged.
func (l *accessLog) close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	var pending []func()
	for key, w := range l.open {
		if w.timer != nil && w.timer.Stop() {
			pending = append(pending, func() { l.flush(key, w) })
		}
	}
	l.mu.Unlock()
	for _, f := range pending {
		f()
	}
	done := make(chan struct{})
	go func() { l.flushes.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("access log: entries still being written: %w", ctx.Err())
	}
}

// append seals a and appends it to its case's access-log stream, after the
// stream's head (read once, then remembered; read again if another process
// wrote meanwhile).
func (l *accessLog) append(ctx context.Context, who Identity, a domain.CaseAccessed, occurred time.Time) error {
	unlock, err := l.locks.lock(ctx, a.CaseID)
	if err != nil {
		return err
	}
	defer unlock()
	stream := domain.AccessStreamName(a.CaseID)
	for attempt := 0; ; attempt++ {
		h, ok := l.heads.get(a.CaseID)
		if !ok {
			if h, err = l.readHead(ctx, stream); err != nil {
				return err
			}
		}
		expected, version := eventstore.NoStream, uint64(0)
		if h.exists {
			expected, version = eventstore.Exact(h.version), h.version+1
		}
		e, err := domain.SealAccess(l.newID(), version, h.hash, who.Actor(), occurred, l.now(), a)
		if err != nil {
			return domain.Internal(fmt.Errorf("access log: seal an entry of case %s: %w", a.CaseID, err))
		}
		res, err := l.store.Append(ctx, stream, expected, eventstore.EventData{ID: e.Stored.ID, Type: e.Stored.Type,
			Data: e.Stored.Data, Metadata: e.Stored.Metadata})
		if err == nil {
			l.heads.put(a.CaseID, accessHead{exists: true, version: version, hash: e.Metadata.Hash})
			l.wrote(res.Position)
			return nil
		}
		l.heads.drop(a.CaseID)
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) && attempt < 8 {
			continue // another process wrote an entry: chain after it
		}
		return storeError(fmt.Sprintf("access log: record a consultation of case %s", a.CaseID), err)
	}
}

// readHead reads where an access-log stream's chain stands.
func (l *accessLog) readHead(ctx context.Context, stream string) (accessHead, error) {
	for rec, err := range l.store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Direction: eventstore.Backward, FromEnd: true, Limit: 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return accessHead{}, nil
		}
		if err != nil {
			return accessHead{}, storeError("access log: read "+stream, err)
		}
		h := accessHead{exists: true, version: rec.Revision}
		if rec.Type != domain.TypeCaseRead { // a first-version entry has no hash: the chain starts after it
			m, err := domain.DecodeMetadata(rec.Metadata)
			if err != nil {
				return accessHead{}, domain.Internal(fmt.Errorf("access log: %s version %d: %w", stream, rec.Revision, err))
			}
			h.hash = m.Hash
		}
		return h, nil
	}
	return accessHead{}, nil
}

// accessHead is where an access-log stream's chain stands.
type accessHead struct {
	exists  bool
	version uint64
	hash    string
}

// accessHeads remembers the heads of recently written access-log streams,
// so that recording a consultation reads nothing. Bounded: when full it
// starts afresh (a head is read again when needed).
type accessHeads struct {
	mu  sync.Mutex
	max int
	m   map[uuid.UUID]accessHead
}

func newAccessHeads(max int) *accessHeads {
	return &accessHeads{max: max, m: map[uuid.UUID]accessHead{}}
}

func (h *accessHeads) get(id uuid.UUID) (accessHead, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[id]
	return v, ok
}

func (h *accessHeads) put(id uuid.UUID, v accessHead) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.m) >= h.max {
		clear(h.m)
	}
	h.m[id] = v
}

func (h *accessHeads) drop(id uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, id)
}
