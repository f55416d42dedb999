package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/projections"
)

// OpenCase is the command that opens a case.
type OpenCase struct {
	// CaseID is the new case's id; zero generates one. A client that sets
	// it can retry the open safely: the CaseOpened event's id is derived
	// from it.
	CaseID uuid.UUID
	// Data is the CaseOpened data: {reference, title, lead_agency?,
	// crime_types[], location}.
	Data       json.RawMessage
	OccurredAt *time.Time
	// CorrelationID, CausationID: zero means the event's own id.
	CorrelationID, CausationID uuid.UUID
}

// Command asks for one new event on an existing case.
type Command struct {
	EventID    uuid.UUID // zero → generated; set it to make retries idempotent
	Type       string
	OccurredAt *time.Time // nil → now
	Data       json.RawMessage
	// ExpectedVersion (HTTP If-Match) makes the command conditional: if the
	// case is not at this version, nothing is written and the answer is a
	// version conflict carrying the current version. Never retried.
	ExpectedVersion *uint64
	// CorrelationID, CausationID: zero means the event's own id.
	CorrelationID, CausationID uuid.UUID
}

// At selects a past state of a case; the zero At is the current state.
type At struct {
	Version *uint64    // the state after this version
	AsOf    *time.Time // the state as known at this recorded time
}

// Consultation says why and through which request a caller reads a case:
// it goes into the access-log entry of the read. The core validates it
// and, when no purpose is stated, records the role's default (see
// purpose.go).
type Consultation struct {
	Purpose          string // one of domain.Purposes, or "" (none stated)
	PurposeReference string // optional: an operation name, a disclosure request number (≤ 200 characters)
	// PurposeDefaulted is set by the core: no purpose was stated and the
	// role's default was recorded. A caller's value is ignored.
	PurposeDefaulted bool
	RequestID        string
	// PurposeField and ReferenceField name, in errors, where the caller
	// took the purpose and its reference from (over HTTP the
	// Casebook-Purpose and Casebook-Purpose-Reference headers); defaults
	// "purpose" and "purpose_reference".
	PurposeField, ReferenceField string
}

// openEventNamespace derives the CaseOpened event id from a client-chosen
// case id, so that retrying an open with the same id and content is
// idempotent (the store recognises the event) rather than a conflict.
var openEventNamespace = uuid.MustParse("5b0f3c3e-58a4-4f0e-9a53-0c6a4c1f7d21")

// OpenEventID is the id of the CaseOpened event of a case whose id the
// client chose.
func OpenEventID(caseID uuid.UUID) uuid.UUID { return uuid.NewSHA1(openEventNamespace, caseID[:]) }

// OpenCase opens a case. The caller must be an investigator of the lead
// agency (lead_agency defaults to the caller's); the case's reference must
// not be in use by another case of that agency. A retry of the caller's own
// open (same id, same content) answers the case as it was opened, with
// Duplicate set.
func (c *Core) OpenCase(ctx context.Context, who Identity, cmd OpenCase) (Result, domain.Case, error) {
	if err := requireRole(who, OpOpenCase); err != nil {
		return Result{}, domain.Case{}, err
	}
	caseID, eventID := cmd.CaseID, uuid.Nil
	if caseID == uuid.Nil {
		caseID, eventID = c.newID(), c.newID()
	} else {
		eventID = OpenEventID(caseID)
	}
	dcmd := domain.Command{EventID: eventID, Type: domain.TypeCaseOpened, Data: cmd.Data, OccurredAt: cmd.OccurredAt,
		Actor: who.Actor(), CorrelationID: cmd.CorrelationID, CausationID: cmd.CausationID, Now: c.now(), Agencies: c.agencies, Places: c.places}
	// Decide once up front: the data's rules, and the lead agency and
	// reference the rules below need.
	probe, err := domain.Decide(domain.NewCase(caseID), dcmd)
	if err != nil {
		return Result{}, domain.Case{}, err
	}
	opened := probe.Event.(domain.CaseOpened)
	if opened.LeadAgency != who.Agency {
		return Result{}, domain.Case{}, domain.FieldErrorf(domain.KindForbidden, domain.CodeForbidden, "lead_agency",
			"an investigator of %s cannot open a case for another agency (%s)", who.Agency, opened.LeadAgency)
	}
	isRetry := func(e domain.Entry) bool {
		return e.Metadata.Actor == who.Actor() && e.Matches(dcmd)
	}
	// One open of a reference at a time in this process, and the case list
	// caught up with the log before looking the reference up: two opens of
	// the same reference cannot both pass.
	refKey := uuid.NewSHA1(openEventNamespace, []byte(strings.ToUpper(opened.LeadAgency+"\x00"+opened.Reference)))
	unlock, err := c.refs.lock(ctx, refKey)
	if err != nil {
		return Result{}, domain.Case{}, err
	}
	defer unlock()
	if existing, found, err := c.caseWithReference(ctx, opened.LeadAgency, opened.Reference); err != nil {
		return Result{}, domain.Case{}, err
	} else if found && existing != caseID {
		e := domain.FieldErrorf(domain.KindConflict, domain.CodeReferenceTaken, "reference",
			"%s already has a case with the reference %q: case %s", opened.LeadAgency, opened.Reference, existing)
		return Result{}, domain.Case{}, e
	}
	res, state, err := c.writer.open(ctx, caseID, dcmd, isRetry)
	return res, state, err
}

