package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/casebook/casebook/eventstore"
)

// runner follows the log for a group of generations (members) that share a
// subscription: it subscribes after the smallest checkpoint among them and
// applies each batch to every member, each in a transaction of its own and
// only from after its own checkpoint.
type runner struct {
	e *Engine

	mu      sync.Mutex
	members []*instance
	// subscribed names the streams the current subscription delivers
	// (filterKey): a member reading all of them takes batches whole.
	subscribed string
}

// active returns the members still taking events.
func (r *runner) active() []*instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	live := r.members[:0]
	for _, m := range r.members {
		if !m.stopped() {
			live = append(live, m)
		}
	}
	r.members = live
	return append([]*instance(nil), live...)
}

func (r *runner) run(ctx context.Context) {
	backoff := r.e.opts.RetryMin
	for ctx.Err() == nil {
		members := r.active()
		if len(members) == 0 {
			return
		}
		// Before every subscription (the first, and each after a drop or
		// an error): members whose tables do not reflect the log start
		// over, in a runner of their own.
		fresh, err := r.e.checkAgainstLog(ctx, members)
		if len(fresh) > 0 {
			r.e.startRunner(fresh...)
			if members = r.active(); len(members) == 0 {
				return
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.e.log.Warn("projections: checking the read models against the log failed; retrying", "error", err, "backoff", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, r.e.opts.RetryMax)
			continue
		}
		after := members[0].progress().checkpoint
		for _, m := range members[1:] {
			after = min(after, m.progress().checkpoint)
		}
		progressed, err := r.follow(ctx, after)
		if ctx.Err() != nil {
			return
		}
		var dropped *eventstore.SubscriptionDroppedError
		switch {
		case errors.As(err, &dropped):
			// Fell behind the store's live buffer: resubscribe at once; the
			// checkpoints say where (ResumeAfter is where the store stopped
			// delivering, and every event up to it has been applied).
			r.e.log.Info("projections: subscription dropped; resubscribing",
				"resume_after", dropped.ResumeAfter, "reason", dropped.Reason)
			backoff = r.e.opts.RetryMin
			continue
		case err != nil:
			r.e.log.Warn("projections: following the log failed; retrying", "error", err, "backoff", backoff)
		}
		if progressed {
			backoff = r.e.opts.RetryMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, r.e.opts.RetryMax)
	}
}

// follow subscribes after position after and applies what arrives until the
// subscription ends or every member has stopped. progressed reports whether
// any batch was committed.
func (r *runner) follow(ctx context.Context, after eventstore.Position) (progressed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	head, err := r.e.store.Head(ctx)
	if err != nil {
		return false, fmt.Errorf("head of the log: %w", err)
	}
	// Three stages, so that two cores share the work: this goroutine
	// applies; a pump reads the subscription; a decoder decodes what the
	// pump read (metadata and the data models need) in between.
	filter := r.filter()
	r.mu.Lock()
	r.subscribed = filterKey(filter)
	r.mu.Unlock()
	raw := newQueue[eventstore.RecordedEvent](r.e.opts.BatchSize)
	q := newQueue[entry](2 * r.e.opts.BatchSize)
	pumpDone, decodeDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(pumpDone)
		for ev, err := range r.e.store.Subscribe(ctx, eventstore.SubscribeOptions{After: after, Filter: filter}) {
			if err != nil {
				raw.finish(err)
				return
			}
			if !raw.push(ctx, ev) {
				return
			}
		}
		raw.finish(errors.New("subscription ended"))
	}()
	go func() {
		defer close(decodeDone)
		var in []eventstore.RecordedEvent
		var out []entry
		for {
			var done bool
			var err error
			in, _, done, err = raw.take(ctx, in[:0], decodeChunk, 1, 0)
			out = out[:0]
			for _, ev := range in {
				out = append(out, decodeEntry(ev))
			}
			if len(out) > 0 && !q.pushAll(ctx, out) {
				return
			}
			if done {
				q.finish(err)
				return
			}
		}
	}()
	defer func() {
		cancel()
		<-pumpDone
		<-decodeDone
	}()

	r.markLive(ctx, head, true)
	batch := make([]entry, 0, r.e.opts.BatchSize)
	// Live pacing: after a batch that took d to apply, the next gathers
	// for up to 3d (capped by LiveInterval), so that applying takes at most
	// about a quarter of the runner's time however busy the log is, while
	// a quiet log (cheap batches) is followed within a fraction of a ms.
	var lastApply time.Time
	var pace time.Duration
	for {
		var done bool
		var subErr error
		var pending bool
		// While catching up, let a batch fill (up to a short wait): the
		// larger the batch, the more its writes are aggregated. Live, pace
		// the batches (Options.LiveInterval) for the same reason.
		fill, wait := 1, time.Duration(0)
		if r.catchingUp() {
			fill, wait = r.e.opts.BatchSize, catchUpFillWait
		} else if since := time.Since(lastApply); since < pace {
			fill, wait = r.e.opts.BatchSize, pace-since
		}
		batch, pending, done, subErr = q.take(ctx, batch[:0], r.e.opts.BatchSize, fill, wait)
		if len(batch) > 0 {
			lastApply = time.Now()
			if err := r.applyBatch(ctx, batch); err != nil {
				return progressed, err
			}
			pace = min(3*time.Since(lastApply), r.e.opts.LiveInterval)
			progressed = true
			r.markLive(ctx, head, !pending)
		}
		if len(r.active()) == 0 {
			return progressed, nil
		}
		if done {
			if subErr == nil {
				subErr = ctx.Err()
			}
			return progressed, subErr
		}
	}
}

