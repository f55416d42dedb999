package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Logger receives operational messages (failures, rebuilds, swaps);
	// nil discards them.
	Logger *slog.Logger
	// Now is the clock (lag_seconds, the summary's default period); nil
	// means time.Now.
	Now func() time.Time
	// BatchSize caps the events applied in one transaction. Default 32768.
	BatchSize int
	// LiveInterval caps the pacing of a live projection under load: after
	// applying a batch that took d, the runner lets the next batch gather
	// for up to 3d since the last began (never longer than LiveInterval),
	// so that a busy log is applied in a few large transactions rather than
	// one per group commit (a case touched by many events in a batch is
	// written once), while a quiet log is followed at once. Default 10ms;
	// negative disables pacing.
	LiveInterval time.Duration
	// Readers is the number of read-only connections. Default 8.
	Readers int
	// Versions overrides the code version of projections by name. A
	// version other than the one the read model was built with rebuilds it
	// in the background (tests use this to stand for a new release).
	Versions map[string]int
	// RetryMin and RetryMax bound the backoff before resubscribing after
	// an error of the store or the database. Defaults 50ms and 5s.
	RetryMin, RetryMax time.Duration
	// NoStart opens the read models without following the log (a
	// read-only CLI, or a test that wants to start the engine later with
	// Start).
	NoStart bool
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 32768
	}
	if o.LiveInterval == 0 {
		o.LiveInterval = 10 * time.Millisecond
	}
	if o.Readers <= 0 {
		o.Readers = 8
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 50 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Second
	}
	return o
}

// caseFilter selects the log's case streams: the only events read models
// see. (Access-log streams and anything else are not theirs.)
var caseFilter = eventstore.Filter{StreamPrefixes: []string{domain.StreamPrefix}}

// Engine runs the projections and answers queries from their read models.
// It is safe for concurrent use.
type Engine struct {
	store eventstore.Store
	opts  Options
	log   *slog.Logger
	path  string

	wdb *sql.DB // the pool of the single writer connection
	w   *writer // that connection, pinned
	rdb *sql.DB // read-only connections
	// rstmts are the read statements, prepared once on rdb; answers the
	// memoised report answers (answers.go).
	rstmts  *readStmts
	answers *answerCache
	// writeMu serialises write transactions (batches, rebuild starts,
	// swaps) in Go rather than in SQLite's busy loop.
	writeMu sync.Mutex
	// startOverMu serialises startOver (runners check their generations
	// against the log concurrently).
	startOverMu sync.Mutex

	projections []*projection // in a fixed order
	byName      map[string]*projection

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex // guards started, closed
	started bool
	closed  bool
}

// newModels returns the read models' code, in the order status lists them.
func newModels(versions map[string]int) []model {
	ms := []model{newArrestsModel(), newGangsModel(), newSeizuresModel(), newDetectionsModel(), newCaseListModel(),
		newReviewsModel(), newAccessLogModel()}
	for i, m := range ms {
		if v, ok := versions[m.name()]; ok {
			ms[i] = versionedModel{model: m, v: v}
		}
	}
	return ms
}

// versionedModel gives a model another code version (Options.Versions).
type versionedModel struct {
	model
	v int
}

func (m versionedModel) version() int { return m.v }

// Names lists the projections.
func Names() []string {
	var names []string
	for _, m := range newModels(nil) {
		names = append(names, m.name())
	}
	return names
}

// CanonicalName is the projection a name stands for: its own name, or the
// name spelt with hyphens as the report routes spell it
// (gangs-dismantled). An unknown name is an *UnknownProjectionError
// listing the valid ones.
func CanonicalName(name string) (string, error) {
	for _, n := range Names() {
		if name == n || name == strings.ReplaceAll(n, "_", "-") {
			return n, nil
		}
	}
	return "", &UnknownProjectionError{Name: name, Valid: Names()}
}

// projection looks a projection up by name (or its hyphenated spelling).
func (e *Engine) projection(name string) (*projection, error) {
	n, err := CanonicalName(name)
	if err != nil {
		return nil, err
	}
	return e.byName[n], nil
}

