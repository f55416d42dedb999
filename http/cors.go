package casehttp

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// CORS: browsers may call the API from the origins casebookd is given
// (--cors-origin), and from no other. An allowed Origin is echoed in
// Access-Control-Allow-Origin and its preflight requests are answered; any
// other origin gets no CORS header, so the browser keeps the answer from
// the page. Tokens travel in Authorization, never in cookies, so
// credentials are not allowed.

// maxOriginLength bounds an allowed origin (openapi.yaml documents
// Access-Control-Allow-Origin as at most 2048 characters).
const maxOriginLength = 2048

var (
	corsAllowMethods  = "GET, POST"
	corsAllowHeaders  = "Authorization, Content-Type, If-Match, Last-Event-ID, X-Request-ID"
	corsExposeHeaders = "ETag, Location, Link, Retry-After, X-Request-ID, " + HeaderPosition
)

// CheckCORSOrigin reports whether s is an origin that can be allowed: a
// scheme (http or https) and a host with an optional port, nothing else
// (https://cases.example.org).
func CheckCORSOrigin(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil, len(s) > maxOriginLength:
		return fmt.Errorf("CORS origin %.80q: not an origin like https://cases.example.org", s)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.User != nil,
		u.Path != "", u.RawQuery != "", u.Fragment != "", strings.HasSuffix(s, "/"):
		return fmt.Errorf("CORS origin %.80q: want scheme://host[:port], without path, like https://cases.example.org", s)
	}
	return nil
}

// allowOrigins answers CORS for the allowed origins.
func allowOrigins(origins []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		origin := c.GetHeader("Origin")
		if origin == "" || !slices.Contains(origins, origin) {
			c.Next()
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			// A preflight: no route answers OPTIONS, so it ends here.
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		c.Next()
	}
}
