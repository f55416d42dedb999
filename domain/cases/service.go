// Package cases is the application service of case management: it loads a
// case from the event store, asks the domain to decide on a command, and
// appends the new event with the expected revision — retrying on a
// concurrent write, refusing on an explicit expected version (If-Match),
// answering a retried command idempotently. Commands of one case that
// arrive while it is busy are decided one after another and their events
// appended together, in one append (see Record and caseQueues).
//
// It knows the store only through the eventstore.Store interface and the
// rules only through package domain.
package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// Options configure a Service. The zero value is usable.
type Options struct {
	// Now is the clock (occurred_at defaults, recorded_at); nil means
	// time.Now.
	Now func() time.Time
	// NewID generates case and event ids; nil means uuid.New (random v4).
	NewID func() uuid.UUID
	// MaxRetries bounds how often a command is decided again after a
	// concurrent append won the race (another node wrote first). Default 8.
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay shape the jittered backoff between
	// those attempts: a random wait in [0, min(max, base·2^attempt)].
	// Defaults 2ms and 100ms.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// CacheSize is how many cases' current states are kept in memory (least
	// recently used are dropped), so that a command reads only the events
	// appended since it last saw the case. Default 1024; negative disables.
	CacheSize int
	// LockStripes is the number of shards of the index of busy cases
	// (cases hash to shards; each case still has its own queue, so cases
	// never wait for each other). Default 256.
	LockStripes int
	// MaxBatch caps how many queued commands of one case are decided
	// together and appended in one store append. Default 256; 1 turns
	// coalescing off.
	MaxBatch int
	// ConsecutivePositions declares that the store gives the events of
	// one append consecutive global positions (the SQLite store does;
	// KurrentDB, whose positions are byte offsets, does not). The service
	// then computes the position of every event of a coalesced append from
	// the last one; without it, it reads the first one back to check.
	// Setting it for a store that does not do so gives callers wrong
	// positions.
	ConsecutivePositions bool
	// OnConflictRetry, when set, is called each time a command is decided
	// again after losing an append race (for metrics).
	OnConflictRetry func(caseID uuid.UUID, attempt int)
}

// Service handles the commands and queries of cases. It is safe for
// concurrent use. Commands of one case are decided one after another
// inside the process (different cases run in parallel), and those that
// arrive while the case is busy are appended together (see caseQueues);
// across processes the store's expected revision decides, and the loser
// decides again on fresh state.
type Service struct {
	store  eventstore.Store
	opts   Options
	queues *caseQueues
	cache  *stateCache
}

// NewService returns a service over store.
func NewService(store eventstore.Store, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = uuid.New
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 8
	}
	if opts.RetryBaseDelay <= 0 {
		opts.RetryBaseDelay = 2 * time.Millisecond
	}
	if opts.RetryMaxDelay <= 0 {
		opts.RetryMaxDelay = 100 * time.Millisecond
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 1024
	}
	if opts.LockStripes <= 0 {
		opts.LockStripes = 256
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	return &Service{store: store, opts: opts, queues: newCaseQueues(opts.LockStripes), cache: newStateCache(opts.CacheSize)}
}

// OpenCase is the command that opens a case.
type OpenCase struct {
	// CaseID is the new case's id; zero generates one.
	CaseID uuid.UUID
	// EventID is the CaseOpened event's id; zero generates one. A client
	// that sets it can retry the open safely.
	EventID uuid.UUID
	// Data is the CaseOpened data: {reference, title, lead_agency?,
	// crime_types[], location}.
	Data       json.RawMessage
	OccurredAt *time.Time
	// CorrelationID, CausationID: zero means the event's own id.
	CorrelationID, CausationID uuid.UUID
}

