package casehttp_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	casehttp "github.com/casebook/casebook/http"
	"github.com/casebook/casebook/identity/oidc"
	"github.com/casebook/casebook/identity/oidc/oidctest"
)

const oidcAudience = "casebook-api"

// newOIDCStack is the API with static tokens (nil: none) and OpenID Connect
// tokens of iss, over a real SQLite store. It does not wait for discovery.
func newOIDCStack(t *testing.T, iss *oidctest.Issuer, static string) (*stack, *oidc.Verifier) {
	t.Helper()
	store, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "events.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	var tokens *casehttp.TokenSet
	if static != "" {
		if tokens, err = casehttp.ParseTokens(strings.NewReader(static), nil); err != nil {
			t.Fatal(err)
		}
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	cb, err := core.New(core.Config{Store: store, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cb.Close(context.Background()) })
	v, err := oidc.New(oidc.Config{Issuer: iss.URL(), Audience: oidcAudience, Agencies: domain.DefaultAgencies(),
		Logger: logger, RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	e, err := casehttp.New(casehttp.Config{Logger: logger, Core: cb, Auth: casehttp.NewAuthenticator(tokens).WithOIDC(v)})
	if err != nil {
		t.Fatal(err)
	}
	return &stack{engine: e, store: store, logs: logs}, v
}

func waitOIDCReady(t *testing.T, s *stack) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.serve("GET", "/readyz", "", nil).Code != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func oidcProblemOf(t *testing.T, body []byte) casehttp.Problem {
	t.Helper()
	var p casehttp.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem: %s", body)
	}
	return p
}

func TestOIDCTokensBesideStaticTokens(t *testing.T) {
	iss := oidctest.Start(t)
	s, _ := newOIDCStack(t, iss, investigatorToken+",officer.static,investigator,UKBA\n")
	waitOIDCReady(t, s)
	sso := iss.Sign("rsa-1", iss.Claims(oidcAudience, "Jane.Doe@ukba.example", "investigator", "ukba"))

	// Both open cases; each event names its own caller.
	for tok, subject := range map[string]string{investigatorToken: "officer.static", sso: "Jane.Doe@ukba.example"} {
		w := s.serve("POST", "/v1/cases", tok, []byte(`{"reference":"SSO-`+subject[:4]+`","title":"t","crime_types":["people_smuggling"],"location":"Dover"}`))
		if w.Code != http.StatusCreated {
			t.Fatalf("open as %s: %d %s", subject, w.Code, w.Body)
		}
		var c struct{ ID string }
		_ = json.Unmarshal(w.Body.Bytes(), &c)
		h := s.serve("GET", "/v1/cases/"+c.ID+"/events", tok, nil)
		var page struct {
			Events []struct{ Actor domain.Actor } `json:"events"`
		}
		if err := json.Unmarshal(h.Body.Bytes(), &page); err != nil || len(page.Events) != 1 {
			t.Fatalf("history: %d %s", h.Code, h.Body)
		}
		if want := (domain.Actor{Subject: subject, Role: "investigator", Agency: "UKBA"}); page.Events[0].Actor != want {
			t.Fatalf("actor %+v, want %+v", page.Events[0].Actor, want)
		}
	}
	logs := s.logs.String()
	if strings.Contains(logs, sso) || strings.Contains(logs, strings.Split(sso, ".")[2]) || strings.Contains(logs, investigatorToken) {
		t.Fatal("a token was logged")
	}
	if !strings.Contains(logs, `"subject":"Jane.Doe@ukba.example"`) {
		t.Fatalf("the subject is not in the request log:\n%s", logs)
	}
}

func TestOIDCRefusals(t *testing.T) {
	iss := oidctest.Start(t)
	s, _ := newOIDCStack(t, iss, "")
	waitOIDCReady(t, s)
	claims := func(role, agency any) map[string]any { return iss.Claims(oidcAudience, "a.officer", role, agency) }
	expired := claims("auditor", "HMIC")
	expired["exp"] = time.Now().Add(-time.Minute).Unix()

	for _, tc := range []struct {
		name      string
		token     string
		status    int
		typ, code string
		field     string
		detail    string
	}{
		{"expired", iss.Sign("ec-1", expired), 401, "/problems/unauthenticated", "unauthenticated", "", "expired"},
		{"another audience", iss.Sign("ec-1", iss.Claims("other", "x", "auditor", "HMIC")), 401, "/problems/unauthenticated", "unauthenticated", "", "not valid"},
		{"static token while static tokens are off", investigatorToken, 401, "/problems/unauthenticated", "unauthenticated", "", "not valid"},
		{"several roles", iss.Sign("rsa-1", claims([]string{"auditor", "investigator"}, "HMIC")), 403, "/problems/forbidden", "unmappable_claims", "casebook_role", "several Casebook roles"},
		{"unknown agency", iss.Sign("rsa-1", claims("auditor", "FBI")), 403, "/problems/forbidden", "unmappable_claims", "casebook_agency", "not a configured agency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := s.serve("GET", "/v1/events", tc.token, nil)
			p := oidcProblemOf(t, w.Body.Bytes())
			if w.Code != tc.status || p.Type != tc.typ || p.Code != tc.code || p.Field != tc.field || !strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("got %d %+v; want %d %s %s field %q detail with %q", w.Code, p, tc.status, tc.typ, tc.code, tc.field, tc.detail)
			}
			if tc.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	if !strings.Contains(s.logs.String(), `"subject":"a.officer"`) {
		t.Fatal("a refused verified token's subject is not logged")
	}
	ok := iss.Sign("rsa-1", claims("auditor", "HMIC"))
	if w := s.serve("GET", "/v1/events", ok, nil); w.Code != http.StatusOK {
		t.Fatalf("a good token: %d %s", w.Code, w.Body)
	}
}

func TestOIDCIssuerDownAtStart(t *testing.T) {
	iss := oidctest.Start(t)
	iss.SetDown(true)
	s, _ := newOIDCStack(t, iss, auditorToken+",auditor.static,auditor,HMIC\n")
	tok := iss.Sign("rsa-1", iss.Claims(oidcAudience, "a.auditor", "auditor", "HMIC"))

	time.Sleep(30 * time.Millisecond)
	w := s.serve("GET", "/readyz", "", nil)
	if p := oidcProblemOf(t, w.Body.Bytes()); w.Code != 503 || p.Code != "issuer_unavailable" || !strings.Contains(p.Detail, iss.URL()) {
		t.Fatalf("/readyz: %d %+v; want 503 saying the issuer is not reachable", w.Code, p)
	}
	w = s.serve("GET", "/v1/events", tok, nil)
	if p := oidcProblemOf(t, w.Body.Bytes()); w.Code != 503 || p.Code != "issuer_unavailable" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("an OIDC token while the issuer is down: %d %+v", w.Code, p)
	}
	// Static tokens work meanwhile.
	if w := s.serve("GET", "/v1/events", auditorToken, nil); w.Code != http.StatusOK {
		t.Fatalf("a static token while the issuer is down: %d %s", w.Code, w.Body)
	}
	iss.SetDown(false)
	waitOIDCReady(t, s)
	if w := s.serve("GET", "/v1/events", tok, nil); w.Code != http.StatusOK {
		t.Fatalf("once the issuer answers: %d %s", w.Code, w.Body)
	}
}
