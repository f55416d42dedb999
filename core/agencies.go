package core

import (
	"fmt"
	"io"

	"github.com/casebook/casebook/domain"
)

// ParseAgencies reads an agencies file: one `CODE,name` per line (the name
// may be CSV-quoted), `#` comments and blank lines skipped. Codes are 2 to
// 32 letters, digits, '_' or '-', unique whatever their letter case.
func ParseAgencies(r io.Reader) (*domain.Agencies, error) {
	recs, err := readListFile(r, "agencies", "CODE", "name")
	if err != nil {
		return nil, err
	}
	list := make([]domain.Agency, len(recs))
	for i, rec := range recs {
		list[i] = domain.Agency{Code: rec.fields[0], Name: rec.fields[1]}
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
	return loadListFile(path, "agencies", domain.DefaultAgencies, ParseAgencies)
}
