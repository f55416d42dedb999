package sqlitestore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

// The crash test re-runs this test binary as a child process that appends
// as fast as it can (single events and batches, several goroutines) and
// prints every acknowledged append to stdout. The parent SIGKILLs it at a
// random moment, reopens the store, and checks what survived.

const (
	crashDBEnv    = "CASEBOOK_CRASH_CHILD_DB"
	crashRoundEnv = "CASEBOOK_CRASH_CHILD_ROUND"
	crashRounds   = 5
	crashWriters  = 4
)

// crashEvent is the data of every event the child writes: enough to check,
// from the log alone, that each event is intact and each batch complete.
type crashEvent struct {
	ID    uuid.UUID `json:"id"`
	Batch uuid.UUID `json:"batch"` // id of the batch's first event
	Size  int       `json:"size"`  // events in the batch
	Index int       `json:"index"` // place in the batch
	Pad   string    `json:"pad"`
}

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		t.Skip("helper process of TestCrashRecovery")
	}
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	s, err := sqlitestore.Open(context.Background(), path, sqlitestore.Options{})
	if err != nil {
		fmt.Printf("ERR open: %v\n", err)
		os.Exit(1)
	}
	var out sync.Mutex
	say := func(line string) {
		out.Lock()
		defer out.Unlock()
		// One write of well under PIPE_BUF bytes: a line is whole or absent.
		_, _ = os.Stdout.WriteString(line)
	}
	say("READY\n")
	var wg sync.WaitGroup
	for g := range crashWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
			next := map[string]uint64{}
			for k := 0; ; k++ {
				stream, expected := fmt.Sprintf("crash-r%d-g%d-%d", round, g, k%3), eventstore.NoStream
				if k%5 == 4 {
					stream, expected = "crash-shared", eventstore.Any
				} else if rev, ok := next[stream]; ok {
					expected = eventstore.Exact(rev - 1)
				}
				size := 1
				if rng.IntN(3) == 0 {
					size = 2 + rng.IntN(30)
				}
				evs := make([]eventstore.EventData, size)
				ids := make([]string, size)
				batch := uuid.New()
				for i := range evs {
					id := batch
					if i > 0 {
						id = uuid.New()
					}
					data, _ := json.Marshal(crashEvent{ID: id, Batch: batch, Size: size, Index: i, Pad: strings.Repeat("p", rng.IntN(200))})
					evs[i] = eventstore.EventData{ID: id, Type: "CrashTested", Data: data}
					ids[i] = id.String()
				}
				res, err := s.Append(context.Background(), stream, expected, evs...)
				if err != nil {
					say(fmt.Sprintf("ERR append to %s: %v\n", stream, err))
					os.Exit(1)
				}
				next[stream] = res.Revision + 1
				say(fmt.Sprintf("ACK %s %d %d %s END\n", stream, res.Revision, res.Position, strings.Join(ids, ",")))
			}
		}()
	}
	wg.Wait()
}

type ack struct {
	stream   string
	revision uint64
	position eventstore.Position
	ids      []uuid.UUID
}

func parseAck(line string) (ack, bool) {
	f := strings.Fields(line)
	if len(f) != 6 || f[0] != "ACK" || f[5] != "END" {
		return ack{}, false
	}
	rev, err1 := strconv.ParseUint(f[2], 10, 64)
	pos, err2 := strconv.ParseUint(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return ack{}, false
	}
	a := ack{stream: f[1], revision: rev, position: eventstore.Position(pos)}
	for _, s := range strings.Split(f[4], ",") {
		id, err := uuid.Parse(s)
		if err != nil {
			return ack{}, false
		}
		a.ids = append(a.ids, id)
	}
	return a, true
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	path := filepath.Join(t.TempDir(), "events.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var acked []ack
	var survived []eventstore.RecordedEvent // the log as verified after the previous round
	for round := 1; round <= crashRounds; round++ {
		roundAcks, killedAfter := runCrashChild(t, path, round, rng)
		acked = append(acked, roundAcks...)
		survived = verifyAfterCrash(t, path, acked, survived)
		t.Logf("round %d: killed after %v, %d appends acknowledged; log now holds %d events",
			round, killedAfter, len(roundAcks), len(survived))
	}
}

// runCrashChild starts the child, lets it append for a random while, kills
// it with SIGKILL and returns the appends it acknowledged.
func runCrashChild(t *testing.T, path string, round int, rng *rand.Rand) ([]ack, time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var acks []ack
	var problems []string
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		readyOnce := sync.OnceFunc(func() { close(ready) })
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "READY":
				readyOnce()
			case strings.HasPrefix(line, "ACK "):
				if a, ok := parseAck(line); ok {
					acks = append(acks, a)
				}
			case strings.HasPrefix(line, "ERR "):
				problems = append(problems, line)
			}
		}
		readyOnce()
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("child never became ready; stderr: %s", stderr.String())
	}
	wait := time.Duration(rng.IntN(600)) * time.Millisecond
	time.Sleep(wait)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	<-scanned
	_ = cmd.Wait()
	if len(problems) > 0 {
		t.Fatalf("child reported: %v\nstderr: %s", problems, stderr.String())
	}
	if state := cmd.ProcessState; state == nil || state.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL (%v); stderr: %s", cmd.ProcessState, stderr.String())
	}
	return acks, wait
}

