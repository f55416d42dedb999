package casehttp

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/identity/oidc"
)

// Principal is the authenticated caller: the core's Identity.
type Principal = core.Identity

// principalFrom returns the caller authenticated by requireToken.
func principalFrom(c *gin.Context) (Principal, bool) {
	rs := stateOf(c)
	return rs.principal, rs.authenticated
}

// validRoles are the roles a token may carry.
var validRoles = core.Roles

// tokenEntry holds a token only as its SHA-256 digest: comparing digests of
// equal length in constant time leaks nothing about a token's prefix or
// length, and the tokens themselves are not kept in memory.
type tokenEntry struct {
	digest    [sha256.Size]byte
	principal Principal
}

// TokenSet is an immutable set of API tokens.
type TokenSet struct {
	entries []tokenEntry
	// declaredEmpty: the file holds the line NoTokensMarker, saying that
	// having no tokens is meant.
	declaredEmpty bool
}

// NoTokensMarker is the line a tokens file holds to say that it has no
// tokens on purpose. Without it, a file with no token lines is taken for a
// mistake (a truncated file, the wrong file) and casebookd refuses to
// reload it, rather than revoke every token at once.
const NoTokensMarker = "# casebook: no tokens"

// DeclaredEmpty reports whether the file says it has no tokens on purpose
// (the line NoTokensMarker).
func (s *TokenSet) DeclaredEmpty() bool { return s != nil && s.declaredEmpty }

// Len is the number of tokens.
func (s *TokenSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.entries)
}

// Lookup finds the principal of token. It compares against every entry,
// without stopping at a match, in constant time per entry.
func (s *TokenSet) Lookup(token string) (Principal, bool) {
	if s == nil || token == "" {
		return Principal{}, false
	}
	d := sha256.Sum256([]byte(token))
	found := -1
	for i := range s.entries {
		if subtle.ConstantTimeCompare(d[:], s.entries[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, false
	}
	return s.entries[found].principal, true
}

// tokenColumns names the fields of a tokens file line, for errors that
// must say where a problem is without quoting what is there.
var tokenColumns = [...]string{"token", "subject", "role", "agency"}

// tokenLineError is a bad line of a tokens file. It names the line and the
// column, never a value: any field could be a token (one written in the
// wrong column, say), and errors reach logs.
func tokenLineError(line, column int, format string, args ...any) error {
	where := fmt.Sprintf("tokens: line %d", line)
	if column > 0 {
		where += fmt.Sprintf(", column %d (%s)", column, tokenColumns[column-1])
	}
	return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
}

// ParseTokens reads a tokens file: one `token,subject,role,agency` per line,
// lines starting with # are comments, blank lines are skipped (the shape of
// Kubernetes' static token file; fields may be CSV-quoted). Agencies are
// matched against the configured list (nil: the default list) and kept in
// canonical form. Errors name the line and column, never a value from the
// file.
func ParseTokens(r io.Reader, agencies *domain.Agencies) (*TokenSet, error) {
	if agencies == nil {
		agencies = domain.DefaultAgencies()
	}
	set := &TokenSet{}
	seen := make(map[[sha256.Size]byte]int)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == NoTokensMarker {
			set.declaredEmpty = true
			continue
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cr := csv.NewReader(strings.NewReader(text))
		cr.FieldsPerRecord = -1
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("tokens: line %d, character %d: malformed CSV", line, pe.Column)
			}
			return nil, fmt.Errorf("tokens: line %d: malformed CSV", line)
		}
		if len(rec) != 4 {
			return nil, tokenLineError(line, 0, "want 4 fields (token,subject,role,agency), got %d", len(rec))
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		token, p := rec[0], Principal{Subject: rec[1], Role: rec[2], Agency: rec[3]}
		switch {
		case token == "" || strings.ContainsAny(token, " \t"):
			return nil, tokenLineError(line, 1, "empty token or token with spaces")
		case p.Subject == "":
			return nil, tokenLineError(line, 2, "empty subject")
		case !slices.Contains(validRoles, p.Role):
			return nil, tokenLineError(line, 3, "not a role (want one of %s)", strings.Join(validRoles, ", "))
		case p.Agency == "":
			return nil, tokenLineError(line, 4, "empty agency")
		}
		code, ok := agencies.Canonical(p.Agency)
		if !ok {
			return nil, tokenLineError(line, 4, "not a configured agency (want one of %s)", strings.Join(agencies.Codes(), ", "))
		}
		p.Agency = code
		d := sha256.Sum256([]byte(token))
		if first, dup := seen[d]; dup {
			return nil, tokenLineError(line, 1, "token repeats the one on line %d", first)
		}
		seen[d] = line
		set.entries = append(set.entries, tokenEntry{digest: d, principal: p})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens: line %d: %w", line+1, err)
	}
	return set, nil
}

// LoadTokens reads a tokens file from disk.
func LoadTokens(path string, agencies *domain.Agencies) (*TokenSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	defer f.Close()
	set, err := ParseTokens(f, agencies)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return set, nil
}

// TokenVerifier verifies the bearer tokens that are not static tokens:
// OpenID Connect tokens (identity/oidc.Verifier). Verify's errors are those
// of identity/oidc: *oidc.InvalidTokenError (401), *oidc.ClaimError (403),
// or ones wrapping oidc.ErrIssuerUnavailable (503).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (core.Identity, error)
	// Ready is nil while tokens can be verified; otherwise it says why not.
	Ready() error
}

