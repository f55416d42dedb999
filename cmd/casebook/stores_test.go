package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStoreRef(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in       string
		url      string
		file     string
		wantsErr bool
	}{
		{in: "esdb://127.0.0.1:2113?tls=false", url: "esdb://127.0.0.1:2113?tls=false"},
		{in: "esdb+discover://a,b,c", url: "esdb+discover://a,b,c"},
		{in: "kurrentdb://127.0.0.1:2113", url: "kurrentdb://127.0.0.1:2113"},
		{in: dir, file: filepath.Join(dir, eventsFile)},
		{in: file, file: file}, // an SQLite file, e.g. a backup
		{in: "http://example.invalid", wantsErr: true},
		{in: "", wantsErr: true},
	} {
		ref, err := parseStoreRef(tc.in)
		if (err != nil) != tc.wantsErr {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if ref.url != tc.url || ref.file != tc.file {
			t.Errorf("%q: url %q file %q, want %q %q", tc.in, ref.url, ref.file, tc.url, tc.file)
		}
	}
}

func TestRedactURLHidesThePassword(t *testing.T) {
	if got := redactURL("esdb://admin:changeit@127.0.0.1:2113?tls=true"); got != "esdb://admin:xxxxx@127.0.0.1:2113?tls=true" {
		t.Fatalf("redacted: %q", got)
	}
	if got := redactURL("esdb://127.0.0.1:2113"); got != "esdb://127.0.0.1:2113" {
		t.Fatalf("no password: %q", got)
	}
}
