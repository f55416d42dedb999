package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/google/uuid"
)

// chainChecker verifies every stream of a log read in global order, one
// event at a time, holding only a small state per stream (never the events).
//
// Case streams ("case-<uuid>") and access-log streams ("access-<uuid>")
// must carry an intact hash chain from version 0 (an access log may start
// with entries written before it was chained: see domain.ChainVerifier).
// Any other stream must have dense revisions from 0; when its events carry
// Casebook's envelope with a hash, their chain is checked as well.
type chainChecker struct {
	streams map[string]*streamCheck
	events  int64
	broken  []brokenStream
}

type streamCheck struct {
	name     string
	caseID   uuid.UUID
	isCase   bool
	chain    *domain.ChainVerifier // nil for an unhashed stream
	next     uint64                // next expected revision
	count    int64
	ref      string // case reference, from CaseOpened
	headHash string
	broken   bool
}

// brokenStream is a stream whose chain or sequence does not hold.
type brokenStream struct {
	Stream    string     `json:"stream"`
	CaseID    *uuid.UUID `json:"case_id,omitempty"`
	Reference string     `json:"reference,omitempty"`
	Version   uint64     `json:"version"`
	Reason    string     `json:"reason"`
}

func (b brokenStream) String() string {
	what := "stream " + b.Stream
	if b.CaseID != nil {
		what = "case " + b.CaseID.String()
		if b.Reference != "" {
			what += " (" + b.Reference + ")"
		}
	}
	return fmt.Sprintf("%s: broken at version %d: %s", what, b.Version, b.Reason)
}

func newChainChecker() *chainChecker {
	return &chainChecker{streams: make(map[string]*streamCheck)}
}

// seed feeds events that precede what add will see (the head of a stream
// already in a target store) so that the chain continues from them.
func (c *chainChecker) seed(ev eventstore.RecordedEvent) { c.add(ev) }

// add checks the next event of the log. It returns false when this event
// broke its stream.
func (c *chainChecker) add(ev eventstore.RecordedEvent) bool { return c.addLinked(ev, nil) }

// addLinked is add for an event whose link (domain.CheckLink) was checked
// already; link may be nil.
func (c *chainChecker) addLinked(ev eventstore.RecordedEvent, link *domain.Link) bool {
	c.events++
	s := c.streams[ev.Stream]
	if s == nil {
		s = &streamCheck{name: ev.Stream}
		s.caseID, s.isCase = domain.CaseIDFromStream(ev.Stream)
		_, isAccess := domain.CaseIDFromAccessStream(ev.Stream)
		if s.isCase || isAccess || hashedEnvelope(ev.Metadata) {
			s.chain = domain.NewChainVerifier(ev.Stream)
		}
		c.streams[ev.Stream] = s
	}
	s.count++
	if s.broken {
		return true // reported at its first break; later events say nothing new
	}
	if s.isCase && ev.Revision == 0 && ev.Type == domain.TypeCaseOpened {
		var opened domain.CaseOpened
		if json.Unmarshal(ev.Data, &opened) == nil {
			s.ref = opened.Reference
		}
	}
	if s.chain != nil {
		if link == nil {
			l := domain.CheckLink(toStored(ev))
			link = &l
		}
		if !s.chain.AddLinked(*link) {
			res := s.chain.Result()
			c.markBroken(s, *res.FirstInvalidVersion, res.Reason)
			return false
		}
		s.headHash = s.chain.Result().HeadHash
		s.next = ev.Revision + 1
		return true
	}
	if ev.Revision != s.next {
		c.markBroken(s, s.next, fmt.Sprintf("found revision %d where %d was expected: an event is missing or out of order", ev.Revision, s.next))
		return false
	}
	s.next++
	return true
}

func (c *chainChecker) markBroken(s *streamCheck, version uint64, reason string) {
	s.broken = true
	b := brokenStream{Stream: s.name, Version: version, Reason: reason, Reference: s.ref}
	if s.isCase {
		id := s.caseID
		b.CaseID = &id
	}
	c.broken = append(c.broken, b)
}

// hashedEnvelope reports whether metadata is Casebook's envelope with a
// hash chain.
func hashedEnvelope(metadata []byte) bool {
	m, err := domain.DecodeMetadata(metadata)
	return err == nil && m.Hash != ""
}

func toStored(ev eventstore.RecordedEvent) domain.StoredEvent {
	return domain.StoredEvent{
		ID: ev.ID, Stream: ev.Stream, Type: ev.Type, Version: ev.Revision, Position: uint64(ev.Position),
		Data: ev.Data, Metadata: ev.Metadata,
	}
}

// summary counts what was checked.
type chainSummary struct {
	Events       int64          `json:"events"`
	Streams      int            `json:"streams"`
	Cases        int            `json:"cases"`
	HashedChains int            `json:"hashed_chains"`
	Broken       []brokenStream `json:"broken"`
}

func (c *chainChecker) summary() chainSummary {
	s := chainSummary{Events: c.events, Streams: len(c.streams), Broken: c.broken}
	for _, st := range c.streams {
		if st.isCase {
			s.Cases++
		}
		if st.chain != nil {
			s.HashedChains++
		}
	}
	if s.Broken == nil {
		s.Broken = []brokenStream{}
	}
	return s
}

// counts returns the number of events per stream.
func (c *chainChecker) counts() map[string]int64 {
	m := make(map[string]int64, len(c.streams))
	for name, s := range c.streams {
		m[name] = s.count
	}
	return m
}

// describeBroken lists broken streams, one per line.
func describeBroken(bs []brokenStream) string {
	lines := make([]string, len(bs))
	for i, b := range bs {
		lines[i] = "  " + b.String()
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
