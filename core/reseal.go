package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// Re-sealing (`casebook migrate --encrypt`): the events of a store written
// before encryption are copied with their plaintext personal fields sealed
// under the target's keys. Each copy keeps its original id, type, schema,
// actor, occurred_at and recorded_at — the facts, who logged them and when
// are unchanged; only the form their personal fields are stored in is new
// — and is re-hashed into a new chain (the data it hashes changed). The
// source is checked against every rule as it stands before anything is
// written, as any import is; the copies are then judged again by the
// target's chain verification. Who re-sealed, when, and from what is
// recorded beside them, in a migration record (domain.StoreMigrated)
// linking every stream's old head hash to its new one.

// resealer seals the plaintext personal fields of case events for the
// copier, keeping each stream's new chain.
type resealer struct {
	c *Core
}

// reseal returns rec with its plaintext personal fields sealed and its
// envelope chained to prevHash, and the copy's hash. Access-log entries
// (no personal data, their own chain) and events already sealed pass as
// they are, re-chained if an earlier event of their stream changed.
func (r *resealer) reseal(ctx context.Context, rec eventstore.RecordedEvent, prevHash string) (eventstore.RecordedEvent, string, error) {
	caseID, isCase := domain.CaseIDFromStream(rec.Stream)
	se := storedOf(rec)
	m, err := domain.DecodeMetadata(se.Metadata)
	if err != nil {
		return rec, "", refused(rec.Stream, rec.Revision, rec.Type, "metadata cannot be read: %v", err)
	}
	if !isCase {
		return rec, m.Hash, nil // its chain is its own and its content unchanged
	}
	data := se.Data
	if domain.HasPersonalFields(rec.Type) {
		e, err := domain.DecodeStored(se)
		if err != nil {
			return rec, "", refused(rec.Stream, rec.Revision, rec.Type, "%v", err)
		}
		changed := false
		ev, err := domain.WithPersonalFields(caseID, e.Event, func(pf domain.PersonalField) (string, error) {
			if domain.IsSealed(pf.Value) {
				return pf.Value, nil // sealed already (its key must come with the store)
			}
			changed = true
			blob, err := r.c.vault.SealField(ctx, pf.Key, rec.ID, pf.Name, []byte(pf.Value))
			if err != nil {
				return "", keyStoreError("seal "+pf.Name, err)
			}
			return domain.FormatSealed(pf.Key, blob), nil
		})
		if err != nil {
			return rec, "", err
		}
		if changed {
			if data, err = domain.EncodeEventData(ev); err != nil {
				return rec, "", domain.Internal(err)
			}
			m.SchemaVersion = domain.SchemaVersion(rec.Type)
		}
	}
	if m.PrevHash == prevHash && string(data) == string(se.Data) {
		return rec, m.Hash, nil // nothing before it, nor in it, changed
	}
	m.PrevHash = prevHash
	sealed, m, err := domain.Seal(rec.ID, rec.Stream, rec.Revision, rec.Type, data, m)
	if err != nil {
		return rec, "", domain.Internal(err)
	}
	rec.Data, rec.Metadata = sealed.Data, sealed.Metadata
	return rec, m.Hash, nil
}

// MigrationRecord is what RecordMigration writes.
type MigrationRecord struct {
	Source         string // the old store, as the operator named it
	SourcePosition uint64
	Sealed         bool
	Heads          []domain.StreamHead
}

// RecordMigration records, in a stream of its own in the core's store, the
// link between the old store's chains and their copies (an operator's
// act: admins). The record's stream is named after its content, so
// recording the same migration twice (a re-run) writes it once. It
// returns the stream's name.
func (c *Core) RecordMigration(ctx context.Context, who Identity, rec MigrationRecord) (string, error) {
	if err := requireRole(who, OpImport); err != nil {
		return "", err
	}
	heads := append([]domain.StreamHead(nil), rec.Heads...)
	sort.Slice(heads, func(i, j int) bool { return heads[i].Stream < heads[j].Stream })
	digest := sha256.New()
	digest.Write([]byte(rec.Source + "\x00" + strconv.FormatUint(rec.SourcePosition, 10)))
	for _, h := range heads {
		fmt.Fprintf(digest, "\x00%s\x00%d\x00%s\x00%s", h.Stream, h.Version, h.OldHeadHash, h.NewHeadHash)
	}
	id := uuid.NewSHA1(migrationNamespace, digest.Sum(nil))
	stream := domain.MigrationStreamName(id)

	var parts []domain.StoreMigrated
	for i := 0; i < len(heads) || i == 0; i += domain.MaxHeadsPerMigrationEvent {
		end := min(i+domain.MaxHeadsPerMigrationEvent, len(heads))
		parts = append(parts, domain.StoreMigrated{Source: rec.Source, SourcePosition: rec.SourcePosition, Sealed: rec.Sealed,
			Heads: append([]domain.StreamHead{}, heads[i:end]...)})
	}
	ids := make([]uuid.UUID, len(parts))
	for i := range parts {
		parts[i].Part, parts[i].Parts = i+1, len(parts)
		ids[i] = uuid.NewSHA1(id, []byte(strconv.Itoa(i)))
	}
	now := c.now().UTC()
	events, err := domain.SealMigration(stream, parts, ids, domain.Metadata{OccurredAt: now, RecordedAt: now, Actor: who.Actor()})
	if err != nil {
		return "", domain.Internal(err)
	}
	batch := make([]eventstore.EventData, len(events))
	for i, e := range events {
		batch[i] = eventstore.EventData{ID: e.ID, Type: e.Type, Data: e.Data, Metadata: e.Metadata}
	}
	_, err = c.store.Append(ctx, stream, eventstore.NoStream, batch...)
	var reused *eventstore.EventIDReusedError
	if errors.Is(err, eventstore.ErrWrongExpectedRevision) || (errors.As(err, &reused) && reused.Stream == stream) {
		return stream, nil // recorded by an earlier run (at another time)
	}
	if err != nil {
		return "", storeError("record the migration", err)
	}
	return stream, nil
}

var migrationNamespace = uuid.MustParse("7e3c2a91-4d5b-4f60-8a1e-2b9c0d4f6a83")
