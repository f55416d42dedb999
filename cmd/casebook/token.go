package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

var tokenRoles = core.Roles

// tokenPrefix makes Casebook tokens recognisable (for secret scanners and
// people) without weakening them: the 256 random bits follow it.
const tokenPrefix = "cbk_"

func runToken(a *app, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintln(a.stdio.Err, "Usage: casebook token create --subject S --role R --agency A [--tokens FILE]")
			return nil
		}
		return usagef("want: casebook token create --subject S --role R --agency A [--tokens FILE]")
	}
	fs := a.flagSet("token create")
	subject := fs.String("subject", "", "who the token is for (e.g. an officer's id)")
	role := fs.String("role", "", "one of "+strings.Join(tokenRoles, ", "))
	agency := fs.String("agency", "", "the holder's agency: a configured agency code (see --agencies)")
	defTokens := a.getenv("CASEBOOK_TOKENS_FILE")
	if defTokens == "" {
		defTokens = "tokens.csv"
	}
	tokensFile := fs.String("tokens", defTokens, "tokens file to append to (env CASEBOOK_TOKENS_FILE), created with mode 0600")
	if _, err := a.parse(fs, args[1:], "--subject S --role R --agency A [--tokens FILE]", 0); err != nil {
		return err
	}
	p := tokenLine{Subject: strings.TrimSpace(*subject), Role: strings.TrimSpace(*role), Agency: strings.TrimSpace(*agency)}
	if err := p.validate(); err != nil {
		return err
	}
	agencies, err := core.LoadAgencies(a.agenciesFile)
	if err != nil {
		return err
	}
	code, ok := agencies.Canonical(p.Agency)
	if !ok {
		return usagef("--agency %q is not a known agency (one of %s; see --agencies)", p.Agency, strings.Join(agencies.Codes(), ", "))
	}
	p.Agency = code
	token, err := newToken()
	if err != nil {
		return err
	}
	p.Token = token
	if err := appendToken(*tokensFile, p); err != nil {
		return err
	}
	if a.json {
		return a.printJSON(map[string]string{"token": token, "subject": p.Subject, "role": p.Role, "agency": p.Agency, "tokens_file": *tokensFile})
	}
	a.printf("%s\n", token)
	fmt.Fprintf(a.stdio.Err, "Added a token for %s (%s, %s) to %s.\nThis is the only time the token is shown; casebookd picks it up on SIGHUP or restart.\n",
		p.Subject, p.Role, orDash(p.Agency), *tokensFile)
	return nil
}

type tokenLine struct {
	Token, Subject, Role, Agency string
}

func (p tokenLine) validate() error {
	switch {
	case p.Subject == "":
		return usagef("--subject is required")
	case !slices.Contains(tokenRoles, p.Role):
		return usagef("--role must be one of %s", strings.Join(tokenRoles, ", "))
	case p.Agency == "":
		return usagef("--agency is required")
	}
	for name, v := range map[string]string{"subject": p.Subject, "agency": p.Agency} {
		for _, r := range v {
			if unicode.IsControl(r) {
				return usagef("--%s must not contain control characters", name)
			}
		}
		if len(v) > domain.MaxNameLength {
			return usagef("--%s is longer than %d characters", name, domain.MaxNameLength)
		}
	}
	return nil
}

// newToken returns a fresh token: 32 bytes from the system's CSPRNG,
// base64url without padding.
func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// appendToken appends one CSV line to the tokens file, creating it with
// mode 0600. An existing file readable by others is tightened to 0600: it
// holds credentials.
func appendToken(path string, p tokenLine) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open tokens file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("tokens file %s is readable by others and cannot be restricted: %w", path, err)
		}
	}
	var line bytes.Buffer
	// A file whose last line has no newline would glue our line to it.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err != nil && err != io.EOF {
			return fmt.Errorf("read tokens file: %w", err)
		}
		if last[0] != '\n' {
			line.WriteByte('\n')
		}
	} else {
		line.WriteString("# token,subject,role,agency (casebook token create)\n")
	}
	w := csv.NewWriter(&line)
	if err := w.Write([]string{p.Token, p.Subject, p.Role, p.Agency}); err != nil {
		return err
	}
	w.Flush()
	if _, err := f.Write(line.Bytes()); err != nil {
		return fmt.Errorf("write tokens file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync tokens file: %w", err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
