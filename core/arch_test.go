package core_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/casebook/casebook/"

// importsOf lists the module packages that the non-test Go files of each
// package directory import.
func importsOf(t *testing.T) map[string]map[string]bool {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if rest, ok := strings.CutPrefix(p, module); ok {
				out[pkg][rest] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The dependency rules of the brief: http calls the application core and
// never the event store; the domain does no I/O and imports nothing of
// ours but byte helpers; nothing imports http or a command (but the
// commands, and http's own test support).
func TestDependenciesPointInward(t *testing.T) {
	for pkg, imports := range importsOf(t) {
		for imp := range imports {
			switch {
			case pkg == "http" && (imp == "eventstore" || strings.HasPrefix(imp, "eventstore/")):
				t.Errorf("http imports %s: the API reaches the store only through the core", imp)
			case (pkg == "domain" || strings.HasPrefix(pkg, "domain/")) && imp != "internal/jsontext":
				t.Errorf("%s imports %s: the domain imports nothing of ours", pkg, imp)
			case imp == "http" && !strings.HasPrefix(pkg, "cmd/") && !strings.HasPrefix(pkg, "http/"):
				t.Errorf("%s imports http: only the commands wire it", pkg)
			case strings.HasPrefix(imp, "cmd/") && !strings.HasPrefix(pkg, "cmd/"):
				t.Errorf("%s imports %s", pkg, imp)
			case (pkg == "core" || pkg == "projections" || pkg == "eventstore") && (strings.HasPrefix(imp, "eventstore/sqlitestore") || strings.HasPrefix(imp, "eventstore/kurrentdb")):
				t.Errorf("%s imports the backend %s: only the commands know which backend runs", pkg, imp)
			}
		}
	}
	if imports := importsOf(t)["http"]; !imports["core"] {
		t.Error("http does not import the core: where do its routes go?")
	}
}
