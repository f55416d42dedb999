package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	casehttp "github.com/casebook/casebook/http"
	"github.com/casebook/casebook/identity/oidc"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/projections"
	"github.com/casebook/casebook/ui"
)

// Config is casebookd's configuration.
type Config struct {
	Addr         string
	DataDir      string
	StoreURL     string
	TokensFile   string
	AgenciesFile string
	// PlacesFile lists the places locations are codes of (empty: the
	// built-in list, domain.DefaultPlaceList).
	PlacesFile string
	// RetentionFile is the retention table giving closed cases their
	// review dates (empty: the built-in table, after MoPI's groups).
	RetentionFile string
	// OIDC configures OpenID Connect bearer tokens; off while Issuer is
	// empty. Static tokens (TokensFile) work beside them.
	OIDC OIDCConfig
	// RequirePurpose refuses reads of case data that state no purpose
	// (Casebook-Purpose) instead of recording the role's default.
	RequirePurpose bool
	// MasterKeyFile holds the master key that wraps the data keys sealing
	// personal data (default <data>/master.key, created on first start).
	MasterKeyFile string
	// AccessMergeWindow: identical consultations within it share one
	// access-log entry with a count (0: every consultation its own entry).
	AccessMergeWindow time.Duration
	ReadModelWait     time.Duration
	MaxRequests       int
	LogLevel          slog.Level
	LogFormat         string
	ShutdownTimeout   time.Duration
	// CORSOrigins are the origins browsers may call the API from; none by
	// default.
	CORSOrigins []string
	// Limits are each caller's share (see casehttp.Limits).
	Limits casehttp.Limits
	// ShowVersion: --version was given; main prints the version and exits.
	ShowVersion bool
	// PprofAddr, when set, serves net/http/pprof on a separate listener
	// (keep it on loopback): profiling under load without exposing it on
	// the API's address.
	PprofAddr string

	// HTTP server timeouts: a slow or stalled client cannot hold a
	// connection or a goroutine for long. Live streams (SSE) lift the read
	// and write deadlines of their own connection. A request whose body has
	// not arrived within ReadTimeout is answered 408; WriteTimeout must
	// outlast it, or that answer would never reach the client (Run makes it
	// at least ReadTimeout + minWriteMargin).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
}

// OIDCConfig is the identity provider whose tokens casebookd accepts.
type OIDCConfig struct {
	Issuer, Audience                     string
	SubjectClaim, RoleClaim, AgencyClaim string
}

// DefaultConfig is the configuration without flags or environment.
func DefaultConfig() Config {
	return Config{
		Addr:              "127.0.0.1:8080",
		DataDir:           "./data",
		ReadModelWait:     2 * time.Second,
		AccessMergeWindow: time.Second,
		MaxRequests:       1024,
		LogLevel:          slog.LevelInfo,
		LogFormat:         "json",
		ShutdownTimeout:   20 * time.Second,
		Limits: casehttp.Limits{
			PrincipalConcurrent: casehttp.DefaultPrincipalConcurrent,
			PrincipalRate:       casehttp.DefaultPrincipalRate,
			PrincipalBurst:      casehttp.DefaultPrincipalBurst,
			AuthFailureRate:     casehttp.DefaultAuthFailureRate,
			AuthFailureBurst:    casehttp.DefaultAuthFailureBurst,
		},
		OIDC: OIDCConfig{SubjectClaim: oidc.DefaultSubjectClaim, RoleClaim: oidc.DefaultRoleClaim,
			AgencyClaim: oidc.DefaultAgencyClaim},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30*time.Second + minWriteMargin,
		IdleTimeout:       120 * time.Second,
	}
}

// minWriteMargin is how long the write deadline outlasts the read deadline
// at least: time for a handler to answer a body that arrived just in time,
// or to answer 408 to one that did not.
const minWriteMargin = 10 * time.Second

