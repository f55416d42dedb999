package casehttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
)

// liveItem is one step of a subscription handed to the writer loop.
type liveItem struct {
	ev  eventstore.RecordedEvent
	err error
}

// liveLog: GET /v1/events/live — the global log as Server-Sent Events
// (auditors). Each event is `id: <position>`, `event: <type>`, `data: <the
// event as in GET /v1/events>`; a client that reconnects with
// Last-Event-ID resumes right after the last event it received.
func (a *api) liveLog(c *gin.Context) {
	select {
	case a.live <- struct{}{}:
		defer func() { <-a.live }()
	default:
		p := newProblem(ProblemOverloaded, "The server is serving its maximum of %d live streams.", cap(a.live))
		p.RetryAfter = 5
		writeProblem(c, p)
		return
	}
	opts := eventstore.SubscribeOptions{FromEnd: true}
	if id := strings.TrimSpace(c.GetHeader("Last-Event-ID")); id != "" {
		after, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			writeProblem(c, fieldProblem(ProblemInvalidParameter, "Last-Event-ID", "Last-Event-ID must be the position of an event (an integer)."))
			return
		}
		opts = eventstore.SubscribeOptions{After: eventstore.Position(after)}
	} else if _, ok := c.GetQuery("from_position"); ok {
		from, err := queryUint(c, "from_position", 0, 0)
		if err != nil {
			writeProblem(c, err)
			return
		}
		// from_position is inclusive; the store's After is exclusive.
		opts = eventstore.SubscribeOptions{After: eventstore.Position(max(from, 1) - 1)}
	}
	types, err := eventTypesParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	opts.Filter = eventstore.Filter{StreamPrefixes: caseEventsOnly, EventTypes: types}

	// A stream outlives the server's read and write timeouts by design.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})

	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	items := make(chan liveItem)
	go a.subscribe(ctx, opts, items)

	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies must not buffer the stream
	c.Status(http.StatusOK)
	if _, err := fmt.Fprintf(c.Writer, ": casebook live log\nretry: 2000\n\n"); err != nil {
		return
	}
	c.Writer.Flush()

	rd := readerOf(c)
	reported := map[uuid.UUID]bool{} // cases already in this stream's access log entries
	heartbeat := time.NewTicker(a.cfg.LiveHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.cfg.Shutdown:
			_, _ = fmt.Fprintf(c.Writer, "event: shutdown\ndata: {}\n\n")
			c.Writer.Flush()
			return
		case <-heartbeat.C:
			if _, err := fmt.Fprintf(c.Writer, ": keep-alive\n\n"); err != nil {
				return
			}
			c.Writer.Flush()
		case it := <-items:
			if it.err != nil {
				a.logger.LogAttrs(ctx, slog.LevelWarn, "live log stream ended",
					slog.String("request_id", requestID(c)), slog.String("error", it.err.Error()))
				_, _ = fmt.Fprintf(c.Writer, "event: error\ndata: {\"detail\":\"the stream ended; reconnect with Last-Event-ID\"}\n\n")
				c.Writer.Flush()
				return
			}
			b, caseID := logEventJSON(it.ev)
			if caseID != uuid.Nil && !reported[caseID] {
				if err := a.appendRead(ctx, rd, caseID); err != nil {
					// A read that cannot be recorded is not served.
					_, _ = fmt.Fprintf(c.Writer, "event: error\ndata: {\"detail\":\"the read could not be recorded in the access log\"}\n\n")
					c.Writer.Flush()
					return
				}
				reported[caseID] = true
			}
			if _, err := fmt.Fprintf(c.Writer, "id: %d\nevent: %s\ndata: %s\n\n", it.ev.Position, it.ev.Type, b); err != nil {
				return
			}
			c.Writer.Flush()
		}
	}
}

// subscribe feeds items from the store's subscription until ctx ends. When
// the store drops a slow subscriber it resumes where it was told to, so the
// client sees neither a gap nor a duplicate.
func (a *api) subscribe(ctx context.Context, opts eventstore.SubscribeOptions, items chan<- liveItem) {
	send := func(it liveItem) bool {
		select {
		case items <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		var dropped *eventstore.SubscriptionDroppedError
		resumed := false
		for ev, err := range a.cfg.Store.Subscribe(ctx, opts) {
			if errors.As(err, &dropped) {
				opts = eventstore.SubscribeOptions{After: dropped.ResumeAfter, Filter: opts.Filter}
				resumed = true
				break
			}
			if err != nil {
				send(liveItem{err: err})
				return
			}
			if !send(liveItem{ev: ev}) {
				return
			}
		}
		if !resumed {
			if ctx.Err() == nil {
				send(liveItem{err: eventstore.ErrClosed})
			}
			return
		}
	}
}
