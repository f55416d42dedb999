// Package ui serves Casebook's dashboard for analysts, auditors and admins:
// the page built from ui/web (TypeScript, see ui/web/build.mjs) into
// ui/dist, embedded in the binary so that casebookd alone serves it, with
// nothing fetched from elsewhere.
//
// Every answer carries a strict Content-Security-Policy (scripts, styles
// and API calls from this origin only; no inline script or style) and the
// usual security headers. Files are served gzip-compressed to clients that
// accept it (compressed once, at first use); the entry page is revalidated
// on every load and the content-hashed assets are cached for a year.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed dist
var dist embed.FS

// Prefix is where the dashboard is served.
const Prefix = "/ui/"

// ContentSecurityPolicy is sent with every answer under Prefix: the page's
// own origin for scripts, styles, images and API calls, and nothing else —
// no inline script or style, no plug-ins, no framing, no form posts.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'; object-src 'none'"

// securityHeaders are the headers every answer under Prefix carries.
var securityHeaders = map[string]string{
	"Content-Security-Policy":      ContentSecurityPolicy,
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Referrer-Policy":              "no-referrer",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Permissions-Policy":           "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

// file is one embedded file, ready to serve.
type file struct {
	name        string
	contentType string
	plain       []byte
	etag        string

	gzipOnce sync.Once
	gzipped  []byte // nil when compression does not make it smaller
}

// compressed returns the gzip form of the file, or nil when it would not
// be smaller (compressing is done once, on first demand).
func (f *file) compressed() []byte {
	f.gzipOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // the level is valid
		_, _ = zw.Write(f.plain)                               // writes to a bytes.Buffer do not fail
		_ = zw.Close()
		if b.Len() < len(f.plain) {
			f.gzipped = b.Bytes()
		}
	})
	return f.gzipped
}

// Handler serves the dashboard under Prefix.
type Handler struct {
	files map[string]*file // by path under Prefix ("" is the entry page)
}

// New reads the embedded build.
func New() (*Handler, error) { return newHandler(dist) }

func newHandler(fsys fs.FS) (*Handler, error) {
	sub, err := fs.Sub(fsys, "dist")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	h := &Handler{files: map[string]*file{}}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		h.files[p] = &file{name: p, contentType: ct, plain: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: read the embedded build: %w", err)
	}
	if h.files["index.html"] == nil {
		return nil, fmt.Errorf("ui: the embedded build has no index.html (run node ui/web/build.mjs)")
	}
	h.files[""] = h.files["index.html"]
	return h, nil
}

// ServeHTTP answers GET and HEAD for the files under Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	for k, v := range securityHeaders {
		hdr.Set(k, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	f := h.files[name]
	if !ok || f == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if f.name == "index.html" {
		// The entry page names the current assets: revalidate it each time.
		hdr.Set("Cache-Control", "no-cache")
	} else {
		// Assets are named after their content (app-<hash>.js).
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("Vary", "Accept-Encoding")
	body, etag := f.plain, f.etag
	if gz := f.compressed(); gz != nil && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		body, etag = gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
	}
	hdr.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// acceptsGzip reads Accept-Encoding values: gzip (or *) with a non-zero
// weight.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "*" {
				continue
			}
			q := 1.0
			if k, val, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}

// etagMatches reads If-None-Match: a list of entity tags, or *.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
