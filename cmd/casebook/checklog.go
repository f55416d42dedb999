package main

import (
	"context"
	"iter"
	"runtime"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// linkBatch is a run of consecutive events of the log and their links,
// checked by a worker; done is closed when links is filled.
type linkBatch struct {
	events []eventstore.RecordedEvent
	links  []domain.Link
	done   chan struct{}
}

// linkBatchSize is the number of events a worker checks at a time: large
// enough that handing batches over costs nothing next to checking them.
const linkBatchSize = 256

// checkLog checks every chain of a log read in order, up to and including
// head, leaving out the streams skip names. visit (may be nil) sees each
// event checked, in log order.
//
// What costs is checking each event on its own (domain.CheckLink: a
// decode, an encode and a hash); that runs on every core while the log is
// read, and the links are then chained in log order on this goroutine
// (figures: README, "Reports at national scale").
func checkLog(ctx context.Context, log iter.Seq2[eventstore.RecordedEvent, error], head eventstore.Position,
	skip func(stream string) bool, visit func(eventstore.RecordedEvent)) (*chainChecker, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *linkBatch, 2*workers)
	ordered := make(chan *linkBatch, 4*workers)
	for range workers {
		go func() {
			for b := range work {
				b.links = make([]domain.Link, len(b.events))
				for i, ev := range b.events {
					b.links[i] = domain.CheckLink(toStored(ev))
				}
				close(b.done)
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(work)
		defer close(ordered)
		b := &linkBatch{done: make(chan struct{})}
		send := func() bool {
			// ordered first: the consumer waits on each batch in turn.
			select {
			case ordered <- b:
			case <-ctx.Done():
				return false
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return false
			}
			b = &linkBatch{done: make(chan struct{})}
			return true
		}
		for ev, err := range log {
			if err != nil {
				readErr <- err
				return
			}
			if ev.Position > head {
				break
			}
			if skip(ev.Stream) {
				continue
			}
			b.events = append(b.events, ev)
			if len(b.events) == linkBatchSize && !send() {
				return
			}
		}
		if len(b.events) > 0 {
			send()
		}
	}()

	checker := newChainChecker()
	for b := range ordered {
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		for i, ev := range b.events {
			checker.addLinked(ev, &b.links[i])
			if visit != nil {
				visit(ev)
			}
		}
	}
	select {
	case err := <-readErr:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return checker, nil
}
