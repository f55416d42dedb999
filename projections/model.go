package projections

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/casebook/casebook/eventstore"
)

// Projection names, as GET /v1/projections lists them and
// POST /v1/projections/{name}/rebuild takes them (which also takes them
// with hyphens, as the report routes spell them: gangs-dismantled).
const (
	Arrests         = "arrests"
	GangsDismantled = "gangs_dismantled"
	Seizures        = "seizures"
	Detections      = "detections"
	CaseList        = "case_list"
)

// Projection states.
const (
	StateCatchingUp = "catching_up"
	StateLive       = "live"
	StateRebuilding = "rebuilding"
	StateFailed     = "failed"
)

// model is the code of one read model: its tables and how events change
// them. Table names in its SQL are written as {name} placeholders that a
// generation resolves ({facts} → arrest_facts_g3).
type model interface {
	name() string
	// version of the model's code; a new version rebuilds its read model.
	version() int
	// readableFrom is the oldest version whose tables this code can still
	// query: a read model built by an older one is rebuilt before it
	// answers (a newer one is rebuilt in the background while the old one
	// answers).
	readableFrom() int
	// tables lists the placeholders of the tables the model creates, for
	// dropping a generation (indexes go with their tables).
	tables() []string
	// schema is the DDL of one generation.
	schema() []string
	// eventTypes are the only types apply looks at (nil: every case event),
	// so that a replay (the as_of test oracle) can ask the store for those
	// alone.
	eventTypes() []string
	// apply folds events (all of the "case-" streams, in log order, after
	// the generation's checkpoint) into the generation's tables within the
	// transaction. An event it cannot apply is reported as an *EventError.
	apply(tx *dbtx, events []entry) error
}

// streamSelector is a model that reads other streams than the case streams
// (the access log's): its prefixes replace the case streams' prefix.
type streamSelector interface{ streamPrefixes() []string }

// filterOf is the part of the log a model reads: the case streams unless
// it selects others.
func filterOf(m model) eventstore.Filter {
	if s, ok := unversioned(m).(streamSelector); ok {
		return eventstore.Filter{StreamPrefixes: s.streamPrefixes()}
	}
	return caseFilter
}

// filterKey names a filter's streams, to tell filters apart.
func filterKey(f eventstore.Filter) string { return strings.Join(f.StreamPrefixes, "\x00") }

// tableSet resolves a model's table placeholders for one generation.
type tableSet struct {
	gen  int64
	repl *strings.Replacer
	// stmts caches the resolved text of SQL templates.
	mu    sync.Mutex
	stmts map[string]string
}

func newTableSet(m model, gen int64) *tableSet {
	var pairs []string
	for _, t := range m.tables() {
		pairs = append(pairs, "{"+t+"}", fmt.Sprintf("%s_g%d", t, gen))
	}
	return &tableSet{gen: gen, repl: strings.NewReplacer(pairs...), stmts: map[string]string{}}
}

