// Command issuer is the load test's OpenID Connect issuer: the test double
// of identity/oidc/oidctest serving discovery and its JWKS on a loopback
// address, with one RS256 or ES256 key, after writing tokens for the load
// test's callers. It serves until killed.
//
//	issuer -addr 127.0.0.1:28083 -audience casebook-load -out DIR \
//	    -token investigator=load.sso.investigator,investigator,UKBA \
//	    -token analyst=load.sso.analyst,analyst,HO
//
// writes DIR/investigator.jwt and DIR/analyst.jwt (valid for -ttl).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/casebook/casebook/identity/oidc/oidctest"
)

type tokenFlags []string

func (t *tokenFlags) String() string     { return strings.Join(*t, " ") }
func (t *tokenFlags) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:28083", "listen address (loopback only)")
	audience := flag.String("audience", "casebook-load", "the tokens' audience")
	out := flag.String("out", ".", "directory for the tokens (NAME.jwt)")
	alg := flag.String("alg", "RS256", "signature algorithm: RS256 or ES256")
	ttl := flag.Duration("ttl", time.Hour, "how long the tokens are valid")
	var tokens tokenFlags
	flag.Var(&tokens, "token", "NAME=SUBJECT,ROLE,AGENCY: a token to write (repeatable)")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Fatalf("issuer: -addr %s: a loopback address only", *addr)
	}
	key := oidctest.NewRSAKey("load-rsa")
	if *alg == "ES256" {
		key = oidctest.NewECKey("load-ec")
	} else if *alg != "RS256" {
		log.Fatalf("issuer: -alg %s: want RS256 or ES256", *alg)
	}
	iss := oidctest.NewIssuer(key)
	iss.SetURL("http://" + *addr)
	for _, t := range tokens {
		name, spec, ok := strings.Cut(t, "=")
		parts := strings.Split(spec, ",")
		if !ok || len(parts) != 3 {
			log.Fatalf("issuer: -token %q: want NAME=SUBJECT,ROLE,AGENCY", t)
		}
		claims := iss.Claims(*audience, parts[0], parts[1], parts[2])
		claims["exp"] = time.Now().Add(*ttl).Unix()
		if err := os.WriteFile(filepath.Join(*out, name+".jwt"), []byte(iss.Sign(key.ID, claims)), 0o600); err != nil {
			log.Fatalf("issuer: %v", err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("issuer: %v", err)
	}
	fmt.Fprintf(os.Stderr, "issuer (test double) serving %s for audience %s\n", iss.URL(), *audience)
	srv := &http.Server{Handler: iss, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}
