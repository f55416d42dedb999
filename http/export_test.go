package casehttp

import "github.com/gin-gonic/gin"

// Internals the external tests and benchmarks reach (this file is compiled
// into the package only for its tests).

// CallerLimitsForTest are the two per-caller limit middlewares as New wires
// them: failed authentications per address, then the principal's share.
func CallerLimitsForTest(l Limits, m *Metrics) (authFailures, principalShare gin.HandlerFunc) {
	l = l.withDefaults()
	return newAuthFailures(l, m).limitAuthFailures, newPrincipalShares(l, m).limitPrincipal(true)
}

// AuthenticateForTest marks the request as coming from p, as requireToken
// does for a valid token.
func AuthenticateForTest(p Principal) gin.HandlerFunc {
	return func(c *gin.Context) {
		rs := stateOf(c)
		rs.principal, rs.authenticated = p, true
		c.Next()
	}
}
