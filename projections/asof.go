package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/casebook/casebook/eventstore"
)

// replay answers "as known then": it replays the log into temporary,
// in-memory read models of the named projections, keeping only the events
// recorded at or before asOf (by the recorded_at the service stamped and
// the hash covers), and runs fn on them. The log is read up to its head
// when the replay starts; recorded_at need not grow with the position
// across streams, so nothing is skipped by stopping early. The position
// returned is that head: the answer reflects every event up to it (those
// recorded by asOf).
func (e *Engine) replay(ctx context.Context, names []string, asOf time.Time, fn func(src *source) error) (eventstore.Position, error) {
	if e.isClosed() {
		return 0, ErrClosed
	}
	ps, err := e.lookup(names)
	if err != nil {
		return 0, err
	}
	// Each replay reads the log: past MaxReplays at once, shed the load
	// (ErrBusy, 503 with Retry-After) rather than queue it.
	select {
	case e.replays <- struct{}{}:
		defer func() { <-e.replays }()
	default:
		return 0, ErrBusy
	}
	var models []model
	for _, p := range ps {
		models = append(models, p.model)
	}
	db, w, src, last, err := replayInto(ctx, e.store, models, asOf, e.opts.BatchSize)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	defer w.close()
	src.ctx, src.p, src.cache = ctx, w.conn, w.stmts
	if err := fn(src); err != nil {
		return 0, err
	}
	return last, nil
}

// replayInto builds temporary read models of models in a private in-memory
// database from the events of store recorded at or before asOf.
func replayInto(ctx context.Context, store eventstore.Store, models []model, asOf time.Time, batchSize int) (*sql.DB, *writer, *source, eventstore.Position, error) {
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
