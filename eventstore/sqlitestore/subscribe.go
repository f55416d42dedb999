package sqlitestore

import (
	"context"
	"fmt"
	"iter"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casebook/casebook/eventstore"
)

// subscriberBufferBytes bounds the event data queued for one live
// subscriber, whatever SubscriberBuffer says, so that a stalled subscriber
// of large events cannot hold much memory.
const subscriberBufferBytes = 64 << 20

// hub hands committed events from the writer to live subscribers. publish
// never blocks: each subscriber has a bounded queue, and a subscriber whose
// queue would overflow is marked and dropped.
type hub struct {
	limit int
	n     atomic.Int32 // number of subscribers, read by the writer without the lock

	mu     sync.Mutex
	subs   map[*liveSub]struct{}
	closed bool
}

func newHub(limit int) *hub {
	return &hub{limit: limit, subs: make(map[*liveSub]struct{})}
}

// active reports whether anyone listens. The writer checks it after its
// commit: a subscriber registering later reads that commit from the file.
func (h *hub) active() bool { return h.n.Load() > 0 }

func (h *hub) register(f eventstore.Filter) (*liveSub, bool) {
	s := &liveSub{filter: f, limit: h.limit, wake: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	h.subs[s] = struct{}{}
	h.n.Add(1)
	return s, true
}

func (h *hub) unregister(s *liveSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		h.n.Add(-1)
	}
}

func (h *hub) publish(events []eventstore.RecordedEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.offer(events)
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		s.notify()
	}
}

// liveSub is one subscriber's queue of live events.
type liveSub struct {
	filter eventstore.Filter
	limit  int
	wake   chan struct{}

	mu         sync.Mutex
	queue      []eventstore.RecordedEvent
	queueBytes int
	overflowed bool
}

func (s *liveSub) offer(events []eventstore.RecordedEvent) {
	s.mu.Lock()
	if s.overflowed {
		s.mu.Unlock()
		return
	}
	added := false
	for i := range events {
		ev := &events[i]
		if !s.filter.Matches(ev.Stream, ev.Type) {
			continue
		}
		size := len(ev.Data) + len(ev.Metadata)
		if len(s.queue) >= s.limit || s.queueBytes+size > subscriberBufferBytes {
			s.overflowed = true
			clear(s.queue)
			s.queue, s.queueBytes = nil, 0
			break
		}
		s.queue = append(s.queue, *ev)
		s.queueBytes += size
		added = true
	}
	overflowed := s.overflowed
	s.mu.Unlock()
	if added || overflowed {
		s.notify()
	}
}

func (s *liveSub) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take swaps out the queued events; spare is reused as the next queue.
func (s *liveSub) take(spare []eventstore.RecordedEvent) (events []eventstore.RecordedEvent, overflowed bool) {
	clear(spare)
	s.mu.Lock()
	defer s.mu.Unlock()
	events, s.queue, s.queueBytes = s.queue, spare[:0], 0
	return events, s.overflowed
}

// reset forgets queued events and a past overflow.
func (s *liveSub) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.queue)
	s.queue, s.queueBytes, s.overflowed = s.queue[:0], 0, false
}

func (s *liveSub) isOverflowed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overflowed
}

// Subscribe implements eventstore.Store.
//
// It reads history from the file page by page, then registers for live
// events and reads the file once more: every event committed before the
// registration is in that last read, every event committed after it is in
// the live queue, and positions already delivered are skipped, so the
// hand-over has no gap and no duplicate. If the live queue overflows during
// the hand-over, the subscriber simply reads the file again; once live, an
// overflow ends the subscription with a *SubscriptionDroppedError.
//
// On a read-only store the live phase polls the file instead, since the
// writing process is another one.
//
// Live events delivered to several subscribers share their Data and
// Metadata arrays: treat them as read-only.
func (s *Store) Subscribe(ctx context.Context, opts eventstore.SubscribeOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		if err := s.check(ctx); err != nil {
			yield(eventstore.RecordedEvent{}, err)
			return
		}
		sub := subscription{s: s, ctx: ctx, yield: yield, filter: normalizeFilter(opts.Filter), last: opts.After}
		sub.run(opts.FromEnd)
	}
}

// testHookHandOver, set only by tests, runs between registering for live
// events and the last read of the file, where the two sources overlap.
var testHookHandOver func()

