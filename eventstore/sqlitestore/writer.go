package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casebook/casebook/eventstore"
	"github.com/google/uuid"
)

const (
	// queueCapacity bounds appends waiting for the writer; beyond it Append
	// waits (or gives up with its context).
	queueCapacity = 4096
	// maxBatchEvents and maxBatchRequests bound one group commit, so that a
	// flood of appends still commits (and acknowledges) every few ms.
	maxBatchEvents   = 8192
	maxBatchRequests = 1024
	// maxRowsPerStatement bounds one multi-row INSERT (9 parameters a row;
	// SQLite allows 32766 parameters).
	maxRowsPerStatement = 256
	// insertCacheSize bounds the prepared multi-row INSERTs kept, one per
	// row count seen.
	insertCacheSize = 64
	// maxGatherWait caps how long gather waits for a group to fill, and
	// gatherPoll is how often it re-checks while waiting.
	maxGatherWait = time.Millisecond
	gatherPoll    = 50 * time.Microsecond
)

// headCacheSize is the number of stream heads the writer remembers per
// generation (see headCache). A variable so tests can make it tiny.
var headCacheSize = 16384

// Request states: the writer takes a queued request, or its caller abandons
// it when the caller's context ends first. Exactly one of the two wins, so
// an abandoned append is never written and a taken one is always answered.
const (
	stateQueued int32 = iota
	stateTaken
	stateAbandoned
)

type appendRequest struct {
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData
	state    atomic.Int32
	done     chan appendOutcome // buffered: the writer never waits on it

	// Set by the writer while it executes the batch.
	res      eventstore.AppendResult
	err      error // this append's own failure; others in the batch commit
	wrote    bool
	firstRev uint64
	firstPos int64
}

type appendOutcome struct {
	res eventstore.AppendResult
	err error
}

// Append implements eventstore.Store. It validates the events, hands them to
// the writer and waits for the group commit that contains them. If ctx ends
// before the writer takes the append, nothing is written and ctx's error is
// returned; once taken, the append's real outcome is returned.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := s.check(ctx); err != nil {
		return eventstore.AppendResult{}, err
	}
	if s.readOnly {
		return eventstore.AppendResult{}, ErrReadOnly
	}
	if err := s.limits.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	r := &appendRequest{stream: stream, expected: expected, events: events, done: make(chan appendOutcome, 1)}
	s.w.inAppend.Add(1)
	defer s.w.inAppend.Add(-1)
	select {
	case s.w.queue <- r:
	case <-s.closing:
		return eventstore.AppendResult{}, eventstore.ErrClosed
	case <-ctx.Done():
		return eventstore.AppendResult{}, ctx.Err()
	}
	select {
	case out := <-r.done:
		return out.res, out.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(stateQueued, stateAbandoned) {
			return eventstore.AppendResult{}, ctx.Err()
		}
		out := <-r.done // taken: the batch is in flight and will answer
		return out.res, out.err
	case <-s.w.done:
		// The writer answers every request it took before it exits.
		select {
		case out := <-r.done:
			return out.res, out.err
		default:
			return eventstore.AppendResult{}, eventstore.ErrClosed
		}
	}
}

// writer owns the only write connection. One goroutine runs it.
type writer struct {
	s     *Store
	conn  *sql.Conn
	queue chan *appendRequest
	done  chan struct{}

	committed atomic.Int64 // position of the last committed event
	inAppend  atomic.Int64 // Append calls past validation and not returned
	stats     struct{ commits, appends, events atomic.Uint64 }

	// Writer goroutine only.
	nextPos int64 // position the next event will take
	// commitTime is a moving average of how long a commit takes.
	commitTime time.Duration
	reload     bool // nextPos and heads must be re-read (after a failure)
	heads      *headCache
	overlay    map[string]streamHead // heads changed by the open transaction
	pending    []*appendRequest      // accepted, rows not inserted yet
	args       []any                 // parameters of the INSERT being built
	argRows    int
	grouped    bool // the open transaction runs grouped inserts (see execute)
	batchBuf   []*appendRequest

	begin, commit, rollback          *sql.Stmt
	savepoint, release, rollbackTo   *sql.Stmt
	headStmt, byIDStmt, appendedStmt *sql.Stmt
	inserts                          map[insertKey]*sql.Stmt
}

