package main

import (
	"os"
	"path/filepath"
)

// warnIfDataExposed warns when other users may read case data: the data
// directory, or any file in it, open to its group or to everyone. Casebook
// creates the directory 0700 and its files 0600; a wider mode comes from an
// older version, from a directory made by hand, or from a copy. casebookd
// does not change the modes itself: the operator may have reasons, and the
// warning tells them what to run.
func (m *Main) warnIfDataExposed() {
	dir := m.Config.DataDir
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		m.Logger.Warn("the data directory is open to other users; chmod 700 it",
			"path", dir, "mode", fi.Mode().Perm().String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var exposed []string
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if fi.Mode().Perm()&0o077 != 0 {
			exposed = append(exposed, e.Name()+" "+fi.Mode().Perm().String())
		}
	}
	if len(exposed) > 0 {
		m.Logger.Warn("data files are readable by other users; chmod 600 them",
			"path", dir, "files", exposed, "fix", "chmod 600 "+filepath.Join(dir, "*"))
	}
}
