package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/keystore"
)

// Personal data: the core seals the personal fields of every event it
// decides (domain.Decide calls the sealer once the plaintext has passed
// every rule) and opens them on every read it answers, for those entitled
// to see the case. What is stored, hashed, cached and handed to the read
// models is the sealed form; plaintext exists only in a command on its way
// in and in an answer on its way out.
//
// Opening judges erasure on the case's current state (its PersonErased
// events), never on the key store alone: a person erased is shown erased
// even by a node whose memory, or a restored key store, still holds the
// key. A sealed field whose key is missing (not erased) is shown as null
// with a problem saying so; the rest of the answer stands.

// Revealer opens the sealed personal fields of case events. The core uses
// it for its reads; the CLI's replay and export (run by an operator who
// holds the master key) use it too. A nil vault opens nothing: every
// sealed field is reported unreadable.
type Revealer struct {
	vault *keystore.Vault
}

// NewRevealer returns a Revealer over vault (nil: none).
func NewRevealer(vault *keystore.Vault) *Revealer { return &Revealer{vault: vault} }

// Entry returns e with its sealed fields opened: Event and Data hold the
// plaintext (Data in canonical form); fields of an erased person are null
// with ErasedAt set; fields that cannot be opened are null with Unreadable
// saying why. Stored is untouched. current is the case's current state.
// The error is the key store's failure to answer (unavailable).
func (r *Revealer) Entry(ctx context.Context, current *domain.Case, e domain.Entry) (domain.Entry, error) {
	if e.Event == nil || !domain.HasPersonalFields(e.Type) {
		return e, nil
	}
	caseID, _ := domain.CaseIDFromStream(e.Stream)
	if d, disposed := current.Disposal(); disposed {
		// Every key of the case is destroyed: whatever personal data the
		// event holds is gone.
		fields := domain.PersonalFields(caseID, e.Event)
		if len(fields) == 0 {
			return e, nil
		}
		names := make([]string, len(fields))
		for i, pf := range fields {
			names[i] = pf.Name
		}
		ev, err := domain.WithPersonalFields(caseID, e.Event, func(domain.PersonalField) (string, error) { return "", nil })
		if err != nil {
			return e, domain.Internal(err)
		}
		data, err := domain.ViewData(ev, names)
		if err != nil {
			return e, domain.Internal(err)
		}
		at := d.At
		if er, ok := erasureOfEvent(current, e.Event); ok {
			at = er // erased before the disposal: shown as erased then
		}
		e.Event, e.Data, e.ErasedAt = ev, data, &at
		return e, nil
	}
	if si, ok := e.Event.(domain.SuspectIdentified); ok {
		if at, erased := current.ErasedAt(si.PersonID); erased {
			si.Name, si.DateOfBirth, si.Nationality = "", "", ""
			data, err := domain.ViewData(si, domain.PersonalFieldNames(domain.TypeSuspectIdentified))
			if err != nil {
				return e, domain.Internal(err)
			}
			e.Event, e.Data, e.ErasedAt = si, data, &at
			return e, nil
		}
	}
	var unreadable []string
	var why error
	ev, err := domain.WithPersonalFields(caseID, e.Event, func(pf domain.PersonalField) (string, error) {
		plain, err := r.open(ctx, pf, e.ID)
		if err != nil && isUnreadable(err) {
			unreadable = append(unreadable, pf.Name)
			why = err
			return "", nil
		}
		return plain, err
	})
	if err != nil {
		return e, err
	}
	data, err := domain.ViewData(ev, unreadable)
	if err != nil {
		return e, domain.Internal(err)
	}
	e.Event, e.Data = ev, data
	if len(unreadable) > 0 {
		e.Unreadable = unreadableProblem(caseID, e.Event, unreadable, why)
	}
	return e, nil
}

