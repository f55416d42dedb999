package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// ImportSource yields recorded events (an export file's lines, another
// store's log) in global order. Import calls it twice: once to check every
// event, once to write them.
type ImportSource func(ctx context.Context) iter.Seq2[eventstore.RecordedEvent, error]

// ImportReport says what an import found and did.
type ImportReport struct {
	Events   int64 // events in the source
	Streams  int   // streams in the source
	Cases    int   // case streams among them
	Imported int64 // appended by this run
	Skipped  int64 // already in the store (an earlier run)
	// Migration is the stream of the migration record a re-sealing import
	// wrote ("" otherwise).
	Migration string
}

// ImportOptions tune Import.
type ImportOptions struct {
	// OnChecked and OnWritten report progress (events so far).
	OnChecked func(n int64)
	OnWritten func(n int)
	// Seal re-seals the source's plaintext personal fields under the
	// core's keys as they are written, re-hashing the case chains, and
	// ends with a migration record linking the old heads to the new
	// (`casebook migrate --encrypt`; see reseal.go). SourceName and
	// SourcePosition describe the source in that record.
	Seal           bool
	SourceName     string
	SourcePosition uint64
}

// Import loads recorded streams into the core's store — casebook import
// and migrate — through the same rules as live commands: every case event
// is folded through the case's rules (domain.CheckRecorded), its actor must
// be one who could have logged it (Allowed, on the case as it stood), every
// stream's hash chain must hold, stream names must be case-<uuid> or
// access-<uuid>, and a lead agency's references must stay unique. The whole
// source is checked before anything is written: a source that breaks one
// rule is refused naming the stream and version, and nothing is written.
//
// Writing is resumable: what the store already holds of a stream (an
// earlier, interrupted run) is skipped after checking it is the same.
// Imports are an operator's act (the admin role).
func (c *Core) Import(ctx context.Context, who Identity, src ImportSource, opts ImportOptions) (ImportReport, error) {
	if err := requireRole(who, OpImport); err != nil {
		return ImportReport{}, err
	}
	if opts.Seal && c.vault == nil {
		return ImportReport{}, domain.Errorf(domain.KindInvalid, domain.CodeValidation, "re-sealing needs a key store: the core has none")
	}
	chk := newImportChecker(c.store, c.agencies, c.places)
	var rep ImportReport
	for rec, err := range src(ctx) {
		if err != nil {
			return rep, err
		}
		if err := chk.add(ctx, rec); err != nil {
			return rep, err
		}
		rep.Events++
		if opts.OnChecked != nil {
			opts.OnChecked(rep.Events)
		}
	}
	rep.Streams, rep.Cases = len(chk.streams), chk.cases

	cp, err := newCopier(ctx, c.store)
	if err != nil {
		return rep, err
	}
	cp.onAppend = opts.OnWritten
	if opts.Seal {
		cp.reseal = &resealer{c: c}
	}
	for rec, err := range src(ctx) {
		if err != nil {
			return rep, err
		}
		if err := cp.add(ctx, rec); err != nil {
			rep.Imported, rep.Skipped = cp.copied, cp.skipped
			return rep, err
		}
	}
	err = cp.flush(ctx)
	rep.Imported, rep.Skipped = cp.copied, cp.skipped
	if err != nil || !opts.Seal {
		return rep, err
	}
	heads := make([]domain.StreamHead, 0, len(chk.streams))
	for name, s := range chk.streams {
		if s.next == 0 {
			continue
		}
		// The copy's hash at that version (the store may have moved on
		// since an earlier run).
		newHash, err := c.hashAt(ctx, name, s.next-1)
		if err != nil {
			return rep, err
		}
		heads = append(heads, domain.StreamHead{Stream: name, Version: s.next - 1, OldHeadHash: s.chain.Result().HeadHash, NewHeadHash: newHash})
	}
	rep.Migration, err = c.RecordMigration(ctx, who, MigrationRecord{Source: opts.SourceName, SourcePosition: opts.SourcePosition, Sealed: true, Heads: heads})
	return rep, err
}

