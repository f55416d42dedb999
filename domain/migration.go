package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// A re-sealed copy of a store (`casebook migrate --encrypt`) holds the same
// events as the old one — same ids, types, actors and times — with their
// personal fields sealed, so every case chain's hashes are new. To let an
// auditor link the two histories, the new store records in a stream of its
// own, "migration-<uuid>", StoreMigrated events listing, for every stream
// of the old store, its last version and head hash there and its head hash
// here. The stream is hash-chained like a case stream (same envelope, same
// hash): altering the record breaks its chain.

// MigrationStreamPrefix starts the name of a migration record's stream.
const MigrationStreamPrefix = "migration-"

// TypeStoreMigrated is the type of a migration record's events.
const TypeStoreMigrated = "StoreMigrated"

// MigrationSchemaVersion is the schema version of StoreMigrated.
const MigrationSchemaVersion = 1

// MaxHeadsPerMigrationEvent bounds one StoreMigrated event (well under a
// store's event size limit); a larger store's heads take several parts.
const MaxHeadsPerMigrationEvent = 2000

// StoreMigrated is one part of a migration record.
type StoreMigrated struct {
	Source         string       `json:"source"`          // the old store, as the operator named it
	SourcePosition uint64       `json:"source_position"` // its log was copied up to this position
	Sealed         bool         `json:"sealed"`          // personal fields were sealed on the way
	Part           int          `json:"part"`            // 1-based
	Parts          int          `json:"parts"`
	Heads          []StreamHead `json:"heads"`
}

// StreamHead links one stream's chain in the old store to its copy.
type StreamHead struct {
	Stream      string `json:"stream"`
	Version     uint64 `json:"version"`       // the stream's last version copied
	OldHeadHash string `json:"old_head_hash"` // its hash in the old store
	NewHeadHash string `json:"new_head_hash"` // its hash in this store
}

// MigrationStreamName is the stream of a migration record.
func MigrationStreamName(id uuid.UUID) string { return MigrationStreamPrefix + id.String() }

// IsMigrationStream reports whether stream is a migration record's.
func IsMigrationStream(stream string) bool {
	rest, ok := strings.CutPrefix(stream, MigrationStreamPrefix)
	if !ok {
		return false
	}
	id, err := uuid.Parse(rest)
	return err == nil && id.String() == rest
}

// DecodeStoreMigrated reads a StoreMigrated event's data strictly.
func DecodeStoreMigrated(data []byte) (StoreMigrated, error) {
	var m StoreMigrated
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return StoreMigrated{}, fieldError("data", "not a StoreMigrated record: %v", err)
	}
	if m.Part < 1 || m.Part > m.Parts || len(m.Heads) > MaxHeadsPerMigrationEvent {
		return StoreMigrated{}, fieldError("part", "part %d of %d with %d heads", m.Part, m.Parts, len(m.Heads))
	}
	for _, h := range m.Heads {
		if h.Stream == "" || len(h.OldHeadHash) != 64 || len(h.NewHeadHash) != 64 {
			return StoreMigrated{}, fieldError("heads", "stream %q: a head needs a stream and two SHA-256 hashes", truncateForMessage(h.Stream))
		}
	}
	return m, nil
}

// SealMigration seals the parts of a migration record into a chain,
// starting the stream: the events to append, in order.
func SealMigration(stream string, parts []StoreMigrated, ids []uuid.UUID, m Metadata) ([]StoredEvent, error) {
	if len(ids) != len(parts) {
		return nil, fmt.Errorf("domain: %d ids for %d parts", len(ids), len(parts))
	}
	out := make([]StoredEvent, 0, len(parts))
	m.SchemaVersion = MigrationSchemaVersion
	m.PrevHash = ""
	for i, p := range parts {
		data, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("domain: encode a migration record: %w", err)
		}
		m.CorrelationID, m.CausationID = ids[0], ids[i]
		se, sealed, err := Seal(ids[i], stream, uint64(i), TypeStoreMigrated, data, m)
		if err != nil {
			return nil, err
		}
		m.PrevHash = sealed.Hash
		out = append(out, se)
	}
	return out, nil
}
