package core

import (
	"slices"
	"strings"

	"github.com/casebook/casebook/domain"
)

// Identity is who calls the core: established by the caller's
// authentication (an API token, an OpenID Connect token, the operator of
// the CLI) and passed to every use case, which decides on it.
type Identity struct {
	Subject string
	Role    string // one of Roles
	Agency  string // a configured agency code
}

// Actor is the identity as the domain records it on events.
func (id Identity) Actor() domain.Actor {
	return domain.Actor{Subject: id.Subject, Role: id.Role, Agency: id.Agency}
}

// Roles a caller may hold.
var Roles = []string{domain.RoleInvestigator, domain.RoleAuditor, domain.RoleAnalyst, domain.RoleAdmin, domain.RoleDPO}

// IsRole reports whether r is one of Roles.
func IsRole(r string) bool { return slices.Contains(Roles, r) }

// CheckIdentity refuses an identity that could not have been issued: no
// subject, an unknown role or an agency that is not configured. It returns
// the identity with its agency in canonical form.
func (c *Core) CheckIdentity(id Identity) (Identity, error) {
	return checkIdentity(c.agencies, id)
}

func checkIdentity(agencies *domain.Agencies, id Identity) (Identity, error) {
	id.Subject = strings.TrimSpace(id.Subject)
	if id.Subject == "" {
		return id, domain.FieldErrorf(domain.KindInvalid, domain.CodeValidation, "subject", "an identity needs a subject")
	}
	if !IsRole(id.Role) {
		return id, domain.FieldErrorf(domain.KindInvalid, domain.CodeValidation, "role",
			"%q is not a role (one of %s)", id.Role, strings.Join(Roles, ", "))
	}
	code, ok := agencies.Canonical(id.Agency)
	if !ok {
		return id, agencies.UnknownAgency("agency", id.Agency)
	}
	id.Agency = code
	return id, nil
}