// Command asks for one new event on an existing case.
type Command struct {
	EventID    uuid.UUID // zero → generated; set it to make retries idempotent
	Type       string
	OccurredAt *time.Time // nil → now
	Data       json.RawMessage
	// ExpectedVersion (HTTP If-Match) makes the command conditional: if the
	// case is not at this version, nothing is written and the answer is a
	// version_conflict carrying the current version. Never retried.
	ExpectedVersion *uint64
	// CorrelationID, CausationID: zero means the event's own id.
	CorrelationID, CausationID uuid.UUID
}

// Result tells where a command's event landed.
type Result struct {
	CaseID   uuid.UUID
	EventID  uuid.UUID
	Version  uint64
	Position eventstore.Position
	// Duplicate is true when the event had already been recorded by an
	// earlier identical command (a retry): nothing new was written and the
	// other fields describe the original.
	Duplicate bool
}

// At selects a past state of a case; the zero At is the current state.
type At struct {
	Version *uint64    // the state after this version
	AsOf    *time.Time // the state as known at this recorded time
}

// Open opens a new case: stream case-<id>, expected to not exist yet.
func (s *Service) Open(ctx context.Context, actor domain.Actor, cmd OpenCase) (Result, error) {
	caseID, eventID := cmd.CaseID, cmd.EventID
	if caseID == uuid.Nil {
		caseID = s.opts.NewID()
	}
	if eventID == uuid.Nil {
		eventID = s.opts.NewID()
	}
	dcmd := domain.Command{EventID: eventID, Type: domain.TypeCaseOpened, Data: cmd.Data, OccurredAt: cmd.OccurredAt,
		Actor: actor, CorrelationID: cmd.CorrelationID, CausationID: cmd.CausationID, Now: s.opts.Now()}

	unlock, err := s.lockCase(ctx, caseID)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	stream := domain.StreamName(caseID)
	for attempt := 0; ; attempt++ {
		state, err := s.current(ctx, caseID)
		if err != nil {
			return Result{}, err
		}
		if state.Exists() {
			if _, v, _, ok := state.Entry(eventID); ok {
				return s.answerRetry(ctx, caseID, v, dcmd)
			}
			return Result{}, &domain.Error{Code: domain.CodeCaseExists, Kind: domain.KindConflict, Field: "id",
				Message: fmt.Sprintf("case %s already exists", caseID)}
		}
		entry, err := domain.Decide(domain.NewCase(caseID), dcmd)
		if err != nil {
			return Result{}, err
		}
		res, err := s.store.Append(ctx, stream, eventstore.NoStream, eventData(entry))
		if err == nil {
			return s.appended(caseID, state, entry, res), nil
		}
		var wrong *eventstore.WrongExpectedRevisionError
		var reused *eventstore.EventIDReusedError
		switch {
		case errors.As(err, &wrong) && attempt == 0:
			continue // created meanwhile by another process: answer as above
		case errors.As(err, &reused):
			// A retry of an open whose first attempt created another case
			// id (the client gave only an event id)?
			return s.answerReusedOpen(ctx, reused, dcmd)
		}
		return Result{}, fmt.Errorf("cases: open case %s: %w", caseID, err)
	}
}

// state returns the case's state for a command: the cached one as it is
// (fresh = false) unless catchUp is set or nothing is cached, in which case
// it is caught up with the store (fresh = true).
func (s *Service) state(ctx context.Context, caseID uuid.UUID, catchUp bool) (state *domain.Case, fresh bool, err error) {
	if !catchUp {
		if st := s.cache.get(caseID); st != nil {
			return st, false, nil
		}
	}
	st, err := s.current(ctx, caseID)
	return st, true, err
}

// appended applies an accepted entry to the cached state and builds the
// result.
func (s *Service) appended(caseID uuid.UUID, state *domain.Case, entry domain.Entry, res eventstore.AppendResult) Result {
	if res.Duplicate {
		// The store already held these exact bytes (possible only if an
		// earlier attempt's outcome was unknown): our state cannot tell
		// what else it missed, so forget it and read afresh next time.
		s.cache.drop(caseID)
		return Result{CaseID: caseID, EventID: entry.ID, Version: res.Revision, Position: res.Position, Duplicate: true}
	}
	entry.Position = uint64(res.Position)
	entry.Stored.Position = entry.Position
	if res.Revision != entry.Version || state.Apply(entry) != nil {
		s.cache.drop(caseID)
	} else {
		s.cache.put(caseID, state)
	}
	return Result{CaseID: caseID, EventID: entry.ID, Version: res.Revision, Position: res.Position}
}

