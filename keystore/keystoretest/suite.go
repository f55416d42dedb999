// Package keystoretest is the conformance suite of key stores: one body of
// tests that every keystore.Store implementation must pass (each backend's
// test calls Run with a Harness). It is test support, imported by _test
// files only.
package keystoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/keystore"
)

// Harness makes stores for the suite.
type Harness struct {
	// Open returns a new, empty store; the suite closes it.
	Open func(t *testing.T) keystore.Store
	// Reopen, when set, closes s and opens the same store again (to check
	// durability).
	Reopen func(t *testing.T, s keystore.Store) keystore.Store
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	open := func(t *testing.T) keystore.Store {
		s := h.Open(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	caseA, caseB := uuid.New(), uuid.New()
	person := uuid.New()

	t.Run("CreateThenGet", func(t *testing.T) {
		s := open(t)
		ref := domain.PersonKey(caseA, person)
		w := randomBytes(t, 60)
		got, err := s.Create(ctx, ref, w)
		if err != nil || !bytes.Equal(got, w) {
			t.Fatalf("Create = %x, %v", got, err)
		}
		got, err = s.Get(ctx, ref)
		if err != nil || !bytes.Equal(got, w) {
			t.Fatalf("Get = %x, %v", got, err)
		}
		// A second create keeps the first key.
		got, err = s.Create(ctx, ref, randomBytes(t, 60))
		if err != nil || !bytes.Equal(got, w) {
			t.Fatalf("second Create = %x, %v; want the first key", got, err)
		}
		// Keys are per case and per name.
		for _, other := range []domain.KeyRef{domain.CaseKey(caseA), domain.PersonKey(caseB, person)} {
			if _, err := s.Get(ctx, other); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Get(%s) = %v, want ErrNotFound", other, err)
			}
		}
	})

	t.Run("ConcurrentCreatesAgree", func(t *testing.T) {
		s := open(t)
		ref := domain.CaseKey(caseA)
		const n = 8
		got := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.Create(ctx, ref, randomBytes(t, 60))
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("create %d: %v", i, errs[i])
			}
			if !bytes.Equal(got[i], got[0]) {
				t.Fatalf("create %d got another key than create 0", i)
			}
		}
	})

	t.Run("DestroyIsForGood", func(t *testing.T) {
		s := open(t)
		ref, keep := domain.PersonKey(caseA, person), domain.CaseKey(caseA)
		w := randomBytes(t, 60)
		mustCreate(t, s, ref, w)
		kept := mustCreate(t, s, keep, randomBytes(t, 60))
		if err := s.Destroy(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, ref); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("Get after Destroy = %v, want ErrNotFound", err)
		}
		if _, err := s.Create(ctx, ref, w); !errors.Is(err, keystore.ErrDestroyed) {
			t.Fatalf("Create after Destroy = %v, want ErrDestroyed", err)
		}
		if got, err := s.Get(ctx, keep); err != nil || !bytes.Equal(got, kept) {
			t.Fatalf("the other key: %x, %v", got, err)
		}
		// Again, and a key never created: no error, and the latter can
		// never be created either.
		never := domain.PersonKey(caseB, uuid.New())
		if err := s.Destroy(ctx, ref, never); err != nil {
			t.Fatalf("Destroy again: %v", err)
		}
		if _, err := s.Create(ctx, never, w); !errors.Is(err, keystore.ErrDestroyed) {
			t.Fatalf("Create of a key destroyed before it existed = %v, want ErrDestroyed", err)
		}
		if h.Reopen != nil {
			s = h.Reopen(t, s)
			t.Cleanup(func() { _ = s.Close() })
			if _, err := s.Get(ctx, ref); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("Get after reopen = %v, want ErrNotFound", err)
			}
			if got, err := s.Get(ctx, keep); err != nil || !bytes.Equal(got, kept) {
				t.Fatalf("the other key after reopen: %x, %v", got, err)
			}
		}
	})

	t.Run("MasterCheckAndErasureMark", func(t *testing.T) {
		s := open(t)
		if c, err := s.MasterCheck(ctx); err != nil || c != nil {
			t.Fatalf("new store's check = %x, %v", c, err)
		}
		check := randomBytes(t, 60)
		if err := s.SetMasterCheck(ctx, check); err != nil {
			t.Fatal(err)
		}
		if n, err := s.ErasedThrough(ctx); err != nil || n != 0 {
			t.Fatalf("new store's mark = %d, %v", n, err)
		}
		for _, n := range []uint64{5, 1 << 40} {
			if err := s.SetErasedThrough(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		if h.Reopen != nil {
			s = h.Reopen(t, s)
			t.Cleanup(func() { _ = s.Close() })
		}
		if c, err := s.MasterCheck(ctx); err != nil || !bytes.Equal(c, check) {
			t.Fatalf("check = %x, %v", c, err)
		}
		if n, err := s.ErasedThrough(ctx); err != nil || n != 1<<40 {
			t.Fatalf("mark = %d, %v", n, err)
		}
	})

	t.Run("Vault", func(t *testing.T) {
		s := open(t)
		master := randomBytes(t, keystore.KeySize)
		v, err := keystore.OpenVault(ctx, s, master, keystore.VaultOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ref := domain.PersonKey(caseA, person)
		eventID := uuid.New()
		blob, err := v.SealField(ctx, ref, eventID, "name", []byte("John Doe"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(blob, []byte("John")) {
			t.Fatal("sealed value holds the plaintext")
		}
		again, _ := v.SealField(ctx, ref, eventID, "name", []byte("John Doe"))
		if bytes.Equal(blob, again) {
			t.Fatal("two seals of one value are equal: the nonce is not fresh")
		}
		if got, err := v.OpenField(ctx, ref, eventID, "name", blob); err != nil || string(got) != "John Doe" {
			t.Fatalf("open = %q, %v", got, err)
		}
		// Bound to the event and the field.
		if _, err := v.OpenField(ctx, ref, uuid.New(), "name", blob); !errors.Is(err, keystore.ErrUndecryptable) {
			t.Errorf("open under another event id = %v", err)
		}
		if _, err := v.OpenField(ctx, ref, eventID, "nationality", blob); !errors.Is(err, keystore.ErrUndecryptable) {
			t.Errorf("open as another field = %v", err)
		}
		// A second vault (another node, a restart) opens it through the store.
		v2, err := keystore.OpenVault(ctx, s, master, keystore.VaultOptions{CacheSize: -1})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := v2.OpenField(ctx, ref, eventID, "name", blob); err != nil || string(got) != "John Doe" {
			t.Fatalf("open from a second vault = %q, %v", got, err)
		}
		// The wrong master key is refused, and writes nothing.
		if _, err := keystore.OpenVault(ctx, s, randomBytes(t, keystore.KeySize), keystore.VaultOptions{}); !errors.Is(err, keystore.ErrWrongMasterKey) {
			t.Fatalf("wrong master key: %v", err)
		}
		// Destroyed: gone for every vault.
		if err := v.Destroy(ctx, ref); err != nil {
			t.Fatal(err)
		}
		for i, vv := range []*keystore.Vault{v, v2} {
			if _, err := vv.OpenField(ctx, ref, eventID, "name", blob); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("vault %d: open after destroy = %v, want ErrNotFound", i, err)
			}
		}
		if _, err := v.SealField(ctx, ref, uuid.New(), "name", []byte("x")); !errors.Is(err, keystore.ErrDestroyed) {
			t.Errorf("seal under a destroyed key = %v, want ErrDestroyed", err)
		}
	})
}

func mustCreate(t *testing.T, s keystore.Store, ref domain.KeyRef, w []byte) []byte {
	t.Helper()
	got, err := s.Create(context.Background(), ref, w)
	if err != nil {
		t.Fatalf("create %s: %v", ref, err)
	}
	return got
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(fmt.Errorf("random: %w", err))
	}
	return b
}
