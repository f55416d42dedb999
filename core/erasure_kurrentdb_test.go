package core_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/kurrentdb"
	"github.com/casebook/casebook/eventstore/kurrentdb/kurrentdbtest"
	"github.com/casebook/casebook/keystore"
	"github.com/casebook/casebook/keystore/streamkeys"
)

// Through the KurrentDB test double (the real client, keys in streams): an
// erasure recorded in the log whose key was not destroyed (the node died
// between the two) is shown erased at once, and ApplyErasures tombstones
// the key's stream.
func TestApplyErasuresThroughKurrentDB(t *testing.T) {
	ctx := t.Context()
	srv := kurrentdbtest.Start(t, kurrentdbtest.Options{})
	st, err := kurrentdb.Open(ctx, srv.URL(), kurrentdb.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	vault, err := keystore.OpenVault(ctx, streamkeys.New(st), testMasterKey, keystore.VaultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: start}
	svc := newCore(t, st, core.Config{Keys: vault, Now: clock.Now})
	res, _, err := svc.OpenCase(ctx, ukba, core.OpenCase{Data: json.RawMessage(openData)})
	if err != nil {
		t.Fatal(err)
	}
	id := res.CaseID
	if _, err := svc.Record(ctx, ukba, id, core.Command{Type: domain.TypeSuspectIdentified, Data: json.RawMessage(johnDoe)}); err != nil {
		t.Fatal(err)
	}
	if srv.ContainsBytes([]byte(secretName)) {
		t.Fatal("the name is stored in plain text on the node")
	}

	// PersonErased appended, the key left: as a crash between the two.
	page, err := svc.History(ctx, auditorBea, id, 0, 100, core.Consultation{})
	if err != nil {
		t.Fatal(err)
	}
	var stored []domain.Entry
	for _, e := range page.Events {
		se, err := domain.DecodeStored(e.Stored)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, se)
	}
	state, err := domain.Replay(stored)
	if err != nil {
		t.Fatal(err)
	}
	e, err := domain.Decide(state, domain.Command{EventID: uuid.New(), Type: domain.TypePersonErased,
		Data: json.RawMessage(`{"person_id":"` + personA.String() + `","reason":"retention period over"}`), Actor: dpoUKBA.Actor(), Now: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, domain.StreamName(id), eventstore.Exact(state.Version),
		eventstore.EventData{ID: e.ID, Type: e.Type, Data: e.Stored.Data, Metadata: e.Stored.Metadata}); err != nil {
		t.Fatal(err)
	}
	ref := domain.PersonKey(id, personA)
	if _, err := vault.Store().Get(ctx, ref); err != nil {
		t.Fatalf("the key should still be there: %v", err)
	}

	// Another node: shows the person erased before anything is applied.
	other := newCore(t, st, core.Config{Keys: vault, Now: clock.Now})
	c, err := other.Case(ctx, auditorBea, id, core.At{}, core.Consultation{})
	if s, _ := c.Suspect(personA); err != nil || s.ErasedAt == nil || s.Name != "" {
		t.Fatalf("before ApplyErasures: %+v %v", s, err)
	}
	n, err := other.ApplyErasures(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ApplyErasures = %d, %v", n, err)
	}
	if _, err := vault.Store().Get(ctx, ref); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("after ApplyErasures: %v", err)
	}
	if ids := srv.StreamEventIDs(streamkeys.StreamOf(ref)); len(ids) != 1 {
		t.Fatalf("the tombstoned stream's event should stay until a scavenge: %v", ids)
	}
	srv.Scavenge()
	if ids := srv.StreamEventIDs(streamkeys.StreamOf(ref)); len(ids) != 0 {
		t.Fatalf("after a scavenge: %v", ids)
	}
	if n, err := other.ApplyErasures(ctx); err != nil || n != 0 {
		t.Fatalf("second ApplyErasures = %d, %v", n, err)
	}
	v, err := other.Verify(ctx, auditorBea, id, core.Consultation{})
	if err != nil || !v.Valid() {
		t.Fatalf("verify %+v %v", v, err)
	}
}
