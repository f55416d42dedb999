package casehttp

import (
	"net/http"
	"net/url"
	"strconv"

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

// writeCasesPage answers a page of a list of cases (GET /v1/cases, GET
// /v1/reviews/due): the cases, the cursor and URL of the next page (null on
// the last; keep names the query parameters that page repeats) and the
// position of the read model it reflects, also in the position header.
func writeCasesPage(c *gin.Context, cases any, nextCursor string, position uint64, keep ...string) {
	var cursor, next *string
	if nextCursor != "" {
		cursor = &nextCursor
		next = nextPage(c, url.Values{"cursor": {nextCursor}}, keep...)
	}
	c.Header(HeaderPosition, strconv.FormatUint(position, 10))
	c.JSON(http.StatusOK, gin.H{"cases": cases, "next_cursor": cursor, "next": next, "position": position})
}