// sql resolves the placeholders of a statement template.
func (t *tableSet) sql(tmpl string) string {
	if t == nil { // no generation's tables: the statement is its own text
		return tmpl
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.stmts[tmpl]
	if !ok {
		s = t.repl.Replace(tmpl)
		t.stmts[tmpl] = s
	}
	return s
}

// table is the name of one of the model's tables in this generation.
func (t *tableSet) table(placeholder string) string { return t.sql("{" + placeholder + "}") }

// Failure is why a projection stopped.
type Failure struct {
	Position eventstore.Position // the event it could not apply
	EventID  string
	Err      string
	At       time.Time
}

// instance is one generation of one projection: its tables and its progress
// through the log.
type instance struct {
	p       *projection
	tables  *tableSet
	gen     int64
	version int

	mu         sync.Mutex
	checkpoint eventstore.Position // committed with the tables
	// checkpointID is the id of the event at checkpoint, committed with it
	// (empty when unknown: a checkpoint written before ids were kept, or
	// none yet): a log whose event there differs is not the one the
	// tables were built from.
	checkpointID string
	// covered ≥ checkpoint: a probe of the log found no case event in
	// (coveredBase, covered], so once the tables reflect coveredBase they
	// reflect everything up to covered (the log's other streams, such as
	// access logs, are invisible to projections).
	covered, coveredBase eventstore.Position
	lastRecorded         time.Time // store's commit time of the last applied event
	state                string
	failure              *Failure
	retired              bool
	changed              chan struct{} // closed and replaced on every change
}

func newInstance(p *projection, gen int64, version int, checkpoint eventstore.Position, checkpointID string) *instance {
	return &instance{
		p: p, tables: newTableSet(p.model, gen), gen: gen, version: version,
		checkpoint: checkpoint, checkpointID: checkpointID, covered: checkpoint, coveredBase: checkpoint,
		state: StateCatchingUp, changed: make(chan struct{}),
	}
}

// broadcastLocked wakes everyone waiting for a change. inst.mu is held.
func (in *instance) broadcastLocked() {
	close(in.changed)
	in.changed = make(chan struct{})
}

type progress struct {
	checkpoint, position eventstore.Position
	checkpointID         string
	state                string
	failure              *Failure
	retired              bool
	lastRecorded         time.Time
	changed              <-chan struct{}
}

func (in *instance) progress() progress {
	in.mu.Lock()
	defer in.mu.Unlock()
	return progress{
		checkpoint: in.checkpoint, checkpointID: in.checkpointID, position: max(in.checkpoint, in.covered), state: in.state,
		failure: in.failure, retired: in.retired, lastRecorded: in.lastRecorded, changed: in.changed,
	}
}

// positionFor is the position the tables reflect when their checkpoint (as
// read inside a snapshot) is cp.
func (in *instance) positionFor(cp eventstore.Position) eventstore.Position {
	in.mu.Lock()
	defer in.mu.Unlock()
	if cp >= in.coveredBase && in.covered > cp {
		return in.covered
	}
	return cp
}

// advance records a committed batch: its last event's position and id.
func (in *instance) advance(cp eventstore.Position, cpID string, lastRecorded time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if cp > in.checkpoint {
		in.checkpoint, in.checkpointID = cp, cpID
		if !lastRecorded.IsZero() {
			in.lastRecorded = lastRecorded
		}
	}
	if in.covered < in.checkpoint {
		in.covered, in.coveredBase = in.checkpoint, in.checkpoint
	}
	in.broadcastLocked()
}

// cover records a probe's finding: no case event in (base, upTo]. It
// helps only while the tables have reached base.
func (in *instance) cover(base, upTo eventstore.Position) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if base > in.checkpoint || upTo <= max(in.checkpoint, in.covered) {
		return
	}
	in.covered, in.coveredBase = upTo, base
	in.broadcastLocked()
}

func (in *instance) setLive() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state == StateCatchingUp {
		in.state = StateLive
		in.broadcastLocked()
	}
}

func (in *instance) fail(f Failure) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.state = StateFailed
	in.failure = &f
	in.broadcastLocked()
}

func (in *instance) retire() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.retired = true
	in.broadcastLocked()
}

// isRetired reports whether the instance was swapped out by a rebuild.
func (in *instance) isRetired() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.retired
}

// stopped reports whether the instance takes no more events.
func (in *instance) stopped() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.retired || in.state == StateFailed
}

// projection is one read model: the generation that answers queries and,
// during a rebuild, the one being built.
type projection struct {
	model model
	// mu guards active and building. Queries hold it for reading while
	// they use the active generation's tables, so that a swap (which takes
	// it for writing) is also the barrier after which the old generation's
	// tables may be dropped.
	mu       sync.RWMutex
	active   *instance
	building *instance
	// lastError says why the read model was last rebuilt by itself (its
	// tables did not match the log), and when; GET /v1/projections shows
	// it. Guarded by mu.
	lastError   string
	lastErrorAt time.Time
}

// isBuilding reports whether in is p's generation being built.
func (p *projection) isBuilding(in *instance) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.building == in
}

// current returns the generation that answers queries.
func (p *projection) current() *instance {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.active
}
