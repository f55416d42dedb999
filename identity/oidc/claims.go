package oidc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
)

// claimPath names one claim: its configured name, and the name split at
// its dots for a walk into nested objects.
type claimPath struct {
	name  string
	steps []string
}

type claimPaths struct{ subject, role, agency claimPath }

func parseClaimPaths(subject, role, agency string) (claimPaths, error) {
	var out claimPaths
	for _, c := range []struct {
		flag, name string
		dst        *claimPath
	}{{"subject", subject, &out.subject}, {"role", role, &out.role}, {"agency", agency, &out.agency}} {
		steps := strings.Split(c.name, ".")
		if slices.Contains(steps, "") {
			return out, fmt.Errorf("oidc: %s claim %q: empty part in a dotted path", c.flag, c.name)
		}
		*c.dst = claimPath{name: c.name, steps: steps}
	}
	return out, nil
}

// lookup finds the claim in a token's claims: a top-level claim of that
// exact name first (names such as "https://casebook.example/role" hold
// dots), then the dotted path through nested objects.
func (p claimPath) lookup(claims map[string]any) (any, bool) {
	if v, ok := claims[p.name]; ok {
		return v, true
	}
	if len(p.steps) < 2 {
		return nil, false
	}
	var cur any = claims
	for _, step := range p.steps {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[step]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// identityOf maps verified claims to an identity, or says which claim does
// not map and why.
func (v *Verifier) identityOf(claims map[string]any) (core.Identity, error) {
	var id core.Identity
	// The subject is recorded as it stands: no trimming or folding.
	raw, ok := v.paths.subject.lookup(claims)
	if !ok {
		return id, &ClaimError{Claim: v.paths.subject.name, Reason: "the token has no such claim"}
	}
	sub, ok := raw.(string)
	if !ok {
		return id, &ClaimError{Claim: v.paths.subject.name, Reason: fmt.Sprintf("must be a string, not %s", jsonType(raw))}
	}
	if err := domain.ValidateActor(domain.Actor{Subject: sub, Role: "-", Agency: "-"}); err != nil {
		return id, &ClaimError{Claim: v.paths.subject.name, Reason: "is not a usable subject: " + err.Error()}
	}
	id.Subject = sub
	role, err := v.roleOf(claims)
	if err != nil {
		err.Subject = sub
		return id, err
	}
	id.Role = role
	agency, err := v.agencyOf(claims)
	if err != nil {
		err.Subject = sub
		return id, err
	}
	id.Agency = agency
	return id, nil
}

// roleOf reads the role claim: a string that is a Casebook role, or an
// array (of strings) holding exactly one Casebook role among whatever else
// the issuer puts there (Keycloak's realm_access.roles holds
// offline_access and the like).
func (v *Verifier) roleOf(claims map[string]any) (string, *ClaimError) {
	name := v.paths.role.name
	raw, ok := v.paths.role.lookup(claims)
	if !ok {
		return "", &ClaimError{Claim: name, Reason: "the token has no such claim; it must hold one Casebook role (" + strings.Join(core.Roles, ", ") + ")"}
	}
	switch r := raw.(type) {
	case string:
		if !core.IsRole(r) {
			return "", &ClaimError{Claim: name, Reason: fmt.Sprintf("%q is not a Casebook role (one of %s)", truncate(r), strings.Join(core.Roles, ", "))}
		}
		return r, nil
	case []any:
		var found []string
		for _, item := range r {
			s, ok := item.(string)
			if !ok {
				return "", &ClaimError{Claim: name, Reason: fmt.Sprintf("must be a string or an array of strings; it holds %s", jsonType(item))}
			}
			if core.IsRole(s) && !slices.Contains(found, s) {
				found = append(found, s)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
			return "", &ClaimError{Claim: name, Reason: "holds no Casebook role (one of " + strings.Join(core.Roles, ", ") + ")"}
		default:
			return "", &ClaimError{Claim: name, Reason: "holds several Casebook roles (" + strings.Join(found, ", ") + "); a caller must hold exactly one"}
		}
	}
	return "", &ClaimError{Claim: name, Reason: fmt.Sprintf("must be a string or an array of strings, not %s", jsonType(raw))}
}

// agencyOf reads the agency claim: a string naming a configured agency
// (matched as Casebook matches codes: case-insensitively).
func (v *Verifier) agencyOf(claims map[string]any) (string, *ClaimError) {
	name := v.paths.agency.name
	raw, ok := v.paths.agency.lookup(claims)
	if !ok {
		return "", &ClaimError{Claim: name, Reason: "the token has no such claim; it must name the caller's agency"}
	}
	s, ok := raw.(string)
	if !ok {
		return "", &ClaimError{Claim: name, Reason: fmt.Sprintf("must be a string, not %s", jsonType(raw))}
	}
	code, ok := v.cfg.Agencies.Canonical(s)
	if !ok {
		return "", &ClaimError{Claim: name, Reason: fmt.Sprintf("%q is not a configured agency (one of %s)", truncate(s), strings.Join(v.cfg.Agencies.Codes(), ", "))}
	}
	return code, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// truncate keeps a claim value short in a message.
func truncate(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}
