package casehttp

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz answers while the process is alive and serving HTTP.
func (a *api) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 only while the store answers a ping, so a load
// balancer stops sending traffic while the store is down or the server is
// shutting down.
func (a *api) readyz(c *gin.Context) {
	select {
	case <-a.cfg.Shutdown:
		p := newProblem(ProblemUnavailable, "The server is shutting down.")
		p.RetryAfter = 1
		writeProblem(c, p)
		return
	default:
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := a.core.Ready(ctx); err != nil {
		writeProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
