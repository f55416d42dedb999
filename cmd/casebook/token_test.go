package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	casehttp "github.com/casebook/casebook/http"
)

func TestTokenCreateAppendsALineWithAFreshToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.csv")
	first := must(t, "token", "create", "--subject", "officer-17", "--role", "investigator", "--agency", "UKBA", "--tokens", file)
	second := must(t, "token", "create", "--subject", "audit-1", "--role", "auditor", "--agency", "HMIC", "--tokens", file)
	tok1, tok2 := strings.TrimSpace(first.stdout), strings.TrimSpace(second.stdout)
	if !strings.HasPrefix(tok1, tokenPrefix) || len(tok1) != len(tokenPrefix)+43 {
		t.Fatalf("token %q: want %s and 43 base64url characters", tok1, tokenPrefix)
	}
	if tok1 == tok2 {
		t.Fatal("two tokens are equal")
	}
	if strings.Contains(first.stderr, tok1) {
		t.Fatal("the token was printed twice (also on stderr)")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	want := []string{tok1 + ",officer-17,investigator,UKBA", tok2 + ",audit-1,auditor,HMIC"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tokens file:\n%s\nwant lines:\n%s", b, strings.Join(want, "\n"))
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Fatalf("tokens file mode %o, want 600", perm)
	}
	// casebookd reads the file and knows both holders.
	set, err := casehttp.LoadTokens(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := set.Lookup(tok1)
	if !ok || p.Subject != "officer-17" || p.Role != "investigator" || p.Agency != "UKBA" {
		t.Fatalf("casebookd's view of the first token: %+v %v", p, ok)
	}
	if p, ok := set.Lookup(tok2); !ok || p.Subject != "audit-1" {
		t.Fatalf("casebookd's view of the second token: %+v %v", p, ok)
	}
}

func TestTokenCreateTightensAndContinuesAnExistingFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.csv")
	// no trailing newline, world-readable
	if err := os.WriteFile(file, []byte("old-token,ops,admin,HO"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runWith(t, "", map[string]string{"CASEBOOK_TOKENS_FILE": file}, "token", "create", "--subject", "a", "--role", "analyst", "--agency", "ho", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `"token": "cbk_`) {
		t.Fatalf("--json output %q", r.stdout)
	}
	b, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(b), "old-token,ops,admin,HO\ncbk_") {
		t.Fatalf("tokens file %q: the new line must start on a line of its own", b)
	}
	st, _ := os.Stat(file)
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Fatalf("tokens file mode %o, want 600", perm)
	}
}