// Main is the server process, reusable by tests: ParseFlags (or set Config
// directly), Run, then Close. Run with Addr "127.0.0.1:0" and a temporary
// DataDir gives an isolated server; URL tells where it listens.
type Main struct {
	Config Config
	Logger *slog.Logger
	// LogOutput is where logs go (default os.Stderr).
	LogOutput io.Writer
	// logBuffer batches log lines on their way to a LogOutput that is a
	// file (stderr); Close flushes it.
	logBuffer *casehttp.BufferedLogWriter

	store    eventstore.Store
	core     *core.Core
	agencies *domain.Agencies
	closers  []func() error // run in reverse order by Close, after the HTTP server
	auth     *casehttp.Authenticator
	server   *http.Server
	listener net.Listener
	shutdown chan struct{}
	failed   chan error
	// oidcRetry is the first backoff of issuer discovery (tests shorten it).
	oidcRetry time.Duration

	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{
		Config:    DefaultConfig(),
		LogOutput: os.Stderr,
		shutdown:  make(chan struct{}),
		failed:    make(chan error, 1),
		oidcRetry: time.Second,
	}
}

// envValue is the environment variable name read by parse; def when it is
// unset, and also when it cannot be read, the reason then joined to *errs
// (so that every bad variable is named at once).
func envValue[T any](getenv func(string) string, name string, def T, parse func(string) (T, error), errs *error) T {
	v := getenv(name)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		*errs = errors.Join(*errs, fmt.Errorf("%s=%q: %w", name, v, err))
		return def
	}
	return x
}