// answerRetry answers a command whose event id the case already holds at
// version v: the original result if the content is the same, a
// duplicate_event_id conflict otherwise.
func (s *Service) answerRetry(ctx context.Context, caseID uuid.UUID, v uint64, dcmd domain.Command) (Result, error) {
	entries, err := s.readEntries(ctx, caseID, v, 1, nil)
	if err != nil {
		return Result{}, err
	}
	if len(entries) != 1 || entries[0].ID != dcmd.EventID {
		return Result{}, fmt.Errorf("cases: case %s: event %s not found at version %d", caseID, dcmd.EventID, v)
	}
	if !entries[0].Matches(dcmd) {
		return Result{}, domain.DuplicateEventIDError(dcmd.EventID, "in this case")
	}
	e := entries[0]
	return Result{CaseID: caseID, EventID: e.ID, Version: e.Version, Position: eventstore.Position(e.Position), Duplicate: true}, nil
}

// answerReusedOpen answers an open whose event id the store already holds
// in another stream.
func (s *Service) answerReusedOpen(ctx context.Context, reused *eventstore.EventIDReusedError, dcmd domain.Command) (Result, error) {
	other, ok := domain.CaseIDFromStream(reused.Stream)
	if !ok {
		return Result{}, domain.DuplicateEventIDError(dcmd.EventID, "elsewhere")
	}
	entries, err := s.readEntries(ctx, other, 0, 1, nil)
	if err != nil {
		return Result{}, err
	}
	if len(entries) == 1 && entries[0].ID == dcmd.EventID && entries[0].Matches(dcmd) {
		e := entries[0]
		return Result{CaseID: other, EventID: e.ID, Version: e.Version, Position: eventstore.Position(e.Position), Duplicate: true}, nil
	}
	return Result{}, domain.DuplicateEventIDError(dcmd.EventID, "in another case")
}

func (s *Service) backoff(ctx context.Context, attempt int) error {
	ceiling := min(s.opts.RetryMaxDelay, s.opts.RetryBaseDelay<<min(attempt, 20))
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
// other). Call it holding the case's turn; the state it returns may be
// changed in place only by the holder of that turn.
func (s *Service) current(ctx context.Context, caseID uuid.UUID) (*domain.Case, error) {
	state := s.cache.get(caseID)
	if state == nil {
		c := domain.NewCase(caseID)
		state = &c
	}
	from := state.NextVersion()
	for rec, err := range s.store.ReadStream(ctx, domain.StreamName(caseID), eventstore.ReadStreamOptions{From: from}) {
		if err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				s.cache.drop(caseID)
				c := domain.NewCase(caseID)
				return &c, nil
			}
			s.cache.drop(caseID)
			return nil, fmt.Errorf("cases: read case %s: %w", caseID, err)
		}
		e, err := domain.DecodeStored(StoredFromRecorded(rec))
		if err == nil {
			err = state.Apply(e)
		}
		if err != nil {
			s.cache.drop(caseID)
			return nil, fmt.Errorf("cases: case %s: %w", caseID, err)
		}
	}
	if state.Exists() {
		s.cache.put(caseID, state)
	}
	return state, nil
}

