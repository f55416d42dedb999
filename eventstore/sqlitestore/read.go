package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

const (
	// pageSize is the number of rows one query reads. Each page is its own
	// short read transaction: a slow consumer never pins a WAL snapshot.
	pageSize = 512
	// pageBytes ends a page early once this much event data was read, so a
	// page of large events stays small in memory.
	pageBytes = 4 << 20
	// filteredStmtCacheSize bounds the prepared statements kept for filter
	// shapes (number of prefixes × number of types × direction).
	filteredStmtCacheSize = 64
)

// eventColumns are the columns a read selects. event_id, recorded_at and
// type come joined into one text column, split again by the scanner: the
// driver's cost is per column (three locked calls into SQLite, a Go string
// and an interface box each), and reading the log is mostly that cost.
// Neither an event id nor a recorded_at contains a space; a type may, and
// comes last.
const eventColumns = "position, stream, revision, event_id || ' ' || recorded_at || ' ' || type, data, metadata"

// readStatements are the prepared queries of the read pool.
type readStatements struct {
	streamFwd, streamBwd, streamExists *sql.Stmt
	allFwd, allBwd                     *sql.Stmt
	byID                               *sql.Stmt

	mu       sync.Mutex
	db       *sql.DB
	filtered map[string]*sql.Stmt
}

func (rs *readStatements) prepare(ctx context.Context, db *sql.DB) error {
	rs.db = db
	rs.filtered = make(map[string]*sql.Stmt)
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&rs.streamFwd, "SELECT " + eventColumns + " FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?"},
		{&rs.streamBwd, "SELECT " + eventColumns + " FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?"},
		{&rs.streamExists, "SELECT EXISTS (SELECT 1 FROM events WHERE stream = ?)"},
		{&rs.allFwd, "SELECT " + eventColumns + " FROM events WHERE position >= ? ORDER BY position LIMIT ?"},
		{&rs.allBwd, "SELECT " + eventColumns + " FROM events WHERE position <= ? ORDER BY position DESC LIMIT ?"},
		{&rs.byID, "SELECT " + eventColumns + " FROM events WHERE event_id = ?"},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = st
	}
	return nil
}

func (rs *readStatements) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{rs.streamFwd, rs.streamBwd, rs.streamExists, rs.allFwd, rs.allBwd, rs.byID} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	rs.mu.Lock()
	for _, st := range rs.filtered {
		errs = append(errs, st.Close())
	}
	rs.filtered = nil
	rs.mu.Unlock()
	return errors.Join(errs...)
}

// logQuery returns the statement reading one page of the global log with
// the filter's shape. The filter is applied by SQLite while it walks the log
// in position order: prefixes as range comparisons, types as an IN list. The
// unary + keeps the planner off the (stream, revision) index, which would
// read the matching streams in stream order and sort each page.
func (rs *readStatements) logQuery(ctx context.Context, f eventstore.Filter, dir eventstore.Direction) (*sql.Stmt, error) {
	if len(f.StreamPrefixes) == 0 && len(f.EventTypes) == 0 {
		if dir == eventstore.Backward {
			return rs.allBwd, nil
		}
		return rs.allFwd, nil
	}
	var b strings.Builder
	b.WriteString("SELECT " + eventColumns + " FROM events WHERE ")
	if dir == eventstore.Backward {
		b.WriteString("position <= ?")
	} else {
		b.WriteString("position >= ?")
	}
	if n := len(f.StreamPrefixes); n > 0 {
		b.WriteString(" AND (")
		for i := range n {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString("(+stream >= ? AND +stream < ?)")
		}
		b.WriteString(")")
	}
	if n := len(f.EventTypes); n > 0 {
		b.WriteString(" AND +type IN (?" + strings.Repeat(",?", n-1) + ")")
	}
	if dir == eventstore.Backward {
		b.WriteString(" ORDER BY position DESC LIMIT ?")
	} else {
		b.WriteString(" ORDER BY position LIMIT ?")
	}
	query := b.String()

	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.filtered == nil {
		return nil, eventstore.ErrClosed
	}
	if st, ok := rs.filtered[query]; ok {
		return st, nil
	}
	st, err := rs.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(rs.filtered) >= filteredStmtCacheSize {
		for k, old := range rs.filtered {
			_ = old.Close()
			delete(rs.filtered, k)
			break
		}
	}
	rs.filtered[query] = st
	return st, nil
}

