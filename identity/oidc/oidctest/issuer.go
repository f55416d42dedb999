// Package oidctest is a test double of an OpenID Connect issuer: it serves
// a discovery document and a JWKS (through go-oidc's own oidctest handler)
// for keys it holds, signs real RS256 and ES256 tokens with them, and can
// rotate its keys or stop answering while it runs. Tests, and the load
// script's token issuer (scripts/load/issuer), use it; it listens on
// loopback only.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
)

// Key is a signing key of the issuer.
type Key struct {
	ID        string
	Algorithm string // gooidc.RS256 or gooidc.ES256
	Private   crypto.Signer
}

// NewRSAKey makes an RS256 key (2048 bits).
func NewRSAKey(id string) Key {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return Key{ID: id, Algorithm: gooidc.RS256, Private: k}
}

// NewECKey makes an ES256 key (P-256).
func NewECKey(id string) Key {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return Key{ID: id, Algorithm: gooidc.ES256, Private: k}
}

// Issuer is the test double. Its zero value is not usable: use NewIssuer.
type Issuer struct {
	mu    sync.Mutex
	url   string
	keys  []Key // published
	known []Key // every key it ever held (withdrawn ones still sign)
	down  bool

	keyFetches atomic.Int64
}

// NewIssuer returns an issuer publishing keys.
func NewIssuer(keys ...Key) *Issuer {
	return &Issuer{keys: keys, known: keys}
}

// Start serves a new issuer on a loopback port for the test's duration,
// with an RS256 key "rsa-1" and an ES256 key "ec-1".
func Start(tb testing.TB) *Issuer {
	tb.Helper()
	iss := NewIssuer(NewRSAKey("rsa-1"), NewECKey("ec-1"))
	srv := httptest.NewServer(iss)
	tb.Cleanup(srv.Close)
	iss.SetURL(srv.URL)
	return iss
}

// SetURL sets the issuer's URL (its "iss"): where it is served.
func (i *Issuer) SetURL(url string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.url = url
}

// URL is the issuer's URL.
func (i *Issuer) URL() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.url
}

// SetDown makes the issuer answer 503 to everything (true) or serve again.
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = down
}

// SetKeys replaces the published keys (a rotation: keys left out are
// withdrawn; tokens they signed no longer verify once fetched again).
func (i *Issuer) SetKeys(keys ...Key) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = keys
	i.known = append(i.known, keys...)
}

// Key returns the key with that id, published or withdrawn.
func (i *Issuer) Key(id string) (Key, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range slices.Backward(i.known) {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// KeyFetches counts the JWKS requests served.
func (i *Issuer) KeyFetches() int64 { return i.keyFetches.Load() }

// ServeHTTP serves discovery and the JWKS (go-oidc's oidctest handler, for
// the keys published now).
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	down, url := i.down, i.url
	s := &oidctest.Server{Algorithms: []string{gooidc.RS256, gooidc.ES256}}
	for _, k := range i.keys {
		s.PublicKeys = append(s.PublicKeys, oidctest.PublicKey{PublicKey: k.Private.Public(), KeyID: k.ID, Algorithm: k.Algorithm})
	}
	i.mu.Unlock()
	if down {
		http.Error(w, "issuer down (test double)", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == "/keys" {
		i.keyFetches.Add(1)
	}
	s.SetIssuer(url)
	s.ServeHTTP(w, r)
}

// Claims returns the claims of a token for Casebook: this issuer, the
// audience, valid from a minute ago for an hour, and the subject, role and
// agency in Casebook's default claims. Callers change or delete any.
func (i *Issuer) Claims(audience, subject string, role, agency any) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": i.URL(), "aud": audience, "sub": subject,
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"casebook_role": role, "casebook_agency": agency,
	}
}

// Sign signs claims with the key keyID (which need not be published any
// more: a withdrawn key still signs, as a stolen one would).
func (i *Issuer) Sign(keyID string, claims map[string]any) string {
	k, ok := i.Key(keyID)
	if !ok {
		panic(fmt.Sprintf("oidctest: no key %q", keyID))
	}
	return SignWith(k, claims)
}

// SignWith signs claims with k.
func SignWith(k Key, claims map[string]any) string {
	b, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	return oidctest.SignIDToken(k.Private, k.ID, k.Algorithm, string(b))
}
