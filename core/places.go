package core

import (
	"fmt"
	"io"

	"github.com/casebook/casebook/domain"
)

// ParsePlaces reads a places file: one `CODE,name` per line (the name may
// be CSV-quoted), `#` comments and blank lines skipped — the format of the
// agencies file. Codes are 2 to 32 letters, digits, '_' or '-', unique
// whatever their letter case; OTHER is added when the file does not name
// it.
func ParsePlaces(r io.Reader) (*domain.Places, error) {
	recs, err := readListFile(r, "places", "CODE", "name")
	if err != nil {
		return nil, err
	}
	list := make([]domain.Place, len(recs))
	for i, rec := range recs {
		list[i] = domain.Place{Code: rec.fields[0], Name: rec.fields[1]}
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
	return loadListFile(path, "places", domain.DefaultPlaces, ParsePlaces)
}
