package core

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/casebook/casebook/domain"
)

// ParseAgencies reads an agencies file: one `CODE,name` per line (the name
// may be CSV-quoted), `#` comments and blank lines skipped. Codes are 2 to
// 32 letters, digits, '_' or '-', unique whatever their letter case.
func ParseAgencies(r io.Reader) (*domain.Agencies, error) {
	var list []domain.Agency
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
		if err != nil || len(rec) != 2 {
			return nil, fmt.Errorf("agencies: line %d: want CODE,name", line)
		}
		list = append(list, domain.Agency{Code: strings.TrimSpace(rec[0]), Name: strings.TrimSpace(rec[1])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("agencies: line %d: %w", line+1, err)
	}
	a, err := domain.NewAgencies(list)
	if err != nil {
		return nil, fmt.Errorf("%w (line numbers count from 1)", err)
	}
	return a, nil
}

// LoadAgencies reads an agencies file; an empty path is the default list
// (domain.DefaultAgencyList).
func LoadAgencies(path string) (*domain.Agencies, error) {
	if path == "" {
		return domain.DefaultAgencies(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("agencies: %w", err)
	}
	defer f.Close()
	a, err := ParseAgencies(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}
