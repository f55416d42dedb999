package cases

import (
	"container/list"
	"context"
	"hash/maphash"
	"sync"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
)

// stripedLocks serialises the commands of one case inside the process while
// different cases run in parallel. A fixed number of locks bounds memory
// whatever the number of cases; two cases that share a stripe merely wait
// for each other. Each lock is a one-slot channel so that waiting for it
// honours the context.
type stripedLocks struct {
	seed    maphash.Seed
	stripes []chan struct{}
}

func newStripedLocks(n int) *stripedLocks {
	l := &stripedLocks{seed: maphash.MakeSeed(), stripes: make([]chan struct{}, n)}
	for i := range l.stripes {
		l.stripes[i] = make(chan struct{}, 1)
	}
	return l
}

// lock takes the case's lock, or returns the context's error.
func (l *stripedLocks) lock(ctx context.Context, id uuid.UUID) (unlock func(), err error) {
	// A keyed hash, so that chosen case ids cannot pile onto one stripe.
	ch := l.stripes[maphash.Bytes(l.seed, id[:])%uint64(len(l.stripes))]
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stateCache keeps the current state of recently used cases (least recently
// used dropped first). A cached state is read and changed only under its
// case's lock; the cache's own mutex guards only the index.
type stateCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List // of *cacheItem, most recent first
	m   map[uuid.UUID]*list.Element
}

type cacheItem struct {
	id    uuid.UUID
	state *domain.Case
}

func newStateCache(max int) *stateCache {
	return &stateCache{max: max, ll: list.New(), m: map[uuid.UUID]*list.Element{}}
}

func (c *stateCache) get(id uuid.UUID) *domain.Case {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[id]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*cacheItem).state
	}
	return nil
}

func (c *stateCache) put(id uuid.UUID, state *domain.Case) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[id]; ok {
		el.Value.(*cacheItem).state = state
		c.ll.MoveToFront(el)
		return
	}
	c.m[id] = c.ll.PushFront(&cacheItem{id: id, state: state})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.m, last.Value.(*cacheItem).id)
	}
}

func (c *stateCache) drop(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[id]; ok {
		c.ll.Remove(el)
		delete(c.m, id)
	}
}
