package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// AccessLog is the read model of the access log: one row per access-log
// entry of every case, indexed so that an auditor's question — what did
// this person consult, when, and why? — reads one subject's entries
// instead of the whole log. It is fed by the access-<case id> streams
// (accessLogModel.streamPrefixes), not by the case streams.
const AccessLog = "access_log"

// AccessEntry is an access-log entry as auditors read it: who consulted
// which case, when, how and why, with what outcome, and the entry's place
// in its hash chain.
type AccessEntry struct {
	CaseID   uuid.UUID `json:"case_id"`
	Version  uint64    `json:"version"` // the entry's place in the case's access log
	Position uint64    `json:"position"`
	Type     string    `json:"type"` // CaseAccessed; CaseRead for first-version entries

	Subject string `json:"subject"`
	Role    string `json:"role"`
	Agency  string `json:"agency"`

	Operation        string     `json:"operation"`
	Outcome          string     `json:"outcome"`
	VersionRead      *uint64    `json:"version_read"`
	FromVersion      *uint64    `json:"from_version,omitempty"`
	AtVersion        *uint64    `json:"at_version,omitempty"`
	AsOf             *time.Time `json:"as_of,omitempty"`
	Purpose          string     `json:"purpose,omitempty"`
	PurposeReference string     `json:"purpose_reference,omitempty"`
	PurposeDefaulted bool       `json:"purpose_defaulted"`
	Count            int        `json:"count"`
	// OccurredAt is the (first) consultation, LastAt the last one merged
	// into the entry, RecordedAt when the entry was written.
	OccurredAt time.Time `json:"occurred_at"`
	LastAt     time.Time `json:"last_at"`
	RecordedAt time.Time `json:"recorded_at"`
	// At is RecordedAt under the name the first version used; deprecated.
	At        time.Time `json:"at"`
	Route     string    `json:"route,omitempty"` // first-version entries only
	RequestID string    `json:"request_id,omitempty"`
	PrevHash  string    `json:"prev_hash"`
	Hash      string    `json:"hash"`
}

// DecodeAccessEntry reads a stored access-log entry (CaseAccessed, or a
// first-version CaseRead) of an access-<case id> stream.
func DecodeAccessEntry(rec eventstore.RecordedEvent) (AccessEntry, error) {
	caseID, ok := domain.CaseIDFromAccessStream(rec.Stream)
	if !ok {
		return AccessEntry{}, fmt.Errorf("stream %q is not an access-log stream", rec.Stream)
	}
	r := AccessEntry{CaseID: caseID, Version: rec.Revision, Position: uint64(rec.Position), Type: rec.Type}
	switch rec.Type {
	case domain.TypeCaseRead:
		var old domain.LegacyCaseRead
		if err := json.Unmarshal(rec.Data, &old); err != nil {
			return AccessEntry{}, fmt.Errorf("%s version %d: %w", rec.Stream, rec.Revision, err)
		}
		var meta struct {
			RequestID string `json:"request_id"`
		}
		_ = json.Unmarshal(rec.Metadata, &meta) // first-version metadata: only the request id is of use
		r.Subject, r.Role, r.Agency, r.Route, r.RequestID = old.Subject, old.Role, old.Agency, old.Route, meta.RequestID
		r.Operation, r.Outcome, r.Count = legacyOperation(old.Route), domain.AccessServed, 1
		r.OccurredAt, r.LastAt, r.RecordedAt, r.At = old.At.UTC(), old.At.UTC(), old.At.UTC(), old.At.UTC()
		return r, nil
	case domain.TypeCaseAccessed:
	default:
		return AccessEntry{}, fmt.Errorf("%s version %d: %q is not an access-log entry type", rec.Stream, rec.Revision, rec.Type)
	}
	m, err := domain.DecodeMetadata(rec.Metadata)
	if err != nil {
		return AccessEntry{}, fmt.Errorf("%s version %d metadata: %w", rec.Stream, rec.Revision, err)
	}
	a, err := domain.DecodeCaseAccessed(rec.Data)
	if err != nil {
		return AccessEntry{}, fmt.Errorf("%s version %d: %w", rec.Stream, rec.Revision, err)
	}
	r.Subject, r.Role, r.Agency = m.Actor.Subject, m.Actor.Role, m.Actor.Agency
	r.Operation, r.Outcome, r.VersionRead, r.FromVersion, r.AtVersion, r.AsOf = a.Operation, a.Outcome, a.VersionRead, a.FromVersion, a.AtVersion, a.AsOf
	if r.AsOf != nil {
		t := r.AsOf.UTC()
		r.AsOf = &t
	}
	r.Purpose, r.PurposeReference, r.PurposeDefaulted, r.Count = a.Purpose, a.PurposeReference, a.PurposeDefaulted, a.Count
	r.OccurredAt, r.LastAt, r.RecordedAt, r.At = m.OccurredAt.UTC(), a.LastAt.UTC(), m.RecordedAt.UTC(), m.RecordedAt.UTC()
	r.RequestID, r.PrevHash, r.Hash = a.RequestID, m.PrevHash, m.Hash
	return r, nil
}

