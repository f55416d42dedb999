package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// cli is the result of one in-process run of casebook.
type cli struct {
	code   int
	stdout string
	stderr string
	args   []string
}

// run runs casebook with args in-process, with no environment.
func run(t *testing.T, args ...string) cli {
	t.Helper()
	return runWith(t, "", nil, args...)
}

// runWith runs casebook with stdin and an environment.
func runWith(t *testing.T, stdin string, env map[string]string, args ...string) cli {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errb},
		func(k string) string { return env[k] })
	return cli{code: code, stdout: out.String(), stderr: errb.String(), args: args}
}

// must runs casebook and fails the test unless it exits 0.
func must(t *testing.T, args ...string) cli {
	t.Helper()
	r := run(t, args...)
	if r.code != 0 {
		t.Fatalf("casebook %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"verify", "--no-such-flag"},
		{"verify", "stray-argument"},
		{"replay"},
		{"replay", "--case", "not-a-uuid"},
		{"replay", "--case", "6f1c2a4e-0000-4000-8000-000000000000", "--version", "1", "--as-of", "2011-06-06"},
		{"export", "--from", "yesterday"},
		{"export", "--from", "2011-06-07", "--to", "2011-06-06"},
		{"backup"},
		{"restore"},
		{"migrate", "--from", "a"},
		{"migrate", "--from", "http://example.invalid", "--to", "x"},
		{"token"},
		{"token", "create", "--subject", "x", "--role", "superuser"},
		{"token", "create", "--subject", "x", "--role", "investigator"},
		{"projections", "explode"},
		{"demo", "--seed", "minus-one"},
	} {
		r := run(t, args...)
		if r.code != exitUsage {
			t.Errorf("casebook %q: exit %d, want %d (stderr %q)", args, r.code, exitUsage, r.stderr)
		}
		if r.stderr == "" {
			t.Errorf("casebook %q: no message on stderr", args)
		}
	}
}

func TestHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"verify", "--help"}, {"migrate", "-h"}} {
		if r := run(t, args...); r.code != 0 {
			t.Errorf("casebook %q: exit %d, want 0", args, r.code)
		}
	}
}

func TestReadOnlyCommandsOnAMissingStoreFail(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "verify", "--data", dir)
	if r.code != exitProblems || !strings.Contains(r.stderr, "no event store") {
		t.Fatalf("verify on an empty dir: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestEnvironmentSelectsTheStore(t *testing.T) {
	t.Parallel()
	dir := demoData(t)
	r := runWith(t, "", map[string]string{"CASEBOOK_DATA": dir}, "verify", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"valid": true`) {
		t.Fatalf("verify with CASEBOOK_DATA: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	// CASEBOOK_STORE names a store too (here a data directory), and a
	// global flag before the command name wins over the environment.
	r = runWith(t, "", map[string]string{"CASEBOOK_STORE": t.TempDir()}, "--store", dir, "verify")
	if r.code != 0 {
		t.Fatalf("--store before the command: exit %d %s", r.code, r.stderr)
	}
}