// hashAt is the hash of a stream's event at version v in the core's store.
func (c *Core) hashAt(ctx context.Context, stream string, v uint64) (string, error) {
	for rec, err := range c.store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: v, Limit: 1}) {
		if err != nil {
			return "", storeError("read "+stream, err)
		}
		m, err := domain.DecodeMetadata(rec.Metadata)
		if err != nil {
			return "", domain.Internal(fmt.Errorf("%s version %d: %w", stream, v, err))
		}
		return m.Hash, nil
	}
	return "", domain.Internal(fmt.Errorf("%s has no version %d after the import", stream, v))
}

// importChecker folds a log, event by event, through every rule, holding a
// state per stream.
type importChecker struct {
	store    eventstore.Store
	agencies *domain.Agencies
	places   *domain.Places
	streams  map[string]*importStream
	refs     map[string]uuid.UUID // lead agency + reference → case
	inStore  map[string]bool      // case streams found in the store (for access logs of cases not in the source)
	cases    int
}

type importStream struct {
	caseID    uuid.UUID
	access    bool
	migration bool // a migration record (domain.StoreMigrated)
	next      uint64
	state     *domain.Case // case streams
	chain     *domain.ChainVerifier
}

func newImportChecker(store eventstore.Store, agencies *domain.Agencies, places *domain.Places) *importChecker {
	return &importChecker{store: store, agencies: agencies, places: places, streams: map[string]*importStream{}, refs: map[string]uuid.UUID{}, inStore: map[string]bool{}}
}

// refused is the error of a source that breaks a rule.
func refused(stream string, version uint64, eventType string, format string, args ...any) *domain.Error {
	return &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeRefused, Field: stream,
		Message: fmt.Sprintf("stream %s version %d (%s): %s; nothing was written", stream, version, eventType, fmt.Sprintf(format, args...))}
}

func (k *importChecker) add(ctx context.Context, rec eventstore.RecordedEvent) error {
	s := k.streams[rec.Stream]
	if s == nil {
		var err error
		if s, err = k.open(ctx, rec); err != nil {
			return err
		}
	}
	if rec.Revision != s.next {
		return refused(rec.Stream, rec.Revision, rec.Type, "found version %d where version %d was expected: an event is missing or out of order", rec.Revision, s.next)
	}
	se := storedOf(rec)
	if !s.chain.Add(se) {
		return refused(rec.Stream, rec.Revision, rec.Type, "hash chain broken: %s", s.chain.Result().Reason)
	}
	s.next++
	switch {
	case s.access:
		return k.checkAccess(ctx, rec, se)
	case s.migration:
		return checkMigration(rec, se)
	}
	return k.checkCase(s, rec, se)
}

// checkMigration judges a migration record's event: its data, and an actor
// who could have written it (an operator).
func checkMigration(rec eventstore.RecordedEvent, se domain.StoredEvent) error {
	m, err := domain.DecodeMetadata(se.Metadata)
	if err != nil {
		return refused(rec.Stream, rec.Revision, rec.Type, "metadata cannot be read: %v", err)
	}
	if rec.Type != domain.TypeStoreMigrated || m.SchemaVersion != domain.MigrationSchemaVersion {
		return refused(rec.Stream, rec.Revision, rec.Type, "not a %s record of schema %d", domain.TypeStoreMigrated, domain.MigrationSchemaVersion)
	}
	if _, err := domain.DecodeStoreMigrated(se.Data); err != nil {
		return refused(rec.Stream, rec.Revision, rec.Type, "%v", err)
	}
	if err := domain.ValidateActor(m.Actor); err != nil || !roleMayEver(m.Actor.Role, OpImport) {
		return refused(rec.Stream, rec.Revision, rec.Type, "%s (%s) could not have recorded a migration", m.Actor.Subject, m.Actor.Role)
	}
	return nil
}