// normalizeFilter drops a prefix list that contains the empty prefix: it
// matches every stream.
func normalizeFilter(f eventstore.Filter) eventstore.Filter {
	for _, p := range f.StreamPrefixes {
		if p == "" {
			f.StreamPrefixes = nil
			break
		}
	}
	return f
}

// filterArgs are the parameters of logQuery's filter, in order.
func filterArgs(f eventstore.Filter) []any {
	args := make([]any, 0, 2*len(f.StreamPrefixes)+len(f.EventTypes))
	for _, p := range f.StreamPrefixes {
		args = append(args, p, prefixEnd(p))
	}
	for _, t := range f.EventTypes {
		args = append(args, t)
	}
	return args
}

// prefixEnd returns the least string greater than every string that starts
// with p, under SQLite's bytewise (BINARY) comparison: p with its last byte
// incremented, after dropping trailing 0xff bytes (which valid UTF-8 never
// contains, but a filter need not be valid UTF-8).
func prefixEnd(p string) string {
	b := []byte(p)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "\xff\xff\xff\xff" // above every UTF-8 string
	}
	b[len(b)-1]++
	return string(b)
}

// scanner turns rows into RecordedEvents.
//
// The driver already hands every text column over as a freshly allocated Go
// string, so the scanner takes those strings as they are (Scan into *string
// and *any copies nothing) and copies Data and Metadata exactly once, into
// an arena shared by the events of a page. Only the driver's own
// allocations remain per row.
type scanner struct {
	pos, rev int64
	stream   string
	header   string // event_id, recorded_at and type, space-separated
	data     string
	meta     any       // string, or nil for SQL NULL
	lastText string    // recorded_at text of the previous row
	lastTime time.Time // and its parsed value
	types    map[string]string
	arena    arena
}

// maxInternedTypes bounds the scanner's set of event type names. A log has
// a few dozen; the bound only matters for a hostile one.
const maxInternedTypes = 256

// splitHeader splits the joined event_id, recorded_at and type column.
func splitHeader(h string) (id, recordedAt, typ string, ok bool) {
	id, rest, ok1 := strings.Cut(h, " ")
	recordedAt, typ, ok2 := strings.Cut(rest, " ")
	return id, recordedAt, typ, ok1 && ok2
}

// internType returns a string equal to t that does not keep the row's
// header alive, shared by every event of that type the scanner reads.
func (sc *scanner) internType(t string) string {
	if v, ok := sc.types[t]; ok {
		return v
	}
	v := strings.Clone(t)
	if sc.types == nil {
		sc.types = make(map[string]string)
	}
	if len(sc.types) < maxInternedTypes {
		sc.types[v] = v
	}
	return v
}

