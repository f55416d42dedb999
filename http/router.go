// Package casehttp serves Casebook over HTTP with gin: investigators'
// writes, auditors' history and global log, the access log, health, metrics
// and the OpenAPI document. Report and projection routes live in
// reports*.go (owned by the projections package's authors) and are
// registered from here.
//
// Every error is an RFC 9457 problem document (see problem.go); every route
// and schema is described by the OpenAPI 3.1 document served at
// /openapi.json (see openapi.go).
package casehttp

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// Config is what the API needs. Store, Cases and Auth are required.
type Config struct {
	Logger *slog.Logger
	// Store serves the global log, the access log and readiness.
	Store eventstore.Store
	// Cases is the application service (domain/cases).
	Cases CaseService
	// CaseList serves GET /v1/cases from the projections' read model; nil
	// answers that route 503.
	CaseList CaseLister
	// Reports serves the report and projection routes (reports.go); nil
	// answers them 503.
	Reports ReportReader
	// ReadModelWait bounds how long a read-model route waits for its
	// min_position (default 2s).
	ReadModelWait time.Duration
	Auth          *Authenticator
	Metrics       *Metrics

	// MaxConcurrent caps requests handled at once (default 1024); above it
	// requests are refused with 503 and Retry-After.
	MaxConcurrent int
	// Limits are each caller's share (limits.go): requests in flight and
	// request rate per principal, failed authentications per address.
	Limits Limits
	// MaxLiveStreams caps open /v1/events/live streams (default 64); they
	// are long-lived, so they are counted apart from MaxConcurrent.
	MaxLiveStreams int
	// LiveHeartbeat is the interval of SSE keep-alive comments (default 15s).
	LiveHeartbeat time.Duration
	// Shutdown is closed when the server starts shutting down: live streams
	// end and /readyz answers 503. Nil: never.
	Shutdown <-chan struct{}

	// Now and NewID are the clock and the id source (tests fix them).
	Now   func() time.Time
	NewID func() uuid.UUID
}

// Route limits.
const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

var ginModeOnce sync.Once

// api holds the handlers' dependencies.
type api struct {
	cfg     Config
	logger  *slog.Logger
	live    chan struct{} // slots for live streams
	visible *visibilityCache
}

// New builds the gin engine serving every route.
func New(cfg Config) (*gin.Engine, error) {
	if cfg.Store == nil || cfg.Cases == nil || cfg.Auth == nil {
		return nil, errors.New("casehttp: Store, Cases and Auth are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 1024
	}
	if cfg.MaxLiveStreams <= 0 {
		cfg.MaxLiveStreams = 64
	}
	if cfg.ReadModelWait <= 0 {
		cfg.ReadModelWait = 2 * time.Second
	}
	if cfg.LiveHeartbeat <= 0 {
		cfg.LiveHeartbeat = 15 * time.Second
	}
	if cfg.Shutdown == nil {
		cfg.Shutdown = make(chan struct{})
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.New
	}
	ginModeOnce.Do(func() { gin.SetMode(gin.ReleaseMode) })

	a := &api{cfg: cfg, logger: cfg.Logger, live: make(chan struct{}, cfg.MaxLiveStreams), visible: newVisibilityCache(100_000)}

	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false // an unknown path is a 404 problem, not a redirect
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	e.ForwardedByClientIP = false
	e.Use(refuseUnknownMethods(cfg.Logger, cfg.Metrics), observeRequests(cfg.Logger, cfg.Metrics), recoverPanics, limitBody)
	e.NoRoute(noRoute)
	e.NoMethod(noMethod)

	// Open to everyone: probes, metrics, documentation.
	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	e.GET("/metrics", cfg.Metrics.handler())
	e.GET("/openapi.json", serveOpenAPI)
	e.GET("/problems/:slug", serveProblemType)

	// Everything under /v1 needs a token, and each caller gets a share
	// (limits.go); ordinary requests then share the server's concurrency
	// cap, live streams have their own.
	limits := cfg.Limits.withDefaults()
	failures, shares := newAuthFailures(limits, cfg.Metrics), newPrincipalShares(limits, cfg.Metrics)
	v1 := e.Group("/v1", noStore, failures.limitAuthFailures, requireToken(cfg.Auth), shares.limitPrincipal(true), limitConcurrency(cfg.MaxConcurrent))
	streams := e.Group("/v1", noStore, failures.limitAuthFailures, requireToken(cfg.Auth), shares.limitPrincipal(false))

	investigators := allowRoles(domain.RoleInvestigator)
	caseReaders := allowRoles(domain.RoleInvestigator, domain.RoleAuditor)
	auditors := allowRoles(domain.RoleAuditor)

	v1.POST("/cases", investigators, requireJSONBody, a.openCase)
	v1.GET("/cases", caseReaders, a.listCases)
	v1.GET("/cases/:id", caseReaders, a.getCase)
	v1.POST("/cases/:id/events", investigators, requireJSONBody, a.recordEvent)
	v1.GET("/cases/:id/events", caseReaders, a.caseHistory)
	v1.GET("/cases/:id/verify", caseReaders, a.verifyCase)
	v1.GET("/events", auditors, a.globalLog)
	streams.GET("/events/live", auditors, a.liveLog)
	v1.GET("/access-log", auditors, a.accessLog)

	// Reports (analysts, auditors, admins) and projections (admins):
	// reports.go.
	registerReportRoutes(v1, cfg.Reports, cfg.ReadModelWait)
	return e, nil
}

// noStoreValue is the Cache-Control value of every /v1 answer, shared by
// all of them as gin shares its Content-Type values: header value slices
// are replaced or appended to, never written in place.
var noStoreValue = []string{"no-store"}

// noStore keeps case data out of caches.
func noStore(c *gin.Context) {
	c.Writer.Header()["Cache-Control"] = noStoreValue
	c.Next()
}