// Open opens (creating it if need be) the read-model database
// <dataDir>/readmodels.db and starts following store's log: each projection
// resumes from its checkpoint, so a restart replays nothing. Projections
// whose code version differs from the one their read model was built with
// are rebuilt in the background while the old read model answers.
func Open(ctx context.Context, dataDir string, store eventstore.Store, opts Options) (*Engine, error) {
	return OpenFile(ctx, filepath.Join(dataDir, FileName), store, opts)
}

// OpenFile is Open with the database file's path.
func OpenFile(ctx context.Context, path string, store eventstore.Store, opts Options) (*Engine, error) {
	opts = opts.withDefaults()
	wdb, rdb, err := openFileDB(ctx, path, opts.Readers)
	if err != nil {
		return nil, err
	}
	w, err := newWriter(ctx, wdb)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, err
	}
	e := &Engine{
		store: store, opts: opts, log: opts.Logger, path: path, wdb: wdb, w: w, rdb: rdb,
		rstmts: newReadStmts(rdb), answers: newAnswerCache(answerCacheSize),
		byName: map[string]*projection{},
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for _, m := range newModels(opts.Versions) {
		p := &projection{model: m}
		if err := e.load(ctx, p); err != nil {
			e.closeDBs()
			return nil, err
		}
		e.projections = append(e.projections, p)
		e.byName[m.name()] = p
	}
	if err := e.dropOrphans(ctx); err != nil {
		e.log.Warn("projections: could not drop tables of retired generations", "error", err)
	}
	if !opts.NoStart {
		// Read models that do not reflect this log (an older backup of the
		// store restored under them) start over before they answer.
		var all []*instance
		for _, p := range e.projections {
			all = append(all, p.active)
			if p.building != nil {
				all = append(all, p.building)
			}
		}
		if _, err := e.checkAgainstLog(ctx, all); err != nil {
			e.closeDBs()
			return nil, err
		}
		e.Start()
	}
	return e, nil
}

