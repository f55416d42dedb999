// Package core is Casebook's application core: the one way to read or
// change case data, the global log and the access log, and to read the
// figures. Every use case takes the caller's Identity and enforces every
// rule on it — roles, need-to-know (the lead and joined agencies), the
// lead-agency rule, who may join, close or reopen — and records every
// consultation in the tamper-evident access log. The HTTP API, the CLI,
// the demo loader, import and migrate all come through here; nothing else
// appends to case or access-log streams.
//
// It returns one error type, *domain.Error, whose Kind the callers map to
// their own answers (http/problem.go, the CLI's exit statuses).
package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/projections"
)

// ReadModels is what the core needs of the projections (*projections.Engine
// satisfies it): the case list, the reports and the access log's index,
// read-your-writes waits, and their administration.
type ReadModels interface {
	ListCases(ctx context.Context, q projections.CaseQuery) (projections.CasePage, error)
	ReviewsDue(ctx context.Context, q projections.ReviewQuery) (projections.ReviewPage, error)
	AccessEntries(ctx context.Context, q projections.AccessQuery) (projections.AccessPage, error)
	Arrests(ctx context.Context, q projections.ReportQuery) (projections.ArrestsReport, error)
	GangsDismantled(ctx context.Context, q projections.ReportQuery) (projections.GangsReport, error)
	Seizures(ctx context.Context, q projections.ReportQuery) (projections.SeizuresReport, error)
	Detections(ctx context.Context, q projections.ReportQuery) (projections.DetectionsReport, error)
	Summary(ctx context.Context, q projections.ReportQuery) (projections.SummaryReport, error)
	WaitFor(ctx context.Context, pos eventstore.Position, names ...string) error
	Status(ctx context.Context) ([]projections.Status, error)
	Rebuild(ctx context.Context, name string) error
}

var _ ReadModels = (*projections.Engine)(nil)

// Config is what a Core needs. Store is required.
type Config struct {
	Store eventstore.Store
	// ReadModels serve the case list and the reports; nil answers them
	// unavailable (a core used only to import, say).
	ReadModels ReadModels
	// Agencies is the configured list of agencies; nil means
	// domain.DefaultAgencies().
	Agencies *domain.Agencies
	// Places is the configured list of places (the codes locations are
	// recorded as); nil means domain.DefaultPlaces().
	Places *domain.Places
	// Retention is the retention table that gives closed cases their
	// review dates; nil means domain.DefaultRetention().
	Retention *domain.RetentionTable
	Logger    *slog.Logger
	// Now is the clock; NewID makes case, event and access-log entry ids
	// (tests fix both).
	Now   func() time.Time
	NewID func() uuid.UUID
	// ReadModelWait bounds a wait for min_position (default 2s).
	ReadModelWait time.Duration
	// AccessMergeWindow is how long identical consultations are merged
	// into one access-log entry with a count (default 1s; negative: never).
	AccessMergeWindow time.Duration
	// CacheSize is how many cases' current states are kept in memory
	// (default 1024; negative disables).
	CacheSize int
	// MaxRetries bounds how often a command is decided again after another
	// writer appended first (default 8); RetryBaseDelay and RetryMaxDelay
	// shape the jittered backoff between attempts (defaults 2ms, 100ms).
	MaxRetries                    int
	RetryBaseDelay, RetryMaxDelay time.Duration
	// OnConflictRetry, when set, is called each time a command is decided
	// again after losing an append race (for metrics).
	OnConflictRetry func(caseID uuid.UUID, attempt int)
	// Keys seals personal fields as they are recorded and opens them as
	// they are read (see personal.go). nil stores them in plain text, as
	// before encryption, and shows sealed ones as unreadable: for tests and
	// tools that record no personal data; casebookd always sets it.
	Keys *keystore.Vault
	// RequirePurpose refuses a read of case data (record, history,
	// verification, time travel) that states no purpose, instead of
	// recording the role's default purpose (purpose.go).
	RequirePurpose bool
}

// Core is the application core. It is safe for concurrent use.
type Core struct {
	store      eventstore.Store
	readModels ReadModels
	agencies   *domain.Agencies
	places     *domain.Places
	retention  *domain.RetentionTable
	logger     *slog.Logger
	now        func() time.Time
	newID      func() uuid.UUID
	wait       time.Duration
	writer     *caseWriter
	access     *accessLog
	refs       *caseLocks // serialises opens of one (agency, reference)
	vault      *keystore.Vault
	reveal     *Revealer

	requirePurpose bool
}

