package core

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/casebook/casebook/domain"
)

// ParseRetention reads a retention table file: one `crime_type,years,group`
// per line, `#` comments and blank lines skipped. Every crime type of
// domain.CrimeTypes appears exactly once; years is a whole number from 1 to
// domain.MaxRetentionYears, counted from the case's closure (or from its
// latest retain decision); group names the rule (a lower-case letter, then
// lower-case letters, digits, '_' or '-'), shown with each case due.
func ParseRetention(r io.Reader) (*domain.RetentionTable, error) {
	var rules []domain.RetentionRule
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
		if err != nil || len(rec) != 3 {
			return nil, fmt.Errorf("retention: line %d: want crime_type,years,group", line)
		}
		years, err := strconv.Atoi(strings.TrimSpace(rec[1]))
		if err != nil {
			return nil, fmt.Errorf("retention: line %d: years %q is not a whole number", line, strings.TrimSpace(rec[1]))
		}
		rules = append(rules, domain.RetentionRule{CrimeType: strings.TrimSpace(rec[0]), Years: years, Group: strings.TrimSpace(rec[2])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("retention: line %d: %w", line+1, err)
	}
	t, err := domain.NewRetentionTable(rules)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// LoadRetention reads a retention table file; an empty path is the default
// table (domain.DefaultRetentionRules, after MoPI's groups).
func LoadRetention(path string) (*domain.RetentionTable, error) {
	if path == "" {
		return domain.DefaultRetention(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	defer f.Close()
	t, err := ParseRetention(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