// ParseFlags reads the configuration from args, falling back to the
// CASEBOOK_* environment variables (through getenv) and then the defaults.
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	c := &m.Config
	fs := flag.NewFlagSet("casebookd", flag.ContinueOnError)
	fs.SetOutput(m.LogOutput)
	var envErr error
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envDuration := func(name string, def time.Duration) time.Duration {
		return envValue(getenv, name, def, time.ParseDuration, &envErr)
	}
	envFloat := func(name string, def float64) float64 {
		return envValue(getenv, name, def, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) }, &envErr)
	}
	envInt := func(name string, def int) int { return envValue(getenv, name, def, strconv.Atoi, &envErr) }
	envBool := func(name string, def bool) bool {
		return envValue(getenv, name, def, func(v string) (bool, error) {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return false, errors.New("want true or false")
			}
			return b, nil
		}, &envErr)
	}
	fs.StringVar(&c.Addr, "addr", env("CASEBOOK_ADDR", c.Addr), "listen address (env CASEBOOK_ADDR)")
	fs.StringVar(&c.DataDir, "data", env("CASEBOOK_DATA", c.DataDir), "data directory: events.db, readmodels.db (env CASEBOOK_DATA)")
	fs.StringVar(&c.StoreURL, "store", env("CASEBOOK_STORE", c.StoreURL),
		"event store: empty for the embedded store in --data, or a KurrentDB URL (esdb://, esdb+discover://, kurrentdb://, kurrentdb+discover://) (env CASEBOOK_STORE)")
	fs.StringVar(&c.TokensFile, "tokens", env("CASEBOOK_TOKENS_FILE", c.TokensFile),
		"API tokens file, one token,subject,role,agency per line; re-read on SIGHUP (env CASEBOOK_TOKENS_FILE)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", env("CASEBOOK_MASTER_KEY_FILE", c.MasterKeyFile),
		"master key file: 32 random bytes wrapping the keys that seal personal data; default <data>/master.key, created 0600 when absent. Keep it apart from the data: losing it loses the personal data (env CASEBOOK_MASTER_KEY_FILE)")
	fs.StringVar(&c.OIDC.Issuer, "oidc-issuer", env("CASEBOOK_OIDC_ISSUER", c.OIDC.Issuer),
		"OpenID Connect issuer URL whose bearer tokens are accepted (empty: off) (env CASEBOOK_OIDC_ISSUER)")
	fs.StringVar(&c.OIDC.Audience, "oidc-audience", env("CASEBOOK_OIDC_AUDIENCE", c.OIDC.Audience),
		"audience a token must be issued for: Casebook's client or application id at the issuer (env CASEBOOK_OIDC_AUDIENCE)")
	fs.StringVar(&c.OIDC.SubjectClaim, "oidc-subject-claim", env("CASEBOOK_OIDC_SUBJECT_CLAIM", c.OIDC.SubjectClaim),
		"claim holding the caller's subject, recorded as it stands; a dotted path reaches into objects (env CASEBOOK_OIDC_SUBJECT_CLAIM)")
	fs.StringVar(&c.OIDC.RoleClaim, "oidc-role-claim", env("CASEBOOK_OIDC_ROLE_CLAIM", c.OIDC.RoleClaim),
		"claim holding the caller's Casebook role: a string, or an array with exactly one role, e.g. realm_access.roles (env CASEBOOK_OIDC_ROLE_CLAIM)")
	fs.StringVar(&c.OIDC.AgencyClaim, "oidc-agency-claim", env("CASEBOOK_OIDC_AGENCY_CLAIM", c.OIDC.AgencyClaim),
		"claim holding the caller's agency, a configured agency code (env CASEBOOK_OIDC_AGENCY_CLAIM)")
	fs.BoolVar(&c.RequirePurpose, "require-purpose", envBool("CASEBOOK_REQUIRE_PURPOSE", c.RequirePurpose),
		"refuse reads of a case record, history, verification or time travel without a Casebook-Purpose header (400) instead of recording the role's default purpose (env CASEBOOK_REQUIRE_PURPOSE)")
	fs.StringVar(&c.AgenciesFile, "agencies", env("CASEBOOK_AGENCIES_FILE", c.AgenciesFile),
		"agencies file, one CODE,name per line; empty: the built-in list (env CASEBOOK_AGENCIES_FILE)")
	fs.StringVar(&c.PlacesFile, "places", env("CASEBOOK_PLACES_FILE", c.PlacesFile),
		"places file, one CODE,name per line: the codes every location must be (OTHER is always added); empty: the built-in list (env CASEBOOK_PLACES_FILE)")
	fs.StringVar(&c.RetentionFile, "retention", env("CASEBOOK_RETENTION_FILE", c.RetentionFile),
		"retention table file, one crime_type,years,group per line, every crime type once; empty: the built-in table after MoPI's groups (env CASEBOOK_RETENTION_FILE)")
	fs.DurationVar(&c.AccessMergeWindow, "access-merge-window", envDuration("CASEBOOK_ACCESS_MERGE_WINDOW", c.AccessMergeWindow),
		"identical consultations of a case within this window share one access-log entry with a count; 0: one entry each (env CASEBOOK_ACCESS_MERGE_WINDOW)")
	fs.DurationVar(&c.ReadModelWait, "read-model-wait", envDuration("CASEBOOK_READ_MODEL_WAIT", c.ReadModelWait),
		"longest wait of a read-model query for its min_position (env CASEBOOK_READ_MODEL_WAIT)")
	fs.IntVar(&c.MaxRequests, "max-requests", envInt("CASEBOOK_MAX_REQUESTS", c.MaxRequests),
		"concurrent request cap; above it requests get 503 with Retry-After (env CASEBOOK_MAX_REQUESTS)")
	l := &c.Limits
	fs.IntVar(&l.PrincipalConcurrent, "principal-max-requests", envInt("CASEBOOK_PRINCIPAL_MAX_REQUESTS", l.PrincipalConcurrent),
		"requests one token may have in flight; above it 429 with Retry-After (env CASEBOOK_PRINCIPAL_MAX_REQUESTS)")
	fs.Float64Var(&l.PrincipalRate, "principal-rate", envFloat("CASEBOOK_PRINCIPAL_RATE", l.PrincipalRate),
		"requests per second one token may make in the long run (token bucket) (env CASEBOOK_PRINCIPAL_RATE)")
	fs.IntVar(&l.PrincipalBurst, "principal-burst", envInt("CASEBOOK_PRINCIPAL_BURST", l.PrincipalBurst),
		"requests one token may make at once above its rate (the bucket's size) (env CASEBOOK_PRINCIPAL_BURST)")
	fs.Float64Var(&l.AuthFailureRate, "auth-failure-rate", envFloat("CASEBOOK_AUTH_FAILURE_RATE", l.AuthFailureRate),
		"failed authentications per second one client address may make in the long run (env CASEBOOK_AUTH_FAILURE_RATE)")
	fs.IntVar(&l.AuthFailureBurst, "auth-failure-burst", envInt("CASEBOOK_AUTH_FAILURE_BURST", l.AuthFailureBurst),
		"failed authentications one client address may make in a row (env CASEBOOK_AUTH_FAILURE_BURST)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", envDuration("CASEBOOK_READ_TIMEOUT", c.ReadTimeout),
		"time allowed to read a whole request, body included; a body not in by then is answered 408 (env CASEBOOK_READ_TIMEOUT)")
	fs.BoolVar(&c.ShowVersion, "version", false, "print the version and exit")
	level := env("CASEBOOK_LOG_LEVEL", "info")
	fs.StringVar(&level, "log-level", level, "log level: debug, info, warn, error (env CASEBOOK_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("CASEBOOK_LOG_FORMAT", c.LogFormat), "log format: json or text (env CASEBOOK_LOG_FORMAT)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("CASEBOOK_SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
		"time allowed to drain in-flight requests on shutdown (env CASEBOOK_SHUTDOWN_TIMEOUT)")
	if v := getenv("CASEBOOK_CORS_ORIGIN"); v != "" {
		c.CORSOrigins = splitOrigins(v)
	}
	fromFlags := false
	fs.Func("cors-origin", "an origin browsers may call the API from, like https://cases.example.org; repeat it or separate origins with commas (default none) (env CASEBOOK_CORS_ORIGIN)",
		func(v string) error {
			if !fromFlags { // the flag replaces the environment's list
				c.CORSOrigins, fromFlags = nil, true
			}
			c.CORSOrigins = append(c.CORSOrigins, splitOrigins(v)...)
			return nil
		})
	fs.StringVar(&c.PprofAddr, "pprof-addr", env("CASEBOOK_PPROF_ADDR", c.PprofAddr),
		"serve net/http/pprof on this address, apart from the API (empty: off) (env CASEBOOK_PPROF_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if envErr != nil {
		return envErr
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level %q: %w", level, err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return fmt.Errorf("--log-format %q: want json or text", c.LogFormat)
	}
	if c.MaxRequests < 1 {
		return fmt.Errorf("--max-requests %d: must be at least 1", c.MaxRequests)
	}
	switch {
	case l.PrincipalConcurrent < 1:
		return fmt.Errorf("--principal-max-requests %d: must be at least 1", l.PrincipalConcurrent)
	case !(l.PrincipalRate > 0):
		return fmt.Errorf("--principal-rate %g: must be above 0", l.PrincipalRate)
	case l.PrincipalBurst < 1:
		return fmt.Errorf("--principal-burst %d: must be at least 1", l.PrincipalBurst)
	case !(l.AuthFailureRate > 0):
		return fmt.Errorf("--auth-failure-rate %g: must be above 0", l.AuthFailureRate)
	case l.AuthFailureBurst < 1:
		return fmt.Errorf("--auth-failure-burst %d: must be at least 1", l.AuthFailureBurst)
	case c.ReadTimeout <= 0:
		return fmt.Errorf("--read-timeout %s: must be above 0", c.ReadTimeout)
	}
	if c.StoreURL != "" {
		if _, err := storeKind(c.StoreURL); err != nil {
			return err
		}
	}
	if c.OIDC.Issuer != "" && c.OIDC.Audience == "" {
		return errors.New("--oidc-issuer needs --oidc-audience: the id Casebook is registered under at the issuer")
	}
	if c.OIDC.Issuer == "" && c.OIDC.Audience != "" {
		return errors.New("--oidc-audience without --oidc-issuer")
	}
	for _, o := range c.CORSOrigins {
		if err := casehttp.CheckCORSOrigin(o); err != nil {
			return fmt.Errorf("--cors-origin: %w", err)
		}
	}
	return nil
}

