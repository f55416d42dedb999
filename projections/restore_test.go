package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

// olderBackup is a store restored from an older backup of another, under
// read models built from the newer log: the fixture is in both; the newer
// log went on with lostEvents more that the backup lacks; the restored one
// then went on with appended events of its own (among them a
// StowawaysDetected of 7 people), reusing the positions the read models
// hold.
type olderBackup struct {
	newer, restored *sqlitestore.Store
	newerDir        string // the newer store's directory, and the read models'
}

const lostEvents = 12

func makeOlderBackup(t *testing.T, appended int) olderBackup {
	t.Helper()
	ctx := context.Background()
	ob := olderBackup{newerDir: t.TempDir()}
	ob.newer = openTestStore(t, ob.newerDir)
	w := newLogWriter(t, ob.newer)
	writeFixture(w)
	backup := filepath.Join(t.TempDir(), "events.db.bak")
	if err := ob.newer.BackupTo(ctx, backup); err != nil {
		t.Fatal(err)
	}
	lost := []pending{{ev: domain.CaseOpened{Reference: "LOST-1", Title: "Lost", LeadAgency: ukba,
		CrimeTypes: []string{domain.CrimePeopleSmuggling}, Location: "Dover"}, occurred: at("2011-05-01T00:00:00Z"), agency: ukba}}
	for i := range lostEvents - 1 {
		lost = append(lost, pending{ev: domain.StowawaysDetected{Location: "Dover", Method: domain.MethodCO2Probe, People: 2},
			occurred: at("2011-05-02T00:00:00Z").Add(time.Duration(i) * time.Hour), agency: ukba})
	}
	w.write(id("case-lost"), lost...)

	restoredDir := t.TempDir()
	copyFile(t, backup, filepath.Join(restoredDir, "events.db"))
	ob.restored = openTestStore(t, restoredDir)
	if appended > 0 {
		w2 := newLogWriter(t, ob.restored)
		w2.randomIDs = true
		w2.recordedAt = w.recordedAt.Add(time.Hour)
		evs := []pending{{ev: domain.CaseOpened{Reference: "NEW-1", Title: "New", LeadAgency: soca,
			CrimeTypes: []string{domain.CrimePeopleSmuggling}, Location: "Calais"}, occurred: at("2011-05-03T00:00:00Z"), agency: soca},
			{ev: domain.StowawaysDetected{Location: "Calais", Method: domain.MethodSnifferDog, People: 7}, occurred: at("2011-05-04T00:00:00Z"), agency: soca}}
		for i := range appended - 2 {
			evs = append(evs, pending{ev: domain.IntelligenceLogged{Summary: "More lorries", Grading: "2B1"},
				occurred: at("2011-05-05T00:00:00Z").Add(time.Duration(i) * time.Hour), agency: soca})
		}
		w2.write(id("case-new"), evs...)
	}
	return ob
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// sameAsCleanBuild asserts that e answers every golden query and lists
// the cases exactly as read models built from scratch on store do, and
// that each projection says why it was rebuilt.
func sameAsCleanBuild(t *testing.T, e *Engine, store eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	ref := openTestEngine(t, t.TempDir(), store, Options{})
	syncTo(t, ref, store)
	syncTo(t, e, store)
	f := fixture{beforeRetraction: at("2011-06-01T00:30:00Z"), afterRetraction: at("2011-06-01T00:40:00Z"), beforeArrestRetraction: at("2011-06-01T00:31:00Z")}
	for _, gq := range goldenQueries(f) {
		got, err := runReport(ctx, e, gq.report, gq.q)
		if err != nil {
			t.Fatalf("%s: %v", gq.label, err)
		}
		want, _ := runReport(ctx, ref, gq.report, gq.q)
		// As JSON: the summary's gangs figure is a pointer.
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s:\n got %s\nwant %s (a clean build)", gq.label, g, w)
		}
	}
	for _, cq := range goldenCaseQueries() {
		got, _ := e.ListCases(ctx, cq.q)
		want, _ := ref.ListCases(ctx, cq.q)
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("cases %s:\n got %+v\nwant %+v", cq.label, got, want)
		}
	}
	if d := diffDumps(dumpTables(t, e), dumpTables(t, ref)); d != "" {
		t.Errorf("read models differ from a clean build:\n%s", d)
	}
	st, err := e.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Name == AccessLog {
			continue // the test's log holds no access-log entry: that read model had nothing to unlearn
		}
		if !strings.Contains(s.LastError, "do not reflect the log") || s.LastErrorAt == nil {
			t.Errorf("status of %s: %+v, want last_error saying why it was rebuilt", s.Name, s)
		}
	}
}

