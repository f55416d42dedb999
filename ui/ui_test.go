package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func newTestHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The entry page names the built assets, and every one of them is served.
func TestEntryPageAndAssets(t *testing.T) {
	h := newTestHandler(t)
	w := serve(t, h, "GET", "/ui/")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ui/: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	if got := w.Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("entry page Cache-Control %q, want no-cache", got)
	}
	page := w.Body.String()
	assets := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(assets) < 3 {
		t.Fatalf("the entry page names %d assets: %s", len(assets), page)
	}
	for _, m := range assets {
		if strings.HasPrefix(m[1], "#") {
			continue // a link within the page
		}
		if strings.Contains(m[1], ":") || strings.HasPrefix(m[1], "/") {
			t.Errorf("the entry page loads %q: only relative same-origin files", m[1])
		}
		a := serve(t, h, "GET", "/ui/"+m[1])
		if a.Code != http.StatusOK || a.Body.Len() == 0 {
			t.Errorf("GET /ui/%s: %d (%d bytes)", m[1], a.Code, a.Body.Len())
		}
		if cc := a.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("asset %s Cache-Control %q, want immutable", m[1], cc)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "style=") || strings.Contains(page, "<style") {
		t.Error("the entry page has inline script or style")
	}
}

// Every answer, errors included, carries the CSP and security headers.
func TestSecurityHeaders(t *testing.T) {
	h := newTestHandler(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/ui/", http.StatusOK},
		{"HEAD", "/ui/index.html", http.StatusOK},
		{"GET", "/ui/nope.js", http.StatusNotFound},
		{"POST", "/ui/", http.StatusMethodNotAllowed},
	} {
		w := serve(t, h, tc.method, tc.path)
		if w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.status)
		}
		for k, v := range securityHeaders {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s %s: %s %q, want %q", tc.method, tc.path, k, got, v)
			}
		}
	}
	csp := securityHeaders["Content-Security-Policy"]
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "http") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q allows inline code or other origins", csp)
	}
}

// Clients that accept gzip get the files compressed, and the bytes
// decompress to the file; others get them as they are.
func TestGzip(t *testing.T) {
	h := newTestHandler(t)
	plain := serve(t, h, "GET", "/ui/index.html")
	for _, ae := range []string{"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "*"} {
		w := serve(t, h, "GET", "/ui/index.html", "Accept-Encoding", ae)
		if w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Vary") != "Accept-Encoding" {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q, Vary %q", ae, w.Header().Get("Content-Encoding"), w.Header().Get("Vary"))
		}
		zr, err := gzip.NewReader(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, plain.Body.Bytes()) {
			t.Fatalf("Accept-Encoding %q: decompressed body differs", ae)
		}
		if w.Header().Get("ETag") == plain.Header().Get("ETag") {
			t.Error("the gzip and plain forms share an ETag")
		}
	}
	for _, ae := range []string{"", "identity", "gzip;q=0", "br"} {
		if w := serve(t, h, "GET", "/ui/index.html", "Accept-Encoding", ae); w.Header().Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: compressed anyway", ae)
		}
	}
}

func TestConditionalGet(t *testing.T) {
	h := newTestHandler(t)
	first := serve(t, h, "GET", "/ui/", "Accept-Encoding", "gzip")
	etag := first.Header().Get("ETag")
	again := serve(t, h, "GET", "/ui/", "Accept-Encoding", "gzip", "If-None-Match", etag)
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Fatalf("If-None-Match %s: %d with %d bytes", etag, again.Code, again.Body.Len())
	}
	if other := serve(t, h, "GET", "/ui/", "Accept-Encoding", "gzip", "If-None-Match", `"other"`); other.Code != http.StatusOK {
		t.Fatalf("If-None-Match other: %d", other.Code)
	}
}
