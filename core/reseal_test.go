package core_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// A store written before encryption, re-sealed into a new one: the same
// events (ids, types, actors, times), personal fields sealed, chains new
// and valid, a migration record linking every old head to its new one,
// and erasure now possible. A re-run writes nothing more.
func TestImportResealsAPlaintextStore(t *testing.T) {
	old := newFixture(t, core.Config{})
	legacy := newCore(t, old.store, core.Config{Now: old.clock.Now}) // no keys: plaintext, as before encryption
	res, _, err := legacy.OpenCase(old.ctx, ukba, core.OpenCase{Data: json.RawMessage(openData)})
	if err != nil {
		t.Fatal(err)
	}
	id := res.CaseID
	for _, c := range []struct{ typ, data string }{
		{domain.TypeAgencyJoined, `{"agency":"PAF"}`},
		{domain.TypeSuspectIdentified, johnDoe},
		{domain.TypeArrestMade, arrest(personA)},
		{domain.TypeIntelligenceLogged, intelText},
		{domain.TypeSuspectIdentified, richardRoe},
	} {
		if _, err := legacy.Record(old.ctx, ukba, id, core.Command{Type: c.typ, Data: json.RawMessage(c.data)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := legacy.Case(old.ctx, pafOfficer, id, core.At{}, core.Consultation{}); err != nil { // an access-log entry
		t.Fatal(err)
	}
	var src []eventstore.RecordedEvent
	for rec, err := range old.store.ReadAll(old.ctx, eventstore.ReadAllOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, rec)
	}
	oldHead, _ := legacy.Verify(old.ctx, auditorBea, id, core.Consultation{})

	dst := newFixture(t, core.Config{})
	rep, err := dst.svc.Import(dst.ctx, adminOlu, sourceOf(src), core.ImportOptions{Seal: true, SourceName: "old-data", SourcePosition: 42})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != int64(len(src)) || rep.Migration == "" {
		t.Fatalf("report %+v", rep)
	}
	files := dst.storeFiles()
	for _, secret := range []string{secretName, secretDOB, secretNat, secretIntel, "Richard Roe"} {
		if bytes.Contains(files, []byte(secret)) {
			t.Errorf("%q is in the re-sealed store in plain text", secret)
		}
	}
	// Same facts, same envelope but the hashes.
	i := 0
	for rec, err := range dst.store.ReadStream(dst.ctx, domain.StreamName(id), eventstore.ReadStreamOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		var o domain.StoredEvent
		for _, s := range src {
			if s.ID == rec.ID {
				o = domain.StoredEvent{ID: s.ID, Stream: s.Stream, Type: s.Type, Version: s.Revision, Data: s.Data, Metadata: s.Metadata}
			}
		}
		a, _ := domain.DecodeMetadata(o.Metadata)
		b, _ := domain.DecodeMetadata(rec.Metadata)
		if o.Type != rec.Type || o.Version != rec.Revision || a.Actor != b.Actor || !a.RecordedAt.Equal(b.RecordedAt) || !a.OccurredAt.Equal(b.OccurredAt) {
			t.Errorf("version %d differs: %+v / %+v", rec.Revision, a, b)
		}
		i++
	}
	if i != 6 {
		t.Fatalf("%d events in the copy", i)
	}
	v, err := dst.svc.Verify(dst.ctx, auditorBea, id, core.Consultation{})
	if err != nil || !v.Valid() {
		t.Fatalf("verify the copy: %+v %v", v, err)
	}
	c, err := dst.svc.Case(dst.ctx, auditorBea, id, core.At{}, core.Consultation{})
	if s, _ := c.Suspect(personA); err != nil || s.Name != secretName || s.Nationality != secretNat {
		t.Fatalf("the copy reads %+v %v", s, err)
	}
	// The migration record links the old head to the new one.
	var record domain.StoreMigrated
	for rec, err := range dst.store.ReadStream(dst.ctx, rep.Migration, eventstore.ReadStreamOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if record, err = domain.DecodeStoreMigrated(rec.Data); err != nil {
			t.Fatal(err)
		}
		m, _ := domain.DecodeMetadata(rec.Metadata)
		if m.Actor != adminOlu.Actor() {
			t.Errorf("recorded by %+v", m.Actor)
		}
	}
	found := false
	for _, h := range record.Heads {
		if h.Stream == domain.StreamName(id) {
			found = true
			if h.OldHeadHash != oldHead.Case.HeadHash || h.NewHeadHash != v.Case.HeadHash || h.Version != 5 {
				t.Errorf("head %+v; old %s new %s", h, oldHead.Case.HeadHash, v.Case.HeadHash)
			}
		}
		if strings.HasPrefix(h.Stream, domain.AccessStreamPrefix) && h.OldHeadHash != h.NewHeadHash {
			t.Errorf("the access log's chain changed: %+v", h)
		}
	}
	if !found || record.Source != "old-data" || record.SourcePosition != 42 || !record.Sealed {
		t.Fatalf("record %+v", record)
	}
	// Erasure works on the copy.
	if _, err := dst.svc.ErasePerson(dst.ctx, dpoUKBA, id, personA, "retention period over"); err != nil {
		t.Fatal(err)
	}
	// A re-run skips everything and records nothing new.
	rep2, err := dst.svc.Import(dst.ctx, adminOlu, sourceOf(src), core.ImportOptions{Seal: true, SourceName: "old-data", SourcePosition: 42})
	if err != nil || rep2.Imported != 0 || rep2.Migration != rep.Migration {
		t.Fatalf("re-run %+v %v", rep2, err)
	}
	// The re-sealed store exports and imports like any other (the
	// migration record included).
	var copyAll []eventstore.RecordedEvent
	for rec, err := range dst.store.ReadAll(dst.ctx, eventstore.ReadAllOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		copyAll = append(copyAll, rec)
	}
	third := newCore(t, openStore(t), core.Config{})
	if _, err := third.Import(dst.ctx, adminOlu, sourceOf(copyAll), core.ImportOptions{}); err != nil {
		t.Fatalf("import of the re-sealed store: %v", err)
	}
}
