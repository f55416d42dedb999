package casehttp

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
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

// Authenticator holds the current token set; Replace swaps it atomically
// (casebookd does so on SIGHUP) without disturbing requests in flight.
type Authenticator struct {
	tokens atomic.Pointer[TokenSet]
}

// NewAuthenticator starts with set (nil: no token is valid).
func NewAuthenticator(set *TokenSet) *Authenticator {
	a := &Authenticator{}
	a.Replace(set)
	return a
}

// Replace installs a new token set.
func (a *Authenticator) Replace(set *TokenSet) {
	if set == nil {
		set = &TokenSet{}
	}
	a.tokens.Store(set)
}

// Authenticate finds the principal of an Authorization header value.
func (a *Authenticator) Authenticate(authorization string) (Principal, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, false
	}
	return a.tokens.Load().Lookup(strings.TrimSpace(token))
}

// requireToken authenticates the caller or answers 401.
func requireToken(a *Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := firstHeader(c.Request.Header, "Authorization")
		if h == "" {
			writeProblem(c, newProblem(ProblemUnauthenticated, "This route needs a bearer token: Authorization: Bearer <token>."))
			return
		}
		p, ok := a.Authenticate(h)
		if !ok {
			writeProblem(c, newProblem(ProblemUnauthenticated, "The bearer token is not valid."))
			return
		}
		rs := stateOf(c)
		rs.principal, rs.authenticated = p, true
		c.Next()
	}
}