// insertKey identifies a prepared multi-row INSERT.
type insertKey struct {
	rows       int
	orRollback bool
}

func newWriter(ctx context.Context, s *Store) (*writer, error) {
	conn, err := s.writeDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{
		s:       s,
		conn:    conn,
		queue:   make(chan *appendRequest, queueCapacity),
		done:    make(chan struct{}),
		heads:   newHeadCache(headCacheSize),
		overlay: make(map[string]streamHead),
		inserts: make(map[insertKey]*sql.Stmt),
	}
	prep := []struct {
		dst   **sql.Stmt
		query string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.savepoint, "SAVEPOINT append_request"},
		{&w.release, "RELEASE append_request"},
		{&w.rollbackTo, "ROLLBACK TO append_request"},
		{&w.headStmt, "SELECT revision FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1"},
		{&w.byIDStmt, "SELECT position, stream, append_first FROM events WHERE event_id = ?"},
		{&w.appendedStmt, "SELECT position, revision, event_id, type, data, metadata, append_first FROM events WHERE position >= ? ORDER BY position LIMIT ?"},
	}
	for _, p := range prep {
		if *p.dst, err = conn.PrepareContext(ctx, p.query); err != nil {
			_ = w.close()
			return nil, fmt.Errorf("prepare %q: %w", p.query, err)
		}
	}
	if err := w.loadHead(ctx); err != nil {
		_ = w.close()
		return nil, err
	}
	return w, nil
}

func (w *writer) loadHead(ctx context.Context) error {
	var head int64
	if err := w.conn.QueryRowContext(ctx, "SELECT coalesce(max(position), 0) FROM events").Scan(&head); err != nil {
		return fmt.Errorf("read log head: %w", err)
	}
	w.nextPos = head + 1
	w.committed.Store(head)
	return nil
}

func (w *writer) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{w.begin, w.commit, w.rollback, w.savepoint, w.release, w.rollbackTo, w.headStmt, w.byIDStmt, w.appendedStmt} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, st := range w.inserts {
		errs = append(errs, st.Close())
	}
	if w.conn != nil {
		errs = append(errs, w.conn.Close())
	}
	return errors.Join(errs...)
}

// run is the writer goroutine: it commits batches until the store closes,
// then commits whatever is still queued and exits.
func (w *writer) run() {
	defer close(w.done)
	for {
		select {
		case r := <-w.queue:
			w.process(w.gather(r))
		case <-w.s.closing:
			for {
				select {
				case r := <-w.queue:
					w.process(w.gather(r))
				default:
					return
				}
			}
		}
	}
}

// gather forms a group commit: the first request plus whatever else is
// queued right now. Appends arriving while a commit syncs wait in the queue
// and form the next group, so the batch size follows the load.
//
// One refinement: right after a group is acknowledged, its appenders are
// still waking up and re-submitting, and taking only the first few would
// split them into a small group and a large one, each paying a sync. So
// while fewer appends are gathered than there are callers inside Append,
// the writer waits for the others, but no longer than a quarter of a
// typical commit. A lone appender never waits.
func (w *writer) gather(first *appendRequest) []*appendRequest {
	batch := append(w.batchBuf[:0], first)
	events := len(first.events)
	full := func() bool { return len(batch) >= maxBatchRequests || events >= maxBatchEvents }
	take := func(r *appendRequest) {
		batch = append(batch, r)
		events += len(r.events)
	}
	drain := func() {
		for !full() {
			select {
			case r := <-w.queue:
				take(r)
			default:
				return
			}
		}
	}
	drain()
	coming := func() bool { return !full() && int(w.inAppend.Load()) > len(batch) }
	if !coming() {
		return batch
	}
	deadline := time.Now().Add(min(w.commitTime/4, maxGatherWait))
	poll := time.NewTicker(gatherPoll)
	defer poll.Stop()
	for coming() {
		select {
		case r := <-w.queue:
			take(r)
			drain()
		case now := <-poll.C:
			// Callers may also leave Append without queueing (their
			// context ended): re-check, and give up at the deadline.
			if now.After(deadline) {
				return batch
			}
		case <-w.s.closing:
			return batch
		}
	}
	return batch
}

