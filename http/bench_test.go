package casehttp_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	casehttp "github.com/casebook/casebook/http"
)

// The body scripts/load/post.lua sends.
const benchEventBody = `{"type":"IntelligenceLogged","data":{"summary":"Lorry with concealed compartment seen at Coquelles","grading":"2B1"}}`

// benchLogOutput is where the benchmarked server's logs go: a real file
// (/dev/null), so that a write costs a system call as stderr does, either
// straight or through a BufferedLogWriter.
func benchLogOutput(b *testing.B, buffered bool) io.Writer {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	if !buffered {
		return f
	}
	w := casehttp.NewBufferedLogWriter(f, 100*time.Millisecond)
	b.Cleanup(func() { _ = w.Close() })
	return w
}

// benchServer is the API over a real SQLite store with ncases open cases.
func benchServer(b *testing.B, logs io.Writer, ncases int) (http.Handler, []string) {
	b.Helper()
	store, err := sqlitestore.Open(b.Context(), filepath.Join(b.TempDir(), "events.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	tokens, err := casehttp.ParseTokens(strings.NewReader(investigatorToken+",officer.test,investigator,UKBA\n"), nil)
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	cb, err := core.New(core.Config{Store: store, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	// One principal drives the whole load, as in scripts/load/run.sh: its
	// share is checked on every request and refuses none.
	e, err := casehttp.New(casehttp.Config{Logger: logger, Core: cb, Auth: casehttp.NewAuthenticator(tokens), Limits: benchLimits})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, ncases)
	for i := range ids {
		body := `{"reference":"BENCH-` + strconv.Itoa(i) + `","title":"Bench case","crime_types":["people_smuggling"],"location":"Calais"}`
		ids[i] = createdCaseID(b, benchDo(e, "POST", "/v1/cases", body))
	}
	return e, ids
}

// benchLimits lets one principal run any load.
var benchLimits = casehttp.Limits{PrincipalConcurrent: 1 << 20, PrincipalRate: 1e12, PrincipalBurst: 1 << 30}

var benchHeader = http.Header{
	"Authorization": {"Bearer " + investigatorToken},
	"Content-Type":  {"application/json"},
}

// benchDo runs one request as net/http's server would hand it over: a
// parsed URL, the headers wrk sends, a body to read.
func benchDo(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := &http.Request{
		Method:        method,
		URL:           &url.URL{Path: path},
		RequestURI:    path,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        benchHeader,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          "127.0.0.1",
		RemoteAddr:    "127.0.0.1:40000",
	}
	req = req.WithContext(context.Background())
	w := &httptest.ResponseRecorder{HeaderMap: make(http.Header), Body: new(bytes.Buffer), Code: 200}
	h.ServeHTTP(w, req)
	return w
}

func benchRecordEvent(b *testing.B, buffered, parallel bool) {
	h, ids := benchServer(b, benchLogOutput(b, buffered), 64)
	paths := make([]string, len(ids))
	for i, id := range ids {
		paths[i] = "/v1/cases/" + id + "/events"
	}
	post := func(n int) {
		w := benchDo(h, "POST", paths[n%len(paths)], benchEventBody)
		if w.Code != http.StatusCreated {
			b.Errorf("%d %s", w.Code, w.Body)
		}
	}
	b.ReportAllocs()
	defer reportCPUPerOp(b)()
	if !parallel {
		for n := 0; b.Loop(); n++ {
			post(n)
		}
		return
	}
	// As many requests in flight as wrk's 64 connections, so that the
	// store commits them in batches and the CPU, not the disk, sets the
	// pace.
	b.SetParallelism(32)
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post(int(next.Add(1)))
		}
	})
}

// reportCPUPerOp adds cpu-ns/op, the process's CPU time per operation, to
// the results: on a machine shared with other work, wall time per
// operation (ns/op) also counts the time spent waiting for a core.
func reportCPUPerOp(b *testing.B) (stop func()) {
	start, ok := processCPU()
	return func() {
		end, _ := processCPU()
		if ok && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// BenchmarkRecordEvent is POST /v1/cases/{id}/events end to end in process:
// the HTTP layer, the domain and a durable SQLite append, 64 requests at a
// time over 64 cases (as scripts/load/run.sh).
func BenchmarkRecordEvent(b *testing.B) {
	b.Run("log=direct", func(b *testing.B) { benchRecordEvent(b, false, true) })
	b.Run("log=buffered", func(b *testing.B) { benchRecordEvent(b, true, true) })
}
