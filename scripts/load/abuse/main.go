// Command abuse replays issue 13's attacks on a running casebookd and
// prints what they did to it, for comparing builds (scripts/load/abuse.sh
// runs it against two). Loopback only; it is a measuring tool, not a test:
// the assertions live in cmd/casebookd/abuse_test.go.
//
//	abuse -url http://127.0.0.1:28390 -pid PID -attacker TOKEN -bystander TOKEN -analyst TOKEN -case ID SCENARIO
//
// Scenarios:
//
//	methods   5,000 requests `<8 random letters>MMMM…(60,000 bytes) /healthz`:
//	          /metrics size and the server's RSS before and after
//	slowbody  1,100 POSTs from one investigator whose bodies arrive a byte a
//	          second, while another investigator sends GET /v1/cases
//	minpos    1,100 parallel GET /v1/reports/summary?min_position=999999999
//	          from one analyst, while an investigator sends GET /v1/cases
//
// Each prints the bystander's success rate and the p50 of a /healthz probe
// during the attack.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	baseURL   = flag.String("url", "http://127.0.0.1:28390", "casebookd's base URL (loopback)")
	pid       = flag.Int("pid", 0, "casebookd's process id, for its RSS")
	attacker  = flag.String("attacker", "", "token of the investigator who attacks")
	bystander = flag.String("bystander", "", "token of another investigator")
	analyst   = flag.String("analyst", "", "token of the analyst who attacks (minpos)")
	caseID    = flag.String("case", "", "a case of the attacker's agency (slowbody)")
	conns     = flag.Int("conns", 1100, "attacking connections (slowbody, minpos)")
	requests  = flag.Int("requests", 5000, "requests with invented methods (methods)")
	duration  = flag.Duration("duration", 10*time.Second, "how long the bystander measures during an attack")
)

func main() {
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: abuse [flags] methods|slowbody|minpos")
	}
	addr := strings.TrimPrefix(*baseURL, "http://")
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("-url %s: loopback only", *baseURL)
	}
	switch flag.Arg(0) {
	case "methods":
		methods(addr)
	case "slowbody":
		slowBody(addr)
	case "minpos":
		minPosition()
	default:
		log.Fatalf("unknown scenario %q", flag.Arg(0))
	}
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2048, MaxConnsPerHost: 0}}

func get(path, token string) (int, int64) {
	req, _ := http.NewRequest("GET", *baseURL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n
}

func rss() string {
	if *pid == 0 {
		return "?"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", *pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// probe measures /healthz latencies every 20ms until stop is closed.
func probe(stop <-chan struct{}) func() time.Duration {
	var samples []time.Duration
	done := make(chan struct{})
	c := &http.Client{Timeout: 30 * time.Second}
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			resp, err := c.Get(*baseURL + "/healthz")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				samples = append(samples, time.Since(start))
			}
		}
	}()
	return func() time.Duration {
		<-done
		if len(samples) == 0 {
			return 0
		}
		slices.Sort(samples)
		return samples[len(samples)/2]
	}
}