// load reads a projection's generations from the meta table, creating the
// first one for a new database and a new one for a new code version.
func (e *Engine) load(ctx context.Context, p *projection) error {
	name, version := p.model.name(), p.model.version()
	var activeGen, activeVersion int64
	var buildingGen, buildingVersion sql.NullInt64
	err := e.w.conn.QueryRowContext(ctx,
		`SELECT active_gen, active_version, building_gen, building_version FROM projection_meta WHERE name = ?`, name).
		Scan(&activeGen, &activeVersion, &buildingGen, &buildingVersion)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// A new read model: generation 1, empty, catching up from the start.
		if err := e.createGeneration(ctx, p.model, 1, func(tx *wtx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO projection_meta (name, active_gen, active_version) VALUES (?, 1, ?)`, name, version)
			return err
		}); err != nil {
			return err
		}
		p.active = newInstance(p, 1, version, 0, "")
		return nil
	case err != nil:
		return fmt.Errorf("projections: load %s: %w", name, err)
	}
	cp, cpID, err := e.checkpoint(ctx, e.w.conn, name, activeGen)
	if err != nil {
		return err
	}
	p.active = newInstance(p, activeGen, int(activeVersion), cp, cpID)
	if int(activeVersion) < p.model.readableFrom() {
		// Built by code whose tables this code cannot query: nothing
		// would answer meanwhile, so start over in place.
		e.log.Info("projections: code version changed and the old tables cannot be read; rebuilding from the start before answering",
			"projection", name, "from_version", activeVersion, "to_version", version)
		return e.restart(ctx, p, "")
	}
	if buildingGen.Valid {
		if int(buildingVersion.Int64) == version {
			bcp, bcpID, err := e.checkpoint(ctx, e.w.conn, name, buildingGen.Int64)
			if err != nil {
				return err
			}
			// A rebuild interrupted by a restart goes on where it was.
			p.building = newInstance(p, buildingGen.Int64, version, bcp, bcpID)
			return nil
		}
		// Built for a version that is no longer the code's: start over.
		if err := e.abandonBuilding(ctx, p, buildingGen.Int64); err != nil {
			return err
		}
	}
	if int(activeVersion) != version {
		e.log.Info("projections: code version changed; rebuilding", "projection", name,
			"from_version", activeVersion, "to_version", version)
		return e.startBuilding(ctx, p)
	}
	return nil
}

// checkpoint reads a generation's checkpoint: the position and the id of
// the last event it applied.
func (e *Engine) checkpoint(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string, gen int64) (eventstore.Position, string, error) {
	var cp int64
	var id sql.NullString
	err := q.QueryRowContext(ctx, `SELECT position, event_id FROM projection_checkpoint WHERE name = ? AND gen = ?`, name, gen).Scan(&cp, &id)
	if err != nil {
		return 0, "", fmt.Errorf("projections: checkpoint of %s generation %d: %w", name, gen, err)
	}
	return eventstore.Position(cp), id.String, nil
}

// restart replaces p's active generation by an empty one (and drops a
// generation being built), which then catches up from the start of the
// log: what is done when the tables cannot be trusted (why says why: it is
// logged at error and shown by Status until the engine stops) or cannot
// be read by this version (why is empty). The caller starts the new
// generation's runner if the engine is running (Start does otherwise).
func (e *Engine) restart(ctx context.Context, p *projection, why string) error {
	name, version := p.model.name(), p.model.version()
	p.mu.RLock()
	old, building := p.active, p.building
	p.mu.RUnlock()
	gen := old.gen + 1
	if building != nil {
		gen = max(gen, building.gen+1)
	}
	if why != "" {
		e.log.Error("projections: read model rebuilt from the start", "projection", name, "reason", why,
			"old_generation", old.gen, "generation", gen)
	}
	if err := e.createGeneration(ctx, p.model, gen, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE projection_meta SET active_gen = ?, active_version = ?,
			building_gen = NULL, building_version = NULL WHERE name = ?`, gen, version, name)
		return err
	}); err != nil {
		return fmt.Errorf("projections: restart %s: %w", name, err)
	}
	in := newInstance(p, gen, version, 0, "")
	// As in a swap: taking p.mu for writing waits for the queries still
	// using the old generation.
	p.mu.Lock()
	p.active, p.building = in, nil
	if why != "" {
		p.lastError, p.lastErrorAt = why, e.opts.Now().UTC()
	}
	p.mu.Unlock()
	for _, gone := range []*instance{old, building} {
		if gone == nil {
			continue
		}
		gone.retire()
		e.writeMu.Lock()
		e.w.forget(gone.tables)
		e.rstmts.forget(gone.tables)
		e.answers.forget(gone)
		err := e.dropGeneration(ctx, p.model, gone.gen, nil)
		e.writeMu.Unlock()
		if err != nil {
			e.log.Warn("projections: could not drop an untrusted generation (dropped at next start)",
				"projection", name, "generation", gone.gen, "error", err)
		}
	}
	return nil
}

// mismatch says why a generation's tables do not reflect the store's log
// ("" when nothing says they do not): its checkpoint lies beyond the log's
// head, or the log's event at its checkpoint is not the one it applied (an
// older backup of the store restored under newer read models, the log cut
// and appended to again). head is the log's head, read before.
func (e *Engine) mismatch(ctx context.Context, in *instance, head eventstore.Position) (string, error) {
	pr := in.progress()
	if pr.checkpoint == 0 {
		return "", nil
	}
	if pr.checkpoint > head {
		return fmt.Sprintf("its checkpoint (position %d) is beyond the head of the log (%d)", pr.checkpoint, head), nil
	}
	if pr.checkpointID == "" {
		return "", nil // not known (kept since read-model version 2)
	}
	for ev, err := range e.store.ReadAll(ctx, eventstore.ReadAllOptions{From: pr.checkpoint, Limit: 1}) {
		if err != nil {
			return "", fmt.Errorf("projections: read the log at %d: %w", pr.checkpoint, err)
		}
		if ev.Position == pr.checkpoint && ev.ID.String() == pr.checkpointID {
			return "", nil
		}
		return fmt.Sprintf("the log's event at its checkpoint (position %d) is %s at position %d, not the event %s it applied",
			pr.checkpoint, ev.ID, ev.Position, pr.checkpointID), nil
	}
	return fmt.Sprintf("the log has no event at its checkpoint (position %d), where it applied the event %s", pr.checkpoint, pr.checkpointID), nil
}

