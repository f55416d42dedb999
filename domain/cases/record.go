package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// recordReq is one Record call in a batch: its command and, once
// answered, its outcome.
type recordReq struct {
	ctx      context.Context
	expected *uint64 // If-Match
	dcmd     domain.Command

	// What the current attempt made of it: the index of its event among
	// the batch's (-1: none); the index of the batch event carrying the
	// same event id (a retry that raced its original; -1: none); or the
	// refusal, valid only once the attempt's state is proven current.
	entry, dupOf int
	verdict      error

	answered bool
	res      Result
	err      error
}

func (r *recordReq) answer(res Result, err error) {
	r.res, r.err, r.answered = res, err, true
}

// Record decides one command on a case and appends its event.
//
// Commands of one case that arrive while it is busy are decided together
// by whichever of their callers gets the case's turn (caseQueues), in
// arrival order, each on the state its predecessors leave, and their
// events are appended in one store append; each caller gets its own
// answer. Cancellation: a caller that gives up while its command waits in
// the queue gets the context's error and its command is never decided or
// appended; once a leader has taken the command, the caller gets its true
// outcome (the store append is cancelled only when every caller of the
// batch has given up, and then each gets the error).
func (s *Service) Record(ctx context.Context, actor domain.Actor, caseID uuid.UUID, cmd Command) (Result, error) {
	eventID := cmd.EventID
	if eventID == uuid.Nil {
		eventID = s.opts.NewID()
	}
	r := &recordReq{ctx: ctx, expected: cmd.ExpectedVersion, dcmd: domain.Command{EventID: eventID, Type: cmd.Type,
		Data: cmd.Data, OccurredAt: cmd.OccurredAt, Actor: actor, CorrelationID: cmd.CorrelationID, CausationID: cmd.CausationID}}
	w := &waiter{rec: r}
	turn, err := s.queues.wait(ctx, caseID, w)
	if err != nil {
		return Result{}, err
	}
	if turn {
		s.lead(caseID, r)
	}
	return r.res, r.err
}

// lead handles, holding the case's turn, the leader's own command and
// those queued behind it, answers them all, and hands the turn on.
func (s *Service) lead(caseID uuid.UUID, own *recordReq) {
	followers := s.queues.take(caseID, s.opts.MaxBatch-1)
	reqs := make([]*recordReq, 1, 1+len(followers))
	reqs[0] = own
	for _, w := range followers {
		reqs = append(reqs, w.rec)
	}
	defer func() {
		// Nobody may be left waiting, even if deciding panicked.
		p := recover()
		for _, r := range reqs {
			if !r.answered {
				r.answer(Result{}, fmt.Errorf("cases: record %s on case %s: internal error: %v", r.dcmd.Type, caseID, p))
			}
		}
		for _, w := range followers {
			w.answered()
		}
		s.queues.release(caseID)
		if p != nil {
			panic(p)
		}
	}()
	ctx, done := batchContext(reqs)
	defer done()
	s.recordBatch(ctx, caseID, reqs)
}