// legacyOperation names the operation of a first-version entry's route.
func legacyOperation(route string) string {
	switch {
	case strings.HasSuffix(route, "/verify"):
		return domain.AccessVerifyCase
	case strings.HasSuffix(route, "/events/live"):
		return domain.AccessLiveLog
	case strings.HasSuffix(route, "{id}/events"):
		return domain.AccessReadHistory
	case strings.HasSuffix(route, "/v1/events"):
		return domain.AccessReadLog
	}
	return domain.AccessReadCase
}

// accessLogModel keeps one row per entry in {access_entries}, with two
// indexes: (subject, occurred_at, position) finds one person's
// consultations in a period, (case_id, version) one case's. Agency,
// purpose and outcome are filters on the rows those find. Times are
// stored as Unix nanoseconds, so that they compare as numbers.
type accessLogModel struct{}

func newAccessLogModel() *accessLogModel { return &accessLogModel{} }

func (accessLogModel) name() string      { return AccessLog }
func (accessLogModel) version() int      { return 1 }
func (accessLogModel) readableFrom() int { return 1 }
func (accessLogModel) tables() []string  { return []string{"access_entries"} }
func (accessLogModel) eventTypes() []string {
	return []string{domain.TypeCaseAccessed, domain.TypeCaseRead}
}

// streamPrefixes: the access-log streams, not the case streams.
func (accessLogModel) streamPrefixes() []string { return []string{domain.AccessStreamPrefix} }

func (accessLogModel) schema() []string {
	return []string{
		`CREATE TABLE {access_entries} (
			position          INTEGER PRIMARY KEY,
			case_id           TEXT NOT NULL,
			version           INTEGER NOT NULL,
			type              TEXT NOT NULL,
			subject           TEXT NOT NULL,
			role              TEXT NOT NULL,
			agency            TEXT NOT NULL,
			operation         TEXT NOT NULL,
			outcome           TEXT NOT NULL,
			version_read      INTEGER,
			from_version      INTEGER,
			at_version        INTEGER,
			as_of             INTEGER,
			purpose           TEXT NOT NULL,
			purpose_reference TEXT NOT NULL,
			purpose_defaulted INTEGER NOT NULL,
			count             INTEGER NOT NULL,
			occurred_at       INTEGER NOT NULL,
			last_at           INTEGER NOT NULL,
			recorded_at       INTEGER NOT NULL,
			route             TEXT NOT NULL,
			request_id        TEXT NOT NULL,
			prev_hash         TEXT NOT NULL,
			hash              TEXT NOT NULL)`,
		`CREATE INDEX {access_entries}_subject ON {access_entries} (subject, occurred_at, position)`,
		`CREATE UNIQUE INDEX {access_entries}_case ON {access_entries} (case_id, version)`,
	}
}