// TestOlderBackupRestoredUnderNewerReadModels (issue 13): read models built
// from a newer log than the store now holds rebuild themselves from the
// start when the engine opens, whether their checkpoint lies beyond the
// log's head or the log has grown past it again with other events; the
// reports then equal a clean build's (the 7 people detected after the
// restore included).
func TestOlderBackupRestoredUnderNewerReadModels(t *testing.T) {
	for _, appended := range []int{0, lostEvents + 5} {
		t.Run(fmt.Sprintf("appended %d after the restore", appended), func(t *testing.T) {
			ob := makeOlderBackup(t, appended)
			e := openTestEngine(t, ob.newerDir, ob.newer, Options{})
			syncTo(t, e, ob.newer)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			// The older log under the newer read models.
			e2 := openTestEngine(t, ob.newerDir, ob.restored, Options{})
			sameAsCleanBuild(t, e2, ob.restored)
			if appended > 0 {
				d, err := e2.Detections(context.Background(), ReportQuery{From: ptr(at("2011-05-04")), To: ptr(at("2011-05-05"))})
				if err != nil || d.People != 7 {
					t.Errorf("detections on 4 May: %+v, %v; want the 7 people appended after the restore", d, err)
				}
			}
		})
	}
}

// TestOlderLogOnResubscribe (issue 13): the same, found when the engine
// subscribes again after the store went away and came back holding an
// older log.
func TestOlderLogOnResubscribe(t *testing.T) {
	ob := makeOlderBackup(t, lostEvents+5)
	ss := newSwappableStore(ob.newer)
	e := openTestEngine(t, ob.newerDir, ss, Options{})
	syncTo(t, e, ob.newer)
	ss.swap(ob.restored)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := e.Status(context.Background())
		if err == nil && st[0].LastError != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the read models never noticed the older log: %+v %v", st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sameAsCleanBuild(t, e, ob.restored)
}

// swappableStore is a test double: a store whose backing store the test
// replaces while the engine runs (as an operator restoring a backup under
// a running server would); the swap ends live subscriptions with
// ErrUnavailable, as a store going away does.
type swappableStore struct {
	mu      sync.Mutex
	cur     eventstore.Store
	swapped chan struct{} // closed by the next swap
}

func newSwappableStore(s eventstore.Store) *swappableStore {
	return &swappableStore{cur: s, swapped: make(chan struct{})}
}

func (s *swappableStore) swap(to eventstore.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = to
	close(s.swapped)
	s.swapped = make(chan struct{})
}

func (s *swappableStore) current() (eventstore.Store, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, s.swapped
}

func (s *swappableStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	st, _ := s.current()
	return st.Append(ctx, stream, expected, events...)
}

func (s *swappableStore) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	st, _ := s.current()
	return st.ReadStream(ctx, stream, opts)
}

func (s *swappableStore) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	st, _ := s.current()
	return st.ReadAll(ctx, opts)
}

func (s *swappableStore) Subscribe(ctx context.Context, opts eventstore.SubscribeOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		st, swapped := s.current()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-swapped:
				cancel()
			case <-ctx.Done():
			}
		}()
		for ev, err := range st.Subscribe(ctx, opts) {
			if err != nil {
				select {
				case <-swapped:
					err = fmt.Errorf("test double: the store was swapped: %w", eventstore.ErrUnavailable)
				default:
				}
				yield(ev, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

func (s *swappableStore) Head(ctx context.Context) (eventstore.Position, error) {
	st, _ := s.current()
	return st.Head(ctx)
}

func (s *swappableStore) Ping(ctx context.Context) error {
	st, _ := s.current()
	return st.Ping(ctx)
}

func (s *swappableStore) Close() error { return errors.New("test double: the test closes the stores") }

// TestUnreadableVersionRebuildsBeforeAnswering: read models built by a
// version whose tables this code cannot query (older than readableFrom:
// the bitemporal columns came with version 2) are rebuilt from the start
// when the engine opens, before they answer, and then answer as a clean
// build; nothing calls that an error.
func TestUnreadableVersionRebuildsBeforeAnswering(t *testing.T) {
	dir := t.TempDir()
	store := openTestStore(t, dir)
	writeFixture(newLogWriter(t, store))
	old := newArrestsModel().readableFrom() - 1
	e := openTestEngine(t, dir, store, Options{Versions: map[string]int{Arrests: old}})
	syncTo(t, e, store)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := openTestEngine(t, dir, store, Options{NoStart: true})
	st, err := e2.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Name == Arrests && (s.Version != newArrestsModel().version() || s.State != StateCatchingUp || s.Position != 0 || s.LastError != "") {
			t.Errorf("arrests built by version %d, before start: %+v; want the new version catching up from 0, no error", old, s)
		}
	}
	_ = e2.Close()
	e3 := openTestEngine(t, dir, store, Options{})
	ref := openTestEngine(t, t.TempDir(), store, Options{})
	syncTo(t, e3, store)
	syncTo(t, ref, store)
	if d := diffDumps(dumpTables(t, e3), dumpTables(t, ref)); d != "" {
		t.Errorf("after the rebuild, read models differ from a clean build:\n%s", d)
	}
}
