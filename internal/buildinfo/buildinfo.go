// Package buildinfo says which build of Casebook a binary is: the module
// version and the VCS revision the Go toolchain stamped into it
// (runtime/debug.ReadBuildInfo), for both binaries' --version.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Revision, when set at link time, is the VCS revision to report if the
// toolchain stamped none: a build from a source tree without .git (a Docker
// build context, a tarball) or with -buildvcs=false has no VCS settings.
//
//	go build -ldflags "-X github.com/casebook/casebook/internal/buildinfo.Revision=$(git rev-parse HEAD)"
var Revision string

// Info is what a binary knows about its build.
type Info struct {
	Module    string // module path
	Version   string // module version; "(devel)" for a build from a work tree
	Revision  string // VCS revision; "unknown" when neither stamped nor linked in
	Modified  bool   // built from a work tree with uncommitted changes
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	info := Info{Module: "github.com/casebook/casebook", Version: "(devel)", Revision: Revision, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path != "" {
			info.Module = bi.Main.Path
		}
		if bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if info.Revision == "" {
		info.Revision = "unknown"
	}
	return info
}

// String is the --version line of program, e.g.
// "casebookd (devel) github.com/casebook/casebook revision 4eaf143… (modified) go1.26.8".
func (i Info) String(program string) string {
	modified := ""
	if i.Modified {
		modified = " (modified)"
	}
	return fmt.Sprintf("%s %s %s revision %s%s %s", program, i.Version, i.Module, i.Revision, modified, i.GoVersion)
}
