package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// Service is what Load needs of the application core (*core.Core): the
// same OpenCase and Record that the HTTP API calls, with the same rules.
type Service interface {
	OpenCase(ctx context.Context, who core.Identity, cmd core.OpenCase) (core.Result, domain.Case, error)
	Record(ctx context.Context, who core.Identity, caseID uuid.UUID, cmd core.Command) (core.Result, error)
}

// LoadOptions tune Load.
type LoadOptions struct {
	// Workers load that many cases at once (each case's events stay in
	// order; the global log interleaves cases). 1 keeps the log's order
	// identical from run to run. Default 1.
	Workers int
	// Progress is called after each event with the number of events
	// recorded so far.
	Progress func(done int)
}

// LoadResult says what was loaded.
type LoadResult struct {
	Cases  int
	Events int // events recorded (new or already there)
	// Duplicates were already in the store, recorded by an earlier load of
	// the same seed: the service answered them as retries and wrote nothing.
	Duplicates int
	// Head is the largest global position answered by the store.
	Head uint64
}

// Load feeds the plan through svc: each case is opened, then its steps are
// recorded in order, each with its planned event id and occurred_at, as the
// demo actor of the step's agency. Deciding happens in the service exactly
// as for the API, so a step the domain refuses fails the load.
func Load(ctx context.Context, svc Service, p Plan, opts LoadOptions) (LoadResult, error) {
	workers := max(opts.Workers, 1)
	var (
		mu   sync.Mutex
		res  LoadResult
		errs []error
	)
	progress := func(pos uint64, duplicate bool) {
		mu.Lock()
		res.Events++
		if duplicate {
			res.Duplicates++
		}
		res.Head = max(res.Head, pos)
		n := res.Events
		mu.Unlock()
		if opts.Progress != nil {
			opts.Progress(n)
		}
	}
	jobs := make(chan Case)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				if err := loadCase(ctx, svc, c, progress); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
feed:
	for _, c := range p.Cases {
		select {
		case jobs <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.Cases = len(p.Cases)
	if len(errs) > 0 {
		return res, errs[0]
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

func loadCase(ctx context.Context, svc Service, c Case, progress func(pos uint64, duplicate bool)) error {
	opened := c.OpenedAt
	data, err := json.Marshal(c.Opened)
	if err != nil {
		return fmt.Errorf("demo: encode case %s: %w", c.Opened.Reference, err)
	}
	r, _, err := svc.OpenCase(ctx, Identity(c.LeadAgency), core.OpenCase{
		CaseID:     c.ID,
		OccurredAt: &opened,
		Data:       data,
	})
	if err != nil {
		return fmt.Errorf("demo: open case %s (%s): %w", c.Opened.Reference, c.ID, err)
	}
	progress(uint64(r.Position), r.Duplicate)
	for i, s := range c.Steps {
		data, err := s.MarshalData()
		if err != nil {
			return err
		}
		at := s.OccurredAt
		// Correlation and causation ids default to the event's own id,
		// which keeps them deterministic too.
		r, err := svc.Record(ctx, Identity(s.Agency), c.ID, core.Command{
			EventID:    s.EventID,
			Type:       s.Type,
			OccurredAt: &at,
			Data:       data,
		})
		if err != nil {
			return fmt.Errorf("demo: case %s step %d (%s at %s): %w", c.Opened.Reference, i+1, s.Type, s.OccurredAt.Format(time.RFC3339), err)
		}
		progress(uint64(r.Position), r.Duplicate)
	}
	return nil
}
