package casehttp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casebook/casebook/domain"
	casehttp "github.com/casebook/casebook/http"
	"github.com/casebook/casebook/identity/oidc"
	"github.com/casebook/casebook/identity/oidc/oidctest"
)

// BenchmarkAuthenticate is the per-request cost of authentication: a
// static token (the baseline: one SHA-256 and a constant-time scan of the
// tokens file's digests) against OpenID Connect tokens, RS256 and ES256,
// verified in full with the issuer's keys cached (signature, issuer,
// audience, times, claims mapping: "verify") and as casebookd meets them
// mostly, remembered from an earlier request ("remembered"). Run in one
// command so that the ratios are of one machine state:
//
//	go test -run '^$' -bench Authenticate -benchmem -count 5 ./http/
func BenchmarkAuthenticate(b *testing.B) {
	iss := oidctest.Start(b)
	verifier := func(cache int) *oidc.Verifier {
		v, err := oidc.New(oidc.Config{Issuer: iss.URL(), Audience: "casebook", Agencies: domain.DefaultAgencies(), TokenCache: cache})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { v.Close() })
		for v.Ready() != nil {
			time.Sleep(time.Millisecond)
		}
		return v
	}
	// A tokens file of a realistic size: 50 service accounts and developers.
	var file strings.Builder
	for i := range 50 {
		file.WriteString("tok-static-bench-" + string(rune('a'+i%26)) + strings.Repeat("x", i) + ",svc" + string(rune('a'+i%26)) + ",auditor,HMIC\n")
	}
	file.WriteString("tok-static-bench-last-0123456789,svc.last,auditor,HMIC\n")
	set, err := casehttp.ParseTokens(strings.NewReader(file.String()), nil)
	if err != nil {
		b.Fatal(err)
	}
	verifying := casehttp.NewAuthenticator(set).WithOIDC(verifier(-1))
	remembering := casehttp.NewAuthenticator(set).WithOIDC(verifier(0))
	claims := iss.Claims("casebook", "officer.alice@ukba.example", "investigator", "UKBA")
	ctx := context.Background()
	for _, c := range []struct {
		name, header string
		a            *casehttp.Authenticator
	}{
		{"static", "Bearer tok-static-bench-last-0123456789", verifying},
		{"oidc-RS256-verify", "Bearer " + iss.Sign("rsa-1", claims), verifying},
		{"oidc-ES256-verify", "Bearer " + iss.Sign("ec-1", claims), verifying},
		{"oidc-RS256-remembered", "Bearer " + iss.Sign("rsa-1", claims), remembering},
		{"oidc-ES256-remembered", "Bearer " + iss.Sign("ec-1", claims), remembering},
	} {
		a := c.a
		if _, p := a.Authenticate(ctx, c.header); p != nil { // also fetches the keys once
			b.Fatalf("%s: %v", c.name, p)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, p := a.Authenticate(ctx, c.header); p != nil {
					b.Fatal(p)
				}
			}
		})
	}
}
