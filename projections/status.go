package projections

import (
	"context"
	"fmt"
	"time"
)

// Status is one projection as GET /v1/projections shows it.
type Status struct {
	Name    string `json:"name"`
	Version int    `json:"version"` // of the code that built the read model answering now
	// State is catching_up, live, rebuilding (a new generation is being
	// built while this one answers) or failed.
	State string `json:"state"`
	// Position is the last log position the read model reflects; Head the
	// log's newest position.
	Position uint64 `json:"position"`
	Head     uint64 `json:"head"`
	// LagEvents is Head - Position: log positions not yet reflected (with
	// the SQLite store, where positions are dense, a count of events).
	LagEvents uint64 `json:"lag_events"`
	// LagSeconds is the age of the oldest case event not yet applied (0
	// when none is waiting).
	LagSeconds float64 `json:"lag_seconds"`
	// Error says why the projection (or its rebuild) failed, naming the
	// event and its position.
	Error string `json:"error,omitempty"`
	// LastError says why the read model was last rebuilt from the start by
	// itself (its tables did not reflect the log, or were built by a
	// version this one cannot read), and LastErrorAt when; both stay until
	// the engine restarts.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// Status reports every projection's state, position and lag.
func (e *Engine) Status(ctx context.Context) ([]Status, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	head, err := e.store.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections: head of the log: %w", err)
	}
	now := e.opts.Now()
	out := make([]Status, 0, len(e.projections))
	for _, p := range e.projections {
		p.mu.RLock()
		a, b := p.active, p.building
		lastError, lastErrorAt := p.lastError, p.lastErrorAt
		p.mu.RUnlock()
		pr := a.progress()
		st := Status{Name: p.model.name(), Version: a.version, State: pr.state, Head: uint64(head), LastError: lastError}
		if lastError != "" {
			st.LastErrorAt = &lastErrorAt
		}
		if pr.state == StateFailed {
			st.Error = pr.failure.Err
		}
		if b != nil {
			bp := b.progress()
			if bp.state == StateFailed {
				if st.Error == "" {
					st.Error = "rebuild to version " + fmt.Sprint(b.version) + " failed: " + bp.failure.Err
				}
			} else {
				st.State = StateRebuilding
			}
		}
		pos := pr.position
		if pos < head {
			// Caught up already if no case event waits up to head.
			next, ok, err := e.nextEvent(ctx, pr.checkpoint, filterOf(p.model))
			if err != nil {
				return nil, err
			}
			if !ok || next.Position > head {
				a.cover(pr.checkpoint, head)
				pos = max(pos, head)
			} else if lag := now.Sub(next.RecordedAt).Seconds(); lag > 0 {
				st.LagSeconds = lag
			}
		}
		st.Position = uint64(pos)
		if head > pos {
			st.LagEvents = uint64(head - pos)
		}
		out = append(out, st)
	}
	return out, nil
}