// watch runs the bystander's GET /v1/cases (about 20 a second) and the
// health probe for the duration, then prints them.
func watch(what string) {
	stop := make(chan struct{})
	p50 := probe(stop)
	statuses := map[int]int{}
	tries, ok := 0, 0
	deadline := time.Now().Add(*duration)
	for time.Now().Before(deadline) {
		st, _ := get("/v1/cases", *bystander)
		statuses[st]++
		tries++
		if st == http.StatusOK {
			ok++
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	fmt.Printf("%s: bystander GET /v1/cases %d/%d ok (%.1f%%), statuses %v; /healthz p50 %v\n",
		what, ok, tries, 100*float64(ok)/float64(max(tries, 1)), statuses, p50())
}

func methods(addr string) {
	hostile := true
	send := func(n int) {
		var wg sync.WaitGroup
		tail := strings.Repeat("M", 60_000)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					conn, err := net.Dial("tcp", addr)
					if err != nil {
						return
					}
					var prefix [8]byte
					for j := range prefix {
						prefix[j] = byte('A' + rand.IntN(26))
					}
					if hostile {
						fmt.Fprintf(conn, "%s%s /healthz HTTP/1.1\r\nHost: casebook\r\nConnection: close\r\n\r\n", prefix[:], tail)
					} else { // the control: a known method, as long a request line
						fmt.Fprintf(conn, "GET /healthz?%s%s HTTP/1.1\r\nHost: casebook\r\nConnection: close\r\n\r\n", prefix[:], tail)
					}
					_, _ = io.Copy(io.Discard, conn)
					conn.Close()
				}
			}()
		}
		wg.Wait()
	}
	metrics := func() int64 { _, n := get("/metrics", ""); return n }
	// The series of the two routes measured here exist before "before".
	get("/healthz", "")
	metrics()
	// RSS settles after a flood as the runtime returns freed memory: it
	// is sampled for 30 s after each.
	sample := func() string {
		start := time.Now()
		var out []string
		for _, at := range []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second} {
			time.Sleep(time.Until(start.Add(at)))
			out = append(out, fmt.Sprintf("+%v %s", at, rss()))
		}
		return strings.Join(out, ", ")
	}
	for _, round := range []struct {
		name    string
		hostile bool
	}{{"control: GET with a 60,000-byte query", false}, {"invented 60,000-byte methods", true}} {
		hostile = round.hostile
		m0, r0 := metrics(), rss()
		stop := make(chan struct{})
		p50 := probe(stop)
		start := time.Now()
		send(*requests)
		elapsed := time.Since(start)
		close(stop)
		after := sample()
		m1 := metrics()
		fmt.Printf("methods: %d requests, %s, in %v: /metrics %d → %d bytes (%.3fx); RSS %s before, then %s; /healthz p50 during %v\n",
			*requests, round.name, elapsed.Round(time.Millisecond), m0, m1, float64(m1)/float64(m0), r0, after, p50())
	}
}

func slowBody(addr string) {
	var open atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	statuses := sync.Map{}
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer conn.Close()
			body := `{"type":"IntelligenceLogged","data":{"summary":"slow","grading":"2B1"}}`
			fmt.Fprintf(conn, "POST /v1/cases/%s/events HTTP/1.1\r\nHost: casebook\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
				*caseID, *attacker, len(body))
			open.Add(1)
			answered := make(chan string, 1)
			go func() {
				line, err := bufio.NewReader(conn).ReadString('\n')
				if err != nil {
					line = "no answer"
				}
				answered <- strings.TrimSpace(line)
			}()
			for i := 0; i < len(body); i++ {
				select {
				case <-stop:
					return
				case line := <-answered:
					v, _ := statuses.LoadOrStore(line, new(atomic.Int64))
					v.(*atomic.Int64).Add(1)
					return
				case <-time.After(time.Second):
				}
				if _, err := conn.Write([]byte{body[i]}); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(2 * time.Second) // the connections are open and sending
	watch(fmt.Sprintf("slowbody (%d connections, a byte a second)", open.Load()))
	close(stop)
	wg.Wait()
	got := map[string]int64{}
	statuses.Range(func(k, v any) bool { got[k.(string)] = v.(*atomic.Int64).Load(); return true })
	fmt.Printf("slowbody: answers the attacker had received by then: %v\n", got)
}

func minPosition() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	statuses := sync.Map{}
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, _ := get("/v1/reports/summary?min_position=999999999", *analyst)
				v, _ := statuses.LoadOrStore(st, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		}()
	}
	time.Sleep(time.Second)
	watch(fmt.Sprintf("minpos (%d parallel waits)", *conns))
	close(stop)
	wg.Wait()
	got := map[int]int64{}
	statuses.Range(func(k, v any) bool { got[k.(int)] = v.(*atomic.Int64).Load(); return true })
	fmt.Printf("minpos: answers the attacker received: %v\n", got)
}
