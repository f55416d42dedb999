package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/casebook/casebook/eventstore"
)

// The test oracle of as_of. Before the read models were bitemporal, an
// as_of report replayed the whole log into temporary, in-memory read
// models, keeping only the events recorded at or before as_of (by the
// recorded_at the service stamped and the hash covers), and asked them
// as they stood. That replay is kept here, unchanged, as the judge of the
// indexed as_of answers (TestAsOfAgreesWithReplay). It can also leave out
// the events a report's filters do not keep: the unfiltered answer of
// that replay judges the filtered answers (TestFiltersAgreeWithAFilteredReplay).

// replayed is the log replayed as known at one time.
type replayed struct {
	db  *sql.DB
	w   *writer
	src *source
	ms  map[string]model
}

// replayAsOf replays store's log as known at asOf into temporary read
// models of every report projection.
func replayAsOf(t testing.TB, store eventstore.Store, asOf time.Time) *replayed {
	t.Helper()
	return replayKept(t, store, asOf, nil)
}

// replayKept replays the events of store's log known at asOf that keep
// keeps (nil: all) into temporary read models of every report projection.
func replayKept(t testing.TB, store eventstore.Store, asOf time.Time, keep func(*entry) bool) *replayed {
	t.Helper()
	ctx := context.Background()
	var models []model
	ms := map[string]model{}
	for _, m := range newModels(nil) {
		if m.name() != CaseList {
			models = append(models, m)
			ms[m.name()] = m
		}
	}
	db, w, src, _, err := replayInto(ctx, store, models, asOf, keep, 4096)
	if err != nil {
		t.Fatalf("replay as of %s: %v", asOf, err)
	}
	src.ctx, src.p, src.cache = ctx, w.conn, w.stmts
	r := &replayed{db: db, w: w, src: src, ms: ms}
	t.Cleanup(func() {
		_ = w.close()
		_ = db.Close()
	})
	return r
}

// report answers q (whose AsOf is ignored: the replay is as known then)
// from the replayed read models, as the engine answers it from its own.
func (r *replayed) report(t testing.TB, report string, q ReportQuery) any {
	t.Helper()
	q.AsOf = nil
	v, limit, after, err := q.view(report)
	if err != nil {
		t.Fatalf("oracle %s: %v", report, err)
	}
	fm := func(name string) *factModel { return r.ms[name].(*factModel) }
	gm := *r.ms[GangsDismantled].(*gangsModel)
	var out any
	switch report {
	case "arrests":
		out, err = countAnswer(fm(Arrests), Arrests, v, q, limit, after)(r.src)
	case "gangs-dismantled":
		out, err = countAnswer(gm, GangsDismantled, v, q, limit, after)(r.src)
	case "seizures":
		out, err = seizuresAnswer(fm(Seizures), v, q, limit, after)(r.src)
	case "detections":
		out, err = detectionsAnswer(fm(Detections), v, q, limit, after)(r.src)
	case "summary":
		figs := summaryFigures{gangs: gm, arrests: fm(Arrests), seizures: fm(Seizures), detections: fm(Detections)}
		out, err = summaryAnswer(figs, v, q, limit, after)(r.src)
	default:
		t.Fatalf("no report %q", report)
	}
	if err != nil {
		t.Fatalf("oracle %s: %v", report, err)
	}
	return out
}

// replayInto builds temporary read models of models in a private in-memory
// database from the events of store recorded at or before asOf (those keep
// keeps, when it is not nil).
func replayInto(ctx context.Context, store eventstore.Store, models []model, asOf time.Time, keep func(*entry) bool, batchSize int) (*sql.DB, *writer, *source, eventstore.Position, error) {
	db, err := openMemoryDB(ctx)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	w, err := newWriter(ctx, db)
	if err != nil {
		db.Close()
		return nil, nil, nil, 0, err
	}
	fail := func(err error) (*sql.DB, *writer, *source, eventstore.Position, error) {
		w.close()
		db.Close()
		return nil, nil, nil, 0, err
	}
	src := &source{tables: map[string]*tableSet{}}
	filter := caseFilter
	allTypes := false
	for _, m := range models {
		if err := createGenerationIn(ctx, w, m, 0, nil); err != nil {
			return fail(err)
		}
		src.tables[m.name()] = newTableSet(m, 0)
		ts := m.eventTypes()
		if ts == nil {
			allTypes = true
		}
		for _, t := range ts {
			if !slices.Contains(filter.EventTypes, t) {
				filter.EventTypes = append(filter.EventTypes, t)
			}
		}
	}
	if allTypes {
		filter.EventTypes = nil
	}
	head, err := store.Head(ctx)
	if err != nil {
		return fail(fmt.Errorf("projections: replay: head of the log: %w", err))
	}
	batch := make([]entry, 0, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		tx, err := w.begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, m := range models {
			if err := m.apply(tx.on(ctx, src.tables[m.name()]), batch); err != nil {
				return fmt.Errorf("%w: %s cannot replay the log: %w", ErrProjectionFailed, m.name(), err)
			}
		}
		batch = batch[:0]
		return tx.Commit()
	}
	for ev, err := range store.ReadAll(ctx, eventstore.ReadAllOptions{From: 1, Filter: filter}) {
		if err != nil {
			return fail(fmt.Errorf("projections: replay: read the log: %w", err))
		}
		if ev.Position > head {
			break
		}
		e := decodeEntry(ev)
		if e.envErr == nil && e.env.RecordedAt.After(asOf) {
			continue
		}
		if keep != nil && !keep(&e) {
			continue
		}
		// (An event whose metadata cannot be read is kept: the models say
		// what they make of it.)
		batch = append(batch, e)
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	if err := flush(); err != nil {
		if errors.Is(err, ErrProjectionFailed) {
			return fail(err)
		}
		return fail(fmt.Errorf("projections: replay: %w", err))
	}
	return db, w, src, head, nil
}

// openMemoryDB opens a private in-memory database on a single connection
// (an as_of replay's temporary projection): the connection is the database,
// so the pool must never open a second one.
func openMemoryDB(ctx context.Context) (*sql.DB, error) {
	db, err := sql.Open("sqlite", ":memory:?_pragma=temp_store(MEMORY)")
	if err != nil {
		return nil, fmt.Errorf("projections: open in-memory database: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if _, err := db.ExecContext(ctx, metaSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("projections: in-memory database: %w", err)
	}
	return db, nil
}
