package core

import (
	"context"
	"sync"

	"github.com/google/uuid"
)

// caseLocks gives each case a lock of its own, taken with a context: the
// commands of one case take turns, different cases never wait for each
// other. A case's lock exists only while someone holds or awaits it.
type caseLocks struct {
	mu sync.Mutex
	m  map[uuid.UUID]*caseLock
}

type caseLock struct {
	turn chan struct{} // holds a token while the lock is taken
	refs int           // holders and waiters
}

func newCaseLocks() *caseLocks { return &caseLocks{m: map[uuid.UUID]*caseLock{}} }

// lock takes the case's lock, or gives up when ctx ends. The returned
// function releases it.
func (l *caseLocks) lock(ctx context.Context, id uuid.UUID) (unlock func(), err error) {
	l.mu.Lock()
	cl := l.m[id]
	if cl == nil {
		cl = &caseLock{turn: make(chan struct{}, 1)}
		l.m[id] = cl
	}
	cl.refs++
	l.mu.Unlock()

	select {
	case cl.turn <- struct{}{}:
		return func() { <-cl.turn; l.release(id, cl) }, nil
	case <-ctx.Done():
		l.release(id, cl)
		return nil, ctx.Err()
	}
}

func (l *caseLocks) release(id uuid.UUID, cl *caseLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl.refs--
	if cl.refs == 0 {
		delete(l.m, id)
	}
}