// Load returns the case's state: current, at a version, or as known at a
// recorded time.
func (s *Service) Load(ctx context.Context, caseID uuid.UUID, at At) (domain.Case, error) {
	switch {
	case at.Version != nil && at.AsOf != nil:
		return domain.Case{}, &domain.Error{Code: domain.CodeValidation, Kind: domain.KindInvalid, Field: "as_of",
			Message: "give a version or an as_of time, not both"}
	case at.Version != nil:
		v := *at.Version
		entries, err := s.readEntries(ctx, caseID, 0, v+1, nil)
		if err != nil {
			return domain.Case{}, err
		}
		return domain.StateAtVersion(entries, v)
	case at.AsOf != nil:
		t := *at.AsOf
		entries, err := s.readEntries(ctx, caseID, 0, 0, func(e domain.Entry) bool { return e.Metadata.RecordedAt.After(t) })
		if err != nil {
			return domain.Case{}, err
		}
		return domain.StateAsOf(entries, t)
	}
	unlock, err := s.lockCase(ctx, caseID)
	if err != nil {
		return domain.Case{}, err
	}
	defer unlock()
	state, err := s.current(ctx, caseID)
	if err != nil {
		return domain.Case{}, err
	}
	if !state.Exists() {
		return domain.Case{}, caseNotFound(caseID)
	}
	return state.Clone(), nil
}

// History returns the case's events from fromVersion (inclusive), at most
// limit of them (limit ≤ 0: all), in version order.
func (s *Service) History(ctx context.Context, caseID uuid.UUID, fromVersion uint64, limit int) ([]domain.Entry, error) {
	n := uint64(0)
	if limit > 0 {
		n = uint64(limit)
	}
	return s.readEntries(ctx, caseID, fromVersion, n, nil)
}

// Verify checks the case's hash chain over its events as stored.
func (s *Service) Verify(ctx context.Context, caseID uuid.UUID) (domain.VerifyResult, error) {
	stream := domain.StreamName(caseID)
	v := domain.NewChainVerifier(stream)
	for rec, err := range s.store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}) {
		if err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				return domain.VerifyResult{}, caseNotFound(caseID)
			}
			return domain.VerifyResult{}, fmt.Errorf("cases: verify case %s: %w", caseID, err)
		}
		if !v.Add(StoredFromRecorded(rec)) {
			break
		}
	}
	return v.Result(), nil
}

// readEntries reads and decodes up to limit events (0: all) from version
// from, stopping before the first for which stop returns true.
func (s *Service) readEntries(ctx context.Context, caseID uuid.UUID, from, limit uint64, stop func(domain.Entry) bool) ([]domain.Entry, error) {
	var out []domain.Entry
	for rec, err := range s.store.ReadStream(ctx, domain.StreamName(caseID), eventstore.ReadStreamOptions{From: from, Limit: limit}) {
		if err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				return nil, caseNotFound(caseID)
			}
			return nil, fmt.Errorf("cases: read case %s: %w", caseID, err)
		}
		e, err := domain.DecodeStored(StoredFromRecorded(rec))
		if err != nil {
			return nil, fmt.Errorf("cases: case %s: %w", caseID, err)
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

func caseNotFound(id uuid.UUID) *domain.Error {
	return &domain.Error{Code: domain.CodeCaseNotFound, Kind: domain.KindNotFound, Message: fmt.Sprintf("no case %s", id)}
}

func eventData(e domain.Entry) eventstore.EventData {
	return eventstore.EventData{ID: e.ID, Type: e.Type, Data: e.Stored.Data, Metadata: e.Stored.Metadata}
}

// StoredFromRecorded is the domain's view of a stored event.
func StoredFromRecorded(rec eventstore.RecordedEvent) domain.StoredEvent {
	return domain.StoredEvent{ID: rec.ID, Stream: rec.Stream, Type: rec.Type, Version: rec.Revision,
		Position: uint64(rec.Position), Data: rec.Data, Metadata: rec.Metadata}
}

// DecodeRecorded decodes an event read from the store (a case event: its
// data is upcast to the current schema). Projections use it on the global
// log.
func DecodeRecorded(rec eventstore.RecordedEvent) (domain.Entry, error) {
	return domain.DecodeStored(StoredFromRecorded(rec))
}
