package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

// openTestStore opens a real SQLite event store in dir.
func openTestStore(t testing.TB, dir string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "events.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openGeneratedStore opens a store in dir holding the fixture followed by n
// generated events (seed picks them).
func openGeneratedStore(t testing.TB, dir string, n int, seed uint64) *sqlitestore.Store {
	t.Helper()
	store := openTestStore(t, dir)
	writeFixture(newLogWriter(t, store))
	if err := generateLog(context.Background(), store, n, seed); err != nil {
		t.Fatal(err)
	}
	return store
}

// openTestEngine opens an engine on dir's read-model database.
func openTestEngine(t testing.TB, dir string, store eventstore.Store, opts Options) *Engine {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	if opts.Logger == nil && os.Getenv("CASEBOOK_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.RetryMin == 0 {
		opts.RetryMin = 5 * time.Millisecond
		opts.RetryMax = 50 * time.Millisecond
	}
	e, err := Open(context.Background(), dir, store, opts)
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// fixedNow is the clock of the tests: the day of the press release.
var fixedNow = time.Date(2011, 6, 6, 12, 0, 0, 0, time.UTC)

// syncTo waits until the named projections reflect the log's head.
func syncTo(t testing.TB, e *Engine, store eventstore.Store, names ...string) eventstore.Position {
	t.Helper()
	head, err := store.Head(context.Background())
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.WaitFor(ctx, head, names...); err != nil {
		t.Fatalf("wait for position %d: %v", head, err)
	}
	return head
}

// logWriter writes case events to a store the way the case service does:
// canonical data, sealed metadata (hash chain), one stream per case. IDs
// come from names so that fixtures (and golden files) are stable.
type logWriter struct {
	t     testing.TB
	store eventstore.Store
	mu    sync.Mutex
	cases map[uuid.UUID]*writtenCase
	// recordedAt stamps the metadata's recorded_at; it advances by step
	// after every event unless a test sets it.
	recordedAt time.Time
	step       time.Duration
	n          int
	// randomIDs gives events fresh ids (several writers on one store):
	// time-ordered, as casebookd makes them.
	randomIDs bool
}

type writtenCase struct {
	version  uint64
	prevHash string
	exists   bool
}

func newLogWriter(t testing.TB, store eventstore.Store) *logWriter {
	return &logWriter{t: t, store: store, cases: map[uuid.UUID]*writtenCase{},
		recordedAt: time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC), step: time.Minute}
}

var idSpace = uuid.MustParse("6ba7b811-9dad-11d1-80b4-00c04fd430c8")

// id is a stable UUID for a fixture name.
func id(name string) uuid.UUID { return uuid.NewSHA1(idSpace, []byte(name)) }

// written is one event as written.
type written struct {
	ID       uuid.UUID
	Position eventstore.Position
}

// pending is an event to write.
type pending struct {
	ev       domain.Event
	occurred time.Time
	agency   string
	id       uuid.UUID // zero: the next generated one
	rawData  []byte    // overrides the encoded data (poisoned events)
	rawType  string
}

// write appends events to one case stream in one append.
func (w *logWriter) write(caseID uuid.UUID, evs ...pending) []written {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.cases[caseID]
	if c == nil {
		c = &writtenCase{}
		w.cases[caseID] = c
	}
	stream := domain.StreamName(caseID)
	expected := eventstore.NoStream
	if c.exists {
		expected = eventstore.Exact(c.version)
	}
	version := c.version
	if c.exists {
		version++
	}
	prev := c.prevHash
	var data []eventstore.EventData
	for _, p := range evs {
		w.n++
		evID := p.id
		if evID == uuid.Nil {
			evID = id(fmt.Sprintf("event-%d", w.n))
			if w.randomIDs {
				// Unique, and time-ordered as casebookd makes event ids.
				evID = uuid.Must(uuid.NewV7())
			}
		}
		typ := p.rawType
		var body []byte
		if p.ev != nil {
			typ = p.ev.EventType()
			b, err := domain.EncodeEventData(p.ev)
			if err != nil {
				w.t.Fatalf("encode: %v", err)
			}
			body = b
		}
		if p.rawData != nil {
			body = p.rawData
		}
		sv := domain.SchemaVersion(typ)
		if sv == 0 {
			sv = 1
		}
		meta := domain.Metadata{
			SchemaVersion: sv, OccurredAt: p.occurred, RecordedAt: w.recordedAt,
			Actor:         domain.Actor{Subject: "officer-" + strings.ReplaceAll(strings.ToLower(p.agency), " ", "-"), Role: domain.RoleInvestigator, Agency: p.agency},
			CorrelationID: id(fmt.Sprintf("corr-%d", w.n)), CausationID: evID, PrevHash: prev,
		}
		w.recordedAt = w.recordedAt.Add(w.step)
		se, m, err := domain.Seal(evID, stream, version, typ, body, meta)
		if err != nil {
			w.t.Fatalf("seal: %v", err)
		}
		prev = m.Hash
		data = append(data, eventstore.EventData{ID: evID, Type: typ, Data: se.Data, Metadata: se.Metadata})
		version++
	}
	res, err := w.store.Append(context.Background(), stream, expected, data...)
	if err != nil {
		w.t.Fatalf("append to %s: %v", stream, err)
	}
	c.exists, c.version, c.prevHash = true, res.Revision, prev
	out := make([]written, len(data))
	first := res.Position - eventstore.Position(len(data)-1) // sqlitestore positions are dense
	for i, d := range data {
		out[i] = written{ID: d.ID, Position: first + eventstore.Position(i)}
	}
	return out
}

// one writes a single event.
func (w *logWriter) one(caseID uuid.UUID, ev domain.Event, occurred time.Time, agency string) written {
	w.t.Helper()
	return w.write(caseID, pending{ev: ev, occurred: occurred, agency: agency})[0]
}

func at(s string) time.Time {
	t, err := ParseReportTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

// dumpTables returns every row of the active generation of each projection,
// keyed by table base name, in primary-key order: what two engines built
// from the same log must agree on.
func dumpTables(t testing.TB, e *Engine) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range e.projections {
		in := p.current()
		for _, base := range p.model.tables() {
			name := in.tables.table(base)
			rows, err := e.rdb.Query(`SELECT * FROM "` + name + `"`)
			if err != nil {
				t.Fatalf("dump %s: %v", name, err)
			}
			cols, _ := rows.Columns()
			var lines []string
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatalf("dump %s: %v", name, err)
				}
				b, _ := json.Marshal(vals)
				lines = append(lines, string(b))
			}
			rows.Close()
			sort.Strings(lines)
			out[base] = lines
		}
	}
	return out
}

func diffDumps(a, b map[string][]string) string {
	var diffs []string
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Equal(a[k], b[k]) {
			diffs = append(diffs, fmt.Sprintf("%s: %d rows vs %d rows; first difference: %s", k, len(a[k]), len(b[k]), firstDiff(a[k], b[k])))
		}
	}
	return strings.Join(diffs, "\n")
}

func firstDiff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("%q vs %q", x, y)
		}
	}
	return ""
}
