package oidc

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// keySet is the issuer's published keys as go-oidc's RemoteKeySet fetches
// and caches them (refetched when a token names a key it does not hold),
// with two additions:
//
//   - keys older than maxAge are fetched again (a fresh RemoteKeySet), so a
//     key the issuer withdrew stops being trusted within maxAge even if no
//     token signed with a new key arrives to prompt a refetch; while the
//     issuer does not answer, the previous keys keep serving;
//   - a verification that failed because the keys could not be fetched is
//     told apart from one that failed on the token (503, not 401), through
//     a fetchOutcome the caller puts in the context: go-oidc wraps the key
//     set's errors with %v, so their type does not reach the caller.
type keySet struct {
	ctx     context.Context // carries the HTTP client (go-oidc's convention)
	jwksURL string
	maxAge  time.Duration
	now     func() time.Time

	mu        sync.Mutex
	current   *gooidc.RemoteKeySet
	previous  *gooidc.RemoteKeySet // before the last refresh; serves while the issuer is down
	createdAt time.Time
}

func newKeySet(ctx context.Context, jwksURL string, maxAge time.Duration, now func() time.Time) *keySet {
	return &keySet{ctx: ctx, jwksURL: jwksURL, maxAge: maxAge, now: now,
		current: gooidc.NewRemoteKeySet(ctx, jwksURL), createdAt: now()}
}

// sets returns the key set to verify with, replacing it by a fresh one
// when it is older than maxAge, and the one before it.
func (k *keySet) sets() (cur, prev *gooidc.RemoteKeySet) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.now().Sub(k.createdAt) >= k.maxAge {
		k.previous, k.current, k.createdAt = k.current, gooidc.NewRemoteKeySet(k.ctx, k.jwksURL), k.now()
	}
	return k.current, k.previous
}

// keepPrevious makes the previous set current again: the fresh one could
// not fetch the keys.
func (k *keySet) keepPrevious(fresh, prev *gooidc.RemoteKeySet) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current == fresh && prev != nil {
		k.current, k.previous = prev, nil
		// Try again soon rather than a whole maxAge later.
		k.createdAt = k.now().Add(-k.maxAge + min(k.maxAge, 5*time.Second))
	}
}

// VerifySignature implements go-oidc's KeySet.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	cur, prev := k.sets()
	payload, err := cur.VerifySignature(ctx, jwt)
	if err == nil || !fetchFailed(err) {
		return payload, err
	}
	if prev != nil {
		k.keepPrevious(cur, prev)
		if payload, perr := prev.VerifySignature(ctx, jwt); perr == nil || !fetchFailed(perr) {
			return payload, perr
		}
	}
	if out, ok := ctx.Value(outcomeKey{}).(*fetchOutcome); ok {
		out.unavailable = err
	}
	return nil, err
}

// fetchFailed reports whether a key set's error is the failure to reach
// the issuer (a transport error, or an answer a transport error stands
// for: see issuerTransport), rather than a verdict on the token.
func fetchFailed(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded)
}

// fetchOutcome is filled in by keySet when verifying a token failed
// because the issuer's keys could not be fetched.
type fetchOutcome struct{ unavailable error }

type outcomeKey struct{}

func withOutcome(ctx context.Context, out *fetchOutcome) context.Context {
	return context.WithValue(ctx, outcomeKey{}, out)
}

// issuerTransport makes an issuer's server-side failure (5xx) a transport
// error, as a refused connection is: both mean "the issuer is not
// answering" (503 to our caller), not "the token is bad".
type issuerTransport struct {
	base    http.RoundTripper
	fetched func(*http.Request) // told of every successful answer
}

// IssuerStatusError is an issuer's 5xx answer to a discovery or key fetch.
type IssuerStatusError struct{ Status string }

func (e *IssuerStatusError) Error() string { return "the issuer answered " + e.Status }

func (t issuerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 500 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, &IssuerStatusError{Status: resp.Status}
	}
	if resp.StatusCode == http.StatusOK && t.fetched != nil {
		t.fetched(req)
	}
	return resp, nil
}

// issuerClient is client with issuerTransport around its transport.
func issuerClient(client *http.Client, fetched func(*http.Request)) *http.Client {
	c := *client
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = issuerTransport{base: base, fetched: fetched}
	return &c
}
