package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// Erasure is the answer to an erasure: where its PersonErased event
// landed, and when.
type Erasure struct {
	Result
	PersonID uuid.UUID
	ErasedAt time.Time
}

// ErasePerson erases a person's personal data from a case (a data
// protection officer of the case's lead or joined agency): it records
// PersonErased {person_id, reason} and then destroys the person's key, so
// that every SuspectIdentified of that person in the case — retracted or
// not — can never be read again. The events, their chains and every
// figure stay.
//
// Erasing a person already erased answers that erasure (Duplicate set) and
// destroys the key again, which finishes an erasure whose key store did not
// answer the first time. If the key store fails after the event is
// recorded, the error says so; the key is destroyed by the retry, or by
// ApplyErasures when casebookd next starts — and no read shows the data
// meanwhile, since reads judge erasure on the log.
func (c *Core) ErasePerson(ctx context.Context, who Identity, caseID, personID uuid.UUID, reason string) (Erasure, error) {
	if err := requireRole(who, OpErasePerson); err != nil {
		return Erasure{}, err
	}
	if c.vault == nil {
		return Erasure{}, domain.Unavailable(nil, 30*time.Second, "this server has no key store: erasure is not possible")
	}
	data, err := json.Marshal(domain.PersonErased{PersonID: personID, Reason: reason})
	if err != nil {
		return Erasure{}, domain.Internal(err)
	}
	dcmd := domain.Command{EventID: c.newID(), Type: domain.TypePersonErased, Data: data, Actor: who.Actor()}
	judge := func(state *domain.Case) error {
		if !Allowed(who.Role, OpErasePerson, state.RelationOf(who.Agency)) {
			return caseNotFound(caseID) // a case the caller may not see does not exist for them
		}
		return nil
	}
	res, err := c.writer.record(ctx, caseID, dcmd, nil, judge)
	var de *domain.Error
	if errors.As(err, &de) && de.Code == domain.CodePersonAlreadyErased {
		state, lerr := c.writer.load(ctx, caseID)
		if lerr != nil {
			return Erasure{}, lerr
		}
		er, ok := state.Erasure(personID)
		if !ok {
			return Erasure{}, err
		}
		res = Result{CaseID: caseID, EventID: er.EventID, Version: er.Version, Position: er.Position, Duplicate: true}
		err = nil
	}
	if err != nil {
		return Erasure{}, err
	}
	if err := c.vault.Destroy(ctx, domain.PersonKey(caseID, personID)); err != nil {
		e := domain.Unavailable(err, time.Second,
			"the erasure is recorded (event %s) but the key store did not answer: retry to destroy the key (casebookd also destroys it when it next starts); no read shows the data meanwhile", res.EventID)
		return Erasure{}, e
	}
	state, err := c.writer.load(ctx, caseID)
	if err != nil {
		return Erasure{}, err
	}
	at, _ := state.ErasedAt(personID)
	c.logger.Info("personal data erased", "case", caseID, "person", personID, "event", res.EventID, "by", who.Subject)
	return Erasure{Result: res, PersonID: personID, ErasedAt: at}, nil
}

// Person is one identification of a person in a case, as a data protection
// officer sees it to find a data subject: the SuspectIdentified event and
// the personal data it holds (null once erased or when unreadable).
type Person struct {
	PersonID     uuid.UUID
	EventID      uuid.UUID // the SuspectIdentified event
	Version      uint64
	IdentifiedAt time.Time // its occurred_at
	Name         string
	DateOfBirth  string
	Nationality  string
	Retracted    bool // the identification was retracted (its data is still in the log)
	ErasedAt     *time.Time
	Unreadable   *domain.Unreadable
}

// personJSON is a Person as the API shows it.
type personJSON struct {
	PersonID     uuid.UUID          `json:"person_id"`
	EventID      uuid.UUID          `json:"event_id"`
	Version      uint64             `json:"version"`
	IdentifiedAt time.Time          `json:"identified_at"`
	Name         string             `json:"name"`
	DateOfBirth  string             `json:"date_of_birth,omitempty"`
	Nationality  string             `json:"nationality,omitempty"`
	Retracted    bool               `json:"retracted"`
	ErasedAt     *time.Time         `json:"erased_at,omitempty"`
	Unreadable   *domain.Unreadable `json:"unreadable,omitempty"`
}

// MarshalJSON writes erased and unreadable personal fields as null.
func (p Person) MarshalJSON() ([]byte, error) {
	var null []string
	if p.ErasedAt != nil {
		null = domain.PersonalFieldNames(domain.TypeSuspectIdentified)
	} else if p.Unreadable != nil {
		null = p.Unreadable.Fields
	}
	return domain.JSONWithNulls(personJSON(p), null)
}

