package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/projections"
)

// accessReport is what casebook access-report prints as JSON.
type accessReport struct {
	Subject string                    `json:"subject"`
	From    time.Time                 `json:"from"`
	To      time.Time                 `json:"to"`
	Store   string                    `json:"store"`
	Source  accessReportSource        `json:"source"`
	Entries []projections.AccessEntry `json:"entries"`
}

// accessReportSource says where the entries came from, and what reading
// them cost.
type accessReportSource struct {
	// ReadModel is the access-log read model's position (0 when it was not
	// used); Scanned counts the access-log entries read from the store
	// (those after that position, or all of them).
	ReadModel  uint64 `json:"read_model_position"`
	Scanned    int    `json:"scanned_entries"`
	Unreadable int    `json:"unreadable_entries"`
}

// runAccessReport answers a data-protection inquiry: every consultation
// by one person in a period, from the store, read-only (safe beside a
// running casebookd).
//
// It reads the access-log read model that casebookd keeps in
// <data>/readmodels.db (opened read-only: one subject's entries through its
// index), then the store's access-log entries written after the position
// the read model reflects. Without a usable read model (no file, another
// version's, or --scan) it reads every access-log entry in the store: a
// cost that grows with the whole access log (about a second per few
// hundred thousand entries), not with the subject's.
func runAccessReport(a *app, args []string) error {
	fs := a.flagSet("access-report")
	subject := fs.String("subject", "", "whose consultations: the subject exactly as recorded (required)")
	fromFlag := fs.String("from", "", "consultations from this time, inclusive (date or RFC 3339; required)")
	toFlag := fs.String("to", "", "consultations before this time, exclusive (date or RFC 3339; required)")
	format := fs.String("format", "", "csv or json (default csv; json with --json)")
	scan := fs.Bool("scan", false, "read every access-log entry in the store instead of the read model's index (slow on a large log; checks the read model)")
	if _, err := a.parse(fs, args, "--subject S --from T --to T [--format csv|json] [--scan]", 0); err != nil {
		return err
	}
	if *subject == "" || *fromFlag == "" || *toFlag == "" {
		return usagef("--subject, --from and --to are required")
	}
	from, err := parseTime(*fromFlag)
	if err != nil {
		return usagef("--from: %v", err)
	}
	to, err := parseTime(*toFlag)
	if err != nil {
		return usagef("--to: %v", err)
	}
	if !from.Before(to) {
		return usagef("--from must be before --to")
	}
	if *format == "" {
		*format = "csv"
		if a.json {
			*format = "json"
		}
	}
	if *format != "csv" && *format != "json" {
		return usagef("--format %q: want csv or json", *format)
	}

	ref, err := a.storeRef()
	if err != nil {
		return usagef("%v", err)
	}
	st, err := a.openStore(ref, true)
	if err != nil {
		return err
	}
	defer st.Close()
	rep := accessReport{Subject: *subject, From: from, To: to, Store: ref.String()}
	q := projections.AccessQuery{Subject: *subject, From: &from, To: &to}
	rep.Entries, rep.Source, err = readAccessReport(a.ctx, st, filepath.Join(a.data, readModelsFile), q, *scan)
	if err != nil {
		return err
	}
	switch {
	case rep.Source.ReadModel > 0:
		fmt.Fprintf(a.stdio.Err, "casebook access-report: %d entries: the access-log read model (up to position %d), then %d later access-log entries read from the store\n",
			len(rep.Entries), rep.Source.ReadModel, rep.Source.Scanned)
	default:
		fmt.Fprintf(a.stdio.Err, "casebook access-report: %d entries: read all %d access-log entries in the store (no read model used)\n",
			len(rep.Entries), rep.Source.Scanned)
	}
	if *format == "json" {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else if err := writeAccessCSV(a, rep.Entries); err != nil {
		return err
	}
	if rep.Source.Unreadable > 0 {
		return &problemsError{fmt.Sprintf("%d access-log entries could not be read and are not in the report; run casebook verify", rep.Source.Unreadable)}
	}
	return nil
}

// readAccessReport finds the entries q selects: from the read model at
// rmFile and the store's entries after it, or (scan, or no usable read
// model) from every access-log entry in the store. Entries come in the
// order the person consulted (occurred_at, then log position).
func readAccessReport(ctx context.Context, st eventstore.Store, rmFile string, q projections.AccessQuery, scan bool) ([]projections.AccessEntry, accessReportSource, error) {
	var src accessReportSource
	byPosition := map[uint64]projections.AccessEntry{}
	after := eventstore.Position(0)
	if !scan {
		f, err := projections.OpenAccessLogFile(ctx, rmFile)
		switch {
		case errors.Is(err, projections.ErrNoAccessLog):
			// Fall back to reading the store's whole access log.
		case err != nil:
			return nil, src, err
		default:
			defer f.Close()
			pq := q
			pq.Limit = 1000
			for first := true; ; first = false {
				page, err := f.Entries(ctx, pq)
				if err != nil {
					return nil, src, fmt.Errorf("read the access-log read model: %w", err)
				}
				if first {
					// Pages read later may reflect more of the log; the
					// store is read after the first one's position, and
					// what both hold counts once.
					src.ReadModel, after = page.Position, eventstore.Position(page.Position)
				}
				for _, r := range page.Entries {
					byPosition[r.Position] = r
				}
				if !page.More {
					break
				}
				mark := page.Entries[len(page.Entries)-1].Mark()
				pq.After = &mark
			}
		}
	}
	filter := eventstore.Filter{StreamPrefixes: []string{domain.AccessStreamPrefix}}
	for rec, err := range st.ReadAll(ctx, eventstore.ReadAllOptions{From: after + 1, Filter: filter}) {
		if err != nil {
			return nil, src, fmt.Errorf("read the access log: %w", err)
		}
		src.Scanned++
		r, err := projections.DecodeAccessEntry(rec)
		if err != nil {
			src.Unreadable++
			continue
		}
		if q.Matches(r) {
			byPosition[r.Position] = r
		}
	}
	out := make([]projections.AccessEntry, 0, len(byPosition))
	for _, r := range byPosition {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b projections.AccessEntry) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Position, b.Position)
	})
	return out, src, nil
}

var accessCSVHeader = []string{"occurred_at", "last_at", "recorded_at", "subject", "role", "agency", "case_id", "operation",
	"outcome", "version_read", "from_version", "at_version", "as_of", "purpose", "purpose_reference", "purpose_defaulted",
	"count", "request_id", "type", "version", "position", "route", "prev_hash", "hash"}

func writeAccessCSV(a *app, entries []projections.AccessEntry) error {
	w := csv.NewWriter(a.stdio.Out)
	if err := w.Write(accessCSVHeader); err != nil {
		return err
	}
	opt := func(v *uint64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatUint(*v, 10)
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	for _, r := range entries {
		asOf := ""
		if r.AsOf != nil {
			asOf = ts(*r.AsOf)
		}
		if err := w.Write([]string{ts(r.OccurredAt), ts(r.LastAt), ts(r.RecordedAt), r.Subject, r.Role, r.Agency, r.CaseID.String(),
			r.Operation, r.Outcome, opt(r.VersionRead), opt(r.FromVersion), opt(r.AtVersion), asOf, r.Purpose, r.PurposeReference,
			strconv.FormatBool(r.PurposeDefaulted), strconv.Itoa(r.Count), r.RequestID, r.Type, strconv.FormatUint(r.Version, 10),
			strconv.FormatUint(r.Position, 10), r.Route, r.PrevHash, r.Hash}); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
