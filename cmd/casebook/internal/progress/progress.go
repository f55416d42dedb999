// Package progress draws a one-line progress bar with rate and ETA for the
// casebook CLI's long-running commands. On a terminal it redraws in place a
// few times a second; anywhere else (a pipe, a file, a test) it stays silent,
// so scripts and logs are not littered with carriage returns.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Bar is a progress bar. The zero value is not usable; build one with New.
// A Bar is safe for concurrent use.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	enabled  bool
	label    string
	unit     string
	total    int64 // 0: unknown
	done     int64
	start    time.Time
	lastDraw time.Time
	now      func() time.Time
	width    int // characters of the bar itself
	finished bool
}

// Options configure a Bar.
type Options struct {
	Label string // e.g. "export"
	Unit  string // e.g. "events"
	Total int64  // 0 when unknown: no percentage, no ETA
	// Enabled forces drawing on or off; nil draws only when w is a terminal.
	Enabled *bool
	// Now replaces the clock (tests).
	Now func() time.Time
}

// New returns a bar drawing on w (normally stderr).
func New(w io.Writer, opts Options) *Bar {
	enabled := IsTerminal(w)
	if opts.Enabled != nil {
		enabled = *opts.Enabled
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	unit := opts.Unit
	if unit == "" {
		unit = "items"
	}
	return &Bar{w: w, enabled: enabled, label: opts.Label, unit: unit, total: opts.Total, start: now(), now: now, width: 30}
}

// SetTotal changes the expected total (e.g. once it is known).
func (b *Bar) SetTotal(total int64) {
	b.mu.Lock()
	b.total = total
	b.mu.Unlock()
}

// Add records n more units done and redraws at most ten times a second.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.maybeDraw()
}

// Set records that n units are done in all (e.g. the position reached in a
// log whose positions count events).
func (b *Bar) Set(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = n
	b.maybeDraw()
}

func (b *Bar) maybeDraw() {
	if !b.enabled || b.finished {
		return
	}
	if t := b.now(); t.Sub(b.lastDraw) >= 100*time.Millisecond {
		b.lastDraw = t
		b.draw(t)
	}
}

// Done draws the final state and ends the line.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.enabled || b.finished {
		return
	}
	b.finished = true
	b.draw(b.now())
	fmt.Fprintln(b.w)
}

// Count returns the units done so far.
func (b *Bar) Count() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done
}

func (b *Bar) draw(now time.Time) {
	fmt.Fprint(b.w, "\r"+b.Line(now)+"\x1b[K")
}

// Line renders the bar as it stands at now (without carriage return).
// The caller must hold b.mu, or be a test on an idle bar.
func (b *Bar) Line(now time.Time) string {
	elapsed := now.Sub(b.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(b.done) / elapsed.Seconds()
	}
	var sb strings.Builder
	if b.label != "" {
		sb.WriteString(b.label)
		sb.WriteByte(' ')
	}
	if b.total > 0 {
		frac := float64(b.done) / float64(b.total)
		if frac > 1 {
			frac = 1
		}
		filled := int(frac * float64(b.width))
		sb.WriteByte('[')
		sb.WriteString(strings.Repeat("=", filled))
		if filled < b.width {
			sb.WriteByte('>')
			sb.WriteString(strings.Repeat(" ", b.width-filled-1))
		}
		sb.WriteByte(']')
		fmt.Fprintf(&sb, " %d/%d %s %3.0f%%", b.done, b.total, b.unit, frac*100)
	} else {
		fmt.Fprintf(&sb, "%d %s", b.done, b.unit)
	}
	fmt.Fprintf(&sb, " %s %s/s", humanRate(rate), b.unit)
	if b.total > 0 {
		if b.done >= b.total {
			fmt.Fprintf(&sb, " in %s", elapsed.Round(100*time.Millisecond))
		} else if rate > 0 {
			eta := time.Duration(float64(b.total-b.done) / rate * float64(time.Second))
			fmt.Fprintf(&sb, " ETA %s", eta.Round(time.Second))
		} else {
			sb.WriteString(" ETA --")
		}
	}
	return sb.String()
}

func humanRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.1fM", r/1e6)
	case r >= 1e4:
		return fmt.Sprintf("%.1fk", r/1e3)
	default:
		return fmt.Sprintf("%.0f", r)
	}
}
