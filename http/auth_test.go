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
tok-dpo-0004,erin,dpo,UKBA
`
	set, err := casehttp.ParseTokens(strings.NewReader(file), nil)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 5 {
		t.Fatalf("Len = %d, want 5", set.Len())
	}
	for token, want := range map[string]casehttp.Principal{
		"tok-investigator-ukba-0001": {Subject: "alice", Role: "investigator", Agency: "UKBA"},
		"tok-auditor-0002":           {Subject: "bob", Role: "auditor", Agency: "HMIC"},
		"tok-analyst,with-comma":     {Subject: "carol", Role: "analyst", Agency: "HO"}, // canonical form
		"tok-admin-0003":             {Subject: "dave", Role: "admin", Agency: "HO"},
		"tok-dpo-0004":               {Subject: "erin", Role: "dpo", Agency: "UKBA"}, // a data protection officer belongs to an agency
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
		"unknown role":   {"# c\nsecret-token-aaaa,alice,sheriff,UKBA\n", "line 2, column 3 (role): not a role"},
		// A token pasted into the role column must not reach the log
		// through the error that refuses it.
		"token as role":  {"secret-token-aaaa,alice,cbk_SECRETsecretSECRET,UKBA\n", "line 1, column 3 (role): not a role"},
		"no agency":      {"secret-token-aaaa,alice,investigator,\n", "line 1, column 4 (agency): empty agency"},
		"unknown agency": {"secret-token-aaaa,alice,investigator,NCAA\n", "line 1, column 4 (agency): not a configured agency (want one of UKBA,"},
		"no subject":     {"secret-token-aaaa,,auditor,HMIC\n", "line 1, column 2 (subject): empty subject"},
		"duplicate":      {"secret-token-aaaa,a,auditor,HMIC\nsecret-token-aaaa,b,auditor,HMIC\n", "line 2, column 1 (token): token repeats the one on line 1"},
		"empty token":    {",alice,auditor,HMIC\n", "line 1, column 1 (token): empty token"},
		"bad csv":        {"\"secret-token-aaaa,alice,auditor,HMIC\n", "line 1, character"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := casehttp.ParseTokens(strings.NewReader(tc.file), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			// No value of the file, in any column, is in the error (the
			// names of the roles are the error's vocabulary, not values).
			roles := map[string]bool{"investigator": true, "auditor": true, "analyst": true, "admin": true}
			for _, line := range strings.Split(tc.file, "\n") {
				for _, field := range strings.Split(strings.Trim(line, "\""), ",") {
					if len(field) > 1 && !roles[field] && !strings.HasPrefix(field, "#") && strings.Contains(err.Error(), field) {
						t.Errorf("error %q quotes the file's %q", err, field)
					}
				}
			}
		})
	}
}

func TestParseTokensTellsAnEmptyFileFromOneDeclaredEmpty(t *testing.T) {
	for name, tc := range map[string]struct {
		file          string
		declaredEmpty bool
	}{
		"nothing":             {"", false},
		"comments only":       {"# token,subject,role,agency\n\n# nobody yet\n", false},
		"marker":              {"# token,subject,role,agency\n" + casehttp.NoTokensMarker + "\n", true},
		"marker, indented":    {"   " + casehttp.NoTokensMarker + "  \n", true},
		"marker misspelt":     {"# casebook: no token\n", false},
		"marker inside a row": {"x,y # casebook: no tokens,auditor,HMIC\n", false},
	} {
		t.Run(name, func(t *testing.T) {
			set, err := casehttp.ParseTokens(strings.NewReader(tc.file), nil)
			if name == "marker inside a row" {
				if err != nil || set.Len() != 1 || set.DeclaredEmpty() {
					t.Fatalf("set %d tokens, declared empty %v, err %v", set.Len(), set.DeclaredEmpty(), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if set.Len() != 0 || set.DeclaredEmpty() != tc.declaredEmpty {
				t.Errorf("%d tokens, declared empty %v; want 0, %v", set.Len(), set.DeclaredEmpty(), tc.declaredEmpty)
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
