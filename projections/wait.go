package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/casebook/casebook/eventstore"
)

// nextEvent returns the first event of the streams filter selects (a
// model's: filterOf) after position after, if there is one.
func (e *Engine) nextEvent(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (eventstore.RecordedEvent, bool, error) {
	for ev, err := range e.store.ReadAll(ctx, eventstore.ReadAllOptions{From: after + 1, Limit: 1, Filter: filter}) {
		if err != nil {
			return eventstore.RecordedEvent{}, false, fmt.Errorf("projections: read the log after %d: %w", after, err)
		}
		return ev, true, nil
	}
	return eventstore.RecordedEvent{}, false, nil
}

// WaitFor waits until the named projections (all of them when none is named)
// reflect the log up to position pos: read-your-writes for a client that
// appended at pos. It returns ctx's error when ctx ends first (callers bound
// the wait with a deadline), and an error wrapping ErrProjectionFailed when
// a projection it waits for has failed, since that one would never get
// there.
func (e *Engine) WaitFor(ctx context.Context, pos eventstore.Position, names ...string) error {
	ps, err := e.lookup(names)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := e.waitOne(ctx, p, pos); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) lookup(names []string) ([]*projection, error) {
	if len(names) == 0 {
		return e.projections, nil
	}
	ps := make([]*projection, 0, len(names))
	for _, n := range names {
		p, err := e.projection(n)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// probeInterval is how often a waiter rechecks the log while the projection
// does not move: the position waited for may be an event of another stream
// (which projections never see), with no case event after it yet.
const probeInterval = 20 * time.Millisecond

func (e *Engine) waitOne(ctx context.Context, p *projection, pos eventstore.Position) error {
	probedAt := eventstore.Position(0)
	probed := false
	for {
		if e.isClosed() {
			return ErrClosed
		}
		in := p.current()
		pr := in.progress()
		if pr.position >= pos {
			return nil
		}
		if pr.state == StateFailed {
			return fmt.Errorf("%w: %s stopped at position %d: %s", ErrProjectionFailed, p.model.name(), pr.failure.Position, pr.failure.Err)
		}
		// Is there a case event the projection still has to apply up to
		// pos? If not, it already reflects pos. Probe once per checkpoint.
		// (The head is read first: whatever commits after it lies beyond
		// it, so "no case event in (checkpoint, min(pos, head)]" holds.)
		if !probed || probedAt != pr.checkpoint {
			head, err := e.store.Head(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("projections: head of the log: %w", err)
			}
			next, ok, err := e.nextEvent(ctx, pr.checkpoint, filterOf(p.model))
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			probed, probedAt = true, pr.checkpoint
			upTo := min(pos, head)
			if (!ok || next.Position > upTo) && upTo > pr.position {
				in.cover(pr.checkpoint, upTo)
				if upTo == pos {
					continue
				}
			}
		}
		timer := time.NewTimer(probeInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-pr.changed:
		case <-timer.C:
			probed = false
		}
		timer.Stop()
	}
}

// Position is the position the named projections (all when none is named)
// reflect together: the smallest of theirs.
func (e *Engine) Position(names ...string) (eventstore.Position, error) {
	ps, err := e.lookup(names)
	if err != nil {
		return 0, err
	}
	var pos eventstore.Position
	for i, p := range ps {
		pp := p.current().progress().position
		if i == 0 || pp < pos {
			pos = pp
		}
	}
	return pos, nil
}