// People lists every identification of a person in the case, in version
// order (data protection officers of the case's agencies): what erasing
// one of them needs, and nothing else of the case. The read is recorded
// in the access log before it is answered.
func (c *Core) People(ctx context.Context, who Identity, caseID uuid.UUID, con Consultation) ([]Person, error) {
	con, err := c.checkConsultation(who, OpReadPeople, con, true)
	if err != nil {
		return nil, err
	}
	current, err := c.consult(ctx, who, OpReadPeople, caseID, con, domain.AccessReadPeople)
	if err != nil {
		return nil, err
	}
	entries, err := c.writer.readEntries(ctx, caseID, 0, 0, nil)
	if err != nil {
		return nil, err
	}
	out := []Person{}
	for _, e := range entries {
		if e.Type != domain.TypeSuspectIdentified {
			continue
		}
		opened, err := c.reveal.Entry(ctx, &current, e)
		if err != nil {
			return nil, err
		}
		si := opened.Event.(domain.SuspectIdentified)
		_, _, retracted, _ := current.Entry(e.ID)
		out = append(out, Person{PersonID: si.PersonID, EventID: e.ID, Version: e.Version, IdentifiedAt: e.Metadata.OccurredAt.UTC(),
			Name: si.Name, DateOfBirth: si.DateOfBirth, Nationality: si.Nationality, Retracted: retracted,
			ErasedAt: opened.ErasedAt, Unreadable: opened.Unreadable})
	}
	a := c.accessEntry(caseID, domain.AccessReadPeople, domain.AccessServed, con)
	v := current.Version
	a.VersionRead = &v
	if err := c.access.record(ctx, who, a); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyErasures destroys the keys of every erasure recorded in the log
// since the key store's mark, then moves the mark to the log's head. Call
// it before serving: a key store restored from a copy older than some
// erasures (or one whose destroy failed) then holds none of those keys
// before the first answer. It returns how many erasures it applied.
func (c *Core) ApplyErasures(ctx context.Context) (int, error) {
	if c.vault == nil {
		return 0, nil
	}
	keys := c.vault.Store()
	from, err := keys.ErasedThrough(ctx)
	if err != nil {
		return 0, keyStoreError("read the erasure mark", err)
	}
	head, err := c.store.Head(ctx)
	if err != nil {
		return 0, storeError("read the log's head", err)
	}
	if uint64(head) <= from {
		return 0, nil
	}
	n := 0
	opts := eventstore.ReadAllOptions{From: eventstore.Position(from),
		Filter: eventstore.Filter{StreamPrefixes: caseEventsOnly, EventTypes: []string{domain.TypePersonErased, domain.TypeRetentionReviewed}}}
	for rec, err := range c.store.ReadAll(ctx, opts) {
		if err != nil {
			return n, storeError("read the log's erasures", err)
		}
		if uint64(rec.Position) <= from {
			continue
		}
		if rec.Position > head {
			break
		}
		refs, err := c.keysErasedBy(ctx, rec)
		if err != nil {
			return n, err
		}
		if len(refs) == 0 {
			continue // a retain decision
		}
		if err := c.vault.Destroy(ctx, refs...); err != nil {
			return n, keyStoreError("destroy the keys of an erasure", err)
		}
		n++
	}
	if err := keys.SetErasedThrough(ctx, uint64(head)); err != nil {
		return n, keyStoreError("record the erasure mark", err)
	}
	return n, nil
}

// keysErasedBy are the keys an event of the log destroys: a PersonErased
// the person's; a RetentionReviewed dispose every key of the case (whose
// people are known from the case's state: after a disposal no one can be
// added to it).
func (c *Core) keysErasedBy(ctx context.Context, rec eventstore.RecordedEvent) ([]domain.KeyRef, error) {
	caseID, ok := domain.CaseIDFromStream(rec.Stream)
	if !ok {
		return nil, nil
	}
	e, err := domain.DecodeStored(storedOf(rec))
	if err != nil {
		return nil, corruptRecord(caseID, err)
	}
	switch ev := e.Event.(type) {
	case domain.PersonErased:
		return []domain.KeyRef{domain.PersonKey(caseID, ev.PersonID)}, nil
	case domain.RetentionReviewed:
		if ev.Decision != domain.DecisionDispose {
			return nil, nil
		}
		state, err := c.writer.load(ctx, caseID)
		if err != nil {
			return nil, err
		}
		return state.KeysOf(), nil
	}
	return nil, domain.Internal(fmt.Errorf("%s in the erasures of the log", e.Type))
}
