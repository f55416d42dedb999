package core

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// caseWriter is load → decide → append with an expected revision, one
// command at a time per case: the only code that appends to case streams.
//
// Commands of one case take turns on the case's lock (different cases run
// in parallel); across processes the store's expected revision decides,
// and the loser decides again on the fresh state. The state of recently
// used cases is cached, so that a command usually reads nothing: it is
// decided on the cached state and the append's expected revision proves
// that state current (a refusal judged on an unproven state is judged
// again on a fresh one).
type caseWriter struct {
	store      eventstore.Store
	now        func() time.Time
	agencies   *domain.Agencies
	places     *domain.Places
	locks      *caseLocks
	cache      *stateCache
	maxRetries int
	retryBase  time.Duration
	retryMax   time.Duration
	onRetry    func(caseID uuid.UUID, attempt int)
	reveal     *Revealer // opens a stored event to compare a retry with it
}

// Result tells where a command's event landed.
type Result struct {
	CaseID   uuid.UUID
	EventID  uuid.UUID
	Version  uint64
	Position uint64
	// Duplicate is true when the event had already been recorded by an
	// earlier identical command (a retry): nothing new was written and the
	// other fields describe the original.
	Duplicate bool
}

// judgement decides, on the state a command is about to be decided on,
// whether the caller may do it (the core's authorization). It may be
// called again on a fresher state.
type judgement func(state *domain.Case) error

// record decides dcmd on the case and appends its event. expected, when
// set (HTTP If-Match), makes the command conditional on the case's version.
func (w *caseWriter) record(ctx context.Context, caseID uuid.UUID, dcmd domain.Command, expected *uint64, judge judgement) (Result, error) {
	unlock, err := w.locks.lock(ctx, caseID)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	stream := domain.StreamName(caseID)
	catchUp := false
	for attempt := 0; ; {
		state, fresh, err := w.state(ctx, caseID, catchUp)
		if err != nil {
			return Result{}, err
		}
		catchUp = true // every later attempt reads what it missed
		entry, verdict := w.decide(ctx, caseID, state, dcmd, expected, judge)
		if verdict != nil || entry == nil {
			if !fresh {
				continue // judged on an unproven state: judge again on a fresh one
			}
			var dup *duplicateAnswer
			if errors.As(verdict, &dup) {
				return dup.res, nil
			}
			return Result{}, verdict
		}
		res, err := w.store.Append(ctx, stream, eventstore.Exact(state.Version), eventData(*entry))
		if err == nil {
			return w.appended(caseID, state, *entry, res), nil
		}
		var wrong *eventstore.WrongExpectedRevisionError
		var reused *eventstore.EventIDReusedError
		switch {
		case errors.As(err, &wrong):
			if !wrong.ActualExists {
				w.cache.drop(caseID)
				return Result{}, caseNotFound(caseID)
			}
			if !fresh {
				continue // our cache was behind: catch up, then judge
			}
			if expected != nil {
				// The version it expected is the one the race overtook.
				return Result{}, domain.NewVersionConflict(*expected, wrong.ActualRevision)
			}
		case errors.As(err, &reused):
			if reused.Stream != stream {
				return Result{}, domain.DuplicateEventIDError(dcmd.EventID, "in another case")
			}
			if !fresh {
				continue // written here by someone this process had not seen: catching up answers it as a retry
			}
		default:
			return Result{}, storeError(fmt.Sprintf("record %s on case %s", dcmd.Type, caseID), err)
		}
		// A true race: another writer appended between our read and our
		// append. Decide again on the fresh state after a jittered pause.
		attempt++
		if attempt > w.maxRetries {
			cur := state.Version
			if wrong != nil {
				cur = wrong.ActualRevision
			}
			return Result{}, &domain.Error{Code: domain.CodeVersionConflict, Kind: domain.KindVersionConflict, CurrentVersion: &cur,
				Message: fmt.Sprintf("the case kept changing: gave up after %d attempts", attempt)}
		}
		if w.onRetry != nil {
			w.onRetry(caseID, attempt)
		}
		if err := w.backoff(ctx, attempt-1); err != nil {
			return Result{}, err
		}
	}
}

// duplicateAnswer carries the original result of a retried command
// through decide's verdict.
type duplicateAnswer struct{ res Result }

func (d *duplicateAnswer) Error() string { return "duplicate" }