// checkAgainstLog starts over every generation of insts (each a
// projection's active or building one) whose tables do not reflect the
// store's log (see mismatch), and returns the generations started in
// their place: an active one is replaced by an empty one (restart), one
// being built is built anew.
func (e *Engine) checkAgainstLog(ctx context.Context, insts []*instance) ([]*instance, error) {
	head, err := e.store.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections: head of the log: %w", err)
	}
	var fresh []*instance
	for _, in := range insts {
		if in.stopped() {
			continue
		}
		why, err := e.mismatch(ctx, in, head)
		if err != nil {
			return fresh, err
		}
		if why == "" {
			continue
		}
		in, err := e.startOver(ctx, in, "its tables do not reflect the log: "+why)
		if err != nil {
			return fresh, err
		}
		if in != nil {
			fresh = append(fresh, in)
		}
	}
	return fresh, nil
}

// startOver replaces the generation in by an empty one catching up from
// the start, and returns that one (nil if in was replaced meanwhile).
func (e *Engine) startOver(ctx context.Context, in *instance, why string) (*instance, error) {
	e.startOverMu.Lock()
	defer e.startOverMu.Unlock()
	p := in.p
	p.mu.RLock()
	a, b := p.active, p.building
	p.mu.RUnlock()
	switch in {
	case a:
		if err := e.restart(ctx, p, why+"; rebuilt from the start"); err != nil {
			return nil, err
		}
		return p.current(), nil
	case b:
		e.log.Error("projections: rebuild started over", "projection", p.model.name(), "reason", why)
		b.retire()
		if err := e.abandonBuilding(ctx, p, b.gen); err != nil {
			return nil, err
		}
		if err := e.startBuilding(ctx, p); err != nil {
			return nil, err
		}
		p.mu.RLock()
		defer p.mu.RUnlock()
		return p.building, nil
	}
	return nil, nil
}

// createGeneration creates a generation's tables and its checkpoint (0) in
// one transaction, together with whatever meta change also does.
func (e *Engine) createGeneration(ctx context.Context, m model, gen int64, also func(tx *wtx) error) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	return createGenerationIn(ctx, e.w, m, gen, also)
}

func createGenerationIn(ctx context.Context, w *writer, m model, gen int64, also func(tx *wtx) error) error {
	tx, err := w.begin(ctx)
	if err != nil {
		return fmt.Errorf("projections: create %s generation %d: %w", m.name(), gen, err)
	}
	defer tx.Rollback()
	ts := newTableSet(m, gen)
	for _, t := range m.tables() {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+ts.table(t)); err != nil {
			return fmt.Errorf("projections: create %s generation %d: %w", m.name(), gen, err)
		}
	}
	for _, ddl := range m.schema() {
		if _, err := tx.ExecContext(ctx, ts.sql(ddl)); err != nil {
			return fmt.Errorf("projections: create %s generation %d: %w", m.name(), gen, err)
		}
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT OR REPLACE INTO projection_checkpoint (name, gen, position) VALUES (?, ?, 0)`, m.name(), gen); err != nil {
		return fmt.Errorf("projections: create %s generation %d: %w", m.name(), gen, err)
	}
	if also != nil {
		if err := also(tx); err != nil {
			return fmt.Errorf("projections: create %s generation %d: %w", m.name(), gen, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: create %s generation %d: %w", m.name(), gen, err)
	}
	return nil
}

// startBuilding creates a new generation of p from position 0 and records
// it as being built. The caller starts its runner (or Start does).
func (e *Engine) startBuilding(ctx context.Context, p *projection) error {
	gen := p.active.gen + 1
	version := p.model.version()
	if err := e.createGeneration(ctx, p.model, gen, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE projection_meta SET building_gen = ?, building_version = ? WHERE name = ?`,
			gen, version, p.model.name())
		return err
	}); err != nil {
		return err
	}
	b := newInstance(p, gen, version, 0, "")
	p.mu.Lock()
	p.building = b
	p.mu.Unlock()
	return nil
}

