package casehttp_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	casehttp "github.com/casebook/casebook/http"
)

// countingWriter records what reaches it and in how many writes.
type countingWriter struct {
	mu     sync.Mutex
	b      strings.Builder
	writes int
	err    error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.writes++
	return w.b.Write(p)
}

func (w *countingWriter) state() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String(), w.writes
}

func TestBufferedLogWriterBatchesLinesUntilFlush(t *testing.T) {
	out := &countingWriter{}
	w := casehttp.NewBufferedLogWriter(out, time.Hour)
	defer w.Close()
	for i := range 100 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if got, n := out.state(); n != 0 || got != "" {
		t.Fatalf("%d writes before a flush: %q", n, got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, n := out.state()
	if n != 1 || strings.Count(got, "\n") != 100 || !strings.HasPrefix(got, "line 0\n") || !strings.HasSuffix(got, "line 99\n") {
		t.Errorf("after Flush, %d writes of %q", n, got)
	}
}

func TestBufferedLogWriterFlushesWithinTheInterval(t *testing.T) {
	out := &countingWriter{}
	w := casehttp.NewBufferedLogWriter(out, 20*time.Millisecond)
	defer w.Close()
	_, _ = w.Write([]byte("first\n"))
	deadline := time.Now().Add(5 * time.Second)
	if !waitForOutput(out, "first\n", deadline) {
		t.Fatal("a buffered line was not written out within 5s")
	}
	// An idle writer leaves the timer off; the next line arms it again.
	_, _ = w.Write([]byte("second\n"))
	if !waitForOutput(out, "first\nsecond\n", deadline) {
		t.Fatal("the second batch was not written out")
	}
}

// waitForOutput reports whether out holds exactly want before deadline.
func waitForOutput(out *countingWriter, want string, deadline time.Time) bool {
	for {
		if got, _ := out.state(); got == want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBufferedLogWriterWritesWhenFull(t *testing.T) {
	out := &countingWriter{}
	w := casehttp.NewBufferedLogWriter(out, time.Hour)
	defer w.Close()
	line := strings.Repeat("x", 1000) + "\n"
	for range 100 { // ~100 KB: three full buffers of 32 KiB
		_, _ = w.Write([]byte(line))
	}
	got, n := out.state()
	if n != 3 || len(got) != 3*32*len(line) {
		t.Errorf("%d writes of %d bytes, want 3 of %d", n, len(got), 3*32*len(line))
	}
	// A line larger than the buffer goes out alone, after what was waiting.
	big := strings.Repeat("y", 40<<10) + "\n"
	_, _ = w.Write([]byte(big))
	got, n = out.state()
	if n != 5 || !strings.HasSuffix(got, big) || len(got) != 100*len(line)+len(big) {
		t.Errorf("after a big line: %d writes of %d bytes", n, len(got))
	}
}

func TestBufferedLogWriterCloseFlushesThenWritesThrough(t *testing.T) {
	out := &countingWriter{}
	w := casehttp.NewBufferedLogWriter(out, time.Hour)
	_, _ = w.Write([]byte("before\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.state(); got != "before\n" {
		t.Fatalf("Close left %q", got)
	}
	_, _ = w.Write([]byte("after\n"))
	if got, n := out.state(); got != "before\nafter\n" || n != 2 {
		t.Errorf("after Close: %d writes of %q", n, got)
	}
}

func TestBufferedLogWriterReportsWriteErrors(t *testing.T) {
	broken := errors.New("disk full")
	out := &countingWriter{err: broken}
	w := casehttp.NewBufferedLogWriter(out, time.Hour)
	_, _ = w.Write([]byte("lost\n"))
	if err := w.Flush(); !errors.Is(err, broken) {
		t.Errorf("Flush: %v, want %v", err, broken)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after the failed lines were dropped: %v", err)
	}
}

func TestBufferedLogWriterKeepsConcurrentLinesWhole(t *testing.T) {
	out := &countingWriter{}
	w := casehttp.NewBufferedLogWriter(out, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				fmt.Fprintf(w, "goroutine %d line %d %s\n", g, i, strings.Repeat("z", i%200))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := out.state()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "goroutine %d line %d ", &g, &i); err != nil || !strings.HasSuffix(l, " "+strings.Repeat("z", i%200)) {
			t.Fatalf("torn line %q", l)
		}
	}
}
