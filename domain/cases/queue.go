package cases

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
)

// caseQueues serialises the work on each case inside the process while
// different cases run in parallel, and lets the commands of one case that
// pile up be handled together.
//
// One goroutine at a time holds a case's turn. Others that want it queue
// up, first come first served. When the holder is a Record call (a leader)
// it takes with its own command every Record command queued right behind
// it (up to a cap), decides them one after another and appends their
// events in one store append; the callers it took (followers) just wait
// for their answers. When the holder is done it hands the turn to the
// first caller still queued, which does the same with what queued up in
// the meantime. Open and Load hold the turn alone.
//
// A caller that finds the case idle takes the turn at once, in its own
// goroutine, with no hand-over: the uncontended path costs a map lookup
// under a mutex.
//
// Queues exist only while a case is in use, so memory follows the number
// of busy cases, not of cases. The index is sharded by a keyed hash (so
// that chosen case ids cannot pile onto one shard); two cases never wait
// for each other, whatever their shard.
type caseQueues struct {
	seed   maphash.Seed
	shards []queueShard
}

type queueShard struct {
	mu sync.Mutex
	m  map[uuid.UUID]*caseQueue
}

// caseQueue is the turn of one case: whether someone holds it, and who
// waits for it.
type caseQueue struct {
	busy    bool
	waiting []*waiter // first come first
}

// A waiter's state. queued → turn (handed the turn, owes its case a
// release) or queued → taken (a leader took its command) → done (answered).
// The transitions out of queued happen under the shard's mutex, so that a
// caller giving up can tell for sure whether it is still queued.
const (
	stateQueued uint32 = iota
	stateTurn
	stateTaken
	stateDone
)

// waiter is one caller wanting a case's turn.
type waiter struct {
	ctx   context.Context
	rec   *recordReq    // the Record command; nil for exclusive use (Open, Load)
	wake  chan struct{} // signalled once: on stateTurn or on stateDone
	state atomic.Uint32
}

func newCaseQueues(shards int) *caseQueues {
	q := &caseQueues{seed: maphash.MakeSeed(), shards: make([]queueShard, shards)}
	for i := range q.shards {
		q.shards[i].m = map[uuid.UUID]*caseQueue{}
	}
	return q
}

func (q *caseQueues) shard(id uuid.UUID) *queueShard {
	return &q.shards[maphash.Bytes(q.seed, id[:])%uint64(len(q.shards))]
}

// wait returns when w holds the case's turn (turn = true: the caller must
// call release when done) or when a leader has answered w's command (turn
// = false), or with the context's error if the caller gave up while still
// queued — its command then was not, and will not be, taken.
//
// A caller whose command a leader has already taken waits for the answer
// even if its context ends meanwhile: by then the command may be in the
// store, and telling the caller it failed would be a lie. The wait is
// bounded by the leader's store calls, which end with an error once every
// caller in the batch has given up.
func (q *caseQueues) wait(ctx context.Context, id uuid.UUID, w *waiter) (turn bool, err error) {
	sh := q.shard(id)
	sh.mu.Lock()
	cq := sh.m[id]
	if cq == nil {
		cq = &caseQueue{}
		sh.m[id] = cq
	}
	if !cq.busy {
		cq.busy = true
		sh.mu.Unlock()
		return true, nil
	}
	if err := ctx.Err(); err != nil {
		sh.mu.Unlock()
		return false, err
	}
	w.ctx = ctx
	w.wake = make(chan struct{}, 1)
	cq.waiting = append(cq.waiting, w)
	sh.mu.Unlock()

	select {
	case <-w.wake:
		return w.state.Load() == stateTurn, nil
	case <-ctx.Done():
	}
	sh.mu.Lock()
	switch w.state.Load() {
	case stateQueued:
		for i, x := range cq.waiting {
			if x == w {
				cq.waiting = append(cq.waiting[:i], cq.waiting[i+1:]...)
				break
			}
		}
		sh.mu.Unlock()
		return false, ctx.Err()
	case stateTurn:
		// Handed the turn just as we gave up: pass it on untouched.
		sh.mu.Unlock()
		<-w.wake
		q.release(id)
		return false, ctx.Err()
	}
	sh.mu.Unlock()
	<-w.wake // taken: the answer comes, whatever our context says
	return false, nil
}

// take returns the Record callers queued for the case, first come first,
// up to max of them and stopping at the first exclusive one, and marks
// them taken. Call it holding the case's turn.
func (q *caseQueues) take(id uuid.UUID, max int) []*waiter {
	sh := q.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cq := sh.m[id]
	n := 0
	for n < len(cq.waiting) && n < max && cq.waiting[n].rec != nil {
		n++
	}
	if n == 0 {
		return nil
	}
	taken := make([]*waiter, n)
	copy(taken, cq.waiting[:n])
	for _, w := range taken {
		w.state.Store(stateTaken)
	}
	rest := copy(cq.waiting, cq.waiting[n:])
	clear(cq.waiting[rest:])
	cq.waiting = cq.waiting[:rest]
	return taken
}

// answered wakes a taken caller whose recordReq holds its answer.
func (w *waiter) answered() {
	w.state.Store(stateDone)
	w.wake <- struct{}{}
}

// release gives up the case's turn: to the first caller queued, or, if
// none, leaves the case idle.
func (q *caseQueues) release(id uuid.UUID) {
	sh := q.shard(id)
	sh.mu.Lock()
	cq := sh.m[id]
	if len(cq.waiting) == 0 {
		delete(sh.m, id)
		sh.mu.Unlock()
		return
	}
	next := cq.waiting[0]
	cq.waiting[0] = nil
	cq.waiting = cq.waiting[1:]
	next.state.Store(stateTurn)
	sh.mu.Unlock()
	next.wake <- struct{}{}
}

// lockCase takes the case's turn for exclusive use (Open, Load): no Record
// batch of the case runs until unlock is called.
func (s *Service) lockCase(ctx context.Context, id uuid.UUID) (unlock func(), err error) {
	if _, err := s.queues.wait(ctx, id, &waiter{}); err != nil {
		return nil, err
	}
	// An exclusive waiter is never taken into a batch: it returns holding
	// the turn.
	return func() { s.queues.release(id) }, nil
}
