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

// readyz answers 200 only while the store answers a ping and a configured
// identity provider has answered discovery, so a load balancer stops
// sending traffic while the store is down, the identity provider has not
// been reached, or the server is shutting down. Its 503 says which.
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
	if err := a.cfg.Auth.Ready(); err != nil {
		p := newProblem(ProblemUnavailable, "The OpenID Connect identity provider cannot be reached, so its tokens cannot be verified: %v.", err)
		p.Code = CodeIssuerUnavailable
		p.RetryAfter = 5
		writeProblem(c, p)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
