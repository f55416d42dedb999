package main_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	main "github.com/casebook/casebook/cmd/casebookd"
	casehttp "github.com/casebook/casebook/http"
)

// runMain runs casebookd's real main() in a child process (the test binary
// re-executed, see main_internal_test.go) and returns its exit status and
// output.
func runMain(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "CASEBOOK_TEST_RUN_MAIN=1"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestVersionFlag(t *testing.T) {
	code, out, errOut := runMain(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "casebookd ") || !strings.Contains(out, "github.com/casebook/casebook") || !strings.Contains(out, " revision ") {
		t.Fatalf("casebookd --version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestExitStatuses(t *testing.T) {
	if code, _, _ := runMain(t, nil, "--no-such-flag"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code, _, _ := runMain(t, nil, "--help"); code != 0 {
		t.Errorf("--help: exit %d, want 0", code)
	}
	// A tokens file that does not parse: the server cannot start.
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte("only,three,fields\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runMain(t, nil, "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--tokens", tokens); code != 1 {
		t.Errorf("unreadable tokens file: exit %d, want 1", code)
	}
}

func TestHealthcheckSubcommand(t *testing.T) {
	s := startServer(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))

	for name, tc := range map[string]struct {
		env  []string
		args []string
		want int
	}{
		"ready, by flag":            {nil, []string{"--addr", "127.0.0.1:" + port}, 0},
		"ready, by CASEBOOK_ADDR":   {[]string{"CASEBOOK_ADDR=127.0.0.1:" + port}, nil, 0},
		"wildcard address":          {[]string{"CASEBOOK_ADDR=0.0.0.0:" + port}, nil, 0}, // as in the container
		"port without host":         {nil, []string{"--addr", ":" + port}, 0},
		"nothing listening":         {nil, []string{"--addr", closedAddr(t)}, 1},
		"not an address":            {nil, []string{"--addr", "casebook"}, 2},
		"stray argument":            {nil, []string{"now"}, 2},
		"something else answering":  {nil, []string{"--addr", notCasebook(t)}, 1},
		"short timeout still works": {nil, []string{"--addr", "127.0.0.1:" + port, "--timeout", "2s"}, 0},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runMain(t, tc.env, append([]string{"healthcheck"}, tc.args...)...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.want, out, errOut)
			}
		})
	}

	// Not ready while shutting down: /readyz answers 503 then.
	if err := s.m.Close(); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runMain(t, nil, "healthcheck", "--addr", "127.0.0.1:"+port); code != 1 {
		t.Errorf("after shutdown: exit %d, want 1", code)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// notCasebook is a server answering /readyz with 404.
func notCasebook(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestTokensReloadRefusesAFileWithNoTokens(t *testing.T) {
	s := startServer(t)
	tokens := s.m.Config.TokensFile
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(tokens, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	status := func() int { return s.do(t, req{method: "GET", path: "/v1/events", as: auditor}).Status }

	for name, content := range map[string]string{
		"empty":         "",
		"comments only": "# token,subject,role,agency\n\n# everyone left\n",
	} {
		write(content)
		err := s.m.ReloadTokens()
		if err == nil || !strings.Contains(err.Error(), "holds no tokens") || !strings.Contains(err.Error(), casehttp.NoTokensMarker) {
			t.Errorf("%s file reloaded: %v", name, err)
		}
		if st := status(); st != http.StatusOK {
			t.Fatalf("after refusing the %s file, the tokens in force answer %d", name, st)
		}
	}
	// A bad line refuses the whole file, naming where, not what.
	write(tokensFile() + "cbk_SECRETSECRETSECRET,someone,cbk_SECRETSECRETSECRET,UKBA\n")
	if err := s.m.ReloadTokens(); err == nil || strings.Contains(err.Error(), "cbk_SECRET") || !strings.Contains(err.Error(), "column 3 (role)") {
		t.Errorf("a bad line: %v", err)
	}
	if st := status(); st != http.StatusOK {
		t.Fatalf("a bad line revoked the tokens in force: %d", st)
	}
	if strings.Contains(s.logs.String(), "cbk_SECRET") {
		t.Error("a value of the tokens file reached the log")
	}
	// Said on purpose, it is taken: every token is revoked.
	write("# all access suspended\n" + casehttp.NoTokensMarker + "\n")
	if err := s.m.ReloadTokens(); err != nil {
		t.Fatal(err)
	}
	if st := status(); st != http.StatusUnauthorized {
		t.Errorf("after the declared-empty file: %d, want 401", st)
	}
}

func TestStartWarnsAboutDataOthersCanRead(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	// A read model left by an older version, open to everyone.
	if err := os.WriteFile(filepath.Join(data, "old-export.ndjson"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(data, "old-export.ndjson"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServerIn(t, dir)
	logs := s.logs.String()
	if !strings.Contains(logs, "the data directory is open to other users") || !strings.Contains(logs, "data files are readable by other users") ||
		!strings.Contains(logs, "old-export.ndjson") {
		t.Errorf("no warning about the data others can read:\n%s", tail(logs, 3000))
	}
	// What casebookd itself created is private.
	for _, name := range []string{"events.db", "events.db-wal", "readmodels.db"} {
		fi, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}

	// A fresh data directory raises no warning.
	fresh := startServer(t)
	if strings.Contains(fresh.logs.String(), "other users") {
		t.Errorf("warning on a fresh data directory:\n%s", tail(fresh.logs.String(), 2000))
	}
	if fi, err := os.Stat(fresh.dataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("fresh data directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
}

func TestLimitFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{
		"CASEBOOK_PRINCIPAL_MAX_REQUESTS": "48", "CASEBOOK_PRINCIPAL_RATE": "75.5", "CASEBOOK_PRINCIPAL_BURST": "150",
		"CASEBOOK_AUTH_FAILURE_RATE": "2", "CASEBOOK_AUTH_FAILURE_BURST": "20", "CASEBOOK_READ_TIMEOUT": "45s",
	}
	m := main.NewMain()
	m.LogOutput = io.Discard
	if err := m.ParseFlags([]string{"--principal-burst", "300"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	l := m.Config.Limits
	if l.PrincipalConcurrent != 48 || l.PrincipalRate != 75.5 || l.PrincipalBurst != 300 || l.AuthFailureRate != 2 ||
		l.AuthFailureBurst != 20 || m.Config.ReadTimeout != 45*time.Second {
		t.Errorf("config %+v, read timeout %v", l, m.Config.ReadTimeout)
	}

	d := main.DefaultConfig()
	// The documented defaults let one principal run 50 requests a second
	// and 32 at once.
	if d.Limits.PrincipalRate < 50 || d.Limits.PrincipalConcurrent < 32 || d.ReadTimeout != 30*time.Second {
		t.Errorf("defaults %+v, read timeout %v", d.Limits, d.ReadTimeout)
	}
	if d.WriteTimeout <= d.ReadTimeout {
		t.Errorf("write timeout %v does not outlast the read timeout %v: a 408 would never reach the client", d.WriteTimeout, d.ReadTimeout)
	}
	for _, bad := range [][]string{{"--principal-max-requests", "0"}, {"--principal-rate", "0"}, {"--principal-burst", "-1"},
		{"--auth-failure-rate", "-2"}, {"--auth-failure-burst", "0"}, {"--read-timeout", "0s"}} {
		b := main.NewMain()
		b.LogOutput = io.Discard
		if err := b.ParseFlags(bad, func(string) string { return "" }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	b := main.NewMain()
	b.LogOutput = io.Discard
	if err := b.ParseFlags(nil, func(k string) string { return map[string]string{"CASEBOOK_PRINCIPAL_RATE": "fast"}[k] }); err == nil {
		t.Error("bad CASEBOOK_PRINCIPAL_RATE accepted")
	}
}
