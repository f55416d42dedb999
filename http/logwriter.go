package casehttp

import (
	"io"
	"sync"
	"time"
)

// logBufferSize is how many bytes of log lines a BufferedLogWriter gathers
// before writing them out: about a hundred request lines.
const logBufferSize = 32 << 10

// BufferedLogWriter gathers log lines in memory and hands them to the
// underlying writer in batches: when logBufferSize bytes are waiting, and
// at the latest flushEvery after the first line of a batch was written.
// Under load that turns one write system call per request log line into
// one per hundred or so.
//
// The price: lines still in the buffer when the process dies without
// Close (kill -9, a crash, os.Exit before Close) are lost, at most
// flushEvery's worth. Close flushes; after Close, writes go straight
// through, so lines logged while shutting down are never held back.
//
// It is safe for concurrent use; each Write is kept whole (slog handlers
// write one line per call), so lines never interleave.
type BufferedLogWriter struct {
	out        io.Writer
	flushEvery time.Duration

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer // flushes a batch flushEvery after its first line
	armed  bool        // timer is set for the lines in buf
	closed bool
}

// NewBufferedLogWriter buffers writes to out (typically os.Stderr),
// flushing at least every flushEvery (100–200ms keeps logs timely while
// batching a busy server's lines; ≤ 0 means 100ms).
func NewBufferedLogWriter(out io.Writer, flushEvery time.Duration) *BufferedLogWriter {
	if flushEvery <= 0 {
		flushEvery = 100 * time.Millisecond
	}
	w := &BufferedLogWriter{out: out, flushEvery: flushEvery, buf: make([]byte, 0, logBufferSize)}
	// A timer rather than a ticker: an idle server does not wake up.
	w.timer = time.AfterFunc(time.Hour, w.flushOnTimer)
	w.timer.Stop()
	return w
}

// Write buffers p (one log line). It reports an error only when writing
// out a full buffer failed; those lines are dropped rather than kept to
// grow without bound.
func (w *BufferedLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.out.Write(p)
	}
	var err error
	if len(w.buf)+len(p) > cap(w.buf) {
		err = w.flushLocked()
	}
	if len(p) > cap(w.buf) { // a line larger than the buffer goes out alone
		if _, werr := w.out.Write(p); werr != nil {
			return 0, werr
		}
		return len(p), err
	}
	w.buf = append(w.buf, p...)
	if !w.armed {
		w.armed = true
		w.timer.Reset(w.flushEvery)
	}
	return len(p), err
}

// Flush writes out the buffered lines now.
func (w *BufferedLogWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// Close flushes and stops buffering: later writes go straight to the
// underlying writer, which Close does not close (it is usually stderr).
func (w *BufferedLogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.timer.Stop()
	return w.flushLocked()
}

func (w *BufferedLogWriter) flushOnTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	_ = w.flushLocked() // nobody to tell; the next Write or Flush reports a lasting failure
}

func (w *BufferedLogWriter) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}
