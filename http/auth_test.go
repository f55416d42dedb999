package casehttp_test

import (
	"context"
	"strings"
	"testing"

	casehttp "github.com/casebook/casebook/http"
)

func TestParseTokens(t *testing.T) {
	const file = `# Casebook API tokens
tok-investigator-ukba-0001,alice,investigator,UKBA

  # indented comment
tok-auditor-0002, bob , auditor , HMIC
"tok-analyst,with-comma",carol,analyst,ho
tok-admin-0003,dave,admin,HO
`
	set, err := casehttp.ParseTokens(strings.NewReader(file), nil)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 4 {
		t.Fatalf("Len = %d, want 4", set.Len())
	}
	for token, want := range map[string]casehttp.Principal{
		"tok-investigator-ukba-0001": {Subject: "alice", Role: "investigator", Agency: "UKBA"},
		"tok-auditor-0002":           {Subject: "bob", Role: "auditor", Agency: "HMIC"},
		"tok-analyst,with-comma":     {Subject: "carol", Role: "analyst", Agency: "HO"}, // canonical form
		"tok-admin-0003":             {Subject: "dave", Role: "admin", Agency: "HO"},
	} {
		got, ok := set.Lookup(token)
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", token, got, ok, want)
		}
	}
	for _, bad := range []string{"", "tok-admin-000", "tok-admin-00031", "TOK-ADMIN-0003", "alice"} {
		if p, ok := set.Lookup(bad); ok {
			t.Errorf("Lookup(%q) = %+v, want no match", bad, p)
		}
	}
}

func TestParseTokensErrorsNameTheLineNotTheToken(t *testing.T) {
	for name, tc := range map[string]struct{ file, want string }{
		"too few fields": {"secret-token-aaaa,alice,investigator\n", "line 1: want 4 fields"},
		"unknown role":   {"# c\nsecret-token-aaaa,alice,sheriff,UKBA\n", "line 2: role \"sheriff\""},
		"no agency":      {"secret-token-aaaa,alice,investigator,\n", "line 1: empty agency"},
		"unknown agency": {"secret-token-aaaa,alice,investigator,NCAA\n", "line 1: agency \"NCAA\" is not one of UKBA,"},
		"no subject":     {"secret-token-aaaa,,auditor,X\n", "line 1: empty subject"},
		"duplicate":      {"secret-token-aaaa,a,auditor,HMIC\nsecret-token-aaaa,b,auditor,HMIC\n", "line 2: token repeats the one on line 1"},
		"empty token":    {",alice,auditor,X\n", "line 1: empty token"},
		"bad csv":        {"\"secret-token-aaaa,alice,auditor,X\n", "malformed CSV"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := casehttp.ParseTokens(strings.NewReader(tc.file), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("error %q reveals the token", err)
			}
		})
	}
}

func TestAuthenticatorSchemes(t *testing.T) {
	set, err := casehttp.ParseTokens(strings.NewReader("tok-1234567890,alice,investigator,UKBA\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := casehttp.NewAuthenticator(set)
	for header, ok := range map[string]bool{
		"Bearer tok-1234567890":   true,
		"bearer tok-1234567890":   true,
		"Bearer  tok-1234567890 ": true,
		"Basic tok-1234567890":    false,
		"tok-1234567890":          false,
		"Bearer":                  false,
		"Bearer tok-123456789":    false,
	} {
		if _, prob := a.Authenticate(context.Background(), header); (prob == nil) != ok {
			t.Errorf("Authenticate(%q) = %v, want ok %v", header, prob, ok)
		} else if prob != nil && prob.Status != 401 {
			t.Errorf("Authenticate(%q): status %d, want 401", header, prob.Status)
		}
	}
	a.Replace(nil)
	if _, prob := a.Authenticate(context.Background(), "Bearer tok-1234567890"); prob == nil {
		t.Error("token still valid after Replace(nil)")
	}
}
