package main_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcessSignals runs casebookd's real main() in a child process:
// SIGHUP re-reads the tokens file (a broken file keeps the tokens in
// force), SIGTERM shuts down cleanly with exit status 0.
func TestProcessSignals(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	const oldToken, newToken = "tok-before-hup-0000000001", "tok-after-hup-00000000002"
	write := func(content string) {
		if err := os.WriteFile(tokens, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(oldToken + ",auditor.bea,auditor,HMIC\n")

	cmd := exec.Command(os.Args[0], "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--tokens", tokens)
	cmd.Env = append(os.Environ(), "CASEBOOK_TEST_RUN_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	lines := make(chan map[string]any, 1024)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
		close(lines)
	}()
	waitLog := func(msg string) map[string]any {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatalf("casebookd exited before logging %q", msg)
				}
				if m["msg"] == msg {
					return m
				}
			case <-timeout:
				t.Fatalf("no %q in the log", msg)
			}
		}
	}
	addr := waitLog("casebookd listening")["addr"].(string)
	status := func(token string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status(oldToken) != http.StatusOK || status(newToken) != http.StatusUnauthorized {
		t.Fatal("tokens before SIGHUP")
	}

	write(newToken + ",auditor.bea,auditor,HMIC\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("tokens reloaded")
	if status(oldToken) != http.StatusUnauthorized || status(newToken) != http.StatusOK {
		t.Fatal("tokens after SIGHUP")
	}

	write("this is not a tokens file\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if m := waitLog("tokens not reloaded; the previous tokens stay in force"); strings.Contains(m["error"].(string), "not a tokens") {
		t.Errorf("the error quotes the file's content: %v", m["error"])
	}
	if status(newToken) != http.StatusOK {
		t.Fatal("a broken tokens file revoked the tokens in force")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog("casebookd stopped")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("casebookd did not exit after SIGTERM")
	}
}
