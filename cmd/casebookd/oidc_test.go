package main_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	main "github.com/casebook/casebook/cmd/casebookd"
	"github.com/casebook/casebook/identity/oidc/oidctest"
)

// TestOIDCIssuerDownAtStart: casebookd starts although its identity
// provider does not answer; /readyz says why, the provider's tokens get 503
// (static tokens keep working), and once it answers its tokens are
// accepted, without a restart.
func TestOIDCIssuerDownAtStart(t *testing.T) {
	iss := oidctest.Start(t)
	iss.SetDown(true)
	s := startServer(t, func(c *main.Config) {
		c.OIDC.Issuer, c.OIDC.Audience, c.OIDC.RoleClaim = iss.URL(), "casebook", "realm_access.roles"
	})
	claims := iss.Claims("casebook", "keycloak-user-7", nil, "ukba")
	delete(claims, "casebook_role")
	claims["realm_access"] = map[string]any{"roles": []string{"offline_access", "investigator"}}
	sso := iss.Sign("ec-1", claims)

	r := s.do(t, req{method: "GET", path: "/readyz"})
	mustStatus(t, r, http.StatusServiceUnavailable)
	if p := r.problem(t); p.Code != "issuer_unavailable" || !strings.Contains(p.Detail, iss.URL()) {
		t.Fatalf("/readyz problem %+v; want it to name the issuer", p)
	}
	r = s.do(t, req{method: "POST", path: "/v1/cases", as: sso, body: map[string]any{
		"reference": "SSO-1", "title": "t", "crime_types": []string{"people_smuggling"}, "location": "Calais"}})
	mustStatus(t, r, http.StatusServiceUnavailable)
	if p := r.problem(t); p.Code != "issuer_unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("an OIDC token while the issuer is down: %+v", p)
	}
	s.openCase(t, invUKBA, "STATIC-1") // static tokens are not held up

	iss.SetDown(false)
	deadline := time.Now().Add(15 * time.Second)
	for s.do(t, req{method: "GET", path: "/readyz"}).Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never turned 200 after the issuer came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := s.openCase(t, sso, "SSO-1")
	var page struct {
		Events []struct {
			Actor struct{ Subject, Role, Agency string } `json:"actor"`
		} `json:"events"`
	}
	r = s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "/events", as: sso})
	mustStatus(t, r, http.StatusOK)
	r.decode(t, &page)
	if a := page.Events[0].Actor; a.Subject != "keycloak-user-7" || a.Role != "investigator" || a.Agency != "UKBA" {
		t.Fatalf("actor %+v", a)
	}
	if logs := s.logs.String(); strings.Contains(logs, sso) {
		t.Fatal("the token is in the log")
	}
}

func TestOIDCFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{
		"CASEBOOK_OIDC_ISSUER": "https://login.example.org/realms/casebook", "CASEBOOK_OIDC_AUDIENCE": "casebook",
		"CASEBOOK_OIDC_ROLE_CLAIM": "realm_access.roles", "CASEBOOK_REQUIRE_PURPOSE": "true",
	}
	m := main.NewMain()
	if err := m.ParseFlags([]string{"--oidc-agency-claim", "agency"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := main.OIDCConfig{Issuer: "https://login.example.org/realms/casebook", Audience: "casebook",
		SubjectClaim: "sub", RoleClaim: "realm_access.roles", AgencyClaim: "agency"}
	if m.Config.OIDC != want || !m.Config.RequirePurpose {
		t.Fatalf("config %+v require-purpose %v; want %+v and true", m.Config.OIDC, m.Config.RequirePurpose, want)
	}
	for _, args := range [][]string{
		{"--oidc-issuer", "https://login.example.org"},
		{"--oidc-audience", "casebook"},
	} {
		if err := main.NewMain().ParseFlags(args, func(string) string { return "" }); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	if err := main.NewMain().ParseFlags(nil, func(k string) string {
		return map[string]string{"CASEBOOK_REQUIRE_PURPOSE": "perhaps"}[k]
	}); err == nil {
		t.Error("CASEBOOK_REQUIRE_PURPOSE=perhaps accepted")
	}
}