// abandonBuilding drops a generation that was being built.
func (e *Engine) abandonBuilding(ctx context.Context, p *projection, gen int64) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	return e.dropGeneration(ctx, p.model, gen, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE projection_meta SET building_gen = NULL, building_version = NULL WHERE name = ?`, p.model.name())
		return err
	})
}

// dropGeneration drops a generation's tables and checkpoint. writeMu is held.
func (e *Engine) dropGeneration(ctx context.Context, m model, gen int64, also func(tx *wtx) error) error {
	tx, err := e.w.begin(ctx)
	if err != nil {
		return fmt.Errorf("projections: drop %s generation %d: %w", m.name(), gen, err)
	}
	defer tx.Rollback()
	ts := newTableSet(m, gen)
	for _, t := range m.tables() {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+ts.table(t)); err != nil {
			return fmt.Errorf("projections: drop %s generation %d: %w", m.name(), gen, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM projection_checkpoint WHERE name = ? AND gen = ?`, m.name(), gen); err != nil {
		return fmt.Errorf("projections: drop %s generation %d: %w", m.name(), gen, err)
	}
	if also != nil {
		if err := also(tx); err != nil {
			return fmt.Errorf("projections: drop %s generation %d: %w", m.name(), gen, err)
		}
	}
	return tx.Commit()
}

// dropOrphans drops tables of generations that are neither active nor being
// built (left by a crash between a swap and its clean-up).
func (e *Engine) dropOrphans(ctx context.Context) error {
	rows, err := e.w.conn.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return err
	}
	var all []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		all = append(all, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	keep := map[string]bool{}
	owned := map[string]bool{} // base names of our tables
	for _, p := range e.projections {
		for _, t := range p.model.tables() {
			owned[t] = true
		}
		for _, in := range []*instance{p.active, p.building} {
			if in != nil {
				for _, t := range p.model.tables() {
					keep[in.tables.table(t)] = true
				}
			}
		}
	}
	var drop []string
	for _, n := range all {
		i := strings.LastIndex(n, "_g")
		if i < 0 || keep[n] || !owned[n[:i]] {
			continue
		}
		drop = append(drop, n)
	}
	if len(drop) == 0 {
		return nil
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	for _, n := range drop {
		if _, err := e.w.conn.ExecContext(ctx, `DROP TABLE IF EXISTS "`+n+`"`); err != nil {
			return err
		}
		e.log.Info("projections: dropped table of a retired generation", "table", n)
	}
	return nil
}

// Start follows the log: one runner per group of generations sharing a
// checkpoint (usually all of them), plus one per generation being built.
// Open calls it unless Options.NoStart.
func (e *Engine) Start() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.closed {
		return
	}
	e.started = true
	groups := map[eventstore.Position][]*instance{}
	var cps []eventstore.Position
	for _, p := range e.projections {
		p.mu.RLock()
		a, b := p.active, p.building
		p.mu.RUnlock()
		cp := a.progress().checkpoint
		if _, ok := groups[cp]; !ok {
			cps = append(cps, cp)
		}
		groups[cp] = append(groups[cp], a)
		if b != nil {
			e.startRunnerLocked(b)
		}
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i] < cps[j] })
	for _, cp := range cps {
		e.startRunnerLocked(groups[cp]...)
	}
}

func (e *Engine) startRunnerLocked(members ...*instance) {
	r := &runner{e: e, members: slices.Clone(members)}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		r.run(e.ctx)
	}()
}

func (e *Engine) startRunner(members ...*instance) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started || e.closed {
		return
	}
	e.startRunnerLocked(members...)
}

