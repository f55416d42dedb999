package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/casebook/casebook/eventstore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	resubscribeMinBackoff = 50 * time.Millisecond
	resubscribeMaxBackoff = 5 * time.Second
)

// subItem is what a subscription's reader hands its subscriber.
type subItem struct {
	ev       eventstore.RecordedEvent
	overflow bool  // the subscriber fell too far behind
	lost     error // the store stayed unreachable for ResubscribeFor
	err      error // any other end
}

// Subscribe delivers matching events of the global log: history after
// opts.After, then live events. A reader goroutine follows a KurrentDB
// catch-up subscription and resubscribes from the last position it saw
// when the subscription drops; while catching up it reads only as fast as
// the subscriber, once live it buffers up to SubscriberBuffer events.
func (s *Store) Subscribe(ctx context.Context, opts eventstore.SubscribeOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		if s.isClosed() {
			yield(eventstore.RecordedEvent{}, fmt.Errorf("kurrentdb: subscribe: %w", eventstore.ErrClosed))
			return
		}
		cctx, cancel := s.callContext(ctx)
		sub := &subscription{
			s:      s,
			filter: opts.Filter,
			ch:     make(chan subItem, s.opts.SubscriberBuffer),
		}
		sub.start.Store(uint64(opts.After))
		sub.resolved.Store(!opts.FromEnd)
		// The reader stops when cctx ends. It is not waited for: a call
		// stuck inside the client must not hold the subscriber.
		go sub.run(cctx)
		defer cancel()

		last := opts.After // position of the last event yielded
		resumeAfter := func() eventstore.Position {
			if last == eventstore.Start && opts.FromEnd {
				return eventstore.Position(sub.start.Load())
			}
			return last
		}
		for {
			select {
			case it := <-sub.ch:
				switch {
				case it.overflow:
					yield(eventstore.RecordedEvent{}, &eventstore.SubscriptionDroppedError{
						ResumeAfter: resumeAfter(),
						Reason:      fmt.Sprintf("subscriber fell more than %d live events behind", s.opts.SubscriberBuffer),
					})
					return
				case it.lost != nil:
					if !sub.resolved.Load() {
						// "From now on" was never pinned to a position.
						yield(eventstore.RecordedEvent{}, s.translate(ctx, "subscribe", it.lost))
						return
					}
					yield(eventstore.RecordedEvent{}, fmt.Errorf("kurrentdb: %w: %w", &eventstore.SubscriptionDroppedError{
						ResumeAfter: resumeAfter(),
						Reason:      fmt.Sprintf("store unreachable for %s: %v", s.opts.ResubscribeFor, it.lost),
					}, eventstore.ErrUnavailable))
					return
				case it.err != nil:
					yield(eventstore.RecordedEvent{}, s.translate(ctx, "subscribe", it.err))
					return
				}
				if !yield(it.ev, nil) {
					return
				}
				last = it.ev.Position
			case <-cctx.Done():
				if s.isClosed() {
					yield(eventstore.RecordedEvent{}, fmt.Errorf("kurrentdb: subscribe: %w", eventstore.ErrClosed))
				} else {
					yield(eventstore.RecordedEvent{}, ctx.Err())
				}
				return
			}
		}
	}
}

type subscription struct {
	s        *Store
	filter   eventstore.Filter
	ch       chan subItem
	start    atomic.Uint64 // where delivery started (After, or the head for FromEnd)
	resolved atomic.Bool   // start is known
}

