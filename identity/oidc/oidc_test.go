package oidc_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/identity/oidc"
	"github.com/casebook/casebook/identity/oidc/oidctest"
)

const audience = "casebook"

// newVerifier starts a verifier of iss and waits until it has discovered it.
func newVerifier(t *testing.T, iss *oidctest.Issuer, change func(*oidc.Config)) *oidc.Verifier {
	t.Helper()
	cfg := oidc.Config{Issuer: iss.URL(), Audience: audience, Agencies: domain.DefaultAgencies(),
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	if change != nil {
		change(&cfg)
	}
	v, err := oidc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	waitReady(t, v)
	return v
}

func waitReady(t *testing.T, v *oidc.Verifier) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for v.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the verifier never became ready: %v", v.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func verify(v *oidc.Verifier, token string) (core.Identity, error) {
	return v.Verify(context.Background(), token)
}

func wantInvalid(t *testing.T, v *oidc.Verifier, token string) *oidc.InvalidTokenError {
	t.Helper()
	id, err := verify(v, token)
	var ie *oidc.InvalidTokenError
	if !errors.As(err, &ie) {
		t.Fatalf("got %+v, %v; want an invalid token", id, err)
	}
	return ie
}

func wantClaimError(t *testing.T, v *oidc.Verifier, token, claim, reason string) {
	t.Helper()
	id, err := verify(v, token)
	var ce *oidc.ClaimError
	if !errors.As(err, &ce) {
		t.Fatalf("got %+v, %v; want a claim error", id, err)
	}
	if ce.Claim != claim || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("claim error %q: %q; want claim %q, reason containing %q", ce.Claim, ce.Reason, claim, reason)
	}
}

func TestValidTokenPerRoleAndAlgorithm(t *testing.T) {
	iss := oidctest.Start(t)
	v := newVerifier(t, iss, nil)
	for _, key := range []string{"rsa-1", "ec-1"} {
		for _, role := range core.Roles {
			t.Run(key+"/"+role, func(t *testing.T) {
				// The agency is matched case-insensitively and kept in its
				// configured form; the subject is kept as it stands.
				tok := iss.Sign(key, iss.Claims(audience, "Officer.Dupont@Example.org", role, "ukba"))
				id, err := verify(v, tok)
				if err != nil {
					t.Fatal(err)
				}
				want := core.Identity{Subject: "Officer.Dupont@Example.org", Role: role, Agency: "UKBA"}
				if id != want {
					t.Fatalf("got %+v, want %+v", id, want)
				}
			})
		}
	}
}

func TestRefusedTokens(t *testing.T) {
	iss := oidctest.Start(t)
	v := newVerifier(t, iss, nil)
	valid := func() map[string]any { return iss.Claims(audience, "a.officer", "investigator", "UKBA") }
	with := func(k string, val any) map[string]any { c := valid(); c[k] = val; return c }
	now := time.Now()

	t.Run("expired", func(t *testing.T) {
		e := wantInvalid(t, v, iss.Sign("rsa-1", with("exp", now.Add(-time.Minute).Unix())))
		if !strings.Contains(e.Reason, "expired") {
			t.Fatalf("reason %q does not say expired", e.Reason)
		}
	})
	t.Run("not yet valid", func(t *testing.T) {
		wantInvalid(t, v, iss.Sign("ec-1", with("nbf", now.Add(time.Hour).Unix())))
	})
	t.Run("no expiry", func(t *testing.T) {
		c := valid()
		delete(c, "exp")
		wantInvalid(t, v, iss.Sign("rsa-1", c))
	})
	t.Run("wrong issuer", func(t *testing.T) {
		wantInvalid(t, v, iss.Sign("rsa-1", with("iss", "https://login.example.org/other")))
	})
	t.Run("wrong audience", func(t *testing.T) {
		wantInvalid(t, v, iss.Sign("rsa-1", with("aud", "another-app")))
	})
	t.Run("audience among several", func(t *testing.T) {
		if _, err := verify(v, iss.Sign("rsa-1", with("aud", []string{"account", audience}))); err != nil {
			t.Fatalf("a token for several audiences including ours: %v", err)
		}
	})
	t.Run("alg none", func(t *testing.T) {
		wantInvalid(t, v, unsigned(t, valid(), "rsa-1"))
	})
	t.Run("HS256 signed with the public key", func(t *testing.T) {
		k, _ := iss.Key("rsa-1")
		der, err := x509.MarshalPKIXPublicKey(k.Private.Public())
		if err != nil {
			t.Fatal(err)
		}
		wantInvalid(t, v, hs256(t, valid(), "rsa-1", der))
	})
	t.Run("signed by another key under a published kid", func(t *testing.T) {
		forged := oidctest.NewRSAKey("rsa-1")
		wantInvalid(t, v, oidctest.SignWith(forged, valid()))
	})
	t.Run("unknown kid", func(t *testing.T) {
		// go-oidc hands a fetch that just finished to a caller arriving
		// within moments of it, without fetching again: let the previous
		// subtest's refetch settle.
		time.Sleep(20 * time.Millisecond)
		before := iss.KeyFetches()
		wantInvalid(t, v, oidctest.SignWith(oidctest.NewECKey("nobody-knows"), valid()))
		if iss.KeyFetches() == before {
			t.Fatal("an unknown kid should make the verifier fetch the keys again")
		}
	})
	t.Run("tampered payload", func(t *testing.T) {
		tok := iss.Sign("rsa-1", valid())
		parts := strings.Split(tok, ".")
		c := valid()
		c["casebook_role"] = "auditor"
		b, _ := json.Marshal(c)
		parts[1] = base64.RawURLEncoding.EncodeToString(b)
		wantInvalid(t, v, strings.Join(parts, "."))
	})
	t.Run("not a JWT", func(t *testing.T) {
		wantInvalid(t, v, "not.a.jwt")
	})
}