const insertAccessEntry = `INSERT INTO {access_entries} (position, case_id, version, type, subject, role, agency,
	operation, outcome, version_read, from_version, at_version, as_of, purpose, purpose_reference, purpose_defaulted,
	count, occurred_at, last_at, recorded_at, route, request_id, prev_hash, hash)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (accessLogModel) apply(tx *dbtx, events []entry) error {
	for i := range events {
		ev := &events[i]
		if !strings.HasPrefix(ev.Stream, domain.AccessStreamPrefix) {
			continue
		}
		r, err := DecodeAccessEntry(ev.RecordedEvent)
		if err != nil {
			return eventError(&ev.RecordedEvent, err)
		}
		pos, err := sqlPos(ev.Position)
		if err != nil {
			return eventError(&ev.RecordedEvent, err)
		}
		var asOf any
		if r.AsOf != nil {
			asOf = r.AsOf.UnixNano()
		}
		if _, err := tx.exec(insertAccessEntry, pos, r.CaseID.String(), int64(r.Version), r.Type, r.Subject, r.Role, r.Agency,
			r.Operation, r.Outcome, optInt(r.VersionRead), optInt(r.FromVersion), optInt(r.AtVersion), asOf,
			r.Purpose, r.PurposeReference, r.PurposeDefaulted, r.Count, r.OccurredAt.UnixNano(), r.LastAt.UnixNano(),
			r.RecordedAt.UnixNano(), r.Route, r.RequestID, r.PrevHash, r.Hash); err != nil {
			return eventError(&ev.RecordedEvent, fmt.Errorf("insert access entry: %w", err))
		}
	}
	return nil
}

func optInt(v *uint64) any {
	if v == nil {
		return nil
	}
	return int64(*v)
}

// AccessQuery selects access-log entries: of one case (in version order)
// or of one subject (in occurred_at order, then position), or both (in
// version order), filtered by the rest. Empty filters match anything.
type AccessQuery struct {
	CaseID  uuid.UUID // uuid.Nil: any case (then Subject is required)
	Subject string    // exact
	Agency  string    // the consulting person's agency, exact (canonical code)
	Purpose string
	Outcome string
	// From and To bound OccurredAt (when the consultation happened): From
	// inclusive, To exclusive; nil: unbounded.
	From, To *time.Time
	// Where the page starts: FromVersion (inclusive) in version order;
	// After (exclusive) in subject order.
	FromVersion uint64
	After       *AccessMark
	Limit       int
}

// AccessMark is a place in a subject's entries: an entry's OccurredAt (Unix
// nanoseconds) and log position.
type AccessMark struct {
	OccurredAt int64
	Position   uint64
}

// Mark is the entry's place in subject order.
func (r AccessEntry) Mark() AccessMark {
	return AccessMark{OccurredAt: r.OccurredAt.UnixNano(), Position: r.Position}
}

// AccessPage is a page of access-log entries. More says another page
// follows (from after the last entry); Position is the log position the
// read model reflects.
type AccessPage struct {
	Entries  []AccessEntry
	More     bool
	Position uint64
}

// ByVersion says the query reads one case's entries in version order
// (rather than a subject's in time order).
func (q AccessQuery) ByVersion() bool { return q.CaseID != uuid.Nil }

// Matches reports whether the entry is one the query selects (paging
// aside): for a scan of the log without the read model.
func (q AccessQuery) Matches(r AccessEntry) bool {
	return (q.CaseID == uuid.Nil || r.CaseID == q.CaseID) &&
		(q.Subject == "" || r.Subject == q.Subject) &&
		(q.Agency == "" || r.Agency == q.Agency) &&
		(q.Purpose == "" || r.Purpose == q.Purpose) &&
		(q.Outcome == "" || r.Outcome == q.Outcome) &&
		(q.From == nil || !r.OccurredAt.Before(*q.From)) &&
		(q.To == nil || r.OccurredAt.Before(*q.To))
}

const (
	defaultAccessLimit = 100
	maxAccessLimit     = 1000
)

// The two queries, one per order. Every filter is always bound (empty
// strings and the widest time range for "any"), so each is one statement,
// prepared once; the index narrows the rows, the rest filter them.
const (
	accessColumns = `position, case_id, version, type, subject, role, agency, operation, outcome, version_read,
		from_version, at_version, as_of, purpose, purpose_reference, purpose_defaulted, count, occurred_at, last_at,
		recorded_at, route, request_id, prev_hash, hash`
	accessFilters = `(?1 = '' OR subject = ?1) AND (?2 = '' OR agency = ?2) AND (?3 = '' OR purpose = ?3)
		AND (?4 = '' OR outcome = ?4) AND occurred_at >= ?5 AND occurred_at < ?6`
	accessByCaseSQL = `SELECT ` + accessColumns + ` FROM {access_entries}
		WHERE case_id = ?7 AND version >= ?8 AND ` + accessFilters + ` ORDER BY version LIMIT ?9`
	accessBySubjectSQL = `SELECT ` + accessColumns + ` FROM {access_entries} INDEXED BY {access_entries}_subject
		WHERE subject = ?1 AND (occurred_at, position) > (?7, ?8) AND ` + accessFilters + `
		ORDER BY occurred_at, position LIMIT ?9`
)

// queryAccess answers q from one generation's tables.
func queryAccess(tx *dbtx, q AccessQuery) ([]AccessEntry, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultAccessLimit
	}
	limit = min(limit, maxAccessLimit)
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if q.From != nil {
		from = q.From.UnixNano()
	}
	if q.To != nil {
		to = q.To.UnixNano()
	}
	args := []any{q.Subject, q.Agency, q.Purpose, q.Outcome, from, to}
	var tmpl string
	switch {
	case q.ByVersion():
		if q.FromVersion > math.MaxInt64 {
			return nil, false, queryError("from_version", "is out of range")
		}
		tmpl = accessByCaseSQL
		args = append(args, q.CaseID.String(), int64(q.FromVersion), limit+1)
	case q.Subject != "":
		after := AccessMark{OccurredAt: math.MinInt64}
		if q.After != nil {
			after = *q.After
		}
		if after.Position > math.MaxInt64 {
			return nil, false, queryError("cursor", "is not a cursor this log gave")
		}
		tmpl = accessBySubjectSQL
		args = append(args, after.OccurredAt, int64(after.Position), limit+1)
	default:
		return nil, false, queryError("subject", "an access-log query names a case or a subject")
	}
	rows, err := tx.query(tmpl, args...)
	if err != nil {
		return nil, false, fmt.Errorf("projections: access log: %w", err)
	}
	defer rows.Close()
	out := []AccessEntry{}
	for rows.Next() {
		if len(out) == limit {
			return out, true, nil
		}
		r, err := scanAccessEntry(rows)
		if err != nil {
			return nil, false, fmt.Errorf("projections: access log: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("projections: access log: %w", err)
	}
	return out, false, nil
}

func scanAccessEntry(rows *sql.Rows) (AccessEntry, error) {
	var r AccessEntry
	var pos, version int64
	var caseID string
	var versionRead, fromVersion, atVersion, asOf sql.NullInt64
	var occurred, last, recorded int64
	if err := rows.Scan(&pos, &caseID, &version, &r.Type, &r.Subject, &r.Role, &r.Agency, &r.Operation, &r.Outcome,
		&versionRead, &fromVersion, &atVersion, &asOf, &r.Purpose, &r.PurposeReference, &r.PurposeDefaulted, &r.Count,
		&occurred, &last, &recorded, &r.Route, &r.RequestID, &r.PrevHash, &r.Hash); err != nil {
		return r, err
	}
	id, err := uuid.Parse(caseID)
	if err != nil {
		return r, fmt.Errorf("row %d: case id: %w", pos, err)
	}
	r.CaseID, r.Position, r.Version = id, uint64(pos), uint64(version)
	r.VersionRead, r.FromVersion, r.AtVersion = optUint(versionRead), optUint(fromVersion), optUint(atVersion)
	if asOf.Valid {
		t := time.Unix(0, asOf.Int64).UTC()
		r.AsOf = &t
	}
	r.OccurredAt, r.LastAt, r.RecordedAt = time.Unix(0, occurred).UTC(), time.Unix(0, last).UTC(), time.Unix(0, recorded).UTC()
	r.At = r.RecordedAt
	return r, nil
}

func optUint(v sql.NullInt64) *uint64 {
	if !v.Valid {
		return nil
	}
	u := uint64(v.Int64)
	return &u
}

// AccessEntries answers an access-log query from the read model.
func (e *Engine) AccessEntries(ctx context.Context, q AccessQuery) (AccessPage, error) {
	var page AccessPage
	snap, err := e.readLive(ctx, []string{AccessLog}, func(src *source) error {
		var err error
		page.Entries, page.More, err = queryAccess(src.tx(AccessLog), q)
		return err
	})
	if err != nil {
		return AccessPage{}, err
	}
	page.Position = uint64(snap.pos)
	return page, nil
}

// ErrNoAccessLog: a read-model database holds no usable access-log read
// model (none built yet, or one built by another version of the code).
var ErrNoAccessLog = errors.New("projections: no access-log read model")

// AccessLogFile is the access-log read model of a read-model database
// opened read-only, for a tool running beside casebookd (casebook
// access-report): it neither writes the file nor follows the log. Its
// answers reflect the log up to Checkpoint; what came after is in the
// store, to be scanned.
type AccessLogFile struct {
	db *sql.DB
	ts *tableSet
	// checkpoint is read with each query, in its snapshot.
	gen int64
}

// OpenAccessLogFile opens the read-model database at path read-only. It
// fails with ErrNoAccessLog when the file holds no access-log read model
// this code can read.
func OpenAccessLogFile(ctx context.Context, path string) (*AccessLogFile, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("projections: database path %q must not contain ? or #", path)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no read-model database at %s (casebookd builds it)", ErrNoAccessLog, path)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("projections: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	m := newAccessLogModel()
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'projection_meta'`).Scan(&tables); err != nil {
		db.Close()
		return nil, fmt.Errorf("projections: open %s: %w", path, err)
	}
	if tables == 0 {
		db.Close()
		return nil, fmt.Errorf("%w in %s (casebookd builds it)", ErrNoAccessLog, path)
	}
	var gen, version int64
	err = db.QueryRowContext(ctx, `SELECT active_gen, active_version FROM projection_meta WHERE name = ?`, AccessLog).Scan(&gen, &version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		db.Close()
		return nil, fmt.Errorf("%w in %s (casebookd builds it)", ErrNoAccessLog, path)
	case err != nil:
		db.Close()
		return nil, fmt.Errorf("projections: open %s: %w", path, err)
	case int(version) != m.version():
		db.Close()
		return nil, fmt.Errorf("%w in %s: it was built by version %d of the code, this is version %d", ErrNoAccessLog, path, version, m.version())
	}
	return &AccessLogFile{db: db, ts: newTableSet(m, gen), gen: gen}, nil
}

// Close closes the database.
func (f *AccessLogFile) Close() error { return f.db.Close() }

// Entries answers q, and the log position the answer reflects (the
// read model's checkpoint, read in the same snapshot).
func (f *AccessLogFile) Entries(ctx context.Context, q AccessQuery) (AccessPage, error) {
	tx, err := f.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return AccessPage{}, fmt.Errorf("projections: begin read: %w", err)
	}
	defer tx.Rollback()
	var cp int64
	if err := tx.QueryRowContext(ctx, checkpointSQL, AccessLog, f.gen).Scan(&cp); err != nil {
		return AccessPage{}, fmt.Errorf("projections: access-log checkpoint: %w", err)
	}
	page := AccessPage{Position: uint64(cp)}
	d := &dbtx{ctx: ctx, p: tx, ts: f.ts, cache: map[prepKey]*sql.Stmt{}}
	if page.Entries, page.More, err = queryAccess(d, q); err != nil {
		return AccessPage{}, err
	}
	return page, nil
}
