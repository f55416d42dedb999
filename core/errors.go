package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/projections"
)

// The core answers every failure as a *domain.Error (Casebook's one error
// vocabulary): the event store's and the read models' own errors are
// translated here, at the core's boundary, and nowhere else.

// caseNotFound is the answer for a case that does not exist AND for one
// the caller may not see: the same kind, code and words, so that the
// answer never tells an outsider that a case exists.
func caseNotFound(id uuid.UUID) *domain.Error {
	return domain.Errorf(domain.KindNotFound, domain.CodeCaseNotFound, "no case %s", id)
}

// caseIDTaken is the answer for opening a case with a client-chosen id that
// is already in use, whoever may see that case.
func caseIDTaken(id uuid.UUID) *domain.Error {
	e := domain.Errorf(domain.KindConflict, domain.CodeCaseIDTaken,
		"the case id %s is already in use; open the case with another id, or none", id)
	e.Field = "id"
	return e
}

// corruptRecord is the answer for a case whose stored events cannot be
// read: the record was damaged outside Casebook.
func corruptRecord(id uuid.UUID, cause error) *domain.Error {
	return &domain.Error{Kind: domain.KindInternal, Code: domain.CodeCorruptRecord, Cause: cause,
		Message: fmt.Sprintf("a stored event of case %s cannot be read; the record was altered outside Casebook (verify shows where)", id)}
}

// storeError translates an event store failure.
func storeError(what string, err error) error {
	var de *domain.Error
	var dropped *eventstore.SubscriptionDroppedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err // the caller's own context: not the store's fault
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, eventstore.ErrClosed), errors.As(err, &dropped):
		return domain.Unavailable(fmt.Errorf("%s: %w", what, err), time.Second, "the event store is not answering; retry shortly")
	case errors.Is(err, eventstore.ErrEventTooLarge):
		return domain.Errorf(domain.KindInvalid, domain.CodeValidation, "the event is larger than the store accepts")
	}
	return domain.Internal(fmt.Errorf("%s: %w", what, err))
}

// readModelError translates a read-model failure.
func readModelError(what string, err error) error {
	var de *domain.Error
	var qe *projections.QueryError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case errors.As(err, &qe):
		return domain.BadParameter(qe.Field, "%s: %s", qe.Field, qe.Message)
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, projections.ErrUnknownProjection):
		valid := projections.Names()
		var ue *projections.UnknownProjectionError
		if errors.As(err, &ue) {
			valid = ue.Valid
		}
		return domain.Errorf(domain.KindNotFound, domain.CodeUnknownProjection, "no projection %q (there are: %s; each may be spelt with hyphens, as the report routes are)",
			truncate(what, 64), strings.Join(valid, ", "))
	case errors.Is(err, projections.ErrProjectionFailed):
		e := domain.Unavailable(err, 30*time.Second, "a read model this answer depends on has failed; an admin can rebuild it")
		e.Code = domain.CodeProjectionFailed
		return e
	case errors.Is(err, projections.ErrClosed):
		return domain.Unavailable(err, 5*time.Second, "the read models are closed (the server is stopping)")
	}
	return storeError(what, err)
}