// open starts a stream: its name must be a case's or an access log's; a
// source that starts it past version 0 (an incremental export) continues
// what the store holds.
func (k *importChecker) open(ctx context.Context, rec eventstore.RecordedEvent) (*importStream, error) {
	s := &importStream{chain: domain.NewChainVerifier(rec.Stream)}
	if id, ok := domain.CaseIDFromStream(rec.Stream); ok {
		c := domain.NewCase(id)
		s.caseID, s.state = id, &c
		k.cases++
	} else if id, ok := domain.CaseIDFromAccessStream(rec.Stream); ok {
		s.caseID, s.access = id, true
	} else if domain.IsMigrationStream(rec.Stream) {
		s.migration = true
	} else {
		return nil, refused(rec.Stream, rec.Revision, rec.Type, "%q is not a case stream (case-<uuid>), an access-log stream (access-<uuid>) nor a migration record (migration-<uuid>)", truncate(rec.Stream, 80))
	}
	k.streams[rec.Stream] = s
	if rec.Revision == 0 {
		return s, nil
	}
	n := uint64(0)
	for ev, err := range k.store.ReadStream(ctx, rec.Stream, eventstore.ReadStreamOptions{Limit: rec.Revision}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			break
		}
		if err != nil {
			return nil, storeError("read "+rec.Stream, err)
		}
		if err := k.seed(s, ev); err != nil {
			return nil, err
		}
		n++
	}
	if n < rec.Revision {
		return nil, refused(rec.Stream, rec.Revision, rec.Type, "the source starts the stream at version %d but the store holds only %d of its events: import the earlier events first", rec.Revision, n)
	}
	return s, nil
}

// seed folds an event the store already holds (the start of a stream the
// source continues).
func (k *importChecker) seed(s *importStream, ev eventstore.RecordedEvent) error {
	se := storedOf(ev)
	if !s.chain.Add(se) {
		return refused(ev.Stream, ev.Revision, ev.Type, "the store's own chain is broken: %s", s.chain.Result().Reason)
	}
	s.next++
	if s.access || s.migration {
		return nil
	}
	e, err := domain.DecodeStored(se)
	if err == nil {
		err = s.state.Apply(e)
	}
	if err != nil {
		return refused(ev.Stream, ev.Revision, ev.Type, "the store's own event cannot be read: %v", err)
	}
	k.noteReference(s, e)
	return nil
}

func (k *importChecker) checkCase(s *importStream, rec eventstore.RecordedEvent, se domain.StoredEvent) error {
	e, err := domain.DecodeStored(se)
	if err != nil {
		if de, ok := domain.AsError(err); ok {
			return refused(rec.Stream, rec.Revision, rec.Type, "%s", de.Error())
		}
		return refused(rec.Stream, rec.Revision, rec.Type, "%v", err)
	}
	if err := domain.CheckRecorded(s.state, e, k.agencies, k.places); err != nil {
		return refused(rec.Stream, rec.Revision, rec.Type, "%s", err.Error())
	}
	actor := e.Metadata.Actor
	op := operationOf(e.Type)
	rel := s.state.RelationOf(actor.Agency)
	if opened, ok := e.Event.(domain.CaseOpened); ok {
		if !sameCode(opened.LeadAgency, actor.Agency) {
			return refused(rec.Stream, rec.Revision, rec.Type, "opened by %s of %s for another agency (%s)", actor.Subject, actor.Agency, opened.LeadAgency)
		}
		if prev, dup := k.refs[referenceKey(opened)]; dup && prev != s.caseID {
			return refused(rec.Stream, rec.Revision, rec.Type, "%s already has a case with the reference %q: case %s", opened.LeadAgency, opened.Reference, prev)
		}
	}
	if !Allowed(actor.Role, op, rel) {
		return refused(rec.Stream, rec.Revision, rec.Type, "%s (%s of %s, whose agency's relation to the case is %s) could not have logged it",
			actor.Subject, actor.Role, actor.Agency, rel)
	}
	if err := s.state.Apply(e); err != nil {
		return refused(rec.Stream, rec.Revision, rec.Type, "%v", err)
	}
	k.noteReference(s, e)
	return nil
}

func (k *importChecker) noteReference(s *importStream, e domain.Entry) {
	if opened, ok := e.Event.(domain.CaseOpened); ok {
		k.refs[referenceKey(opened)] = s.caseID
	}
}

func referenceKey(o domain.CaseOpened) string {
	return strings.ToUpper(o.LeadAgency) + "\x00" + strings.ToUpper(o.Reference)
}

func sameCode(a, b string) bool { return strings.EqualFold(a, b) }

