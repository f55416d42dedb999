package core_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// An auditor opens an event a report names by its id: the event as the
// global log shows it, with its case, and the case's access log records the
// read (operation read_event, the event's version) before the answer.
func TestEventByID(t *testing.T) {
	f := newFixture(t, core.Config{AccessMergeWindow: -1})
	id := f.open(openData)
	f.record(id, domain.TypeSuspectIdentified, identify(personA))
	arrested := f.record(id, domain.TypeArrestMade, arrest(personA))

	got, err := f.svc.Event(f.ctx, auditorBea, arrested.EventID, core.Consultation{RequestID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.CaseID != id || got.ID != arrested.EventID || got.Type != domain.TypeArrestMade || got.Version != arrested.Version ||
		got.Position != arrested.Position || got.Hash == "" || got.PrevHash == "" || got.Actor != ukba.Actor() {
		t.Fatalf("Event = %+v, want the arrest (version %d, position %d) of case %s", got, arrested.Version, arrested.Position, id)
	}
	page, err := f.svc.History(f.ctx, auditorBea, id, arrested.Version, 1, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	if h := page.Events[0].Metadata.Hash; got.Hash != h {
		t.Errorf("hash %s, the history says %s", got.Hash, h)
	}

	log, err := f.svc.AccessLog(f.ctx, auditorBea, core.AccessQuery{CaseID: id, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range log.Entries {
		if e.Operation == domain.AccessReadEvent {
			found = true
			if e.Subject != auditorBea.Subject || e.VersionRead == nil || *e.VersionRead != arrested.Version || e.RequestID != "req-1" {
				t.Errorf("access-log entry %+v, want auditor.bea reading version %d in request req-1", e, arrested.Version)
			}
		}
	}
	if !found {
		t.Errorf("no read_event entry in the access log: %+v", log.Entries)
	}
}

func TestEventByIDRefusals(t *testing.T) {
	f := newFixture(t, core.Config{})
	id := f.open(openData)
	opened, err := f.svc.History(f.ctx, auditorBea, id, 0, 1, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	eventID := opened.Events[0].ID

	t.Run("OnlyAuditors", func(t *testing.T) {
		for _, who := range []core.Identity{ukba, analystDan, adminOlu} {
			_, err := f.svc.Event(f.ctx, who, eventID, core.Consultation{})
			wantCode(t, err, domain.CodeForbidden)
		}
	})
	t.Run("UnknownID", func(t *testing.T) {
		_, err := f.svc.Event(f.ctx, auditorBea, uuid.New(), core.Consultation{})
		wantCode(t, err, domain.CodeEventNotFound)
	})
	t.Run("AccessLogEntriesAreNotCaseEvents", func(t *testing.T) {
		// The history read above wrote the case's first access-log entry.
		var entryID uuid.UUID
		for rec, err := range f.store.ReadStream(f.ctx, domain.AccessStreamName(id), eventstore.ReadStreamOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			entryID = rec.ID
			break
		}
		_, err := f.svc.Event(f.ctx, auditorBea, entryID, core.Consultation{})
		wantCode(t, err, domain.CodeEventNotFound)
	})
	t.Run("StoreWithoutAnIndexOfIDs", func(t *testing.T) {
		svc := newCore(t, storeWithoutFinder{f.store}, core.Config{})
		_, err := svc.Event(context.Background(), auditorBea, eventID, core.Consultation{})
		de := wantCode(t, err, domain.CodeUnavailable)
		if de.Kind != domain.KindUnavailable {
			t.Errorf("kind %s, want unavailable", de.Kind)
		}
	})
}

// storeWithoutFinder is a test double: the SQLite store seen through the
// Store interface alone, as the KurrentDB backend is (no EventFinder).
type storeWithoutFinder struct{ eventstore.Store }
