// Package oidc authenticates Casebook's callers by OpenID Connect bearer
// tokens issued by a force's identity provider (Microsoft Entra ID,
// Keycloak, ADFS, …). A token is verified with github.com/coreos/go-oidc/v3
// — its signature against the keys the issuer publishes (JWKS, fetched and
// refreshed by the library), its issuer, audience, expiry and not-before;
// RS256 and ES256 only, never a symmetric algorithm or "none" — and its
// claims are then mapped to a core.Identity: a subject, exactly one
// Casebook role, and a configured agency.
//
// The issuer need not answer when the server starts: discovery is retried
// in the background, Ready says why it has not succeeded yet, and tokens
// presented meanwhile are answered ErrIssuerUnavailable (503), not refused.
package oidc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// Default claim names: the standard subject, and two claims an identity
// provider is configured to add (README: Entra ID and Keycloak).
const (
	DefaultSubjectClaim = "sub"
	DefaultRoleClaim    = "casebook_role"
	DefaultAgencyClaim  = "casebook_agency"
)

// SigningAlgorithms are the only signature algorithms accepted: asymmetric
// ones, so that nothing the issuer publishes can be used to forge a token.
var SigningAlgorithms = []string{gooidc.RS256, gooidc.ES256}

// Config configures a Verifier. Issuer, Audience and Agencies are required.
type Config struct {
	// Issuer is the issuer's URL exactly as its tokens' "iss" states it
	// (its discovery document is at Issuer/.well-known/openid-configuration).
	Issuer string
	// Audience must be one of a token's "aud" values: the id (or
	// application id URI) under which Casebook is registered at the issuer.
	Audience string
	// SubjectClaim, RoleClaim and AgencyClaim name the claims that carry
	// the identity; a name may be a dotted path into nested objects
	// ("realm_access.roles"). Empty: the defaults above.
	SubjectClaim, RoleClaim, AgencyClaim string
	// Agencies is the configured list; a token's agency must be one of them.
	Agencies *domain.Agencies
	Logger   *slog.Logger
	// HTTPClient fetches the discovery document and the keys (default: a
	// client with a 10 s timeout).
	HTTPClient *http.Client
	// KeyMaxAge bounds how long fetched keys are trusted before they are
	// fetched again (default 10 minutes). go-oidc alone fetches only when a
	// token names a key it does not know; without this bound, a key the
	// issuer withdrew would stay trusted until such a token arrived.
	KeyMaxAge time.Duration
	// RetryMin and RetryMax bound the backoff between discovery attempts
	// while the issuer does not answer (defaults 1 s and 30 s).
	RetryMin, RetryMax time.Duration
	// Now is the clock for expiry and not-before (default time.Now).
	Now func() time.Time
	// TokenCache is how many verified tokens are remembered (cache.go);
	// default 10,000; negative: none (every request verifies its token).
	TokenCache int
}

// ErrIssuerUnavailable: the issuer's discovery document or keys could not
// be fetched, so a token cannot be judged yet (the caller should answer 503
// and let the client retry).
var ErrIssuerUnavailable = errors.New("oidc: the token issuer is not reachable")

// InvalidTokenError is a token that failed verification (bad signature,
// unknown key, wrong issuer or audience, expired, not yet valid, an
// algorithm that is not accepted, or not a JWT at all): 401.
type InvalidTokenError struct {
	Reason string // for logs and for the client: never the token
	cause  error
}

func (e *InvalidTokenError) Error() string { return "oidc: invalid token: " + e.Reason }
func (e *InvalidTokenError) Unwrap() error { return e.cause }

// ClaimError is a verified token whose claims do not map to a Casebook
// identity: 403, naming the claim and why.
type ClaimError struct {
	Claim  string // the configured claim name (path)
	Reason string
	// Subject is the token's subject when it could be read (for the log).
	Subject string
}

func (e *ClaimError) Error() string {
	return fmt.Sprintf("oidc: claim %s: %s", e.Claim, e.Reason)
}

// Verifier verifies OpenID Connect bearer tokens and maps them to
// identities. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	paths  claimPaths
	client *http.Client
	logger *slog.Logger

	mu       sync.RWMutex
	verifier *gooidc.IDTokenVerifier // nil until discovery succeeded
	lastErr  error                   // why discovery has not succeeded yet
	warned   bool                    // the issuer's silence was logged

	jwksURL string

	cache   *verifiedCache
	keysGen atomic.Uint64 // counts successful fetches of the issuer's keys

	retryNow chan struct{} // asks the discovery loop to try at once
	cancel   context.CancelFunc
	done     chan struct{}
}