func (k *importChecker) checkAccess(ctx context.Context, rec eventstore.RecordedEvent, se domain.StoredEvent) error {
	if rec.Type == domain.TypeCaseRead {
		return nil // a first-version entry; the chain verifier allowed it (only before the chain)
	}
	m, err := domain.DecodeMetadata(se.Metadata)
	if err != nil {
		return refused(rec.Stream, rec.Revision, rec.Type, "metadata cannot be read: %v", err)
	}
	a, derr := domain.CheckAccessRecorded(se, m)
	if derr != nil {
		return refused(rec.Stream, rec.Revision, rec.Type, "%s", derr.Error())
	}
	if !roleMayEver(m.Actor.Role, accessOperation(a.Operation)) {
		return refused(rec.Stream, rec.Revision, rec.Type, "%s (%s) could not have consulted a case (%s)", m.Actor.Subject, m.Actor.Role, a.Operation)
	}
	caseStream := domain.StreamName(mustCaseID(rec.Stream))
	if _, known := k.streams[caseStream]; !known && !k.inStore[caseStream] {
		found := false
		for _, err := range k.store.ReadStream(ctx, caseStream, eventstore.ReadStreamOptions{Limit: 1}) {
			if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
				return storeError("read "+caseStream, err)
			}
			found = err == nil
		}
		if !found {
			return refused(rec.Stream, rec.Revision, rec.Type, "the access log of a case that is neither in the source (before it) nor in the store")
		}
		k.inStore[caseStream] = true
	}
	return nil
}

// accessOperation is the operation an access-log entry records.
func accessOperation(op string) Operation {
	switch op {
	case domain.AccessReadHistory:
		return OpReadHistory
	case domain.AccessVerifyCase:
		return OpVerifyCase
	case domain.AccessReadLog, domain.AccessLiveLog:
		return OpReadLog
	case domain.AccessReadPeople:
		return OpReadPeople
	}
	return OpReadCase
}

func mustCaseID(accessStream string) uuid.UUID {
	id, _ := domain.CaseIDFromAccessStream(accessStream)
	return id
}

// copier appends recorded events to the store, in the order given,
// preserving ids, types, data, metadata and revisions. It is resumable: for
// each stream it first asks the store how far that stream already goes,
// skips what is there (checking that the store's last event is the one the
// source has at that revision, so a different store is never silently
// merged) and appends the rest with an exact expected revision.
// Consecutive events of one stream go in one append, up to a size bound.
type copier struct {
	dst        eventstore.Store
	heads      map[string]*targetHead
	emptyStart bool // the store was empty at the start: no head lookups needed

	stream string
	batch  []eventstore.EventData
	first  uint64 // revision of batch[0]
	bytes  int

	copied, skipped int64
	onAppend        func(n int)

	// reseal, when set, re-seals each event before it is written; prev is
	// then each stream's head hash in the store (what the next copy
	// chains to), and an event the store already holds is recognised by
	// its id and type (its sealed bytes differ on every run).
	reseal *resealer
	prev   map[string]string
}

type targetHead struct {
	next uint64               // the store's next revision (0: no stream)
	last eventstore.EventData // the store's event at next-1
}

const (
	maxBatchEvents = 500
	maxBatchBytes  = 4 << 20
)

func newCopier(ctx context.Context, dst eventstore.Store) (*copier, error) {
	head, err := dst.Head(ctx)
	if err != nil {
		return nil, storeError("read the store's head", err)
	}
	return &copier{dst: dst, heads: make(map[string]*targetHead), emptyStart: head == eventstore.Start, prev: map[string]string{}}, nil
}

func (c *copier) head(ctx context.Context, stream string) (*targetHead, error) {
	if h, ok := c.heads[stream]; ok {
		return h, nil
	}
	h := &targetHead{}
	if !c.emptyStart {
		for ev, err := range c.dst.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Direction: eventstore.Backward, FromEnd: true, Limit: 1}) {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				break
			}
			if err != nil {
				return nil, storeError("read the store's stream "+stream, err)
			}
			h.next = ev.Revision + 1
			h.last = eventstore.EventData{ID: ev.ID, Type: ev.Type, Data: ev.Data, Metadata: ev.Metadata}
		}
	}
	c.heads[stream] = h
	return h, nil
}

