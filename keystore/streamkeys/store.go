// Package streamkeys is the key store of a KurrentDB deployment: every
// data key in a stream of its own in the same KurrentDB as the log, so that
// every casebookd node shares them, and erasure tombstones the key's
// stream.
//
// Streams: "casebook-keys-<case uuid>-case" and
// "casebook-keys-<case uuid>-person-<person uuid>", each holding one
// DataKeyCreated event {"wrapped": base64} (the key wrapped by the master
// key); "casebook-keys-master-check" (which master key wraps them) and
// "casebook-keys-erased-through" (the log position up to which recorded
// erasures were applied). None of them starts with "case-" or "access-",
// so the read models, the global log and import never take them for case
// data; the CLI's export, verify and migrate skip them (IsKeyStream).
//
// Scavenging: a tombstoned stream reads as absent at once, but KurrentDB
// keeps its events in its chunk files, and in $all reads, until a scavenge
// removes them. Run a scavenge after erasures (the KurrentDB UI, or
// POST /admin/scavenge) so that a destroyed key's wrapped bytes leave the
// node's disks; until then they are protected by the master key alone.
package streamkeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/keystore"
)

// Prefix starts the name of every stream of the key store.
const Prefix = "casebook-keys-"

// IsKeyStream reports whether a stream belongs to the key store.
func IsKeyStream(stream string) bool { return strings.HasPrefix(stream, Prefix) }

const (
	streamMasterCheck   = Prefix + "master-check"
	streamErasedThrough = Prefix + "erased-through"
	typeDataKey         = "DataKeyCreated"
	typeMasterCheck     = "MasterKeyCheck"
	typeErasedThrough   = "ErasuresApplied"
)

// Streams is what the store needs of the event store: appends and reads,
// and tombstones (kurrentdb.Store has them).
type Streams interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) iter.Seq2[eventstore.RecordedEvent, error]
	TombstoneStream(ctx context.Context, stream string) error
}

// Store is a key store in streams.
type Store struct {
	streams Streams
	newID   func() uuid.UUID
}

var _ keystore.Store = (*Store)(nil)

// New returns a key store in the streams of s. Closing it does not close s.
func New(s Streams) *Store { return &Store{streams: s, newID: uuid.New} }

// StreamOf is the stream of ref's key.
func StreamOf(ref domain.KeyRef) string { return Prefix + ref.Case.String() + "-" + ref.Name() }

type dataKeyEvent struct {
	Wrapped []byte `json:"wrapped"` // base64
}

// keyEventID makes the create of a key idempotent: a retried append of the
// same wrapped key is recognised by its id.
var keyNamespace = uuid.MustParse("0c5d9a7e-3b1f-4e0a-9c2d-6f8b1a2e4d70")

func (s *Store) Create(ctx context.Context, ref domain.KeyRef, wrapped []byte) ([]byte, error) {
	data, err := json.Marshal(dataKeyEvent{Wrapped: wrapped})
	if err != nil {
		return nil, err
	}
	ev := eventstore.EventData{ID: uuid.NewSHA1(keyNamespace, append([]byte(ref.String()+"\x00"), wrapped...)), Type: typeDataKey, Data: data}
	_, err = s.streams.Append(ctx, StreamOf(ref), eventstore.NoStream, ev)
	switch {
	case err == nil:
		return wrapped, nil
	case errors.Is(err, eventstore.ErrStreamDeleted):
		return nil, fmt.Errorf("streamkeys: create %s: %w", ref, keystore.ErrDestroyed)
	case errors.Is(err, eventstore.ErrWrongExpectedRevision):
		return s.Get(ctx, ref) // created meanwhile by another writer: use theirs
	}
	return nil, fmt.Errorf("streamkeys: create %s: %w", ref, err)
}

func (s *Store) Get(ctx context.Context, ref domain.KeyRef) ([]byte, error) {
	rec, err := s.first(ctx, StreamOf(ref))
	if err != nil {
		return nil, fmt.Errorf("streamkeys: %s: %w", ref, err)
	}
	var ev dataKeyEvent
	if err := json.Unmarshal(rec.Data, &ev); err != nil || len(ev.Wrapped) == 0 {
		return nil, fmt.Errorf("streamkeys: %s: the key's event does not decode: %w", ref, keystore.ErrUndecryptable)
	}
	return ev.Wrapped, nil
}

// first reads a stream's first event; keystore.ErrNotFound when there is
// none (or the stream was tombstoned).
func (s *Store) first(ctx context.Context, stream string) (eventstore.RecordedEvent, error) {
	for rec, err := range s.streams.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Limit: 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return rec, keystore.ErrNotFound
		}
		return rec, err
	}
	return eventstore.RecordedEvent{}, keystore.ErrNotFound
}

func (s *Store) Destroy(ctx context.Context, refs ...domain.KeyRef) error {
	for _, ref := range refs {
		if err := s.streams.TombstoneStream(ctx, StreamOf(ref)); err != nil {
			return fmt.Errorf("streamkeys: destroy %s: %w", ref, err)
		}
	}
	return nil
}

func (s *Store) MasterCheck(ctx context.Context) ([]byte, error) {
	rec, err := s.first(ctx, streamMasterCheck)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("streamkeys: read the master key check: %w", err)
	}
	var ev dataKeyEvent
	if err := json.Unmarshal(rec.Data, &ev); err != nil {
		return nil, fmt.Errorf("streamkeys: the master key check does not decode: %w", err)
	}
	return ev.Wrapped, nil
}

func (s *Store) SetMasterCheck(ctx context.Context, check []byte) error {
	data, err := json.Marshal(dataKeyEvent{Wrapped: check})
	if err != nil {
		return err
	}
	_, err = s.streams.Append(ctx, streamMasterCheck, eventstore.NoStream, eventstore.EventData{ID: s.newID(), Type: typeMasterCheck, Data: data})
	if err != nil {
		return fmt.Errorf("streamkeys: record the master key check: %w", err)
	}
	return nil
}

type erasedThroughEvent struct {
	Position string `json:"position"` // decimal: positions are uint64
}

func (s *Store) ErasedThrough(ctx context.Context) (uint64, error) {
	for rec, err := range s.streams.ReadStream(ctx, streamErasedThrough, eventstore.ReadStreamOptions{Direction: eventstore.Backward, FromEnd: true, Limit: 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("streamkeys: read the erasure mark: %w", err)
		}
		var ev erasedThroughEvent
		if err := json.Unmarshal(rec.Data, &ev); err != nil {
			return 0, fmt.Errorf("streamkeys: the erasure mark does not decode: %w", err)
		}
		n, err := strconv.ParseUint(ev.Position, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("streamkeys: the erasure mark holds %q: %w", ev.Position, err)
		}
		return n, nil
	}
	return 0, nil
}

func (s *Store) SetErasedThrough(ctx context.Context, position uint64) error {
	data, err := json.Marshal(erasedThroughEvent{Position: strconv.FormatUint(position, 10)})
	if err != nil {
		return err
	}
	_, err = s.streams.Append(ctx, streamErasedThrough, eventstore.Any, eventstore.EventData{ID: s.newID(), Type: typeErasedThrough, Data: data})
	if err != nil {
		return fmt.Errorf("streamkeys: record the erasure mark: %w", err)
	}
	return nil
}

// Close does nothing: the event store is its owner's to close.
func (s *Store) Close() error { return nil }
