package casehttp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// liveItem is one step of the live log handed to the writer loop.
type liveItem struct {
	ev  core.LogEvent
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
	types, err := eventTypesParam(c)
	if err != nil {
		writeProblem(c, err)
		return
	}
	q := core.LiveQuery{Types: types}
	if id := strings.TrimSpace(c.GetHeader("Last-Event-ID")); id != "" {
		after, err := parseBoundedUint("Last-Event-ID", id, 0, maxQueryInteger)
		if err != nil {
			writeProblem(c, domain.BadParameter("Last-Event-ID", "Last-Event-ID must be the position of an event (an integer from 0 to %d).", maxQueryInteger))
			return
		}
		q.After = &after
	} else if _, ok := c.GetQuery("from_position"); ok {
		from, err := queryUint(c, "from_position", 0)
		if err != nil {
			writeProblem(c, err)
			return
		}
		q.FromPosition = &from
	}
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	events, err := a.core.Live(ctx, identity(c), q, consultation(c))
	if err != nil {
		writeProblem(c, err)
		return
	}

	// A stream outlives the server's read and write timeouts by design.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})

	items := make(chan liveItem)
	go func() {
		for ev, err := range events {
			select {
			case items <- liveItem{ev: ev, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies must not buffer the stream
	c.Status(http.StatusOK)
	if _, err := fmt.Fprintf(c.Writer, ": casebook live log\nretry: 2000\n\n"); err != nil {
		return
	}
	c.Writer.Flush()

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
			b, err := json.Marshal(it.ev)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(c.Writer, "id: %d\nevent: %s\ndata: %s\n\n", it.ev.Position, it.ev.Type, b); err != nil {
				return
			}
			c.Writer.Flush()
		}
	}
}
