package demo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

func generateInto(t *testing.T, opts ScaleOptions) (*sqlitestore.Store, ScaleResult) {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	res, err := Generate(context.Background(), store, opts)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return store, res
}

// streams reads a store's log by stream, in revision order.
func streams(t *testing.T, store eventstore.Store) (map[string][]eventstore.RecordedEvent, int) {
	t.Helper()
	out := map[string][]eventstore.RecordedEvent{}
	n := 0
	for ev, err := range store.ReadAll(context.Background(), eventstore.ReadAllOptions{From: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		out[ev.Stream] = append(out[ev.Stream], ev)
		n++
	}
	return out, n
}

// TestGenerateObeysEveryRule: the generated log holds exactly the events
// asked for; every stream's hash chain verifies and folds; every event was
// logged by an investigator of the case's lead agency or of one that had
// joined it (opening, joining, closing and reopening by the lead's); and
// the log has what the scale data set is for: joint cases and gangs,
// entries recorded long after they happened, retractions recorded after
// what they retract.
func TestGenerateObeysEveryRule(t *testing.T) {
	const n = 6000
	store, res := generateInto(t, ScaleOptions{Events: n, Seed: 3, Workers: 8})
	byStream, total := streams(t, store)
	if total != n || res.Events != n || res.Cases != len(byStream) {
		t.Fatalf("%d events in the log, %d reported, %d cases reported for %d streams; want %d events", total, res.Events, res.Cases, len(byStream), n)
	}
	dismantledBy := map[uuid.UUID][]string{} // group → lead agencies of the cases dismantling it
	lateRetractions := 0
	for stream, evs := range byStream {
		stored := make([]domain.StoredEvent, len(evs))
		for i, ev := range evs {
			stored[i] = domain.StoredEvent{ID: ev.ID, Stream: ev.Stream, Type: ev.Type, Version: ev.Revision,
				Position: uint64(ev.Position), Data: ev.Data, Metadata: ev.Metadata}
		}
		if v := domain.Verify(stored); !v.Valid {
			t.Fatalf("%s: chain does not verify: %+v", stream, v)
		}
		entries, err := domain.DecodeStoredAll(stored)
		if err != nil {
			t.Fatalf("%s: %v", stream, err)
		}
		var c domain.Case
		recorded := map[uuid.UUID]time.Time{}
		for _, e := range entries {
			a := e.Metadata.Actor
			if a.Role != domain.RoleInvestigator {
				t.Fatalf("%s v%d: logged by a %s", stream, e.Version, a.Role)
			}
			switch e.Type {
			case domain.TypeCaseOpened, domain.TypeAgencyJoined, domain.TypeCaseClosed, domain.TypeCaseReopened:
				if lead := c.LeadAgency; e.Type != domain.TypeCaseOpened && a.Agency != lead {
					t.Fatalf("%s v%d: %s logged by %s, not the lead agency %s", stream, e.Version, e.Type, a.Agency, lead)
				}
			default:
				if !c.VisibleTo(a.Agency) {
					t.Fatalf("%s v%d: %s logged by %s, which has no access to the case (%v)", stream, e.Version, e.Type, a.Agency, c.Agencies)
				}
			}
			if !slices.Contains(ScaleAgencies, a.Agency) {
				t.Fatalf("%s: agency %q is not a canonical code", stream, a.Agency)
			}
			switch ev := e.Event.(type) {
			case domain.GangDismantled:
				dismantledBy[ev.GroupID] = append(dismantledBy[ev.GroupID], c.LeadAgency)
			case domain.EntryRetracted:
				if e.Metadata.RecordedAt.Sub(recorded[ev.EventID]) > weekOf {
					lateRetractions++
				}
			}
			recorded[e.ID] = e.Metadata.RecordedAt
			if err := c.Apply(e); err != nil {
				t.Fatalf("%s v%d: %v", stream, e.Version, err)
			}
		}
	}
	joint := 0
	for _, leads := range dismantledBy {
		if len(slices.Compact(slices.Sorted(slices.Values(leads)))) > 1 {
			joint++
		}
	}
	t.Logf("%+v; %d gangs dismantled by cases of several agencies; %d retractions more than a week after the entry", res, joint, lateRetractions)
	if res.Arrests < n/20 || res.Seizures < n/20 || res.Detections < n/20 || res.GangsDismantled == 0 ||
		res.Retractions < n/100 || res.Late < n/100 || joint == 0 || lateRetractions == 0 {
		t.Errorf("the data set lacks some of what it is for: %+v, %d joint gangs, %d late retractions", res, joint, lateRetractions)
	}
}

// TestGenerateIsDeterministic: the same seed gives the same streams,
// events, ids and hashes, however many appends are in flight; another
// seed gives others.
func TestGenerateIsDeterministic(t *testing.T) {
	digest := func(opts ScaleOptions) string {
		store, _ := generateInto(t, opts)
		byStream, _ := streams(t, store)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range byStream {
				if !yield(k) {
					return
				}
			}
		})
		h := sha256.New()
		for _, k := range keys {
			for _, ev := range byStream[k] {
				fmt.Fprintf(h, "%s %d %s %s %s %s\n", ev.Stream, ev.Revision, ev.ID, ev.Type, ev.Data, ev.Metadata)
			}
		}
		return fmt.Sprintf("%x", h.Sum(nil))
	}
	a := digest(ScaleOptions{Events: 1500, Seed: 9, Workers: 1})
	b := digest(ScaleOptions{Events: 1500, Seed: 9, Workers: 16})
	c := digest(ScaleOptions{Events: 1500, Seed: 10, Workers: 16})
	if a != b {
		t.Errorf("seed 9 gave different logs with 1 and 16 appends in flight")
	}
	if a == c {
		t.Errorf("seeds 9 and 10 gave the same log")
	}
}