// batchContext is the context of a batch's store calls: it carries the
// leader's values and ends only when every caller's context has ended, so
// that one caller giving up cancels nobody else's append.
func batchContext(reqs []*recordReq) (context.Context, func()) {
	if len(reqs) == 1 {
		return reqs[0].ctx, func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(reqs[0].ctx))
	var live atomic.Int64
	live.Store(int64(len(reqs)))
	stops := make([]func() bool, len(reqs))
	for i, r := range reqs {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if live.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// recordBatch decides the commands of reqs in order and appends the
// accepted events in one append expecting the revision the decisions were
// made on, then answers every request.
//
// The first attempt decides on the cached state without reading the
// store: in the usual case (one process writes the store) it is current,
// and the append's expected revision proves it — and with it every refusal
// judged along the way. Refusals with nothing appended to prove the state,
// and any append conflict, are judged again on a state caught up with the
// store, so a stale cache never decides an outcome — it only costs another
// attempt.
//
// A conflict on a fresh state is a true race with another writer: the
// If-Match commands whose version the case has now passed are refused at
// once, never retried (a lone If-Match command always is: the version it
// expected is the one the race overtook); the others are decided again
// after a jittered pause, at most MaxRetries times.
func (s *Service) recordBatch(ctx context.Context, caseID uuid.UUID, reqs []*recordReq) {
	stream := domain.StreamName(caseID)
	pending := slices.Clone(reqs)
	catchUp := false
	for attempt := 0; ; {
		// A caller that gave up before its command was decided gets its
		// context's error, and nothing of it is written.
		pending = slices.DeleteFunc(pending, func(r *recordReq) bool {
			if err := r.ctx.Err(); err != nil {
				r.answer(Result{}, err)
				return true
			}
			return false
		})
		if len(pending) == 0 {
			return
		}
		state, fresh, err := s.state(ctx, caseID, catchUp)
		if err != nil {
			failAll(pending, err)
			return
		}
		catchUp = true // every later attempt reads what it missed
		if !state.Exists() {
			failAll(pending, caseNotFound(caseID))
			return
		}
		base := state.Version
		entries, dirty, err := s.decideBatch(ctx, caseID, state, pending)
		if err != nil {
			s.cache.drop(caseID)
			failAll(pending, err)
			return
		}
		pending = slices.DeleteFunc(pending, func(r *recordReq) bool { return r.answered })
		if len(entries) == 0 {
			if fresh {
				for _, r := range pending {
					r.answer(Result{}, r.verdict)
				}
				return
			}
			continue // refused on an unverified state: judge again on a fresh one
		}

		events := make([]eventstore.EventData, len(entries))
		for i, e := range entries {
			events[i] = eventData(e)
		}
		res, err := s.store.Append(ctx, stream, eventstore.Exact(base), events...)
		if err == nil {
			s.batchAppended(ctx, caseID, state, entries, res, pending)
			return
		}
		if dirty {
			// The state holds events that are not in the store.
			s.cache.drop(caseID)
		}
		var wrong *eventstore.WrongExpectedRevisionError
		var reused *eventstore.EventIDReusedError
		switch {
		case errors.As(err, &wrong):
			if !wrong.ActualExists {
				s.cache.drop(caseID)
				failAll(pending, caseNotFound(caseID))
				return
			}
			if !fresh {
				continue // our cache was behind: catch up, then judge
			}
			// If-Match commands whose version the case has passed can
			// never succeed: refuse them now, with no retry. (One further
			// down a batch may expect a version still ahead; it is judged
			// again like the others.)
			pending = slices.DeleteFunc(pending, func(r *recordReq) bool {
				if r.expected != nil && *r.expected < wrong.ActualRevision {
					r.answer(Result{}, domain.NewVersionConflict(*r.expected, wrong.ActualRevision))
					return true
				}
				return false
			})
		case errors.As(err, &reused):
			if reused.Stream != stream {
				// One command reuses an event id of another case: refuse
				// it, and decide the others again at once.
				n := len(pending)
				pending = slices.DeleteFunc(pending, func(r *recordReq) bool {
					if r.entry >= 0 && r.dcmd.EventID == reused.EventID {
						r.answer(Result{}, domain.DuplicateEventIDError(r.dcmd.EventID, "in another case"))
						return true
					}
					return false
				})
				if len(pending) == n { // cannot happen; never loop on it
					failAll(pending, fmt.Errorf("cases: record on case %s: %w", caseID, err))
					return
				}
				continue
			}
			// Written to this case by someone this process had not seen:
			// catching up finds it and answers its command as a retry.
			if !fresh {
				continue
			}
		default:
			for _, r := range pending {
				r.answer(Result{}, fmt.Errorf("cases: record %s on case %s: %w", r.dcmd.Type, caseID, callerErr(r, err)))
			}
			return
		}
		if len(pending) == 0 {
			return
		}
		// A true race: another writer appended between our read and our
		// append. Decide again on the fresh state after a jittered pause.
		attempt++
		if attempt > s.opts.MaxRetries {
			cur := base
			if wrong != nil {
				cur = wrong.ActualRevision
			}
			failAll(pending, &domain.Error{Code: domain.CodeVersionConflict, Kind: domain.KindConflict, CurrentVersion: &cur,
				Message: fmt.Sprintf("the case kept changing: gave up after %d attempts", attempt)})
			return
		}
		if s.opts.OnConflictRetry != nil {
			s.opts.OnConflictRetry(caseID, attempt)
		}
		if err := s.backoff(ctx, attempt-1); err != nil {
			failAll(pending, err)
			return
		}
	}
}

// decideBatch decides the pending commands in order on state, each on the
// state its accepted predecessors leave, and returns the accepted events.
// To decide a command after an accepted one, the state is brought forward
// in place (dirty = true: it then holds events not yet in the store, and
// must be dropped from the cache if they do not get there); the last
// accepted event is left for the caller to apply once appended, so a batch
// of one never touches the state before its append.
//
// Commands whose event the case already holds are answered here as
// retries. Others get entry, dupOf or verdict set. The error is an
// internal one (an event just decided that does not apply).
func (s *Service) decideBatch(ctx context.Context, caseID uuid.UUID, state *domain.Case, pending []*recordReq) (entries []domain.Entry, dirty bool, err error) {
	var inBatch map[uuid.UUID]int // event id → index in entries, for batches of several
	applied := 0
	for _, r := range pending {
		r.entry, r.dupOf, r.verdict = -1, -1, nil
		r.dcmd.Now = s.opts.Now()
		id := r.dcmd.EventID
		if j, ok := inBatch[id]; ok {
			r.dupOf = j // a retry of a command in this very batch: answered after the append
			continue
		}
		if applied < len(entries) {
			if err := state.Apply(entries[applied]); err != nil {
				return nil, dirty, fmt.Errorf("cases: case %s: applying a decided event: %w", caseID, err)
			}
			applied++
			dirty = true
		}
		// A retry of a command already recorded gets the original answer,
		// whatever has happened to the case since (it may be closed now,
		// or at a later version than the retry's If-Match).
		if _, v, _, ok := state.Entry(id); ok {
			r.answer(s.answerRetry(ctx, caseID, v, r.dcmd))
			continue
		}
		if r.expected != nil && *r.expected != state.Version {
			r.verdict = domain.NewVersionConflict(*r.expected, state.Version)
			continue
		}
		entry, err := domain.Decide(*state, r.dcmd)
		if err != nil {
			r.verdict = err
			continue
		}
		r.entry = len(entries)
		entries = append(entries, entry)
		if len(pending) > 1 {
			if inBatch == nil {
				inBatch = make(map[uuid.UUID]int, len(pending))
			}
			inBatch[id] = r.entry
		}
	}
	return entries, dirty, nil
}

// batchAppended answers the requests of a batch whose events the store
// accepted (res describes the last of them), and brings the cached state
// up to date.
func (s *Service) batchAppended(ctx context.Context, caseID uuid.UUID, state *domain.Case, entries []domain.Entry, res eventstore.AppendResult, pending []*recordReq) {
	n := len(entries)
	first := res.Revision - uint64(n-1) // the events of one append take consecutive revisions
	positions, posErr := s.appendedPositions(ctx, caseID, entries, first, res)
	results := make([]Result, n)
	for i, e := range entries {
		results[i] = Result{CaseID: caseID, EventID: e.ID, Version: first + uint64(i), Position: positions[i], Duplicate: res.Duplicate}
	}
	for _, r := range pending {
		switch {
		case r.entry >= 0:
			if i := r.entry; i < n-1 && posErr != nil {
				r.answer(Result{}, fmt.Errorf("cases: case %s: event %s recorded at version %d, but its position is unknown: %w",
					caseID, entries[i].ID, results[i].Version, callerErr(r, posErr)))
			} else {
				r.answer(results[i], nil)
			}
		case r.dupOf >= 0:
			j := r.dupOf
			switch {
			case !entries[j].Matches(r.dcmd):
				r.answer(Result{}, domain.DuplicateEventIDError(r.dcmd.EventID, "in this case"))
			case j < n-1 && posErr != nil:
				r.answer(Result{}, fmt.Errorf("cases: case %s: event %s recorded at version %d, but its position is unknown: %w",
					caseID, entries[j].ID, results[j].Version, callerErr(r, posErr)))
			default:
				dup := results[j]
				dup.Duplicate = true
				r.answer(dup, nil)
			}
		default:
			// Judged on the state the append's expected revision proved.
			r.answer(Result{}, r.verdict)
		}
	}

	if res.Duplicate || res.Revision != entries[n-1].Version {
		// The store already held these exact events (an earlier attempt
		// whose outcome was unknown), or put them elsewhere than decided:
		// our state cannot tell what else it missed, so forget it and read
		// afresh next time.
		s.cache.drop(caseID)
		return
	}
	// Bring the state forward by the events not applied while deciding:
	// the last one, or none if refused commands followed it.
	for i := state.NextVersion() - first; i < uint64(n); i++ {
		e := entries[i]
		e.Position = uint64(positions[i])
		e.Stored.Position = e.Position
		if err := state.Apply(e); err != nil {
			s.cache.drop(caseID)
			return
		}
	}
	// Events applied before their position was known carry none; the
	// state's position is the last event's.
	state.Position = uint64(res.Position)
	s.cache.put(caseID, state)
}

// positionReadTimeout bounds reading back the positions of a coalesced
// append's events, a read the callers' contexts do not bound.
const positionReadTimeout = 10 * time.Second

// appendedPositions returns the global positions of the events of one
// append, the last of which is res.Position. Positions need not be dense
// (KurrentDB's are byte offsets), so unless Options.ConsecutivePositions
// says the store gives an append's events consecutive positions, they are
// found out from the stream: the first event of the append is read back,
// and if it sits exactly n-1 positions before the last, the n events fill
// those n positions (positions strictly increase), which proves them all;
// otherwise the others are read too. On an error, the positions but the
// last are zero.
func (s *Service) appendedPositions(ctx context.Context, caseID uuid.UUID, entries []domain.Entry, first uint64, res eventstore.AppendResult) ([]eventstore.Position, error) {
	n := len(entries)
	positions := make([]eventstore.Position, n)
	positions[n-1] = res.Position
	if n == 1 {
		return positions, nil
	}
	dense := func() []eventstore.Position {
		for i := range positions {
			positions[i] = res.Position - eventstore.Position(n-1-i)
		}
		return positions
	}
	if s.opts.ConsecutivePositions {
		return dense(), nil
	}
	// The events are in the store: their callers are owed the result even
	// if they have all given up meanwhile, so the read does not end with
	// their contexts.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), positionReadTimeout)
	defer cancel()
	read := func(from, limit int) error {
		i := from
		for rec, err := range s.store.ReadStream(ctx, domain.StreamName(caseID), eventstore.ReadStreamOptions{From: first + uint64(from), Limit: uint64(limit)}) {
			if err != nil {
				return err
			}
			if i >= from+limit || rec.ID != entries[i].ID {
				return fmt.Errorf("revision %d holds event %s, not the one appended", rec.Revision, rec.ID)
			}
			positions[i] = rec.Position
			i++
		}
		if i != from+limit {
			return fmt.Errorf("%d of %d appended events found", i-from, limit)
		}
		return nil
	}
	if err := read(0, 1); err != nil {
		clear(positions[:n-1])
		return positions, fmt.Errorf("cases: read back positions: %w", err)
	}
	if res.Position >= eventstore.Position(n-1) && positions[0] == res.Position-eventstore.Position(n-1) {
		return dense(), nil
	}
	if n > 2 {
		if err := read(1, n-2); err != nil {
			clear(positions[:n-1])
			return positions, fmt.Errorf("cases: read back positions: %w", err)
		}
	}
	return positions, nil
}

func failAll(reqs []*recordReq, err error) {
	for _, r := range reqs {
		r.answer(Result{}, callerErr(r, err))
	}
}

// callerErr is err as the caller should see it: when a batch's store call
// ended because every caller gave up, each caller gets its own context's
// error (a deadline, say) rather than the batch's cancellation.
func callerErr(r *recordReq, err error) error {
	if errors.Is(err, context.Canceled) {
		if cerr := r.ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			return fmt.Errorf("%w (%w)", cerr, err)
		}
	}
	return err
}