// New returns a core over cfg.Store.
func New(cfg Config) (*Core, error) {
	if cfg.Store == nil {
		return nil, errors.New("core: a store is required")
	}
	if cfg.Agencies == nil {
		cfg.Agencies = domain.DefaultAgencies()
	}
	if cfg.Places == nil {
		cfg.Places = domain.DefaultPlaces()
	}
	if cfg.Retention == nil {
		cfg.Retention = domain.DefaultRetention()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = NewTimeOrderedID
	}
	if cfg.ReadModelWait <= 0 {
		cfg.ReadModelWait = 2 * time.Second
	}
	if cfg.AccessMergeWindow == 0 {
		cfg.AccessMergeWindow = time.Second
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 1024
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 8
	}
	if cfg.RetryBaseDelay <= 0 {
		cfg.RetryBaseDelay = 2 * time.Millisecond
	}
	if cfg.RetryMaxDelay <= 0 {
		cfg.RetryMaxDelay = 100 * time.Millisecond
	}
	c := &Core{
		store: cfg.Store, readModels: cfg.ReadModels, agencies: cfg.Agencies, places: cfg.Places, retention: cfg.Retention, logger: cfg.Logger,
		now: cfg.Now, newID: cfg.NewID, wait: cfg.ReadModelWait, refs: newCaseLocks(),
		vault: cfg.Keys, reveal: NewRevealer(cfg.Keys),
		requirePurpose: cfg.RequirePurpose,
	}
	c.writer = &caseWriter{
		store: cfg.Store, now: cfg.Now, agencies: cfg.Agencies, places: cfg.Places, locks: newCaseLocks(), cache: newStateCache(cfg.CacheSize),
		maxRetries: cfg.MaxRetries, retryBase: cfg.RetryBaseDelay, retryMax: cfg.RetryMaxDelay, onRetry: cfg.OnConflictRetry,
		reveal: c.reveal,
	}
	c.access = newAccessLog(cfg.Store, cfg.Now, cfg.NewID, cfg.AccessMergeWindow, cfg.Logger)
	return c, nil
}

// Close writes the access-log entries still held for merging. Call it
// before closing the store.
func (c *Core) Close(ctx context.Context) error { return c.access.close(ctx) }

// Agencies is the configured list of agencies.
func (c *Core) Agencies() *domain.Agencies { return c.agencies }

// Places is the configured list of places.
func (c *Core) Places() *domain.Places { return c.places }

// Retention is the configured retention table.
func (c *Core) Retention() *domain.RetentionTable { return c.retention }

// Ready reports whether the event store answers.
func (c *Core) Ready(ctx context.Context) error {
	if err := c.store.Ping(ctx); err != nil {
		return storeError("ping the event store", err)
	}
	return nil
}

// NewTimeOrderedID makes ids that are UUIDv7: time-ordered ids land at the
// end of the store's event-id index instead of at random pages of it, which
// makes durable appends markedly cheaper (see the sqlitestore benchmarks
// Append64Writers vs Append64WritersUUIDv7). They reveal the creation time
// to the millisecond, which the record shows anyway.
func NewTimeOrderedID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New() // the clock or the random source failed: still unique
	}
	return id
}

func (c *Core) requireReadModels() error {
	if c.readModels == nil {
		return domain.Unavailable(nil, 30*time.Second, "the read models are not available on this server")
	}
	return nil
}

// waitFor makes a read-model query read-your-writes: with minPos > 0 it
// waits, at most the configured wait, until the named projections reflect
// that position.
func (c *Core) waitFor(ctx context.Context, minPos uint64, names ...string) error {
	if minPos == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	err := c.readModels.WaitFor(wctx, eventstore.Position(minPos), names...)
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		e := domain.Unavailable(nil, time.Second, "the read models have not reached position %d within %s; retry shortly", minPos, c.wait)
		e.Code = domain.CodeNotCaughtUp
		return e
	}
	return readModelError(fmt.Sprintf("wait for position %d", minPos), err)
}