// run follows the store until ctx ends or it hands over a final item.
func (sub *subscription) run(ctx context.Context) {
	s := sub.s
	resume := eventstore.Position(sub.start.Load()) // last position seen, events or checkpoints
	backoff := resubscribeMinBackoff
	var failingSince time.Time
	normalized := false

	for ctx.Err() == nil {
		var err error
		if !sub.resolved.Load() {
			var head eventstore.Position
			if head, err = s.rawHead(ctx); err == nil {
				resume = head
				sub.start.Store(uint64(head))
				sub.resolved.Store(true)
			}
		}
		progressed := false
		if err == nil {
			var final bool
			progressed, final, err = sub.follow(ctx, &resume)
			if final {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		if isInvalidPosition(err) && !normalized {
			// After is not the start of a record: resume after the newest
			// record at or before it instead, which skips the same events.
			normalized = true
			if p, perr := s.lastRecordBefore(ctx, resume+1); perr == nil {
				resume = p
				continue
			} else {
				err = perr
			}
		}
		if !retryable(err) {
			sub.finish(ctx, subItem{err: err})
			return
		}
		if progressed || failingSince.IsZero() {
			failingSince = time.Now()
			backoff = resubscribeMinBackoff
		}
		if time.Since(failingSince) > s.opts.ResubscribeFor {
			sub.finish(ctx, subItem{lost: err})
			return
		}
		s.log.Warn("kurrentdb: subscription dropped; resubscribing", "after", uint64(resume), "in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(backoff*2, resubscribeMaxBackoff)
	}
}

// retryable reports whether a subscription that ended with err should
// resubscribe: the store went away or dropped it, not a refusal.
func retryable(err error) bool {
	if err == nil || errors.Is(err, eventstore.ErrUnavailable) || isUnavailable(err) || isConnectionClosed(err) {
		return true
	}
	var esErr *esdb.Error
	if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeDeadlineExceeded {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted, codes.ResourceExhausted, codes.Internal, codes.DeadlineExceeded:
		return true
	}
	return false
}

// finish hands the subscriber its last item (after the events before it).
func (sub *subscription) finish(ctx context.Context, it subItem) {
	select {
	case sub.ch <- it:
	case <-ctx.Done():
	}
}

// follow runs one KurrentDB subscription from *resume until it drops. It
// reports whether it delivered or checkpointed anything, and final when
// it has handed the subscriber its last item.
func (sub *subscription) follow(ctx context.Context, resume *eventstore.Position) (progressed, final bool, err error) {
	s := sub.s
	g, err := s.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer func() { s.release(g, err) }()
	scope, cancel := context.WithCancel(ctx)
	defer cancel()
	es, err := g.client.SubscribeToAll(scope, esdb.SubscribeToAllOptions{
		From:   allPosition(*resume),
		Filter: serverFilter(sub.filter),
	})
	if err != nil {
		return false, false, err
	}
	defer func() { _ = es.Close() }()

	live := false
	for {
		ev := es.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			err := ev.SubscriptionDropped.Error
			if err == nil {
				err = errors.New("subscription dropped")
			}
			return progressed, false, err
		case ev.CaughtUp != nil:
			live = true
		case ev.CheckPointReached != nil:
			if p := eventstore.Position(ev.CheckPointReached.Commit); p > *resume {
				*resume = p
				progressed = true
			}
		case ev.EventAppeared != nil:
			e := ev.EventAppeared.Event
			if e == nil {
				continue
			}
			p := eventstore.Position(e.Position.Commit)
			if p <= *resume {
				continue // already delivered before a resubscription
			}
			*resume = p
			progressed = true
			if isSystem(e) || !sub.filter.Matches(e.StreamID, e.EventType) {
				continue
			}
			it := subItem{ev: toRecorded(e)}
			if !live {
				// Catching up: read history only as fast as it is consumed.
				select {
				case sub.ch <- it:
				case <-ctx.Done():
					return progressed, true, nil
				}
				continue
			}
			select {
			case sub.ch <- it:
				continue
			default:
			}
			// Live and a full buffer behind. A subscriber that makes no room
			// within the grace period is dropped rather than let hold the
			// store's stream; one that was only briefly behind carries on.
			grace := time.NewTimer(s.opts.SlowSubscriberGrace)
			select {
			case sub.ch <- it:
				grace.Stop()
			case <-grace.C:
				sub.finish(ctx, subItem{overflow: true})
				return progressed, true, nil
			case <-ctx.Done():
				grace.Stop()
				return progressed, true, nil
			}
		}
	}
}

// serverFilter is the part of a Filter KurrentDB can apply: stream
// prefixes or event types (as prefixes, made exact here), else at least no
// system events. The full filter is applied again on the client.
func serverFilter(f eventstore.Filter) *esdb.SubscriptionFilter {
	if len(f.StreamPrefixes) > 0 && !hasEmpty(f.StreamPrefixes) {
		return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: f.StreamPrefixes}
	}
	if len(f.EventTypes) > 0 && !hasEmpty(f.EventTypes) {
		return &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: f.EventTypes}
	}
	return esdb.ExcludeSystemEventsFilter()
}

func hasEmpty(ss []string) bool {
	for _, s := range ss {
		if s == "" {
			return true
		}
	}
	return false
}