// Authenticator is who may call: the static tokens file's tokens
// (development, service accounts) and, when configured, the OpenID Connect
// tokens of an identity provider, side by side; either can be off.
// Replace swaps the token set atomically (casebookd does so on SIGHUP)
// without disturbing requests in flight.
type Authenticator struct {
	tokens atomic.Pointer[TokenSet]
	oidc   TokenVerifier // nil: OpenID Connect is off
}

// NewAuthenticator starts with set (nil: no static token is valid) and no
// OpenID Connect.
func NewAuthenticator(set *TokenSet) *Authenticator {
	a := &Authenticator{}
	a.Replace(set)
	return a
}

// WithOIDC makes the authenticator also accept the tokens v verifies. Call
// it before serving.
func (a *Authenticator) WithOIDC(v TokenVerifier) *Authenticator {
	a.oidc = v
	return a
}

// Replace installs a new token set.
func (a *Authenticator) Replace(set *TokenSet) {
	if set == nil {
		set = &TokenSet{}
	}
	a.tokens.Store(set)
}

// Ready is nil unless a configured identity provider cannot verify tokens
// yet (it has not answered discovery); then it says why.
func (a *Authenticator) Ready() error {
	if a.oidc == nil {
		return nil
	}
	return a.oidc.Ready()
}

// Authenticate finds the principal of an Authorization header value: a
// static token first (cheap: one hash), then, when OpenID Connect is on, a
// token that looks like a JWT. It fails with the problem to answer: 401
// for no valid token, 403 for a verified token whose claims do not map to
// a Casebook identity, 503 while the identity provider cannot be reached.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (Principal, *Problem) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, newProblem(ProblemUnauthenticated, "The Authorization header must be: Bearer <token>.")
	}
	token = strings.TrimSpace(token)
	if p, ok := a.tokens.Load().Lookup(token); ok {
		return p, nil
	}
	if a.oidc == nil || !oidc.LooksLikeJWT(token) {
		return Principal{}, newProblem(ProblemUnauthenticated, "The bearer token is not valid.")
	}
	id, err := a.oidc.Verify(ctx, token)
	if err == nil {
		return id, nil
	}
	return Principal{}, oidcProblem(err)
}

// oidcProblem answers an OpenID Connect token that was not accepted.
func oidcProblem(err error) *Problem {
	var claim *oidc.ClaimError
	var invalid *oidc.InvalidTokenError
	switch {
	case errors.As(err, &claim):
		p := fieldProblem(ProblemForbidden, claim.Claim,
			"The token was verified, but its claim %s does not map to a Casebook identity: %s.", claim.Claim, claim.Reason)
		p.Code = CodeUnmappableClaims
		p.cause = err
		return p
	case errors.Is(err, oidc.ErrIssuerUnavailable):
		p := newProblem(ProblemUnavailable, "The identity provider that issued the token cannot be reached, so the token cannot be verified yet; retry shortly.")
		p.Code = CodeIssuerUnavailable
		p.RetryAfter = 5
		p.cause = err
		return p
	case errors.As(err, &invalid):
		p := newProblem(ProblemUnauthenticated, "The bearer token is not valid: %s.", invalid.Reason)
		p.cause = err
		return p
	}
	p := newProblem(ProblemUnauthenticated, "The bearer token is not valid.")
	p.cause = err
	return p
}

// Problem codes of authentication.
const (
	CodeUnmappableClaims  = "unmappable_claims"
	CodeIssuerUnavailable = "issuer_unavailable"
)

// requireToken authenticates the caller or answers the problem. Refusals
// of OpenID Connect tokens are logged with their reason (and, for a
// verified token, its subject): never the token.
func requireToken(a *Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := firstHeader(c.Request.Header, "Authorization")
		if h == "" {
			writeProblem(c, newProblem(ProblemUnauthenticated, "This route needs a bearer token: Authorization: Bearer <token>."))
			return
		}
		p, prob := a.Authenticate(c.Request.Context(), h)
		if prob != nil {
			logRefusal(c, prob)
			writeProblem(c, prob)
			return
		}
		rs := stateOf(c)
		rs.principal, rs.authenticated = p, true
		c.Next()
	}
}

// logRefusal logs why an identity provider's token was refused.
func logRefusal(c *gin.Context, p *Problem) {
	if p.cause == nil || p.Status >= 500 {
		return // no identity provider involved (the request line says 401), or logged by writeProblem
	}
	attrs := []slog.Attr{slog.String("request_id", requestID(c)), slog.Int("status", p.Status), slog.String("reason", p.cause.Error())}
	level := slog.LevelInfo
	var claim *oidc.ClaimError
	if errors.As(p.cause, &claim) {
		// A verified token the identity provider should not have issued
		// this way: its configuration needs a look.
		level = slog.LevelWarn
		if claim.Subject != "" {
			attrs = append(attrs, slog.String("subject", claim.Subject))
		}
	}
	loggerFrom(c).LogAttrs(c.Request.Context(), level, "bearer token refused", attrs...)
}
