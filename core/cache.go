package core

import (
	"container/list"
	"sync"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
)

// stateCache keeps the current state of recently used cases (least recently
// used dropped first), so that a command reads only what was appended since
// its case was last seen. A cached state is read and changed only by the
// holder of its case's lock (caseLocks); the cache's own mutex guards only
// the index.
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