// Case opens the personal fields of shown's suspects (shown is the case
// now, or at an earlier point); current is the case's current state, on
// which erasure is judged.
func (r *Revealer) Case(ctx context.Context, current *domain.Case, shown *domain.Case) error {
	for i := range shown.Suspects {
		s := &shown.Suspects[i]
		if at, erased := current.ErasedAt(s.PersonID); erased {
			s.Name, s.DateOfBirth, s.Nationality = "", "", ""
			s.ErasedAt = &at
			continue
		}
		ev := domain.SuspectIdentified{PersonID: s.PersonID, Name: s.Name, DateOfBirth: s.DateOfBirth, Nationality: s.Nationality}
		var unreadable []string
		var why error
		opened, err := domain.WithPersonalFields(shown.ID, ev, func(pf domain.PersonalField) (string, error) {
			plain, err := r.open(ctx, pf, s.EventID)
			if err != nil && isUnreadable(err) {
				unreadable = append(unreadable, pf.Name)
				why = err
				return "", nil
			}
			return plain, err
		})
		if err != nil {
			return err
		}
		o := opened.(domain.SuspectIdentified)
		s.Name, s.DateOfBirth, s.Nationality = o.Name, o.DateOfBirth, o.Nationality
		if len(unreadable) > 0 {
			s.Unreadable = unreadableProblem(shown.ID, ev, unreadable, why)
		}
	}
	return nil
}

// erasureOfEvent is when a SuspectIdentified's person was erased, if they
// were.
func erasureOfEvent(current *domain.Case, ev domain.Event) (time.Time, bool) {
	if si, ok := ev.(domain.SuspectIdentified); ok {
		return current.ErasedAt(si.PersonID)
	}
	return time.Time{}, false
}

// open opens one field: plaintext as it is, a sealed value with its key.
func (r *Revealer) open(ctx context.Context, pf domain.PersonalField, eventID uuid.UUID) (string, error) {
	if !domain.IsSealed(pf.Value) {
		return pf.Value, nil // written before encryption
	}
	name, blob, ok := domain.ParseSealed(pf.Value)
	if !ok || name != pf.Key.Name() {
		return "", fmt.Errorf("field %s: %w", pf.Name, keystore.ErrUndecryptable)
	}
	if r.vault == nil {
		return "", fmt.Errorf("no key store is configured: %w", keystore.ErrNotFound)
	}
	plain, err := r.vault.OpenField(ctx, pf.Key, eventID, pf.Name, blob)
	if err != nil {
		if isUnreadable(err) {
			return "", err
		}
		return "", keyStoreError("open a sealed field", err)
	}
	return string(plain), nil
}

func isUnreadable(err error) bool {
	return errors.Is(err, keystore.ErrNotFound) || errors.Is(err, keystore.ErrUndecryptable)
}

// unreadableProblem is the problem of fields that could not be opened.
func unreadableProblem(caseID uuid.UUID, ev domain.Event, fields []string, why error) *domain.Unreadable {
	whose := "the case's key"
	if si, ok := ev.(domain.SuspectIdentified); ok {
		whose = "the key of person " + si.PersonID.String() + " in this case"
	}
	u := &domain.Unreadable{Type: domain.ProblemKeyUnavailable, Fields: fields}
	if errors.Is(why, keystore.ErrNotFound) {
		u.Code = domain.CodeKeyUnavailable
		u.Detail = fmt.Sprintf("%s is not in the key store (the person was not erased): these fields cannot be shown until a key store holding it is restored", whose)
	} else {
		u.Code = domain.CodeUndecryptable
		u.Detail = fmt.Sprintf("these fields do not decrypt with %s: the stored value or the key was altered outside Casebook", whose)
	}
	return u
}

// keyStoreError translates a key store failure (not a missing key).
func keyStoreError(what string, err error) error {
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return domain.Unavailable(fmt.Errorf("%s: %w", what, err), time.Second, "the key store is not answering; retry shortly")
}

// sealer is the domain's Sealer over the core's vault, for one command.
func (c *Core) sealer(ctx context.Context) domain.Sealer {
	if c.vault == nil {
		return nil // personal data stored in plain text (a core configured without keys)
	}
	return func(key domain.KeyRef, eventID uuid.UUID, field, plaintext string) (string, error) {
		blob, err := c.vault.SealField(ctx, key, eventID, field, []byte(plaintext))
		if errors.Is(err, keystore.ErrDestroyed) {
			return "", domain.FieldErrorf(domain.KindInvalid, domain.CodePersonErased, field,
				"the key of %s was destroyed (erased): no new personal data may be sealed under it", key.Name())
		}
		if err != nil {
			return "", keyStoreError("seal "+field, err)
		}
		return domain.FormatSealed(key, blob), nil
	}
}