// filter is what the runner subscribes to: the streams of all its members
// (usually the case streams alone; the access log's too when its model
// shares the runner). Members that stop later do not change what the
// subscription delivers (subscribed).
func (r *runner) filter() eventstore.Filter {
	var prefixes []string
	for _, m := range r.active() {
		for _, p := range filterOf(m.p.model).StreamPrefixes {
			if !slices.Contains(prefixes, p) {
				prefixes = append(prefixes, p)
			}
		}
	}
	slices.Sort(prefixes)
	return eventstore.Filter{StreamPrefixes: prefixes}
}

// eventsFor is the part of a batch a member's model reads: the batch itself
// when the model reads every stream the runner follows, else the events of
// its streams (computed once per batch and filter, in split).
func eventsFor(m model, runnerKey string, events []entry, split map[string][]entry) []entry {
	f := filterOf(m)
	key := filterKey(f)
	if key == runnerKey {
		return events
	}
	if evs, ok := split[key]; ok {
		return evs
	}
	var evs []entry
	for i := range events {
		for _, p := range f.StreamPrefixes {
			if strings.HasPrefix(events[i].Stream, p) {
				evs = append(evs, events[i])
				break
			}
		}
	}
	split[key] = evs
	return evs
}

// markLive moves members that have caught up with head (the log's head when
// the subscription started) from catching_up to live. When the queue is
// empty a member short of head may still have caught up (the events up to
// head were in other streams): a probe of the log tells (one per filter:
// members may read different streams).
func (r *runner) markLive(ctx context.Context, head eventstore.Position, idle bool) {
	type probe struct {
		next *eventstore.RecordedEvent
		from eventstore.Position
	}
	probes := map[string]probe{}
	for _, m := range r.active() {
		pr := m.progress()
		if pr.state != StateCatchingUp {
			continue
		}
		if pr.position < head {
			if !idle {
				continue
			}
			filter := filterOf(m.p.model)
			pb, probed := probes[filterKey(filter)]
			if !probed || pb.from > pr.checkpoint {
				ev, ok, err := r.e.nextEvent(ctx, pr.checkpoint, filter)
				if err != nil {
					return
				}
				pb = probe{from: pr.checkpoint}
				if ok {
					pb.next = &ev
				}
				probes[filterKey(filter)] = pb
			}
			if next := pb.next; next != nil && next.Position <= head {
				continue
			}
			m.cover(pr.checkpoint, head)
		}
		m.setLive()
		if m.p.isBuilding(m) {
			r.e.maybeSwap(ctx, m.p)
		}
	}
}

// memberResult is what a batch did to one member.
type memberResult struct {
	m            *instance
	checkpoint   eventstore.Position // new checkpoint (0: unchanged)
	checkpointID string              // the id of the event there
	recorded     time.Time
	failure      *Failure
}

