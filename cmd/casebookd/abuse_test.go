package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	main "github.com/casebook/casebook/cmd/casebookd"
)

// The abuse tests replay, at a smaller scale, what issue 13 did to
// casebookd as an attacker would, and check what must hold instead. They
// log the figures they measure (go test -v -run Abuse).

// lineCounter is a log output that keeps nothing: it counts lines and
// remembers the longest, so that logging cannot hide a memory test's
// result.
type lineCounter struct {
	mu      sync.Mutex
	lines   int
	longest int
	errors  int
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.lines++
		l.longest = max(l.longest, len(line))
		if strings.Contains(line, `"level":"ERROR"`) {
			l.errors++
		}
	}
	return len(p), nil
}

// liveHeap is the heap that survives a collection: what the process keeps.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// hostileMethods sends n requests `<8 random letters>MMMM…(60,000 bytes)
// /healthz HTTP/1.1` over conns keep-alive connections and returns how
// many were not refused with 501.
func hostileMethods(t *testing.T, addr string, n, conns int) (not501 int64) {
	t.Helper()
	var wg sync.WaitGroup
	var bad atomic.Int64
	var firstErr atomic.Value
	tail := strings.Repeat("M", 60_000)
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			for i := w; i < n; i += conns {
				var prefix [8]byte
				for j := range prefix {
					prefix[j] = byte('A' + rand.IntN(26))
				}
				if _, err := fmt.Fprintf(conn, "%s%s /healthz HTTP/1.1\r\nHost: casebook\r\n\r\n", prefix[:], tail); err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotImplemented {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		t.Fatalf("hostile requests: %v", e)
	}
	return bad.Load()
}

func TestAbuseInventedMethodsLeaveMetricsAndMemoryFlat(t *testing.T) {
	logs := &lineCounter{}
	m := main.NewMain()
	m.LogOutput = logs
	dir := t.TempDir()
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data")}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	addr := strings.TrimPrefix(m.URL(), "http://")
	client := &http.Client{Timeout: 30 * time.Second}
	metricsSize := func() int {
		t.Helper()
		resp, err := client.Get(m.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}

	hostileMethods(t, addr, 50, 4) // warm up the server's pools and buffers
	metricsSize()                  // the /metrics route's own series appears
	metrics0, heap0 := metricsSize(), liveHeap()
	const total, batch = 5000, 500
	var not501 int64
	for sent := batch; sent <= total; sent += batch {
		not501 += hostileMethods(t, addr, batch, 8)
		// Memory first: on a build that keeps a series per method,
		// scraping /metrics would be the expensive part.
		if heap := liveHeap(); float64(heap) > 1.1*float64(heap0) {
			t.Fatalf("after %d requests with invented methods the live heap is %d bytes, %.2fx the %d before (limit 1.1x)",
				sent, heap, float64(heap)/float64(heap0), heap0)
		}
		if size := metricsSize(); float64(size) > 1.1*float64(metrics0) {
			t.Fatalf("after %d requests with invented methods /metrics is %d bytes, %.2fx the %d before (limit 1.1x)",
				sent, size, float64(size)/float64(metrics0), metrics0)
		}
	}
	metrics1, heap1 := metricsSize(), liveHeap()
	t.Logf("%d requests with 60,000-byte invented methods: /metrics %d → %d bytes (%.3fx), live heap %d → %d bytes (%.3fx); longest log line %d bytes",
		total, metrics0, metrics1, float64(metrics1)/float64(metrics0), heap0, heap1, float64(heap1)/float64(heap0), logs.longest)
	if not501 > 0 {
		t.Errorf("%d of %d requests with an invented method were not answered 501", not501, total)
	}
	if logs.longest > 1024 {
		t.Errorf("a log line of %d bytes: method and path must be cut short", logs.longest)
	}
}

// healthProbe measures GET /healthz latencies until stopped.
type healthProbe struct {
	stop    chan struct{}
	done    chan struct{}
	samples []time.Duration
}

func startHealthProbe(url string) *healthProbe {
	p := &healthProbe{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			resp, err := client.Get(url + "/healthz")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				p.samples = append(p.samples, time.Since(start))
			}
		}
	}()
	return p
}

// p50 stops the probe and returns its median latency.
func (p *healthProbe) p50() time.Duration {
	close(p.stop)
	<-p.done
	if len(p.samples) == 0 {
		return 0
	}
	slices.Sort(p.samples)
	return p.samples[len(p.samples)/2]
}

// bystander sends n sequential requests as another principal and returns
// how many succeeded and the statuses of the others.
func bystander(t *testing.T, s *server, n int, path, as string) (ok int, others map[int]int) {
	t.Helper()
	others = map[int]int{}
	for range n {
		r := s.do(t, req{method: "GET", path: path, as: as})
		if r.Status == http.StatusOK {
			ok++
		} else {
			others[r.Status]++
		}
	}
	return ok, others
}

// stalledPosts opens n connections that each send a POST's headers and
// the first bytes of its body, then stop: the body never arrives. It
// returns a function that reads each connection's status line.
func stalledPosts(t *testing.T, s *server, n int, path, as string) func() map[string]int {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: casebook\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"type\":",
			path, tokenOf[as])
		conns[i] = conn
	}
	return func() map[string]int {
		statuses := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, conn := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				line, err := bufio.NewReader(conn).ReadString('\n')
				if err != nil {
					line = "read: " + err.Error()
				}
				mu.Lock()
				statuses[strings.TrimSpace(line)]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		return statuses
	}
}