// New checks cfg and starts discovering the issuer in the background; the
// verifier accepts tokens once discovery has succeeded. Close stops it.
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("oidc: an issuer URL is required")
	}
	if !strings.HasPrefix(cfg.Issuer, "https://") && !strings.HasPrefix(cfg.Issuer, "http://") {
		return nil, fmt.Errorf("oidc: issuer %q: want an https:// URL", cfg.Issuer)
	}
	if cfg.Audience == "" {
		return nil, errors.New("oidc: an audience is required with an issuer (the id Casebook is registered under at the issuer)")
	}
	if cfg.Agencies == nil {
		return nil, errors.New("oidc: the configured agencies are required")
	}
	if cfg.SubjectClaim == "" {
		cfg.SubjectClaim = DefaultSubjectClaim
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = DefaultRoleClaim
	}
	if cfg.AgencyClaim == "" {
		cfg.AgencyClaim = DefaultAgencyClaim
	}
	paths, err := parseClaimPaths(cfg.SubjectClaim, cfg.RoleClaim, cfg.AgencyClaim)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.KeyMaxAge <= 0 {
		cfg.KeyMaxAge = 10 * time.Minute
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TokenCache == 0 {
		cfg.TokenCache = 10_000
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &Verifier{cfg: cfg, paths: paths, logger: cfg.Logger,
		lastErr: errors.New("discovery has not run yet"), retryNow: make(chan struct{}, 1),
		cache: newVerifiedCache(cfg.TokenCache, min(time.Minute, cfg.KeyMaxAge)), cancel: cancel, done: make(chan struct{})}
	v.client = issuerClient(cfg.HTTPClient, v.fetched)
	go v.discover(ctx)
	return v, nil
}

// Close stops the discovery loop.
func (v *Verifier) Close() error {
	v.cancel()
	<-v.done
	return nil
}

// Issuer is the configured issuer URL.
func (v *Verifier) Issuer() string { return v.cfg.Issuer }

// Ready is nil once the issuer's discovery document has been read; until
// then it wraps ErrIssuerUnavailable and says why, and asks the discovery
// loop to try again now (a readiness probe or a waiting token should not
// wait out the backoff).
func (v *Verifier) Ready() error {
	v.mu.RLock()
	ready, lastErr := v.verifier != nil, v.lastErr
	v.mu.RUnlock()
	if ready {
		return nil
	}
	select {
	case v.retryNow <- struct{}{}:
	default:
	}
	return fmt.Errorf("%w: %s has not answered discovery yet: %v", ErrIssuerUnavailable, v.cfg.Issuer, lastErr)
}

// discover reads the issuer's discovery document, retrying with backoff
// until it succeeds or ctx ends.
func (v *Verifier) discover(ctx context.Context) {
	defer close(v.done)
	backoff := v.cfg.RetryMin
	for {
		err := v.discoverOnce(ctx)
		if err == nil {
			v.logger.Info("oidc: issuer discovered; accepting its tokens", "issuer", v.cfg.Issuer)
			return
		}
		v.mu.Lock()
		first := !v.warned
		v.lastErr, v.warned = err, true
		v.mu.Unlock()
		if first {
			v.logger.Warn("oidc: the issuer does not answer; its tokens get 503 until it does", "issuer", v.cfg.Issuer, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		case <-v.retryNow:
		}
		backoff = min(2*backoff, v.cfg.RetryMax)
	}
}

func (v *Verifier) discoverOnce(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(gooidc.ClientContext(ctx, v.client), 30*time.Second)
	defer cancel()
	p, err := gooidc.NewProvider(cctx, v.cfg.Issuer)
	if err != nil {
		return err
	}
	var doc struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil || doc.JWKSURL == "" {
		return fmt.Errorf("the discovery document names no jwks_uri")
	}
	keys := newKeySet(gooidc.ClientContext(context.Background(), v.client), doc.JWKSURL, v.cfg.KeyMaxAge, v.cfg.Now)
	verifier := gooidc.NewVerifier(v.cfg.Issuer, keys, &gooidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: SigningAlgorithms,
		Now:                  v.cfg.Now,
	})
	v.mu.Lock()
	v.verifier, v.lastErr, v.jwksURL = verifier, nil, doc.JWKSURL
	v.mu.Unlock()
	return nil
}

// fetched is told of every successful answer of the issuer: a fetch of its
// keys makes the tokens verified before it be verified again.
func (v *Verifier) fetched(req *http.Request) {
	v.mu.RLock()
	jwks := v.jwksURL
	v.mu.RUnlock()
	if jwks != "" && req.URL.String() == jwks {
		v.keysGen.Add(1)
	}
}

// LooksLikeJWT reports whether a bearer token has a JWT's compact shape
// (three base64url parts), so that a caller can tell it from an opaque
// static token without trying to verify it.
func LooksLikeJWT(token string) bool {
	if strings.Count(token, ".") != 2 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Verify verifies a bearer token and maps its claims to an identity. Its
// errors are *InvalidTokenError (401), *ClaimError (403) or wrap
// ErrIssuerUnavailable (503).
func (v *Verifier) Verify(ctx context.Context, raw string) (core.Identity, error) {
	v.mu.RLock()
	verifier := v.verifier
	v.mu.RUnlock()
	if verifier == nil {
		return core.Identity{}, v.Ready()
	}
	key := sha256.Sum256([]byte(raw))
	now := v.cfg.Now()
	if id, ok := v.cache.get(key, now, v.keysGen.Load()); ok {
		return id, nil
	}
	gen := v.keysGen.Load() // before verifying: a fetch meanwhile makes the entry stale, not wrong
	var out fetchOutcome
	tok, err := verifier.Verify(withOutcome(ctx, &out), raw)
	if err != nil {
		if out.unavailable != nil {
			return core.Identity{}, fmt.Errorf("%w: fetching its keys: %v", ErrIssuerUnavailable, out.unavailable)
		}
		return core.Identity{}, &InvalidTokenError{Reason: reasonOf(err), cause: err}
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return core.Identity{}, &InvalidTokenError{Reason: "its claims are not a JSON object", cause: err}
	}
	id, err := v.identityOf(claims)
	if err != nil {
		return core.Identity{}, err
	}
	if gen == v.keysGen.Load() {
		v.cache.put(key, id, now, tok.Expiry, gen)
	}
	return id, nil
}

// reasonOf says in a few words why go-oidc refused a token (go-oidc's own
// messages can quote the token's claims, not its signature; still, the
// client gets these words only).
func reasonOf(err error) string {
	var expired *gooidc.TokenExpiredError
	if errors.As(err, &expired) {
		return "the token has expired"
	}
	return "the token could not be verified (signature, key, algorithm, issuer, audience or validity period)"
}
