package core

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"
)

// The configured lists (agencies, places, the retention table) share one
// file format: one CSV record per line, `#` comments and blank lines
// skipped, each field trimmed.

// listRecord is one record of a list file and the line it stands on.
type listRecord struct {
	line   int
	fields []string
}

// readListFile reads the records of a list file, each of exactly
// len(columns) fields; what names the list in errors ("places: line 3:
// want CODE,name").
func readListFile(r io.Reader, what string, columns ...string) ([]listRecord, error) {
	var out []listRecord
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cr := csv.NewReader(strings.NewReader(text))
		cr.FieldsPerRecord = -1
		rec, err := cr.Read()
		if err != nil || len(rec) != len(columns) {
			return nil, fmt.Errorf("%s: line %d: want %s", what, line, strings.Join(columns, ","))
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		out = append(out, listRecord{line: line, fields: rec})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: line %d: %w", what, line+1, err)
	}
	return out, nil
}

// loadListFile parses the list file at path, or answers the built-in list
// when path is empty.
func loadListFile[T any](path, what string, builtIn func() T, parse func(io.Reader) (T, error)) (T, error) {
	if path == "" {
		return builtIn(), nil
	}
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	list, err := parse(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return list, nil
}