// splitOrigins reads a comma-separated list of origins.
func splitOrigins(v string) []string {
	var out []string
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// storeKind tells which backend a --store URL selects, and checks it
// (without contacting the store).
func storeKind(raw string) (string, error) {
	if kurrentdb.IsConnectionString(raw) {
		if _, err := kurrentdb.ParseURL(raw); err != nil {
			return "", fmt.Errorf("--store: %w", err)
		}
		return "kurrentdb", nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("--store %q: not a URL (leave it empty for the embedded store)", redactURL(raw))
	}
	return "", fmt.Errorf("--store %q: unknown scheme %q (want esdb://, esdb+discover://, kurrentdb:// or kurrentdb+discover://)", redactURL(raw), u.Scheme)
}

// redactURL hides a password in a store URL before it is logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Run opens the store, starts the projections and starts serving. It
// returns once the server listens; serving failures arrive on Failed.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	if m.Logger == nil {
		out := m.LogOutput
		if _, isFile := out.(*os.File); isFile {
			// One write system call per batch of lines rather than per
			// request line; a kill -9 loses at most the last 100ms of them.
			m.logBuffer = casehttp.NewBufferedLogWriter(out, 100*time.Millisecond)
			out = m.logBuffer
		}
		m.Logger = newLogger(out, c.LogFormat, c.LogLevel)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	m.warnIfDataExposed()

	agencies, err := core.LoadAgencies(c.AgenciesFile)
	if err != nil {
		return err
	}
	m.agencies = agencies
	places, err := core.LoadPlaces(c.PlacesFile)
	if err != nil {
		return err
	}
	retention, err := core.LoadRetention(c.RetentionFile)
	if err != nil {
		return err
	}

	var tokens *casehttp.TokenSet
	if c.TokensFile != "" {
		t, err := casehttp.LoadTokens(c.TokensFile, agencies)
		if err != nil {
			return err
		}
		tokens = t
		m.warnIfTokensExposed()
		if t.Len() == 0 {
			m.Logger.Warn("the tokens file holds no tokens: every /v1 route will answer 401 but to OpenID Connect tokens", "path", c.TokensFile)
		}
	} else if c.OIDC.Issuer == "" {
		m.Logger.Warn("no --tokens file and no --oidc-issuer: every /v1 route will answer 401")
	}
	m.auth = casehttp.NewAuthenticator(tokens)
	m.Logger.Info("tokens loaded", "count", tokens.Len())
	if c.OIDC.Issuer != "" {
		// The issuer need not answer now: discovery is retried in the
		// background; /readyz says why it has not succeeded, and its
		// tokens get 503 meanwhile.
		v, err := oidc.New(oidc.Config{Issuer: c.OIDC.Issuer, Audience: c.OIDC.Audience,
			SubjectClaim: c.OIDC.SubjectClaim, RoleClaim: c.OIDC.RoleClaim, AgencyClaim: c.OIDC.AgencyClaim,
			Agencies: agencies, Logger: m.Logger, RetryMin: m.oidcRetry, RetryMax: 10 * m.oidcRetry})
		if err != nil {
			return fmt.Errorf("--oidc-issuer: %w", err)
		}
		m.closers = append(m.closers, v.Close)
		m.auth.WithOIDC(v)
		m.Logger.Info("accepting OpenID Connect tokens", "issuer", c.OIDC.Issuer, "audience", c.OIDC.Audience,
			"subject_claim", c.OIDC.SubjectClaim, "role_claim", c.OIDC.RoleClaim, "agency_claim", c.OIDC.AgencyClaim)
	}

	// The master key is checked against the key store before anything
	// is written: a wrong key stops casebookd here.
	var vault *keystore.Vault
	if c.StoreURL == "" {
		if vault, err = m.openVault(ctx, nil); err != nil {
			return err
		}
	}
	store, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	m.store = store
	m.closers = append(m.closers, store.Close)
	if vault == nil {
		if vault, err = m.openVault(ctx, store); err != nil {
			return err
		}
	}

	// The read models follow the log from their checkpoints; a restart
	// replays nothing they already hold.
	engine, err := projections.Open(ctx, c.DataDir, store, projections.Options{Logger: m.Logger})
	if err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	m.closers = append(m.closers, engine.Close)

	metrics := casehttp.NewMetrics(projectionLag(engine))
	cb, err := core.New(core.Config{
		Store:         instrumentStore(store, metrics),
		ReadModels:    engine,
		Agencies:      agencies,
		Places:        places,
		Retention:     retention,
		Keys:          vault,
		Logger:        m.Logger,
		ReadModelWait: c.ReadModelWait,
		AccessMergeWindow: func() time.Duration {
			if c.AccessMergeWindow <= 0 {
				return -1 // the core's "never merge"
			}
			return c.AccessMergeWindow
		}(),
		RequirePurpose: c.RequirePurpose,
	})
	if err != nil {
		return err
	}
	m.core = cb
	// Closed before the store (closers run in reverse): the access-log
	// entries still held for merging are written first.
	m.closers = append(m.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return cb.Close(ctx)
	})

	// Every erasure the log records is applied to the key store before the
	// first answer: a key store restored from an older copy holds keys
	// erased since.
	if n, err := cb.ApplyErasures(ctx); err != nil {
		return fmt.Errorf("apply the log's erasures to the key store: %w", err)
	} else if n > 0 {
		m.Logger.Info("erasures applied to the key store", "count", n)
	}

	dashboard, err := ui.New()
	if err != nil {
		return err
	}
	handler, err := casehttp.New(casehttp.Config{
		Logger:        m.Logger,
		Core:          cb,
		Auth:          m.auth,
		Metrics:       metrics,
		MaxConcurrent: c.MaxRequests,
		CORSOrigins:   c.CORSOrigins,
		Limits:        c.Limits,
		Shutdown:      m.shutdown,
		UI:            dashboard,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.Addr, err)
	}
	m.listener = ln
	m.server = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      max(c.WriteTimeout, c.ReadTimeout+minWriteMargin),
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.failed <- err
		}
	}()
	if c.PprofAddr != "" {
		if err := m.servePprof(c.PprofAddr); err != nil {
			return err
		}
	}
	m.Logger.Info("casebookd listening", "addr", ln.Addr().String(), "data", c.DataDir, "store", m.storeName())
	return nil
}

