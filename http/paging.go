package casehttp

import (
	"net/url"

	"github.com/gin-gonic/gin"
)

// Every list answers the URL of its next page while there is more: as
// `next` in the body and as a Link header (RFC 8288), whichever coordinate
// the list pages by (a version, a position or an opaque cursor), so that a
// client can follow `next` without knowing which.

// nextPage returns the next page's URL, relative to the server: the
// request's path with the query parameters named in keep (as the client
// gave them, already checked) and those of set. It also sets the Link
// header. Only named parameters are carried over, so the URL's length is
// bounded by theirs (openapi.yaml: at most 8192 characters).
func nextPage(c *gin.Context, set url.Values, keep ...string) *string {
	given := c.Request.URL.Query()
	q := url.Values{}
	for _, k := range keep {
		if v := given.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	for k, v := range set {
		q[k] = v
	}
	u := c.Request.URL.Path + "?" + q.Encode()
	c.Header("Link", "<"+u+`>; rel="next"`)
	return &u
}