var errRetryCarefully = errors.New("constraint failure in a grouped insert")

// process commits one batch and answers its requests.
func (w *writer) process(batch []*appendRequest) {
	defer func() {
		clear(batch)
		w.batchBuf = batch[:0]
	}()
	taken := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(stateQueued, stateTaken) {
			taken = append(taken, r)
		}
	}
	if len(taken) == 0 {
		return
	}
	ctx := context.Background() // a batch is not cancelled by any one caller
	now := w.s.now().UTC()
	recordedAt := formatRecordedAt(now)

	start := time.Now()
	err := w.reloadIfNeeded(ctx)
	if err == nil {
		err = w.execute(ctx, taken, false, recordedAt)
		if errors.Is(err, errRetryCarefully) {
			err = w.execute(ctx, taken, true, recordedAt)
		}
	}
	w.commitTime += (time.Since(start) - w.commitTime) / 8
	if err != nil {
		w.reload = true
		w.s.log.Error("event store: group commit failed", "appends", len(taken), "err", err)
		err = fmt.Errorf("%w: sqlitestore: append: %w", eventstore.ErrUnavailable, err)
		for _, r := range taken {
			r.done <- appendOutcome{err: err}
		}
		return
	}
	w.committed.Store(w.nextPos - 1)
	w.stats.commits.Add(1)
	// Publish before answering: recordedEvents copies the appenders' data,
	// which is theirs again as soon as Append returns.
	if w.s.hub.active() {
		w.s.hub.publish(recordedEvents(taken, now))
	}
	for _, r := range taken {
		if r.wrote {
			w.stats.appends.Add(1)
			w.stats.events.Add(uint64(len(r.events)))
		}
		r.done <- appendOutcome{res: r.res, err: r.err}
	}
}

func (w *writer) reloadIfNeeded(ctx context.Context) error {
	if !w.reload {
		return nil
	}
	w.heads = newHeadCache(headCacheSize)
	if err := w.loadHead(ctx); err != nil {
		return err
	}
	w.reload = false
	return nil
}

// execute runs the batch in one transaction. Grouped (careful=false), the
// rows of consecutive accepted appends go into shared multi-row INSERTs; a
// constraint failure there (an event id already stored: a retry or a reused
// id) cannot be pinned on one append, so the whole transaction is rolled
// back and the batch re-run carefully, each append in its own statement or
// savepoint, so that the failing one fails alone.
func (w *writer) execute(ctx context.Context, batch []*appendRequest, careful bool, recordedAt string) (err error) {
	clear(w.overlay)
	w.pending = w.pending[:0]
	w.args, w.argRows = w.args[:0], 0
	w.grouped = !careful
	startPos := w.nextPos
	if _, err := w.begin.ExecContext(ctx); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			if _, rbErr := w.rollback.ExecContext(ctx); rbErr != nil && !isNoTransaction(rbErr) {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
				w.reload = true
			}
			w.nextPos = startPos
			clear(w.overlay)
		}
	}()
	for _, r := range batch {
		r.res, r.err, r.wrote = eventstore.AppendResult{}, nil, false
		if err := w.apply(ctx, r, careful, recordedAt); err != nil {
			return err
		}
	}
	if err := w.flush(ctx, recordedAt); err != nil {
		return err
	}
	if _, err := w.commit.ExecContext(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for stream, h := range w.overlay {
		w.heads.put(stream, h)
	}
	return nil
}