// metricValue reads one sample of /metrics (0 when absent).
func metricValue(t *testing.T, s *server, series string) float64 {
	t.Helper()
	r := s.do(t, req{method: "GET", path: "/metrics"})
	for _, line := range strings.Split(string(r.Body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

func TestAbuseOnePrincipalCannotLockOthersOut(t *testing.T) {
	// The server-wide cap is low enough that one principal alone could
	// fill it (as 1,100 requests filled the default 1,024 in the issue).
	const serverCap, flood = 64, 100
	// The bystander's 150 requests must all be answered while the stalled
	// bodies still hold the attacker's share, i.e. before this timeout: 8 s
	// leaves room for a machine busy with the rest of the suite (with 4 s
	// this subtest failed twice in whole-suite runs on a machine shared
	// with another suite, and passed alone).
	const readTimeout = 8 * time.Second
	s := startServer(t, func(c *main.Config) {
		c.MaxRequests = serverCap
		c.ReadTimeout = readTimeout
		c.ReadModelWait = 2 * time.Second
	})
	victim := s.openCase(t, invUKBA, "UKBA-ABUSE-1")
	s.openCase(t, invSOCA, "SOCA-ABUSE-1")
	const probes = 150 // the bystander's requests per abuse: within its own burst

	t.Run("bodies that never arrive", func(t *testing.T) {
		health := startHealthProbe(s.url)
		start := time.Now()
		finish := stalledPosts(t, s, flood, "/v1/cases/"+victim.ID+"/events", invUKBA)
		// Let the stalled requests reach their handlers.
		for time.Since(start) < 2*time.Second && metricValue(t, s, "casebook_http_requests_in_flight") < float64(main.DefaultConfig().Limits.PrincipalConcurrent) {
			time.Sleep(20 * time.Millisecond)
		}
		ok, others := bystander(t, s, probes, "/v1/cases", invSOCA)
		if elapsed := time.Since(start); elapsed >= readTimeout {
			t.Fatalf("the bystander's requests took until %v, past the stalled bodies' read timeout", elapsed)
		}
		p50 := health.p50()
		statuses := finish()
		t.Logf("%d stalled bodies from one investigator (server cap %d): another investigator's GET /v1/cases succeeded %d/%d (%.1f%%), others %v; /healthz p50 %v; the stalled requests got %v",
			flood, serverCap, ok, probes, 100*float64(ok)/probes, others, p50, statuses)
		if float64(ok) < 0.99*probes {
			t.Errorf("the other principal succeeded on %d of %d requests (want ≥ 99%%): %v", ok, probes, others)
		}
		// The stalled bodies end as the client's failure, and the answer
		// reaches the client; the rest were refused at once as over the
		// principal's share.
		share := main.DefaultConfig().Limits.PrincipalConcurrent
		if statuses["HTTP/1.1 408 Request Timeout"] != share || statuses["HTTP/1.1 429 Too Many Requests"] != flood-share {
			t.Errorf("stalled requests answered %v, want %d × 408 and %d × 429", statuses, share, flood-share)
		}
	})

	t.Run("waits for min_position", func(t *testing.T) {
		health := startHealthProbe(s.url)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var answers sync.Map // status → *atomic.Int64
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: flood}}
		for range flood {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					hr, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/v1/reports/summary?min_position=999999999", nil)
					hr.Header.Set("Authorization", "Bearer "+tokenOf[analyst])
					resp, err := client.Do(hr)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						v, _ := answers.LoadOrStore(resp.StatusCode, new(atomic.Int64))
						v.(*atomic.Int64).Add(1)
					}
					cancel()
					time.Sleep(10 * time.Millisecond)
				}
			}()
		}
		start := time.Now()
		for time.Since(start) < 2*time.Second && metricValue(t, s, "casebook_http_requests_in_flight") < float64(main.DefaultConfig().Limits.PrincipalConcurrent) {
			time.Sleep(20 * time.Millisecond)
		}
		ok, others := bystander(t, s, probes, "/v1/cases", invSOCA)
		p50 := health.p50()
		close(stop)
		wg.Wait()
		client.CloseIdleConnections()
		got := map[int]int64{}
		answers.Range(func(k, v any) bool { got[k.(int)] = v.(*atomic.Int64).Load(); return true })
		t.Logf("%d analysts' connections waiting for min_position (server cap %d): an investigator's GET /v1/cases succeeded %d/%d (%.1f%%), others %v; /healthz p50 %v; the flood got %v",
			flood, serverCap, ok, probes, 100*float64(ok)/probes, others, p50, got)
		if float64(ok) < 0.99*probes {
			t.Errorf("the other principal succeeded on %d of %d requests (want ≥ 99%%): %v", ok, probes, others)
		}
		if got[http.StatusTooManyRequests] == 0 {
			t.Errorf("the flood was never refused as over its share: %v", got)
		}
	})

	// Neither abuse is an operator's problem: nothing at ERROR.
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("logged as an error: %s", tail(line, 400))
			break
		}
	}
}
