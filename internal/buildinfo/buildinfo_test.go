package buildinfo_test

import (
	"strings"
	"testing"

	"github.com/casebook/casebook/internal/buildinfo"
)

func TestStringNamesModuleVersionAndRevision(t *testing.T) {
	got := buildinfo.Info{Module: "github.com/casebook/casebook", Version: "v1.2.3", Revision: "abc123", Modified: true, GoVersion: "go1.26.8"}.String("casebookd")
	if want := "casebookd v1.2.3 github.com/casebook/casebook revision abc123 (modified) go1.26.8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadFallsBackToTheLinkedRevision(t *testing.T) {
	// A test binary carries no VCS settings, so the linked-in value is
	// what Read reports (and "unknown" without one).
	old := buildinfo.Revision
	t.Cleanup(func() { buildinfo.Revision = old })
	buildinfo.Revision = ""
	if got := buildinfo.Read(); got.Revision != "unknown" || !strings.HasPrefix(got.GoVersion, "go") {
		t.Errorf("Read() = %+v", got)
	}
	buildinfo.Revision = "feedface"
	if got := buildinfo.Read(); got.Revision != "feedface" || got.Module != "github.com/casebook/casebook" {
		t.Errorf("Read() = %+v", got)
	}
}
