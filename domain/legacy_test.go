package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// The implementations of decodeStrict, ComputeHash, Seal and EncodeMetadata
// before their fast paths, frozen here for two uses only: the benchmarks
// measure the new ones against them, and the differential tests and fuzz
// targets check that the new ones give the same results. (The old
// token-by-token object walk is still in decode.go, as scanObjectSlow: it
// reports on malformed input.)

// legacyDecodeCommand is DecodeCommand with the old strict decode.
func legacyDecodeCommand[T Event](eventType string, data []byte, actor Actor, now time.Time) (Event, error) {
	s := registry[eventType]
	var v T
	if err := legacyDecodeStrict(data, &v, s.known, s.required); err != nil {
		return nil, err
	}
	ev := normalize(withDefaults(v, actor))
	if err := validate(ev, now, refuseSealed); err != nil {
		return nil, err
	}
	ev, perr := canonicalPlaces(ev, nil) // places are codes of the (default) list, for every decoder
	if perr != nil {
		return nil, perr
	}
	return ev, nil
}

func legacyDecodeMetadata(b []byte) (Metadata, error) {
	var m Metadata
	if err := legacyDecodeStrict(b, &m, metadataKnown, metadataRequired); err != nil {
		return Metadata{}, err
	}
	return m, nil
}

func legacyDecodeStrict(data []byte, target any, known map[string]bool, required []string) error {
	keys, values, err := scanObjectSlow(data)
	if err != nil {
		return err
	}
	present := make(map[string]bool, len(keys))
	for i, k := range keys {
		if !known[k] {
			return fieldError(k, "unknown field")
		}
		if string(values[i]) != "null" {
			present[k] = true
		}
	}
	for _, r := range required {
		if !present[r] {
			return fieldError(r, "is required")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err == nil {
		return nil
	} else if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && te.Field != "" {
		return typeError(reflect.TypeOf(target).Elem(), te)
	}
	for i, k := range keys {
		if string(values[i]) == "null" {
			continue
		}
		one := make([]byte, 0, len(k)+len(values[i])+8)
		kq, _ := json.Marshal(k)
		one = append(one, '{')
		one = append(one, kq...)
		one = append(one, ':')
		one = append(one, values[i]...)
		one = append(one, '}')
		fresh := reflect.New(reflect.TypeOf(target).Elem()).Interface()
		if err := json.Unmarshal(one, fresh); err != nil {
			return describeFieldError(k, reflect.TypeOf(target).Elem(), err)
		}
	}
	return malformedData("event data could not be decoded: %v", err)
}

func legacyComputeHash(in HashInput) (string, error) {
	var data bytes.Buffer
	if err := json.Compact(&data, in.Data); err != nil {
		return "", fmt.Errorf("domain: event data is not valid JSON: %w", err)
	}
	h := sha256.New()
	for _, f := range [...]string{
		hashDomain,
		in.PrevHash,
		in.Stream,
		strconv.FormatUint(in.Version, 10),
		in.EventID.String(),
		in.Type,
		strconv.Itoa(in.SchemaVersion),
		in.OccurredAt.UTC().Format(time.RFC3339Nano),
		in.RecordedAt.UTC().Format(time.RFC3339Nano),
		in.Actor.Subject,
		in.Actor.Role,
		in.Actor.Agency,
		in.CorrelationID.String(),
		in.CausationID.String(),
	} {
		legacyWriteField(h, []byte(f))
	}
	legacyWriteField(h, data.Bytes())
	legacyWriteField(h, []byte("end"))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func legacyWriteField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

func legacyEncodeMetadata(m Metadata) ([]byte, error) {
	m.OccurredAt = m.OccurredAt.UTC()
	m.RecordedAt = m.RecordedAt.UTC()
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("domain: encode metadata: %w", err)
	}
	return b, nil
}

func legacySeal(id uuid.UUID, stream string, version uint64, eventType string, data []byte, m Metadata) (StoredEvent, Metadata, error) {
	m.OccurredAt = m.OccurredAt.UTC()
	m.RecordedAt = m.RecordedAt.UTC()
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return StoredEvent{}, Metadata{}, fmt.Errorf("domain: seal: data is not valid JSON: %w", err)
	}
	se := StoredEvent{ID: id, Stream: stream, Type: eventType, Version: version, Data: compact.Bytes()}
	h, err := legacyComputeHash(hashInputOf(se, m))
	if err != nil {
		return StoredEvent{}, Metadata{}, err
	}
	m.Hash = h
	meta, err := legacyEncodeMetadata(m)
	if err != nil {
		return StoredEvent{}, Metadata{}, err
	}
	se.Metadata = meta
	return se, m, nil
}