// caseWithReference finds the case of agency with that reference, from the
// case list once it has caught up with the log.
func (c *Core) caseWithReference(ctx context.Context, agency, reference string) (uuid.UUID, bool, error) {
	if c.readModels == nil {
		return uuid.Nil, false, nil // a core without read models (import) checks references itself
	}
	head, err := c.store.Head(ctx)
	if err != nil {
		return uuid.Nil, false, storeError("read the log's head", err)
	}
	if err := c.waitFor(ctx, uint64(head), projections.CaseList); err != nil {
		return uuid.Nil, false, err
	}
	q := projections.CaseQuery{AllAgencies: true, Agency: agency, Text: reference, Limit: 1000}
	for {
		page, err := c.readModels.ListCases(ctx, q)
		if err != nil {
			return uuid.Nil, false, readModelError("look up a reference", err)
		}
		for _, s := range page.Cases {
			if strings.EqualFold(s.LeadAgency, agency) && strings.EqualFold(s.Reference, reference) {
				return s.ID, true, nil
			}
		}
		if page.NextCursor == "" {
			return uuid.Nil, false, nil
		}
		q.Cursor = page.NextCursor
	}
}

// Record logs one event on a case. Investigators of the case's lead or
// joined agencies may; only the lead agency may give another agency access
// or close or reopen the case. A case the caller may not see is answered
// as one that does not exist.
func (c *Core) Record(ctx context.Context, who Identity, caseID uuid.UUID, cmd Command) (Result, error) {
	op := operationOf(cmd.Type)
	if err := requireRole(who, op); err != nil {
		return Result{}, err
	}
	eventID := cmd.EventID
	if eventID == uuid.Nil {
		eventID = c.newID()
	}
	if cmd.Type == domain.TypePersonErased {
		// Recorded only with the key's destruction: ErasePerson.
		return Result{}, domain.FieldErrorf(domain.KindInvalid, domain.CodeValidation, "type",
			"a person is erased through POST /v1/cases/{id}/people/{person_id}/erasure, which also destroys their key")
	}
	if cmd.Type == domain.TypeRetentionReviewed && c.vault == nil && isDisposal(cmd.Data) {
		return Result{}, domain.Unavailable(nil, 30*time.Second, "this server has no key store: disposal (which destroys the case's keys) is not possible")
	}
	dcmd := domain.Command{EventID: eventID, Type: cmd.Type, Data: cmd.Data, OccurredAt: cmd.OccurredAt,
		Actor: who.Actor(), CorrelationID: cmd.CorrelationID, CausationID: cmd.CausationID, Seal: c.sealer(ctx)}
	judge := func(state *domain.Case) error {
		rel := state.RelationOf(who.Agency)
		if rel == domain.RelationNone && !Allowed(who.Role, op, rel) {
			// Investigators and data protection officers act on their
			// agency's cases; another's does not exist for them.
			return caseNotFound(caseID)
		}
		if !Allowed(who.Role, op, rel) {
			return domain.Errorf(domain.KindForbidden, domain.CodeForbidden,
				"only investigators of the lead agency (%s) may %s", state.LeadAgency, strings.ReplaceAll(string(op), "_", " "))
		}
		return nil
	}
	res, err := c.writer.record(ctx, caseID, dcmd, cmd.ExpectedVersion, judge)
	if cmd.Type != domain.TypeRetentionReviewed {
		return res, err
	}
	return c.afterReview(ctx, who, caseID, res, err)
}

