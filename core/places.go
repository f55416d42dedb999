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

// ParsePlaces reads a places file: one `CODE,name` per line (the name may
// be CSV-quoted), `#` comments and blank lines skipped — the format of the
// agencies file. Codes are 2 to 32 letters, digits, '_' or '-', unique
// whatever their letter case; OTHER is added when the file does not name
// it.
func ParsePlaces(r io.Reader) (*domain.Places, error) {
	var list []domain.Place
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
			return nil, fmt.Errorf("places: line %d: want CODE,name", line)
		}
		list = append(list, domain.Place{Code: strings.TrimSpace(rec[0]), Name: strings.TrimSpace(rec[1])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("places: line %d: %w", line+1, err)
	}
	p, err := domain.NewPlaces(list)
	if err != nil {
		return nil, fmt.Errorf("%w (line numbers count from 1)", err)
	}
	return p, nil
}

// LoadPlaces reads a places file; an empty path is the default list
// (domain.DefaultPlaceList).
func LoadPlaces(path string) (*domain.Places, error) {
	if path == "" {
		return domain.DefaultPlaces(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("places: %w", err)
	}
	defer f.Close()
	p, err := ParsePlaces(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