// apply checks one append against the transaction's state and writes it
// (or queues its rows for the next grouped INSERT). It returns an error only
// for failures that doom the whole batch; the append's own failure goes to
// r.err.
func (w *writer) apply(ctx context.Context, r *appendRequest, careful bool, recordedAt string) error {
	h, err := w.head(ctx, r.stream)
	if err != nil {
		return err
	}
	if !r.expected.Satisfied(h.exists, h.last) {
		// Maybe a retry of an append already written (the expected revision
		// held then, not now). Find out against everything written so far,
		// including this transaction's pending rows.
		if err := w.flush(ctx, recordedAt); err != nil {
			return err
		}
		return w.explainFailure(ctx, r, &eventstore.WrongExpectedRevisionError{
			Stream: r.stream, Expected: r.expected, ActualExists: h.exists, ActualRevision: h.last,
		})
	}
	first := uint64(0)
	if h.exists {
		first = h.last + 1
	}
	n := len(r.events)
	r.firstRev, r.firstPos = first, w.nextPos
	if careful {
		if err := w.insertAlone(ctx, r, recordedAt); err != nil {
			if isConstraint(err) {
				return w.explainFailure(ctx, r, nil)
			}
			return err
		}
	} else {
		w.pending = append(w.pending, r)
	}
	r.wrote = true
	r.res = eventstore.AppendResult{Revision: first + uint64(n) - 1, Position: eventstore.Position(w.nextPos + int64(n) - 1)}
	w.overlay[r.stream] = streamHead{exists: true, last: first + uint64(n) - 1}
	w.nextPos += int64(n)
	return nil
}

// head returns the stream's state as the open transaction sees it.
func (w *writer) head(ctx context.Context, stream string) (streamHead, error) {
	if h, ok := w.overlay[stream]; ok {
		return h, nil
	}
	if h, ok := w.heads.get(stream); ok {
		return h, nil
	}
	var rev int64
	err := w.headStmt.QueryRowContext(ctx, stream).Scan(&rev)
	var h streamHead
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return h, fmt.Errorf("read head of %q: %w", stream, err)
	default:
		h = streamHead{exists: true, last: uint64(rev)}
	}
	// Committed state: valid whatever becomes of this transaction.
	w.heads.put(stream, h)
	return h, nil
}

// flush inserts the pending appends' rows.
func (w *writer) flush(ctx context.Context, recordedAt string) error {
	if len(w.pending) == 0 {
		return nil
	}
	for _, r := range w.pending {
		if err := w.addRows(ctx, r, recordedAt); err != nil {
			w.pending = w.pending[:0]
			return w.groupedInsertErr(err)
		}
	}
	w.pending = w.pending[:0]
	return w.groupedInsertErr(w.execRows(ctx))
}

func (w *writer) groupedInsertErr(err error) error {
	if isConstraint(err) {
		return fmt.Errorf("%w: %w", errRetryCarefully, err)
	}
	return err
}

// insertAlone inserts one append so that a failure undoes exactly its rows:
// one statement is atomic by itself; a longer append runs in a savepoint.
func (w *writer) insertAlone(ctx context.Context, r *appendRequest, recordedAt string) error {
	if len(r.events) <= maxRowsPerStatement {
		if err := w.addRows(ctx, r, recordedAt); err != nil {
			return err
		}
		return w.execRows(ctx)
	}
	if _, err := w.savepoint.ExecContext(ctx); err != nil {
		return err
	}
	err := w.addRows(ctx, r, recordedAt)
	if err == nil {
		err = w.execRows(ctx)
	}
	if err != nil {
		if _, rbErr := w.rollbackTo.ExecContext(ctx); rbErr != nil {
			return errors.Join(err, rbErr)
		}
	}
	if _, relErr := w.release.ExecContext(ctx); relErr != nil {
		return errors.Join(err, relErr)
	}
	return err
}

