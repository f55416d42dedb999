package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/casebook/casebook/eventstore/sqlitestore"
)

// A backup is only as trustworthy as its schema: the events table's
// append-only triggers are what refuse an UPDATE or a DELETE, and a trigger
// or a view can change what is stored or read without touching a single
// hash (an AFTER INSERT trigger that adds 10 to every `people`; `events`
// replaced by a view over another table). So restore compares the
// backup's schema — every table, index, trigger and view in sqlite_master,
// and PRAGMA user_version — with the schema sqlitestore creates in a fresh
// store, and refuses any difference.

// schemaObject is one row of sqlite_master.
type schemaObject struct {
	Type, Name, Table, SQL string
}

func (o schemaObject) String() string { return o.Type + " " + o.Name }

// dbSchema is an SQLite file's schema.
type dbSchema struct {
	UserVersion int
	Objects     map[string]schemaObject // by "type name"
}

// readSchema reads the schema of an SQLite file, read-only.
func readSchema(ctx context.Context, file string) (dbSchema, error) {
	u := url.URL{Path: file}
	db, err := sql.Open("sqlite", "file:"+u.EscapedPath()+"?mode=ro")
	if err != nil {
		return dbSchema{}, err
	}
	defer db.Close()
	s := dbSchema{Objects: map[string]schemaObject{}}
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&s.UserVersion); err != nil {
		return dbSchema{}, fmt.Errorf("read the schema version: %w", err)
	}
	rows, err := db.QueryContext(ctx, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master")
	if err != nil {
		return dbSchema{}, fmt.Errorf("read the schema: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o schemaObject
		if err := rows.Scan(&o.Type, &o.Name, &o.Table, &o.SQL); err != nil {
			return dbSchema{}, fmt.Errorf("read the schema: %w", err)
		}
		s.Objects[o.String()] = o
	}
	if err := rows.Err(); err != nil {
		return dbSchema{}, fmt.Errorf("read the schema: %w", err)
	}
	return s, nil
}

// productSchema is the schema of a store freshly created by sqlitestore.
func productSchema(ctx context.Context) (dbSchema, error) {
	dir, err := os.MkdirTemp("", "casebook-schema-*")
	if err != nil {
		return dbSchema{}, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, eventsFile)
	st, err := sqlitestore.Open(ctx, file, sqlitestore.Options{})
	if err != nil {
		return dbSchema{}, fmt.Errorf("create a reference store: %w", err)
	}
	if err := st.Close(); err != nil {
		return dbSchema{}, err
	}
	return readSchema(ctx, file)
}

// schemaDifferences lists how got differs from want, one line each; none
// when they are the same. SQL text is compared without comments and with
// whitespace runs as one space, so that a backup made by an earlier build
// whose schema file was only re-commented still restores.
func schemaDifferences(got, want dbSchema) []string {
	var diffs []string
	if got.UserVersion != want.UserVersion {
		diffs = append(diffs, fmt.Sprintf("schema version (user_version) %d, want %d", got.UserVersion, want.UserVersion))
	}
	for key, w := range want.Objects {
		g, ok := got.Objects[key]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+key)
		case g.Table != w.Table || normalizeSQL(g.SQL) != normalizeSQL(w.SQL):
			diffs = append(diffs, "changed "+key+": "+clipSQL(g.SQL))
		}
	}
	for key, g := range got.Objects {
		if _, ok := want.Objects[key]; !ok {
			diffs = append(diffs, "unexpected "+key+": "+clipSQL(g.SQL))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// normalizeSQL drops -- and /* */ comments outside quotes and turns every
// run of whitespace into one space.
func normalizeSQL(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`' || c == '[':
			end := c
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(s) && s[j] != end {
				j++
			}
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteString(s[i:min(j+1, len(s))])
			i = j
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			space = true
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				i = len(s)
			} else {
				i += end + 3
			}
			space = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteByte(c)
		}
	}
	return b.String()
}

func clipSQL(s string) string {
	s = normalizeSQL(s)
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