// verifyAfterCrash reopens the store as a restarted server would and checks
// the log against everything acknowledged so far.
func verifyAfterCrash(t *testing.T, path string, acked []ack, previous []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatalf("after crash: %v", err)
	}
	log := readAll(t, s)

	// What survived earlier rounds is unchanged: nothing lost, no position
	// or revision reused by the later process.
	if len(log) < len(previous) {
		t.Fatalf("log shrank from %d to %d events", len(previous), len(log))
	}
	for i, p := range previous {
		if log[i].ID != p.ID || log[i].Position != p.Position || log[i].Revision != p.Revision || log[i].Stream != p.Stream {
			t.Fatalf("event at index %d changed after a restart: %+v, was %+v", i, log[i], p)
		}
	}

	byID := make(map[uuid.UUID]eventstore.RecordedEvent, len(log))
	nextRev := make(map[string]uint64)
	batches := make(map[uuid.UUID][]eventstore.RecordedEvent)
	for i, e := range log {
		if e.Position != eventstore.Position(i+1) {
			t.Fatalf("event %d at position %d: positions must be dense from 1", i, e.Position)
		}
		if e.Revision != nextRev[e.Stream] {
			t.Fatalf("stream %s: revision %d follows %d", e.Stream, e.Revision, nextRev[e.Stream])
		}
		nextRev[e.Stream]++
		var d crashEvent
		if err := json.Unmarshal(e.Data, &d); err != nil || d.ID != e.ID {
			t.Fatalf("event %s at %d: data damaged (%v): %s", e.ID, e.Position, err, e.Data)
		}
		byID[e.ID] = e
		batches[d.Batch] = append(batches[d.Batch], e)
	}
	// No partial batch: every batch in the log is whole and contiguous.
	for batch, evs := range batches {
		var first crashEvent
		_ = json.Unmarshal(evs[0].Data, &first)
		if len(evs) != first.Size {
			t.Fatalf("batch %s: %d of its %d events in the log", batch, len(evs), first.Size)
		}
		for i, e := range evs {
			var d crashEvent
			_ = json.Unmarshal(e.Data, &d)
			if d.Index != i || e.Stream != evs[0].Stream || e.Position != evs[0].Position+eventstore.Position(i) || e.Revision != evs[0].Revision+uint64(i) {
				t.Fatalf("batch %s is not contiguous in its stream and the log", batch)
			}
		}
	}
	// Every acknowledged append is there, where the store said it put it.
	for _, a := range acked {
		n := uint64(len(a.ids))
		for i, id := range a.ids {
			e, ok := byID[id]
			if !ok {
				t.Fatalf("acknowledged event %s (append to %s ending at revision %d) is missing after the crash", id, a.stream, a.revision)
			}
			wantRev := a.revision - n + 1 + uint64(i)
			wantPos := a.position - eventstore.Position(n) + 1 + eventstore.Position(i)
			if e.Stream != a.stream || e.Revision != wantRev || e.Position != wantPos {
				t.Fatalf("acknowledged event %s is at %s/%d position %d, acknowledged as %s/%d position %d",
					id, e.Stream, e.Revision, e.Position, a.stream, wantRev, wantPos)
			}
		}
	}
	return log
}
