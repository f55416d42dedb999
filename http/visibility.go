package casehttp

import (
	"sync"

	"github.com/google/uuid"
)

// visibilityCache remembers which agencies may see which cases, so that
// writes and history reads need not load a case's state only to check
// need-to-know. Only positive answers are kept, and that is sound because
// access only grows: an agency gains access by leading a case or joining it
// (AgencyJoined), and no event takes access away. (If the domain ever gets
// such an event, this cache must go.) Negative answers are never cached:
// an agency may join later.
type visibilityCache struct {
	mu      sync.RWMutex
	entries map[visibilityKey]struct{}
	max     int
}

type visibilityKey struct {
	caseID uuid.UUID
	agency string
}

func newVisibilityCache(max int) *visibilityCache {
	return &visibilityCache{entries: make(map[visibilityKey]struct{}), max: max}
}

func (v *visibilityCache) known(caseID uuid.UUID, agency string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	_, ok := v.entries[visibilityKey{caseID, agency}]
	return ok
}

func (v *visibilityCache) remember(caseID uuid.UUID, agency string) {
	if agency == "" {
		return
	}
	k := visibilityKey{caseID, agency}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.entries[k]; ok {
		return
	}
	if len(v.entries) >= v.max {
		clear(v.entries) // crude but bounded; it refills from loads
	}
	v.entries[k] = struct{}{}
}
