// Package casehttp serves Casebook over HTTP with gin: investigators'
// writes, auditors' history and global log, the access log, health, metrics
// and the OpenAPI document. Report and projection routes live in
// reports*.go (owned by the projections package's authors) and are
// registered from here.
//
// Every error is an RFC 9457 problem document (see problem.go); every route
// and schema is described by the contract, openapi.yaml (OpenAPI 3.1),
// served at /openapi.yaml and /openapi.json (see openapi.go).
package casehttp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
)

// Config is what the API needs. Core and Auth are required.
type Config struct {
	Logger *slog.Logger
	// Core is the application core: every route that reads or changes
	// case data, the logs or the figures calls it.
	Core    *core.Core
	Auth    *Authenticator
	Metrics *Metrics

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
	// CORSOrigins are the origins browsers may call the API from (each
	// scheme://host[:port]); none: no CORS headers at all.
	CORSOrigins []string
	// Shutdown is closed when the server starts shutting down: live streams
	// end and /readyz answers 503. Nil: never.
	Shutdown <-chan struct{}

	// UI, when set, serves the dashboard under /ui/ (and /ui redirects
	// there). It is a page calling this API, not part of the API, so the
	// OpenAPI document does not describe it; it sets its own security
	// headers (package ui).
	UI http.Handler
}

// Route limits.
const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

var ginModeOnce sync.Once

// api holds the handlers' dependencies.
type api struct {
	cfg    Config
	core   *core.Core
	logger *slog.Logger
	live   chan struct{} // slots for live streams
}

// New builds the gin engine serving every route.
func New(cfg Config) (*gin.Engine, error) {
	if cfg.Core == nil || cfg.Auth == nil {
		return nil, errors.New("casehttp: Core and Auth are required")
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
	if cfg.LiveHeartbeat <= 0 {
		cfg.LiveHeartbeat = 15 * time.Second
	}
	if _, err := OpenAPI(); err != nil {
		return nil, err
	}
	for _, o := range cfg.CORSOrigins {
		if err := CheckCORSOrigin(o); err != nil {
			return nil, fmt.Errorf("casehttp: %w", err)
		}
	}
	if cfg.Shutdown == nil {
		cfg.Shutdown = make(chan struct{})
	}
	ginModeOnce.Do(func() { gin.SetMode(gin.ReleaseMode) })

	a := &api{cfg: cfg, core: cfg.Core, logger: cfg.Logger, live: make(chan struct{}, cfg.MaxLiveStreams)}

	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false // an unknown path is a 404 problem, not a redirect
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	e.ForwardedByClientIP = false
	e.Use(refuseUnknownMethods(cfg.Logger, cfg.Metrics), observeRequests(cfg.Logger, cfg.Metrics), recoverPanics)
	if len(cfg.CORSOrigins) > 0 {
		e.Use(allowOrigins(cfg.CORSOrigins))
	}
	e.Use(limitBody)
	e.NoRoute(noRoute)
	e.NoMethod(noMethod)

	// Open to everyone: probes, metrics, documentation.
	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	e.GET("/metrics", cfg.Metrics.handler())
	e.GET("/openapi.json", serveOpenAPIJSON)
	e.GET("/openapi.yaml", serveOpenAPIYAML)
	e.GET("/problems/:slug", serveProblemType)
	if cfg.UI != nil {
		ui := gin.WrapH(cfg.UI)
		e.GET("/ui/*path", ui)
		e.HEAD("/ui/*path", ui)
		e.GET("/ui", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/ui/") })
	}

	// Everything under /v1 needs a token, and each caller gets a share
	// (limits.go); ordinary requests then share the server's concurrency
	// cap, live streams have their own. Who may do what is the core's
	// decision, not the routes'.
	limits := cfg.Limits.withDefaults()
	failures, shares := newAuthFailures(limits, cfg.Metrics), newPrincipalShares(limits, cfg.Metrics)
	v1 := e.Group("/v1", noStore, failures.limitAuthFailures, requireToken(cfg.Auth), shares.limitPrincipal(true), limitConcurrency(cfg.MaxConcurrent))
	streams := e.Group("/v1", noStore, failures.limitAuthFailures, requireToken(cfg.Auth), shares.limitPrincipal(false))

	v1.POST("/cases", requireJSONBody, a.openCase)
	v1.GET("/cases", a.listCases)
	v1.GET("/cases/:id", a.getCase)
	v1.POST("/cases/:id/events", requireJSONBody, a.recordEvent)
	v1.GET("/cases/:id/events", a.caseHistory)
	v1.GET("/cases/:id/verify", a.verifyCase)
	v1.GET("/cases/:id/people", a.casePeople)
	v1.POST("/cases/:id/people/:person_id/erasure", requireJSONBody, a.erasePerson)
	v1.GET("/events", a.globalLog)
	streams.GET("/events/live", a.liveLog)
	v1.GET("/events/:id", a.eventByID)
	v1.GET("/access-log", a.accessLog)
	v1.GET("/reviews/due", a.reviewsDue)
	v1.GET("/places", a.places)
	a.registerReportRoutes(v1)
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