// applyBatch applies events to every member, each in a transaction of its
// own (see applyLocked).
func (r *runner) applyBatch(ctx context.Context, events []entry) error {
	e := r.e
	members := r.active()
	e.writeMu.Lock()
	results, err := r.applyLocked(ctx, members, events)
	e.writeMu.Unlock()
	// Members that committed before an error advance all the same: their
	// tables hold the batch, and the next subscription must not give it
	// to them again.
	for _, res := range results {
		if res.checkpoint > 0 {
			res.m.advance(res.checkpoint, res.checkpointID, res.recorded)
		}
		if res.failure != nil {
			res.m.fail(*res.failure)
			e.log.Error("projections: projection failed on an event; it stops, the others go on",
				"projection", res.m.p.model.name(), "generation", res.m.gen,
				"position", res.failure.Position, "event_id", res.failure.EventID, "error", res.failure.Err)
		}
		if res.checkpoint > 0 && res.m.p.isBuilding(res.m) {
			e.maybeSwap(ctx, res.m.p)
		}
	}
	return err
}

// applyLocked applies events to each member in a transaction of its own,
// together with the member's checkpoint, and returns what committed. (One
// transaction for all, with a savepoint per member, made a large batch
// quadratic: SQLite keeps every page a savepoint changes in its
// sub-journal, and walked that journal at the end of every statement —
// 42% of a rebuild's CPU on the 1,000,000-event scale data set.)
func (r *runner) applyLocked(ctx context.Context, members []*instance, events []entry) ([]memberResult, error) {
	e := r.e
	// The batch's statements run without ctx's cancellation, which is
	// checked between members instead: the driver watches a cancellable
	// context with a goroutine per statement, and that cost more than most
	// of these single-row statements. One batch is short: a live one a few
	// ms, a full catch-up one (Options.BatchSize events) a fraction of a
	// second at the rebuild rate the README quotes.
	stmtCtx := context.WithoutCancel(ctx)
	pages := checkpointPagesLive
	if len(events) >= catchUpBatchThreshold {
		pages = checkpointPagesCatchUp
	}
	if err := e.w.setCheckpointPages(stmtCtx, pages); err != nil {
		return nil, fmt.Errorf("checkpoint threshold: %w", err)
	}
	var results []memberResult
	r.mu.Lock()
	runnerKey, split := r.subscribed, map[string][]entry{}
	r.mu.Unlock()
	for _, m := range members {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		pr := m.progress()
		if pr.retired || pr.state == StateFailed { // retired by a swap since active()
			continue
		}
		// Events are in log order: skip those the member already has.
		mine := eventsFor(m.p.model, runnerKey, events, split)
		i := sort.Search(len(mine), func(i int) bool { return mine[i].Position > pr.checkpoint })
		evs := mine[i:]
		if len(evs) == 0 {
			continue
		}
		res, err := applyMember(stmtCtx, e.w, m, evs, e.opts.Now())
		if res.checkpoint > 0 || res.failure != nil {
			results = append(results, res)
		}
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// applyMember applies evs to one member in one transaction. If the model
// refuses them, the transaction is rolled back and the events are applied
// one by one, each in a transaction of its own, to find the one at fault:
// the member keeps everything before it and fails on it. Errors returned
// (rather than recorded as a failure) are not the events' fault and abort
// the batch; what committed before them is in the result.
func applyMember(ctx context.Context, w *writer, m *instance, evs []entry, now time.Time) (memberResult, error) {
	res := memberResult{m: m}
	name := m.p.model.name()
	err := inTransaction(ctx, w, func(tx *wtx) error { return applyAndCheckpoint(ctx, tx, m, evs) })
	if err == nil {
		last := evs[len(evs)-1]
		res.checkpoint, res.checkpointID, res.recorded = last.Position, last.ID.String(), last.RecordedAt
		return res, nil
	}
	if !isPoison(err) {
		return res, fmt.Errorf("apply batch to %s: %w", name, err)
	}
	for i := range evs {
		one := evs[i : i+1]
		err := inTransaction(ctx, w, func(tx *wtx) error { return applyAndCheckpoint(ctx, tx, m, one) })
		if err == nil {
			res.checkpoint, res.checkpointID, res.recorded = one[0].Position, one[0].ID.String(), one[0].RecordedAt
			continue
		}
		if !isPoison(err) {
			return res, fmt.Errorf("apply event to %s: %w", name, err)
		}
		res.failure = &Failure{Position: one[0].Position, EventID: one[0].ID.String(), Err: err.Error(), At: now}
		return res, nil
	}
	// Every event applied alone: the batch failed only as a whole (a model
	// bug); stop on its last event rather than loop.
	last := evs[len(evs)-1]
	res.failure = &Failure{Position: last.Position, EventID: last.ID.String(),
		Err: fmt.Sprintf("batch failed but each event applied alone: %v", err), At: now}
	return res, nil
}

func applyAndCheckpoint(ctx context.Context, tx *wtx, m *instance, evs []entry) error {
	if err := m.p.model.apply(tx.on(ctx, m.tables), evs); err != nil {
		return err
	}
	last := &evs[len(evs)-1]
	cp, err := sqlPos(last.Position)
	if err != nil {
		return eventError(&last.RecordedEvent, err)
	}
	if _, err := tx.execFixed(ctx, `UPDATE projection_checkpoint SET position = ?, event_id = ? WHERE name = ? AND gen = ?`,
		cp, last.ID.String(), m.p.model.name(), m.gen); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// inTransaction runs fn in a write transaction, committed if fn succeeds
// and rolled back otherwise.
func inTransaction(ctx context.Context, w *writer, fn func(tx *wtx) error) error {
	tx, err := w.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// decodeChunk is how many events the decoder takes at a time.
const decodeChunk = 1024

// queue hands events from one goroutine to the next without a channel
// operation per event: the taker takes everything that has arrived in one
// go, which makes batches as large as the backlog (catch-up) and as small
// as one event (live tail).
type queue[T any] struct {
	mu    sync.Mutex
	buf   []T
	max   int
	want  int // the taker waits for this many
	done  bool
	err   error
	ready chan struct{} // signalled when events or the end arrive
	space chan struct{} // signalled when the taker takes events
}

func newQueue[T any](max int) *queue[T] {
	return &queue[T]{max: max, ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push adds one item, waiting while the queue is full. It returns false
// when ctx is done.
func (q *queue[T]) push(ctx context.Context, v T) bool {
	for {
		q.mu.Lock()
		if len(q.buf) < q.max {
			q.buf = append(q.buf, v)
			wake := len(q.buf) == 1 || len(q.buf) == q.want
			q.mu.Unlock()
			if wake {
				signal(q.ready)
			}
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-ctx.Done():
			return false
		}
	}
}

// pushAll adds items, waiting while the queue is full.
func (q *queue[T]) pushAll(ctx context.Context, vs []T) bool {
	for len(vs) > 0 {
		q.mu.Lock()
		if room := q.max - len(q.buf); room > 0 {
			n := min(room, len(vs))
			before := len(q.buf)
			q.buf = append(q.buf, vs[:n]...)
			wake := before == 0 || (before < q.want && len(q.buf) >= q.want)
			q.mu.Unlock()
			vs = vs[n:]
			if wake {
				signal(q.ready)
			}
			continue
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (q *queue[T]) finish(err error) {
	q.mu.Lock()
	q.done, q.err = true, err
	q.mu.Unlock()
	signal(q.ready)
}

// take waits for items (or the end) and moves up to max of them to dst.
// It waits for at least fill items, or for wait after the first arrived,
// whichever comes first. pending reports whether more are already waiting.
func (q *queue[T]) take(ctx context.Context, dst []T, max, fill int, wait time.Duration) (out []T, pending, done bool, err error) {
	var deadline <-chan time.Time
	for {
		q.mu.Lock()
		q.want = fill
		n := len(q.buf)
		if n > 0 && (n >= fill || q.done || deadlinePassed(deadline)) {
			n = min(max, n)
			dst = append(dst, q.buf[:n]...)
			rest := copy(q.buf, q.buf[n:])
			clear(q.buf[rest:])
			q.buf = q.buf[:rest]
			pending = rest > 0
			q.mu.Unlock()
			signal(q.space)
			return dst, pending, false, nil
		}
		if n == 0 && q.done {
			q.mu.Unlock()
			return dst, false, true, q.err
		}
		q.mu.Unlock()
		if n > 0 && deadline == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-q.ready:
		case <-deadline:
			deadline = closedDeadline
		case <-ctx.Done():
			return dst, false, true, ctx.Err()
		}
	}
}

// closedDeadline marks a fill wait that has expired.
var closedDeadline = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

func deadlinePassed(d <-chan time.Time) bool { return d == closedDeadline }

// catchUpFillWait bounds how long a catching-up runner waits for a batch to
// fill.
const catchUpFillWait = 100 * time.Millisecond

// catchingUp reports whether any member is still catching up.
func (r *runner) catchingUp() bool {
	for _, m := range r.active() {
		if m.progress().state == StateCatchingUp {
			return true
		}
	}
	return false
}