func (m *Main) storeName() string {
	if m.Config.StoreURL == "" {
		return "embedded"
	}
	return redactURL(m.Config.StoreURL)
}

// openStore opens the configured event store.
func (m *Main) openStore(ctx context.Context) (eventstore.Store, error) {
	c := m.Config
	if c.StoreURL == "" {
		s, err := sqlitestore.Open(ctx, filepath.Join(c.DataDir, "events.db"), sqlitestore.Options{Logger: m.Logger})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	if _, err := storeKind(c.StoreURL); err != nil {
		return nil, err
	}
	return openKurrentDB(ctx, c.StoreURL, m.Logger)
}

// URL is the server's base URL (after Run).
func (m *Main) URL() string {
	if m.listener == nil {
		return ""
	}
	return "http://" + m.listener.Addr().String()
}

// Failed delivers an error if the server stops serving on its own.
func (m *Main) Failed() <-chan error { return m.failed }

// ReloadTokens re-reads the tokens file; on error the current tokens stay.
func (m *Main) ReloadTokens() error {
	if m.Config.TokensFile == "" {
		return errors.New("no tokens file configured")
	}
	t, err := casehttp.LoadTokens(m.Config.TokensFile, m.agencies)
	if err != nil {
		return err
	}
	if t.Len() == 0 && !t.DeclaredEmpty() {
		// A truncated or wrong file must not revoke every token at once.
		return fmt.Errorf("%s holds no tokens: refusing to revoke every token in force (if that is meant, add the line %q)",
			m.Config.TokensFile, casehttp.NoTokensMarker)
	}
	m.auth.Replace(t)
	m.Logger.Info("tokens reloaded", "count", t.Len())
	m.warnIfTokensExposed()
	return nil
}

// warnIfTokensExposed warns when other users may read the tokens file.
func (m *Main) warnIfTokensExposed() {
	if fi, err := os.Stat(m.Config.TokensFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		m.Logger.Warn("the tokens file is readable by other users; chmod 600 it", "path", m.Config.TokensFile, "mode", fi.Mode().Perm().String())
	}
}

// Close shuts down gracefully: stop accepting, end live streams, drain
// in-flight requests (up to ShutdownTimeout), stop the projections, close
// the store. It is safe to call more than once.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		close(m.shutdown)
		var errs []error
		if m.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
			if err := m.server.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
				_ = m.server.Close()
			}
			cancel()
		}
		for i := len(m.closers) - 1; i >= 0; i-- {
			if err := m.closers[i](); err != nil {
				errs = append(errs, err)
			}
		}
		m.closeErr = errors.Join(errs...)
		if m.Logger != nil {
			m.Logger.Info("casebookd stopped")
		}
		if m.logBuffer != nil {
			_ = m.logBuffer.Close() // flushed; later lines go straight out
		}
	})
	return m.closeErr
}

// servePprof serves the profiler on its own listener.
func (m *Main) servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	m.closers = append(m.closers, srv.Close)
	m.Logger.Warn("profiler listening", "addr", ln.Addr().String())
	return nil
}