// consult loads the case's current state for a read and decides whether
// the caller may see it: auditors every case, investigators those of their
// agency. An investigator's attempt on a case they may not see is recorded
// as denied and answered as a case that does not exist.
func (c *Core) consult(ctx context.Context, who Identity, op Operation, caseID uuid.UUID, con Consultation, access string) (domain.Case, error) {
	if err := requireRole(who, op); err != nil {
		return domain.Case{}, err
	}
	state, err := c.writer.load(ctx, caseID)
	if err != nil {
		return domain.Case{}, err
	}
	if !Allowed(who.Role, op, state.RelationOf(who.Agency)) {
		denied := c.accessEntry(caseID, access, domain.AccessDenied, con)
		if err := c.access.record(ctx, who, denied); err != nil {
			return domain.Case{}, err
		}
		return domain.Case{}, caseNotFound(caseID)
	}
	return state, nil
}

func (c *Core) accessEntry(caseID uuid.UUID, op, outcome string, con Consultation) domain.CaseAccessed {
	return domain.CaseAccessed{Operation: op, CaseID: caseID, Outcome: outcome, Purpose: con.Purpose,
		PurposeReference: con.PurposeReference, PurposeDefaulted: con.PurposeDefaulted, RequestID: con.RequestID}
}

// Case returns a case's record: current, as it stood after a version, or
// as it was known at a recorded time. Need-to-know is judged on the current
// state (an agency that joined later sees the earlier versions too). The
// read is recorded in the access log before it is answered.
func (c *Core) Case(ctx context.Context, who Identity, caseID uuid.UUID, at At, con Consultation) (domain.Case, error) {
	if at.Version != nil && at.AsOf != nil {
		return domain.Case{}, domain.BadParameter("as_of", "give a version or an as_of time, not both")
	}
	con, err := c.checkConsultation(who, OpReadCase, con, true)
	if err != nil {
		return domain.Case{}, err
	}
	current, err := c.consult(ctx, who, OpReadCase, caseID, con, domain.AccessReadCase)
	if err != nil {
		return domain.Case{}, err
	}
	state := current.Clone()
	switch {
	case at.Version != nil:
		v := *at.Version
		if v > current.Version {
			return domain.Case{}, domain.FieldErrorf(domain.KindNotFound, domain.CodeVersionNotFound, "version",
				"the case has no version %d (it is at version %d)", v, current.Version)
		}
		entries, err := c.writer.readEntries(ctx, caseID, 0, v+1, nil)
		if err != nil {
			return domain.Case{}, err
		}
		if state, err = domain.StateAtVersion(entries, v); err != nil {
			return domain.Case{}, err
		}
	case at.AsOf != nil:
		t := *at.AsOf
		entries, err := c.writer.readEntries(ctx, caseID, 0, 0, func(e domain.Entry) bool { return e.Metadata.RecordedAt.After(t) })
		if err != nil {
			return domain.Case{}, err
		}
		if state, err = domain.StateAsOf(entries, t); err != nil {
			return domain.Case{}, err
		}
	}
	if err := c.reveal.Case(ctx, &current, &state); err != nil {
		return domain.Case{}, err
	}
	a := c.accessEntry(caseID, domain.AccessReadCase, domain.AccessServed, con)
	v := state.Version
	a.VersionRead, a.AtVersion = &v, at.Version
	if at.AsOf != nil {
		t := at.AsOf.UTC()
		a.AsOf = &t
	}
	if err := c.access.record(ctx, who, a); err != nil {
		return domain.Case{}, err
	}
	return state, nil
}

// HistoryPage is a page of a case's events.
type HistoryPage struct {
	Events []domain.Entry
	// NextFromVersion is where the next page starts; nil on the last page.
	NextFromVersion *uint64
}