// unsigned is a token with "alg": "none".
func unsigned(t *testing.T, claims map[string]any, kid string) string {
	t.Helper()
	h, _ := json.Marshal(map[string]any{"alg": "none", "kid": kid, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// hs256 is a token MACed with secret (the classic key-confusion attack:
// the RSA public key used as an HMAC secret).
func hs256(t *testing.T, claims map[string]any, kid string, secret []byte) string {
	t.Helper()
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": kid, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestKeyRotation(t *testing.T) {
	t.Run("a token signed with the new key prompts a refetch; the old key is then refused", func(t *testing.T) {
		iss := oidctest.Start(t)
		v := newVerifier(t, iss, nil)
		claims := iss.Claims(audience, "a.officer", "auditor", "SOCA")
		old := iss.Sign("rsa-1", claims)
		if _, err := verify(v, old); err != nil {
			t.Fatal(err)
		}
		newKey := oidctest.NewRSAKey("rsa-2")
		iss.SetKeys(newKey) // rsa-1 and ec-1 withdrawn
		if _, err := verify(v, iss.Sign("rsa-2", claims)); err != nil {
			t.Fatalf("a token of the new key, without restart: %v", err)
		}
		// go-oidc answers the waiting verification before it stores the
		// fetched keys: let it store them.
		time.Sleep(20 * time.Millisecond)
		wantInvalid(t, v, old)
		wantInvalid(t, v, iss.Sign("ec-1", claims))
	})
	t.Run("withdrawn keys stop being trusted within the key max age", func(t *testing.T) {
		iss := oidctest.Start(t)
		v := newVerifier(t, iss, func(c *oidc.Config) { c.KeyMaxAge = 50 * time.Millisecond })
		claims := iss.Claims(audience, "a.officer", "auditor", "SOCA")
		old := iss.Sign("ec-1", claims)
		if _, err := verify(v, old); err != nil {
			t.Fatal(err)
		}
		iss.SetKeys(oidctest.NewECKey("ec-2"))
		time.Sleep(60 * time.Millisecond)
		wantInvalid(t, v, old) // no token of the new key came first
	})
	t.Run("keys are cached between tokens", func(t *testing.T) {
		iss := oidctest.Start(t)
		v := newVerifier(t, iss, nil)
		tok := iss.Sign("rsa-1", iss.Claims(audience, "a.officer", "auditor", "SOCA"))
		if _, err := verify(v, tok); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // go-oidc stores fetched keys just after answering
		before := iss.KeyFetches()
		for range 20 {
			if _, err := verify(v, tok); err != nil {
				t.Fatal(err)
			}
		}
		if n := iss.KeyFetches() - before; before != 1 || n != 0 {
			t.Fatalf("%d key fetches for the first verification, %d for 20 more; want 1 and 0", before, n)
		}
	})
}

// Verified tokens are remembered (by digest) for a while: never past their
// expiry.
func TestRememberedTokenExpiresWithTheToken(t *testing.T) {
	iss := oidctest.Start(t)
	v := newVerifier(t, iss, nil)
	c := iss.Claims(audience, "a.officer", "auditor", "SOCA")
	c["exp"] = time.Now().Add(1100 * time.Millisecond).Unix() // whole seconds: 1 to 2 s from now
	tok := iss.Sign("rsa-1", c)
	for range 3 {
		if _, err := verify(v, tok); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Until(time.Unix(c["exp"].(int64), 0)) + 50*time.Millisecond)
	if e := wantInvalid(t, v, tok); !strings.Contains(e.Reason, "expired") {
		t.Fatalf("reason %q", e.Reason)
	}
}

func TestClaimsThatDoNotMap(t *testing.T) {
	iss := oidctest.Start(t)
	v := newVerifier(t, iss, nil)
	token := func(change func(c map[string]any)) string {
		c := iss.Claims(audience, "a.officer", "investigator", "UKBA")
		change(c)
		return iss.Sign("rsa-1", c)
	}
	cases := []struct {
		name, claim, reason string
		change              func(c map[string]any)
	}{
		{"role missing", "casebook_role", "no such claim", func(c map[string]any) { delete(c, "casebook_role") }},
		{"role a number", "casebook_role", "must be a string or an array", func(c map[string]any) { c["casebook_role"] = 3 }},
		{"role unknown", "casebook_role", `"superintendent" is not a Casebook role`, func(c map[string]any) { c["casebook_role"] = "superintendent" }},
		{"role array without one", "casebook_role", "holds no Casebook role", func(c map[string]any) { c["casebook_role"] = []string{"offline_access"} }},
		{"role array with several", "casebook_role", "holds several Casebook roles (investigator, auditor)", func(c map[string]any) {
			c["casebook_role"] = []string{"investigator", "offline_access", "auditor"}
		}},
		{"role array with a number", "casebook_role", "holds a number", func(c map[string]any) { c["casebook_role"] = []any{"investigator", 1} }},
		{"agency missing", "casebook_agency", "no such claim", func(c map[string]any) { delete(c, "casebook_agency") }},
		{"agency an array", "casebook_agency", "must be a string, not an array", func(c map[string]any) { c["casebook_agency"] = []string{"UKBA"} }},
		{"agency unknown", "casebook_agency", `"Interpol" is not a configured agency`, func(c map[string]any) { c["casebook_agency"] = "Interpol" }},
		{"subject missing", "sub", "no such claim", func(c map[string]any) { delete(c, "sub") }},
		{"subject blank", "sub", "not a usable subject", func(c map[string]any) { c["sub"] = "  " }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantClaimError(t, v, token(tc.change), tc.claim, tc.reason) })
	}
	t.Run("sub a number", func(t *testing.T) {
		// OpenID Connect's sub is a string: go-oidc refuses the token
		// itself (a configured subject claim of the wrong type is a 403:
		// TestConfiguredClaimPaths).
		wantInvalid(t, v, token(func(c map[string]any) { c["sub"] = 42 }))
	})
	t.Run("one Casebook role among others", func(t *testing.T) {
		id, err := verify(v, token(func(c map[string]any) { c["casebook_role"] = []string{"offline_access", "auditor", "auditor"} }))
		if err != nil || id.Role != "auditor" {
			t.Fatalf("got %+v, %v; want the auditor role", id, err)
		}
	})
}

func TestConfiguredClaimPaths(t *testing.T) {
	iss := oidctest.Start(t)
	v := newVerifier(t, iss, func(c *oidc.Config) {
		c.SubjectClaim, c.RoleClaim, c.AgencyClaim = "preferred_username", "realm_access.roles", "https://casebook.example/agency"
	})
	c := iss.Claims(audience, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", nil, nil)
	delete(c, "casebook_role")
	delete(c, "casebook_agency")
	c["preferred_username"] = "j.smith"
	c["realm_access"] = map[string]any{"roles": []string{"default-roles-casebook", "offline_access", "investigator"}}
	c["https://casebook.example/agency"] = "PAF"
	id, err := verify(v, iss.Sign("ec-1", c))
	if err != nil {
		t.Fatal(err)
	}
	if want := (core.Identity{Subject: "j.smith", Role: "investigator", Agency: "PAF"}); id != want {
		t.Fatalf("got %+v, want %+v", id, want)
	}
	// A nested claim that is not there names the configured path.
	delete(c["realm_access"].(map[string]any), "roles")
	wantClaimError(t, v, iss.Sign("ec-1", c), "realm_access.roles", "no such claim")
	c["realm_access"] = "investigator" // not an object: the path does not resolve
	wantClaimError(t, v, iss.Sign("ec-1", c), "realm_access.roles", "no such claim")
	c["realm_access"] = map[string]any{"roles": []string{"investigator"}}
	c["preferred_username"] = 42
	wantClaimError(t, v, iss.Sign("ec-1", c), "preferred_username", "must be a string, not a number")
}

func TestIssuerDown(t *testing.T) {
	t.Run("at start: tokens are unavailable, not refused, until it answers", func(t *testing.T) {
		iss := oidctest.Start(t)
		iss.SetDown(true)
		v, err := oidc.New(oidc.Config{Issuer: iss.URL(), Audience: audience, Agencies: domain.DefaultAgencies(),
			RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		tok := iss.Sign("rsa-1", iss.Claims(audience, "a.officer", "auditor", "SOCA"))
		time.Sleep(50 * time.Millisecond) // a few failed attempts
		if err := v.Ready(); !errors.Is(err, oidc.ErrIssuerUnavailable) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("Ready: %v; want the issuer unavailable, saying why", err)
		}
		if _, err := verify(v, tok); !errors.Is(err, oidc.ErrIssuerUnavailable) {
			t.Fatalf("Verify: %v; want ErrIssuerUnavailable", err)
		}
		iss.SetDown(false)
		waitReady(t, v)
		if _, err := verify(v, tok); err != nil {
			t.Fatalf("once the issuer answers: %v", err)
		}
	})
	t.Run("when its keys are needed: unavailable, not refused", func(t *testing.T) {
		iss := oidctest.Start(t)
		v := newVerifier(t, iss, nil)
		iss.SetDown(true) // discovered, but no key fetched yet
		tok := iss.Sign("ec-1", iss.Claims(audience, "a.officer", "auditor", "SOCA"))
		if _, err := verify(v, tok); !errors.Is(err, oidc.ErrIssuerUnavailable) {
			t.Fatalf("Verify: %v; want ErrIssuerUnavailable", err)
		}
		iss.SetDown(false)
		if _, err := verify(v, tok); err != nil {
			t.Fatalf("once the issuer answers: %v", err)
		}
	})
	t.Run("cached keys serve while the issuer is down past their max age", func(t *testing.T) {
		iss := oidctest.Start(t)
		v := newVerifier(t, iss, func(c *oidc.Config) { c.KeyMaxAge = 30 * time.Millisecond })
		tok := iss.Sign("rsa-1", iss.Claims(audience, "a.officer", "auditor", "SOCA"))
		if _, err := verify(v, tok); err != nil {
			t.Fatal(err)
		}
		iss.SetDown(true)
		time.Sleep(40 * time.Millisecond)
		if _, err := verify(v, tok); err != nil {
			t.Fatalf("with the issuer down and the keys past their age: %v", err)
		}
	})
}

func TestConfigRefused(t *testing.T) {
	agencies := domain.DefaultAgencies()
	for name, cfg := range map[string]oidc.Config{
		"no issuer":       {Audience: audience, Agencies: agencies},
		"not a URL":       {Issuer: "login.example.org", Audience: audience, Agencies: agencies},
		"no audience":     {Issuer: "https://login.example.org", Agencies: agencies},
		"empty path part": {Issuer: "https://login.example.org", Audience: audience, Agencies: agencies, RoleClaim: "realm_access..roles"},
	} {
		if v, err := oidc.New(cfg); err == nil {
			v.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for tok, want := range map[string]bool{
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln": true,
		"cbk_FgnG5n2su5ILS6FMKcl4He00rauHBEPrvU":    false,
		"a.b":                                       false,
		"a.b.c.d":                                   false,
		"a b.c.d":                                   false,
		"eyJ.eyJ.sig==":                             false,
	} {
		if got := oidc.LooksLikeJWT(tok); got != want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", tok, got, want)
		}
	}
}