func (c *copier) add(ctx context.Context, rec eventstore.RecordedEvent) error {
	if c.stream == rec.Stream && len(c.batch) > 0 && rec.Revision == c.first+uint64(len(c.batch)) {
		return c.resealAndBuffer(ctx, rec)
	}
	if err := c.flush(ctx); err != nil {
		return err
	}
	h, err := c.head(ctx, rec.Stream)
	if err != nil {
		return err
	}
	ev := eventstore.EventData{ID: rec.ID, Type: rec.Type, Data: rec.Data, Metadata: rec.Metadata}
	switch {
	case rec.Revision+1 < h.next:
		c.skipped++ // already written by an earlier run
		return nil
	case rec.Revision+1 == h.next:
		if c.reseal != nil {
			if ev.ID != h.last.ID || ev.Type != h.last.Type {
				return domain.Errorf(domain.KindConflict, domain.CodeRefused,
					"the store's stream %s has event %s at version %d where the source has %s: the store holds different data; refusing to merge",
					rec.Stream, h.last.ID, rec.Revision, ev.ID)
			}
			m, err := domain.DecodeMetadata(h.last.Metadata)
			if err != nil {
				return refused(rec.Stream, rec.Revision, rec.Type, "the store's own event cannot be read: %v", err)
			}
			c.prev[rec.Stream] = m.Hash
			c.skipped++
			return nil
		}
		if !sameEvent(ev, h.last) {
			return domain.Errorf(domain.KindConflict, domain.CodeRefused,
				"the store's stream %s has event %s at version %d where the source has %s, with other content: the store holds different data; refusing to merge",
				rec.Stream, h.last.ID, rec.Revision, ev.ID)
		}
		c.skipped++
		return nil
	case rec.Revision > h.next:
		return domain.Errorf(domain.KindConflict, domain.CodeRefused,
			"stream %s: the source continues at version %d but the store's next version is %d: events are missing in between",
			rec.Stream, rec.Revision, h.next)
	}
	c.stream, c.first = rec.Stream, rec.Revision
	return c.resealAndBuffer(ctx, rec)
}

// resealAndBuffer buffers the next event of the current stream, re-sealed
// first when re-sealing.
func (c *copier) resealAndBuffer(ctx context.Context, rec eventstore.RecordedEvent) error {
	if c.reseal != nil {
		var hash string
		var err error
		if rec, hash, err = c.reseal.reseal(ctx, rec, c.prev[rec.Stream]); err != nil {
			return err
		}
		c.prev[rec.Stream] = hash
	}
	return c.buffer(ctx, rec.Stream, eventstore.EventData{ID: rec.ID, Type: rec.Type, Data: rec.Data, Metadata: rec.Metadata})
}

func (c *copier) buffer(ctx context.Context, stream string, ev eventstore.EventData) error {
	c.batch = append(c.batch, ev)
	c.bytes += len(ev.Data) + len(ev.Metadata) + len(ev.Type)
	if len(c.batch) >= maxBatchEvents || c.bytes >= maxBatchBytes {
		next := c.first + uint64(len(c.batch))
		if err := c.flush(ctx); err != nil {
			return err
		}
		c.stream, c.first = stream, next // keep batching the same stream
	}
	return nil
}

func (c *copier) flush(ctx context.Context) error {
	if len(c.batch) == 0 {
		return nil
	}
	expected := eventstore.NoStream
	if c.first > 0 {
		expected = eventstore.Exact(c.first - 1)
	}
	res, err := c.dst.Append(ctx, c.stream, expected, c.batch...)
	if err != nil {
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			return domain.Errorf(domain.KindConflict, domain.CodeRefused,
				"stream %s changed in the store while importing (is something else writing to it?): %v", c.stream, err)
		}
		return storeError(fmt.Sprintf("append %d events to %s at version %d", len(c.batch), c.stream, c.first), err)
	}
	n := len(c.batch)
	last := c.first + uint64(n) - 1
	if res.Revision != last {
		return domain.Internal(fmt.Errorf("append to %s: the store answered version %d, expected %d", c.stream, res.Revision, last))
	}
	c.heads[c.stream] = &targetHead{next: last + 1, last: c.batch[n-1]}
	if res.Duplicate {
		c.skipped += int64(n)
	} else {
		c.copied += int64(n)
	}
	if c.onAppend != nil {
		c.onAppend(n)
	}
	c.batch = c.batch[:0]
	c.bytes = 0
	return nil
}

func sameEvent(a, b eventstore.EventData) bool {
	return a.ID == b.ID && a.Type == b.Type && bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Metadata, b.Metadata)
}