// History returns the case's events from fromVersion (inclusive), at most
// limit of them, in version order.
func (c *Core) History(ctx context.Context, who Identity, caseID uuid.UUID, fromVersion uint64, limit int, con Consultation) (HistoryPage, error) {
	con, err := c.checkConsultation(who, OpReadHistory, con, true)
	if err != nil {
		return HistoryPage{}, err
	}
	current, err := c.consult(ctx, who, OpReadHistory, caseID, con, domain.AccessReadHistory)
	if err != nil {
		return HistoryPage{}, err
	}
	// One more than asked tells whether another page follows.
	entries, err := c.writer.readEntries(ctx, caseID, fromVersion, uint64(limit)+1, nil)
	if err != nil {
		return HistoryPage{}, err
	}
	for i := range entries {
		if entries[i], err = c.reveal.Entry(ctx, &current, entries[i]); err != nil {
			return HistoryPage{}, err
		}
	}
	var page HistoryPage
	if len(entries) > limit {
		entries = entries[:limit]
		n := entries[len(entries)-1].Version + 1
		page.NextFromVersion = &n
	}
	page.Events = entries
	a := c.accessEntry(caseID, domain.AccessReadHistory, domain.AccessServed, con)
	if len(entries) > 0 {
		first, last := entries[0].Version, entries[len(entries)-1].Version
		a.FromVersion, a.VersionRead = &first, &last
	}
	if err := c.access.record(ctx, who, a); err != nil {
		return HistoryPage{}, err
	}
	return page, nil
}

// Verification is the verdict on a case's two hash chains: its events and
// its access log.
type Verification struct {
	CaseID uuid.UUID
	// Case is the case stream's chain; Access the access log's.
	Case   domain.VerifyResult
	Access StreamVerdict
}

// StreamVerdict is the verdict on one stream's chain.
type StreamVerdict struct {
	Stream string
	domain.VerifyResult
	// Legacy counts first-version access-log entries, written before the
	// access log was chained: they are before the chain, not in it.
	Legacy int
}

// Valid reports whether both chains hold.
func (v Verification) Valid() bool { return v.Case.Valid && v.Access.Valid }

// Verify checks the case's hash chain and its access log's.
func (c *Core) Verify(ctx context.Context, who Identity, caseID uuid.UUID, con Consultation) (Verification, error) {
	con, err := c.checkConsultation(who, OpVerifyCase, con, true)
	if err != nil {
		return Verification{}, err
	}
	if who.Role == domain.RoleInvestigator {
		// Need-to-know needs the state. A case too damaged to fold cannot
		// be judged, so investigators are refused (fail closed); auditors,
		// who see every case, still get the verdict.
		if _, err := c.consult(ctx, who, OpVerifyCase, caseID, con, domain.AccessVerifyCase); err != nil {
			return Verification{}, err
		}
	}
	v := Verification{CaseID: caseID}
	caseChain, err := c.verifyStream(ctx, domain.StreamName(caseID))
	if err != nil {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return Verification{}, caseNotFound(caseID)
		}
		return Verification{}, err
	}
	v.Case = caseChain.VerifyResult
	if v.Access, err = c.verifyStream(ctx, domain.AccessStreamName(caseID)); err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		return Verification{}, err
	}
	v.Access.Stream = domain.AccessStreamName(caseID)
	if !v.Access.Valid && v.Access.Checked == 0 {
		v.Access.Valid = true // never consulted: an empty chain holds
	}
	a := c.accessEntry(caseID, domain.AccessVerifyCase, domain.AccessServed, con)
	if n := v.Case.Checked; n > 0 && v.Case.Valid {
		last := uint64(n - 1)
		a.VersionRead = &last
	}
	if err := c.access.record(ctx, who, a); err != nil {
		return Verification{}, err
	}
	return v, nil
}

// verifyStream checks one stream's chain. A stream that does not exist
// yields eventstore.ErrStreamNotFound.
func (c *Core) verifyStream(ctx context.Context, stream string) (StreamVerdict, error) {
	verifier := domain.NewChainVerifier(stream)
	for rec, err := range c.store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}) {
		if err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				return StreamVerdict{Stream: stream}, err
			}
			return StreamVerdict{}, storeError(fmt.Sprintf("verify %s", stream), err)
		}
		if !verifier.Add(storedOf(rec)) {
			break
		}
	}
	return StreamVerdict{Stream: stream, VerifyResult: verifier.Result(), Legacy: verifier.Legacy()}, nil
}
