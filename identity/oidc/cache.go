package oidc

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/casebook/casebook/core"
)

// verifiedCache remembers tokens verified recently, so that a client
// sending the same token with every request pays for one signature check
// a minute rather than one per request (a full RS256 verification costs
// 30-60× a static token's lookup: BenchmarkAuthenticate in http). A/B with
// scripts/load/run.sh (OIDC=1, RS256, OIDC rate / static-token rate in
// the same run, 2 cores shared with other work): without it GET
// /v1/reports/summary ran at 0.35× and 0.63×, POST events at 0.74× and
// 0.51× (two runs); with it 1.00× and 0.83×.
//
// An entry holds until the earliest of: the token's expiry, a minute (or
// KeyMaxAge, if shorter) after it was verified, and the next fetch of the
// issuer's keys (a rotation: what the new keys no longer vouch for must be
// verified again). Only accepted tokens are remembered, by the SHA-256 of
// the token (the token itself is not kept).
type verifiedCache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	entries map[[sha256.Size]byte]cachedIdentity
}

type cachedIdentity struct {
	id      core.Identity
	until   time.Time
	keysGen uint64
}

func newVerifiedCache(max int, ttl time.Duration) *verifiedCache {
	return &verifiedCache{max: max, ttl: ttl, entries: map[[sha256.Size]byte]cachedIdentity{}}
}

func (c *verifiedCache) get(key [sha256.Size]byte, now time.Time, keysGen uint64) (core.Identity, bool) {
	if c.max <= 0 {
		return core.Identity{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return core.Identity{}, false
	}
	if !now.Before(e.until) || e.keysGen != keysGen {
		delete(c.entries, key)
		return core.Identity{}, false
	}
	return e.id, true
}

func (c *verifiedCache) put(key [sha256.Size]byte, id core.Identity, now, expiry time.Time, keysGen uint64) {
	if c.max <= 0 {
		return
	}
	until := now.Add(c.ttl)
	if expiry.Before(until) {
		until = expiry
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries) // bounded: start afresh rather than track age
	}
	c.entries[key] = cachedIdentity{id: id, until: until, keysGen: keysGen}
}