// scanPage reads rows into page until the rows end or the page's byte
// budget is spent; full reports the latter (or that limit rows were read).
func (sc *scanner) scanPage(rows *sql.Rows, page []eventstore.RecordedEvent, limit int) (_ []eventstore.RecordedEvent, full bool, err error) {
	defer func() {
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
	}()
	dest := []any{&sc.pos, &sc.stream, &sc.rev, &sc.header, &sc.data, &sc.meta}
	bytesRead := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return page, false, err
		}
		id, recordedAt, typ, ok := splitHeader(sc.header)
		if !ok {
			return page, false, fmt.Errorf("event at position %d: malformed event_id, recorded_at or type", sc.pos)
		}
		page = append(page, eventstore.RecordedEvent{
			Type:     sc.internType(typ),
			Data:     sc.arena.copy(sc.data),
			Stream:   sc.stream,
			Revision: uint64(sc.rev),
			Position: eventstore.Position(sc.pos),
		})
		ev := &page[len(page)-1]
		switch m := sc.meta.(type) {
		case nil:
		case string:
			ev.Metadata = sc.arena.copy(m)
		case []byte: // not from this schema's TEXT column, but harmless
			ev.Metadata = sc.arena.copy(string(m))
		default:
			return page[:len(page)-1], false, fmt.Errorf("event at position %d: metadata: unexpected %T", sc.pos, m)
		}
		sc.meta = nil // drop the driver's string before the next row
		if ev.ID, err = parseEventID(id); err != nil {
			return page[:len(page)-1], false, fmt.Errorf("event at position %d: event_id: %w", sc.pos, err)
		}
		// Events of one commit share recorded_at: parse it once.
		if recordedAt == sc.lastText && sc.lastText != "" {
			ev.RecordedAt = sc.lastTime
		} else {
			if ev.RecordedAt, err = parseRecordedAt(recordedAt); err != nil {
				return page[:len(page)-1], false, fmt.Errorf("event at position %d: %w", sc.pos, err)
			}
			sc.lastText = recordedAt
			sc.lastTime = ev.RecordedAt
		}
		bytesRead += len(ev.Data) + len(ev.Metadata)
		if len(page) >= limit || bytesRead >= pageBytes {
			return page, true, nil
		}
	}
	return page, false, rows.Err()
}

// arena hands out copies of event bytes carved from shared chunks: one
// allocation serves a couple of hundred typical events instead of two per
// event. A handed-out slice is never written again (its capacity ends where
// it ends, and later copies only go to unused space past it), so it stays
// valid and unchanged for as long as the caller keeps it. Chunks are small
// enough that a caller keeping one event keeps at most arenaChunk bytes of
// others alive; values too big to share well get their own array.
type arena struct{ buf []byte }

const (
	arenaChunk     = 64 << 10
	arenaMaxShared = arenaChunk / 16
)

// copy returns a new, non-nil slice holding s, with len == cap.
func (a *arena) copy(s string) []byte {
	n := len(s)
	switch {
	case n == 0:
		return []byte{}
	case n > arenaMaxShared:
		return []byte(s)
	case cap(a.buf)-len(a.buf) < n:
		a.buf = make([]byte, 0, arenaChunk)
	}
	start := len(a.buf)
	a.buf = append(a.buf, s...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		if err := s.check(ctx); err != nil {
			yield(eventstore.RecordedEvent{}, err)
			return
		}
		backward := opts.Direction == eventstore.Backward
		cursor := int64(math.MaxInt64) // next revision to read, inclusive
		if opts.From <= math.MaxInt64 && !(backward && opts.FromEnd) {
			cursor = int64(opts.From)
		}
		remaining := opts.Limit
		var sc scanner
		var page []eventstore.RecordedEvent
		first := true
		for {
			if err := s.check(ctx); err != nil {
				yield(eventstore.RecordedEvent{}, err)
				return
			}
			n := pageSize
			if remaining > 0 && remaining < uint64(n) {
				n = int(remaining)
			}
			st := s.readStmts.streamFwd
			if backward {
				st = s.readStmts.streamBwd
			}
			rows, err := st.QueryContext(ctx, stream, cursor, n)
			if err != nil {
				yield(eventstore.RecordedEvent{}, s.wrapErr(ctx, "read stream", err))
				return
			}
			var full bool
			page, full, err = sc.scanPage(rows, page[:0], n)
			if err != nil {
				yield(eventstore.RecordedEvent{}, s.wrapErr(ctx, "read stream", err))
				return
			}
			if first && len(page) == 0 {
				var exists bool
				if err := s.readStmts.streamExists.QueryRowContext(ctx, stream).Scan(&exists); err != nil {
					yield(eventstore.RecordedEvent{}, s.wrapErr(ctx, "read stream", err))
					return
				}
				if !exists {
					yield(eventstore.RecordedEvent{}, fmt.Errorf("%w: %q", eventstore.ErrStreamNotFound, stream))
				}
				return
			}
			first = false
			for _, ev := range page {
				if !yield(ev, nil) {
					return
				}
			}
			if remaining > 0 {
				remaining -= uint64(len(page))
				if remaining == 0 {
					return
				}
			}
			if !full || len(page) == 0 {
				return
			}
			last := int64(page[len(page)-1].Revision)
			if backward {
				if last == 0 {
					return
				}
				cursor = last - 1
			} else {
				cursor = last + 1
			}
		}
	}
}