// Close stops following the log and closes the database. Queries after
// Close fail with ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	return e.closeDBs()
}

func (e *Engine) closeDBs() error {
	e.rstmts.forget(nil)
	return errors.Join(e.rdb.Close(), e.w.close(), e.wdb.Close())
}

func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// Rebuild rebuilds a projection from position 0 into a new generation while
// the current one keeps answering; the new one replaces it once it has
// caught up. It returns once the rebuild has started. A rebuild already in
// progress is left to finish (nil).
func (e *Engine) Rebuild(ctx context.Context, name string) error {
	p, err := e.projection(name)
	if err != nil {
		return err
	}
	if e.isClosed() {
		return ErrClosed
	}
	p.mu.RLock()
	building := p.building != nil && !p.building.stopped()
	p.mu.RUnlock()
	if building {
		return nil
	}
	// A rebuild that failed is abandoned before starting anew.
	p.mu.RLock()
	old := p.building
	p.mu.RUnlock()
	if old != nil {
		old.retire()
		if err := e.abandonBuilding(ctx, p, old.gen); err != nil {
			return err
		}
		p.mu.Lock()
		p.building = nil
		p.mu.Unlock()
	}
	if err := e.startBuilding(ctx, p); err != nil {
		return err
	}
	p.mu.RLock()
	b := p.building
	p.mu.RUnlock()
	e.log.Info("projections: rebuild started", "projection", p.model.name(), "generation", b.gen, "version", b.version)
	e.startRunner(b)
	return nil
}

// maybeSwap makes p's generation being built the active one once it has
// caught up with the active one: live, and at or past its position (so that
// the position a reader sees never goes back).
func (e *Engine) maybeSwap(ctx context.Context, p *projection) {
	p.mu.RLock()
	a, b := p.active, p.building
	p.mu.RUnlock()
	if b == nil {
		return
	}
	bp, ap := b.progress(), a.progress()
	if bp.state != StateLive || bp.retired {
		return
	}
	if bp.position < ap.position && ap.state != StateFailed {
		// The active one saw a probe further than the new one has: does
		// the new one miss any case event up to there?
		if next, ok, err := e.nextEvent(ctx, bp.checkpoint, filterOf(p.model)); err != nil ||
			(ok && next.Position <= ap.position) {
			return
		}
		b.cover(bp.checkpoint, ap.position)
		bp = b.progress()
		if bp.position < ap.position {
			return
		}
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	// Re-check under the write lock: no batch commits meanwhile.
	bp, ap = b.progress(), a.progress()
	if bp.retired || bp.state != StateLive || (bp.position < ap.position && ap.state != StateFailed) {
		return
	}
	tx, err := e.w.begin(ctx)
	if err != nil {
		e.log.Warn("projections: swap postponed", "projection", p.model.name(), "error", err)
		return
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE projection_meta SET active_gen = ?, active_version = ?, building_gen = NULL, building_version = NULL WHERE name = ?`,
		b.gen, b.version, p.model.name()); err != nil {
		e.log.Warn("projections: swap postponed", "projection", p.model.name(), "error", err)
		return
	}
	if err := tx.Commit(); err != nil {
		e.log.Warn("projections: swap postponed", "projection", p.model.name(), "error", err)
		return
	}
	// Taking p.mu for writing waits for every query still using the old
	// generation; after it, none can start on it.
	p.mu.Lock()
	p.active, p.building = b, nil
	p.mu.Unlock()
	a.retire()
	e.w.forget(a.tables)
	// No reader is left on the old generation: its statements and the
	// answers computed on it go.
	e.rstmts.forget(a.tables)
	e.answers.forget(a)
	e.log.Info("projections: rebuilt generation swapped in", "projection", p.model.name(),
		"generation", b.gen, "version", b.version, "position", bp.position)
	if err := e.dropGeneration(ctx, p.model, a.gen, nil); err != nil {
		e.log.Warn("projections: could not drop the old generation (dropped at next start)",
			"projection", p.model.name(), "generation", a.gen, "error", err)
	}
}
