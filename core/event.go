package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// CaseEvent is one case event found by its id: the event as the global log
// shows it, and the case it belongs to.
type CaseEvent struct {
	LogEvent
	CaseID uuid.UUID `json:"case_id"`
}

// eventNotFound answers an id that names no case event: an unknown id and
// an access-log entry's id alike (the global log serves case events only).
func eventNotFound(id uuid.UUID) *domain.Error {
	return domain.Errorf(domain.KindNotFound, domain.CodeEventNotFound, "no case event %s", id)
}

// Event returns one case event by its id, with its case (auditors: the
// event behind a figure, which reports name by id only). It is a read of
// the global log, so the same role table applies, and the case's access
// log records the consultation (operation read_event, the event's version)
// before it is answered.
func (c *Core) Event(ctx context.Context, who Identity, id uuid.UUID, con Consultation) (CaseEvent, error) {
	con, err := c.checkConsultation(who, OpReadLog, con, true)
	if err != nil {
		return CaseEvent{}, err
	}
	rec, err := eventstore.FindEvent(ctx, c.store, id)
	switch {
	case errors.Is(err, eventstore.ErrEventNotFound):
		return CaseEvent{}, eventNotFound(id)
	case errors.Is(err, errors.ErrUnsupported):
		return CaseEvent{}, domain.Unavailable(err, 0,
			"this server's event store cannot find an event by its id (the KurrentDB backend keeps no such index); find it in the global log or its case's history")
	case err != nil:
		return CaseEvent{}, storeError(fmt.Sprintf("find event %s", id), err)
	}
	e := logEventOf(rec)
	if e.caseID == uuid.Nil {
		return CaseEvent{}, eventNotFound(id)
	}
	a := c.accessEntry(e.caseID, domain.AccessReadEvent, domain.AccessServed, con)
	v := e.Version
	a.FromVersion, a.VersionRead = &v, &v
	if err := c.access.record(ctx, who, a); err != nil {
		return CaseEvent{}, err
	}
	return CaseEvent{LogEvent: e, CaseID: e.caseID}, nil
}
