package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBarIsSilentWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, Options{Label: "export", Unit: "events", Total: 10})
	for range 10 {
		b.Add(1)
	}
	b.Done()
	if buf.Len() != 0 {
		t.Fatalf("a bar on a buffer wrote %q", buf.String())
	}
	if b.Count() != 10 {
		t.Fatalf("count = %d, want 10", b.Count())
	}
}

func TestBarShowsRateAndETA(t *testing.T) {
	start := time.Date(2011, 6, 6, 9, 0, 0, 0, time.UTC)
	now := start
	on := true
	var buf bytes.Buffer
	b := New(&buf, Options{Label: "migrate", Unit: "events", Total: 1000, Enabled: &on, Now: func() time.Time { return now }})
	now = start.Add(2 * time.Second)
	b.Add(250)
	line := b.Line(now)
	for _, want := range []string{"migrate [", "250/1000 events", " 25%", "125 events/s", "ETA 6s"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if !strings.Contains(buf.String(), "\r") {
		t.Errorf("an enabled bar drew nothing: %q", buf.String())
	}
	now = start.Add(8 * time.Second)
	b.Set(1000)
	b.Done()
	if !strings.HasSuffix(buf.String(), "\n") || !strings.Contains(buf.String(), "1000/1000 events 100%") {
		t.Errorf("final draw %q", buf.String())
	}
}

func TestBarWithUnknownTotal(t *testing.T) {
	on := true
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	b := New(&buf, Options{Unit: "events", Enabled: &on, Now: func() time.Time { return now }})
	now = now.Add(time.Second)
	b.Add(42)
	if line := b.Line(now); !strings.HasPrefix(line, "42 events 42 events/s") || strings.Contains(line, "ETA") {
		t.Errorf("line %q", line)
	}
}