type subscription struct {
	s      *Store
	ctx    context.Context
	yield  func(eventstore.RecordedEvent, error) bool
	filter eventstore.Filter
	last   eventstore.Position // last position delivered (or the start point)
	live   *liveSub
	reader logReader
}

func (sub *subscription) run(fromEnd bool) {
	defer func() {
		if sub.live != nil {
			sub.s.hub.unregister(sub.live)
		}
	}()
	if sub.s.readOnly {
		if fromEnd {
			head, err := sub.s.Head(sub.ctx)
			if err != nil {
				sub.yield(eventstore.RecordedEvent{}, err)
				return
			}
			sub.last = head
		}
		sub.poll()
		return
	}
	if fromEnd {
		if !sub.register() {
			return
		}
		// Registered first: whatever commits after this point is queued.
		sub.last = eventstore.Position(sub.s.w.committed.Load())
	} else {
		if !sub.catchUp() {
			return
		}
		if !sub.register() {
			return
		}
		if testHookHandOver != nil {
			testHookHandOver()
		}
		for {
			if !sub.catchUp() {
				return
			}
			if !sub.live.isOverflowed() {
				break
			}
			// Writers outran the hand-over: forget the queue, read again.
			sub.live.reset()
		}
	}
	sub.deliverLive()
}

func (sub *subscription) register() bool {
	live, ok := sub.s.hub.register(sub.filter)
	if !ok {
		sub.yield(eventstore.RecordedEvent{}, eventstore.ErrClosed)
		return false
	}
	sub.live = live
	return true
}

// catchUp delivers matching events after sub.last from the file until a
// read finds nothing more. It returns false when the sequence must end
// (error yielded, or consumer stopped).
func (sub *subscription) catchUp() bool {
	cursor := toSQLPosition(sub.last)
	if cursor < math.MaxInt64 {
		cursor++ // the first position after the last one delivered
	}
	sub.reader = logReader{s: sub.s, filter: sub.filter, cursor: cursor, args: sub.reader.args, page: sub.reader.page, sc: sub.reader.sc}
	for {
		page, more, err := sub.reader.next(sub.ctx, pageSize)
		if err != nil {
			sub.yield(eventstore.RecordedEvent{}, err)
			return false
		}
		for _, ev := range page {
			if !sub.deliver(ev) {
				return false
			}
		}
		if !more {
			return true
		}
	}
}

func (sub *subscription) deliver(ev eventstore.RecordedEvent) bool {
	if err := sub.ctx.Err(); err != nil {
		sub.yield(eventstore.RecordedEvent{}, err)
		return false
	}
	sub.last = ev.Position
	return sub.yield(ev, nil)
}

func (sub *subscription) deliverLive() {
	var spare []eventstore.RecordedEvent
	for {
		events, overflowed := sub.live.take(spare)
		for _, ev := range events {
			if ev.Position <= sub.last {
				continue // already read from the file during the hand-over
			}
			if !sub.deliver(ev) {
				return
			}
		}
		spare = events
		if overflowed {
			sub.s.hub.unregister(sub.live)
			sub.live = nil
			sub.s.log.Warn("event store: dropped a slow subscriber", "resume_after", uint64(sub.last))
			sub.yield(eventstore.RecordedEvent{}, &eventstore.SubscriptionDroppedError{
				ResumeAfter: sub.last,
				Reason:      fmt.Sprintf("subscriber fell more than %d events behind", sub.s.opts.SubscriberBuffer),
			})
			return
		}
		if len(events) > 0 {
			continue
		}
		select {
		case <-sub.live.wake:
		case <-sub.ctx.Done():
			sub.yield(eventstore.RecordedEvent{}, sub.ctx.Err())
			return
		case <-sub.s.closing:
			sub.yield(eventstore.RecordedEvent{}, eventstore.ErrClosed)
			return
		}
	}
}

// poll is the live phase of a read-only store: read the file, wait, repeat.
func (sub *subscription) poll() {
	t := time.NewTicker(sub.s.opts.PollInterval)
	defer t.Stop()
	for {
		if !sub.catchUp() {
			return
		}
		select {
		case <-t.C:
		case <-sub.ctx.Done():
			sub.yield(eventstore.RecordedEvent{}, sub.ctx.Err())
			return
		case <-sub.s.closing:
			sub.yield(eventstore.RecordedEvent{}, eventstore.ErrClosed)
			return
		}
	}
}