// decide judges and decides one command on state: the entry to append, or
// the verdict (a refusal, or the original answer of a retry).
func (w *caseWriter) decide(ctx context.Context, caseID uuid.UUID, state *domain.Case, dcmd domain.Command, expected *uint64, judge judgement) (*domain.Entry, error) {
	if !state.Exists() {
		return nil, caseNotFound(caseID)
	}
	if err := judge(state); err != nil {
		return nil, err
	}
	// A retry of a command already recorded gets the original answer,
	// whatever has happened to the case since (it may be closed now, or at
	// a later version than the retry's If-Match).
	if _, v, _, ok := state.Entry(dcmd.EventID); ok {
		res, err := w.answerRetry(ctx, caseID, state, v, dcmd)
		if err != nil {
			return nil, err
		}
		return nil, &duplicateAnswer{res}
	}
	if expected != nil && *expected != state.Version {
		return nil, domain.NewVersionConflict(*expected, state.Version)
	}
	dcmd.Now = w.now()
	dcmd.Agencies, dcmd.Places = w.agencies, w.places
	entry, err := domain.Decide(*state, dcmd)
	if err != nil {
		return nil, err
	}
	return &entry, nil
}

// open appends the CaseOpened event of a new case. isRetry tells whether a
// case that already holds the event is the caller's own earlier open
// (answered as a retry) rather than somebody else's case (a conflict).
func (w *caseWriter) open(ctx context.Context, caseID uuid.UUID, dcmd domain.Command, isRetry func(domain.Entry) bool) (Result, domain.Case, error) {
	unlock, err := w.locks.lock(ctx, caseID)
	if err != nil {
		return Result{}, domain.Case{}, err
	}
	defer unlock()
	stream := domain.StreamName(caseID)
	for attempt := 0; ; attempt++ {
		state, err := w.current(ctx, caseID)
		if err != nil {
			return Result{}, domain.Case{}, err
		}
		if state.Exists() {
			if _, v, _, ok := state.Entry(dcmd.EventID); ok && v == 0 {
				entries, err := w.readEntries(ctx, caseID, 0, 1, nil)
				if err != nil {
					return Result{}, domain.Case{}, err
				}
				if len(entries) == 1 && isRetry(entries[0]) {
					e := entries[0]
					opened, _ := domain.Replay(entries)
					return Result{CaseID: caseID, EventID: e.ID, Version: 0, Position: e.Position, Duplicate: true}, opened, nil
				}
			}
			return Result{}, domain.Case{}, caseIDTaken(caseID)
		}
		dcmd.Now = w.now()
		dcmd.Agencies, dcmd.Places = w.agencies, w.places
		entry, err := domain.Decide(domain.NewCase(caseID), dcmd)
		if err != nil {
			return Result{}, domain.Case{}, err
		}
		res, err := w.store.Append(ctx, stream, eventstore.NoStream, eventData(entry))
		if err == nil {
			r := w.appended(caseID, state, entry, res)
			opened, _ := domain.Replay([]domain.Entry{withPosition(entry, r.Position)})
			return r, opened, nil
		}
		var wrong *eventstore.WrongExpectedRevisionError
		var reused *eventstore.EventIDReusedError
		switch {
		case errors.As(err, &wrong) && attempt == 0:
			continue // created meanwhile by another process: answer as above
		case errors.As(err, &reused):
			return Result{}, domain.Case{}, caseIDTaken(caseID)
		}
		return Result{}, domain.Case{}, storeError(fmt.Sprintf("open case %s", caseID), err)
	}
}

func withPosition(e domain.Entry, pos uint64) domain.Entry {
	e.Position = pos
	e.Stored.Position = pos
	return e
}

// state returns the case's state for a command: the cached one as it is
// (fresh = false) unless catchUp is set or nothing is cached, in which case
// it is caught up with the store (fresh = true). Call it holding the
// case's lock.
func (w *caseWriter) state(ctx context.Context, caseID uuid.UUID, catchUp bool) (state *domain.Case, fresh bool, err error) {
	if !catchUp {
		if st := w.cache.get(caseID); st != nil {
			return st, false, nil
		}
	}
	st, err := w.current(ctx, caseID)
	return st, true, err
}

// appended applies an accepted entry to the cached state and builds the
// result.
func (w *caseWriter) appended(caseID uuid.UUID, state *domain.Case, entry domain.Entry, res eventstore.AppendResult) Result {
	if res.Duplicate {
		// The store already held these exact bytes (possible only if an
		// earlier attempt's outcome was unknown): our state cannot tell
		// what else it missed, so forget it and read afresh next time.
		w.cache.drop(caseID)
		return Result{CaseID: caseID, EventID: entry.ID, Version: res.Revision, Position: uint64(res.Position), Duplicate: true}
	}
	entry = withPosition(entry, uint64(res.Position))
	if res.Revision != entry.Version || state.Apply(entry) != nil {
		w.cache.drop(caseID)
	} else {
		w.cache.put(caseID, state)
	}
	return Result{CaseID: caseID, EventID: entry.ID, Version: res.Revision, Position: uint64(res.Position)}
}