// addRows appends r's rows to the INSERT being built, executing it each
// time it reaches maxRowsPerStatement rows.
func (w *writer) addRows(ctx context.Context, r *appendRequest, recordedAt string) error {
	for i := range r.events {
		ev := &r.events[i]
		var meta any
		if len(ev.Metadata) > 0 {
			meta = bytesAsString(ev.Metadata)
		}
		w.args = append(w.args,
			r.firstPos+int64(i),
			r.stream,
			int64(r.firstRev)+int64(i),
			ev.ID.String(),
			ev.Type,
			bytesAsString(ev.Data),
			meta,
			recordedAt,
			r.firstPos,
		)
		w.argRows++
		if w.argRows == maxRowsPerStatement {
			if err := w.execRows(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// execRows executes the INSERT built so far.
func (w *writer) execRows(ctx context.Context) error {
	if w.argRows == 0 {
		return nil
	}
	st, err := w.insertStmt(ctx, insertKey{rows: w.argRows, orRollback: w.grouped})
	if err == nil {
		_, err = st.ExecContext(ctx, w.args...)
	}
	clear(w.args)
	w.args, w.argRows = w.args[:0], 0
	return err
}

// insertStmt returns the prepared INSERT for k.rows rows.
//
// Grouped inserts use INSERT OR ROLLBACK: their failure rolls back the whole
// transaction, which is what execute does anyway, and it spares SQLite the
// statement journal it would otherwise keep to undo a multi-row INSERT that
// fails halfway (copies of every page it touches). Careful inserts use the
// default (ABORT), which undoes just the failing statement.
func (w *writer) insertStmt(ctx context.Context, k insertKey) (*sql.Stmt, error) {
	if st, ok := w.inserts[k]; ok {
		return st, nil
	}
	if len(w.inserts) >= insertCacheSize {
		for old, st := range w.inserts { // evict an arbitrary one
			if old.rows != 1 && old.rows != maxRowsPerStatement {
				_ = st.Close()
				delete(w.inserts, old)
				break
			}
		}
	}
	var b strings.Builder
	if k.orRollback {
		b.WriteString("INSERT OR ROLLBACK")
	} else {
		b.WriteString("INSERT")
	}
	b.WriteString(" INTO events (position, stream, revision, event_id, type, data, metadata, recorded_at, append_first) VALUES ")
	for i := range k.rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?)")
	}
	st, err := w.conn.PrepareContext(ctx, b.String())
	if err != nil {
		return nil, fmt.Errorf("prepare insert of %d rows: %w", k.rows, err)
	}
	w.inserts[k] = st
	return st, nil
}

// explainFailure decides what an append that could not be written gets:
// a retry of an earlier append gets that append's result (Duplicate); an
// event id already used otherwise gets *EventIDReusedError; otherwise
// the expected-revision error, if there was one.
func (w *writer) explainFailure(ctx context.Context, r *appendRequest, wrongRevision error) error {
	res, reused, found, err := w.matchEarlierAppend(ctx, r)
	if err != nil {
		return err
	}
	if found {
		r.res, r.err = res, reused
		return nil
	}
	if wrongRevision != nil {
		r.err = wrongRevision
		return nil
	}
	for _, ev := range r.events[1:] {
		var pos, first int64
		var stream string
		err := w.byIDStmt.QueryRowContext(ctx, ev.ID.String()).Scan(&pos, &stream, &first)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look up event id: %w", err)
		}
		r.err = &eventstore.EventIDReusedError{EventID: ev.ID, Stream: stream}
		return nil
	}
	w.reload = true
	return fmt.Errorf("append to %q hit a constraint that no stored event id explains (was the file written by another program?)", r.stream)
}

// matchEarlierAppend looks for an earlier append that r repeats: one whose
// first event has r's first event id, in the same stream, with exactly r's
// events (ids, types, data, metadata) and no more. found reports whether r's
// first event id is stored at all; reused is set when it is, but r is not an
// exact repeat.
func (w *writer) matchEarlierAppend(ctx context.Context, r *appendRequest) (res eventstore.AppendResult, reused error, found bool, err error) {
	firstID := r.events[0].ID
	var pos, appendFirst int64
	var stream string
	err = w.byIDStmt.QueryRowContext(ctx, firstID.String()).Scan(&pos, &stream, &appendFirst)
	if errors.Is(err, sql.ErrNoRows) {
		return res, nil, false, nil
	}
	if err != nil {
		return res, nil, false, fmt.Errorf("look up event id: %w", err)
	}
	mismatch := func(id uuid.UUID) (eventstore.AppendResult, error, bool, error) {
		return eventstore.AppendResult{}, &eventstore.EventIDReusedError{EventID: id, Stream: stream}, true, nil
	}
	if stream != r.stream || pos != appendFirst {
		return mismatch(firstID)
	}
	rows, err := w.appendedStmt.QueryContext(ctx, appendFirst, len(r.events)+1)
	if err != nil {
		return res, nil, false, fmt.Errorf("read earlier append: %w", err)
	}
	defer func() { _ = rows.Close() }()
	matched := 0
	var lastPos, lastRev int64
	var badID uuid.UUID
	for rows.Next() {
		var p, rev, af int64
		var id, typ string
		var data, meta []byte
		if err := rows.Scan(&p, &rev, &id, &typ, &data, &meta, &af); err != nil {
			return res, nil, false, fmt.Errorf("read earlier append: %w", err)
		}
		if af != appendFirst {
			break // the next append
		}
		if matched == len(r.events) { // the earlier append was longer
			badID = firstID
			break
		}
		ev := &r.events[matched]
		if id != ev.ID.String() || typ != ev.Type || !bytes.Equal(data, ev.Data) || !bytes.Equal(meta, ev.Metadata) {
			badID = ev.ID
			break
		}
		lastPos, lastRev = p, rev
		matched++
	}
	if err := rows.Err(); err != nil {
		return res, nil, false, fmt.Errorf("read earlier append: %w", err)
	}
	if badID != uuid.Nil {
		return mismatch(badID)
	}
	if matched != len(r.events) { // r has events the earlier append had not
		return mismatch(firstID)
	}
	return eventstore.AppendResult{Revision: uint64(lastRev), Position: eventstore.Position(lastPos), Duplicate: true}, nil, true, nil
}

// recordedEvents builds the live events of a committed batch. Data and
// metadata are copied: the callers own their buffers once Append returns.
func recordedEvents(batch []*appendRequest, now time.Time) []eventstore.RecordedEvent {
	n, size := 0, 0
	for _, r := range batch {
		if r.wrote {
			n += len(r.events)
			for i := range r.events {
				size += len(r.events[i].Data) + len(r.events[i].Metadata)
			}
		}
	}
	out := make([]eventstore.RecordedEvent, 0, n)
	buf := make([]byte, 0, size)
	for _, r := range batch {
		if !r.wrote {
			continue
		}
		for i := range r.events {
			ev := &r.events[i]
			start := len(buf)
			buf = append(buf, ev.Data...)
			data := buf[start:len(buf):len(buf)]
			var meta []byte
			if len(ev.Metadata) > 0 {
				start = len(buf)
				buf = append(buf, ev.Metadata...)
				meta = buf[start:len(buf):len(buf)]
			}
			out = append(out, eventstore.RecordedEvent{
				ID:         ev.ID,
				Type:       ev.Type,
				Data:       data,
				Metadata:   meta,
				Stream:     r.stream,
				Revision:   r.firstRev + uint64(i),
				Position:   eventstore.Position(r.firstPos + int64(i)),
				RecordedAt: now,
			})
		}
	}
	return out
}

// bytesAsString lends b to the driver as a string without copying; the
// driver copies it into SQLite before the statement returns, and the caller
// of Append does not get its buffers back before then.
func bytesAsString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// isNoTransaction recognises the failure of a ROLLBACK after SQLite has
// already rolled the transaction back itself (as it does on some I/O and
// memory errors): a plain SQLITE_ERROR, the only error a constant ROLLBACK
// statement can get besides busy and I/O ones.
func isNoTransaction(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_ERROR
}