// FindEvent implements eventstore.EventFinder: one lookup in the unique
// index on event_id, whatever the size of the log.
func (s *Store) FindEvent(ctx context.Context, id uuid.UUID) (eventstore.RecordedEvent, error) {
	if err := s.check(ctx); err != nil {
		return eventstore.RecordedEvent{}, err
	}
	rows, err := s.readStmts.byID.QueryContext(ctx, id.String())
	if err != nil {
		return eventstore.RecordedEvent{}, s.wrapErr(ctx, "find event", err)
	}
	var sc scanner
	page, _, err := sc.scanPage(rows, nil, 1)
	if err != nil {
		return eventstore.RecordedEvent{}, s.wrapErr(ctx, "find event", err)
	}
	if len(page) == 0 {
		return eventstore.RecordedEvent{}, fmt.Errorf("%w: %s", eventstore.ErrEventNotFound, id)
	}
	return page[0], nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		if err := s.check(ctx); err != nil {
			yield(eventstore.RecordedEvent{}, err)
			return
		}
		r := logReader{s: s, filter: normalizeFilter(opts.Filter), dir: opts.Direction, cursor: toSQLPosition(opts.From)}
		if opts.Direction == eventstore.Backward && opts.FromEnd {
			r.cursor = math.MaxInt64
		}
		remaining := opts.Limit
		for {
			n := pageSize
			if remaining > 0 && remaining < uint64(n) {
				n = int(remaining)
			}
			page, more, err := r.next(ctx, n)
			if err != nil {
				yield(eventstore.RecordedEvent{}, err)
				return
			}
			for _, ev := range page {
				if !yield(ev, nil) {
					return
				}
			}
			if remaining > 0 {
				remaining -= uint64(len(page))
				if remaining == 0 {
					return
				}
			}
			if !more {
				return
			}
		}
	}
}

// logReader pages through the global log.
type logReader struct {
	s      *Store
	filter eventstore.Filter
	dir    eventstore.Direction
	cursor int64 // next position to consider, inclusive
	args   []any
	sc     scanner
	page   []eventstore.RecordedEvent
	done   bool
}

// next reads up to n matching events. more is false when the log (as of
// this query) holds nothing further in the reading direction. The returned
// slice is reused by the following call.
func (r *logReader) next(ctx context.Context, n int) (page []eventstore.RecordedEvent, more bool, err error) {
	if r.done {
		return nil, false, nil
	}
	if err := r.s.check(ctx); err != nil {
		return nil, false, err
	}
	st, err := r.s.readStmts.logQuery(ctx, r.filter, r.dir)
	if err != nil {
		return nil, false, r.s.wrapErr(ctx, "read log", err)
	}
	if r.args == nil {
		r.args = append([]any{nil}, filterArgs(r.filter)...)
		r.args = append(r.args, nil)
	}
	r.args[0], r.args[len(r.args)-1] = r.cursor, n
	rows, err := st.QueryContext(ctx, r.args...)
	if err != nil {
		return nil, false, r.s.wrapErr(ctx, "read log", err)
	}
	r.page, more, err = r.sc.scanPage(rows, r.page[:0], n)
	if err != nil {
		return nil, false, r.s.wrapErr(ctx, "read log", err)
	}
	if len(r.page) > 0 {
		last := int64(r.page[len(r.page)-1].Position)
		if r.dir == eventstore.Backward {
			r.cursor = last - 1
			if r.cursor < 1 {
				r.done, more = true, false
			}
		} else {
			r.cursor = last + 1
		}
	}
	return r.page, more, nil
}