// answerRetry answers a command whose event id the case already holds at
// version v: the original result if the content is the same, a
// duplicate_event_id conflict otherwise. The stored event is compared
// opened (its personal fields are sealed with a fresh nonce each time);
// one whose fields can no longer be opened (erased) is not the same.
func (w *caseWriter) answerRetry(ctx context.Context, caseID uuid.UUID, state *domain.Case, v uint64, dcmd domain.Command) (Result, error) {
	entries, err := w.readEntries(ctx, caseID, v, 1, nil)
	if err != nil {
		return Result{}, err
	}
	if len(entries) != 1 || entries[0].ID != dcmd.EventID {
		return Result{}, domain.Internal(fmt.Errorf("case %s: event %s not found at version %d", caseID, dcmd.EventID, v))
	}
	if entries[0], err = w.reveal.Entry(ctx, state, entries[0]); err != nil {
		return Result{}, err
	}
	if entries[0].ErasedAt != nil || entries[0].Unreadable != nil {
		return Result{}, domain.DuplicateEventIDError(dcmd.EventID, "in this case")
	}
	dcmd.Agencies, dcmd.Places = w.agencies, w.places
	if dcmd.Now.IsZero() {
		dcmd.Now = w.now()
	}
	if !entries[0].Matches(dcmd) {
		return Result{}, domain.DuplicateEventIDError(dcmd.EventID, "in this case")
	}
	e := entries[0]
	return Result{CaseID: caseID, EventID: e.ID, Version: e.Version, Position: e.Position, Duplicate: true}, nil
}

func (w *caseWriter) backoff(ctx context.Context, attempt int) error {
	ceiling := min(w.retryMax, w.retryBase<<min(attempt, 20))
	t := time.NewTimer(rand.N(ceiling) + time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// current returns the case's current state, caught up with the store: the
// cached state plus whatever was appended since (by this process or any
// other). Call it holding the case's lock; the state it returns may be
// changed in place only by the holder of that lock.
func (w *caseWriter) current(ctx context.Context, caseID uuid.UUID) (*domain.Case, error) {
	state := w.cache.get(caseID)
	if state == nil {
		c := domain.NewCase(caseID)
		state = &c
	}
	from := state.NextVersion()
	for rec, err := range w.store.ReadStream(ctx, domain.StreamName(caseID), eventstore.ReadStreamOptions{From: from}) {
		if err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				w.cache.drop(caseID)
				c := domain.NewCase(caseID)
				return &c, nil
			}
			w.cache.drop(caseID)
			return nil, storeError(fmt.Sprintf("read case %s", caseID), err)
		}
		e, err := domain.DecodeStored(storedOf(rec))
		if err == nil {
			err = state.Apply(e)
		}
		if err != nil {
			w.cache.drop(caseID)
			return nil, corruptRecord(caseID, err)
		}
	}
	if state.Exists() {
		w.cache.put(caseID, state)
	}
	return state, nil
}

// readEntries reads and decodes up to limit events (0: all) from version
// from, stopping before the first for which stop returns true.
func (w *caseWriter) readEntries(ctx context.Context, caseID uuid.UUID, from, limit uint64, stop func(domain.Entry) bool) ([]domain.Entry, error) {
	var out []domain.Entry
	for rec, err := range w.store.ReadStream(ctx, domain.StreamName(caseID), eventstore.ReadStreamOptions{From: from, Limit: limit}) {
		if err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				return nil, caseNotFound(caseID)
			}
			return nil, storeError(fmt.Sprintf("read case %s", caseID), err)
		}
		e, err := domain.DecodeStored(storedOf(rec))
		if err != nil {
			return nil, corruptRecord(caseID, err)
		}
		if stop != nil && stop(e) {
			break
		}
		out = append(out, e)
	}
	if out == nil {
		out = []domain.Entry{}
	}
	return out, nil
}

// load returns the case's current state, caught up with the store.
func (w *caseWriter) load(ctx context.Context, caseID uuid.UUID) (domain.Case, error) {
	unlock, err := w.locks.lock(ctx, caseID)
	if err != nil {
		return domain.Case{}, err
	}
	defer unlock()
	state, err := w.current(ctx, caseID)
	if err != nil {
		return domain.Case{}, err
	}
	if !state.Exists() {
		return domain.Case{}, caseNotFound(caseID)
	}
	return state.Clone(), nil
}

func eventData(e domain.Entry) eventstore.EventData {
	return eventstore.EventData{ID: e.ID, Type: e.Type, Data: e.Stored.Data, Metadata: e.Stored.Metadata}
}

// storedOf is the domain's view of a stored event.
func storedOf(rec eventstore.RecordedEvent) domain.StoredEvent {
	return domain.StoredEvent{ID: rec.ID, Stream: rec.Stream, Type: rec.Type, Version: rec.Revision,
		Position: uint64(rec.Position), Data: rec.Data, Metadata: rec.Metadata}
}
