package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
)

// An anchor is what a hash chain cannot hold about itself: how long each
// stream and the log were at a moment. A chain shows a changed, removed or
// reordered event, but not events cut off its end, nor a log cut short or
// renumbered. Kept outside the store (another machine, write-once storage,
// a ticket), an anchor lets `casebook verify --anchor FILE` name every
// stream that has since become shorter or whose event at the anchored
// version has changed, and tell whether the log has.
//
// The file is JSON:
//
//	{
//	  "format": "casebook-anchor/1",
//	  "anchor": {
//	    "taken_at": "2026-11-27T18:00:00Z",
//	    "store": "data/events.db",
//	    "log": {"position": 2322, "count": 2322},
//	    "streams": [{"stream": "case-…", "version": 31, "head_hash": "4ddf2e…"}, …]
//	  },
//	  "sha256": "…",
//	  "hmac_sha256": "…"
//	}
//
// `sha256` is the SHA-256 of the `anchor` member in compact form (as
// encoding/json.Compact writes it): it catches a damaged or carelessly
// edited file, but anyone who can edit the file can recompute it. With
// --key-file, `hmac_sha256` is HMAC-SHA256 over the same bytes with a key
// kept apart from the anchors: without the key, an anchor cannot be forged
// or edited unnoticed. Streams are every stream of the log but KurrentDB's
// system streams ("$…"): case-<uuid> and access-<uuid>. A stream whose
// events carry no hash (the access log before it was hash-chained) has an
// empty head_hash; only its length is checked.
const anchorFormat = "casebook-anchor/1"

type anchorFile struct {
	Format     string          `json:"format"`
	Anchor     json.RawMessage `json:"anchor"`
	SHA256     string          `json:"sha256"`
	HMACSHA256 string          `json:"hmac_sha256,omitempty"`
}

type anchorBody struct {
	TakenAt time.Time        `json:"taken_at"`
	Store   string           `json:"store"`
	Log     anchoredLog      `json:"log"`
	Streams []anchoredStream `json:"streams"`
}

// anchoredLog is the log's head: the last position and the number of
// events up to it.
type anchoredLog struct {
	Position uint64 `json:"position"`
	Count    uint64 `json:"count"`
}

// anchoredStream is a stream's head: its last version and that event's
// hash.
type anchoredStream struct {
	Stream   string `json:"stream"`
	Version  uint64 `json:"version"`
	HeadHash string `json:"head_hash"`
}

type anchorReport struct {
	Out      string `json:"out"`
	Store    string `json:"store"`
	Position uint64 `json:"position"`
	Count    uint64 `json:"count"`
	Streams  int    `json:"streams"`
	SHA256   string `json:"sha256"`
	Signed   bool   `json:"signed"`
}

func runAnchor(a *app, args []string) error {
	fs := a.flagSet("anchor")
	out := fs.String("out", "", "file to write the anchor to (must not exist; - for standard output)")
	keyFile := fs.String("key-file", a.getenv("CASEBOOK_ANCHOR_KEY_FILE"),
		"sign the anchor with HMAC-SHA256 using the key in this file (env CASEBOOK_ANCHOR_KEY_FILE)")
	if _, err := a.parse(fs, args, "--out FILE [--key-file FILE] [--data DIR | --store URL]", 0); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out FILE is required")
	}
	var key []byte
	if *keyFile != "" {
		k, err := readAnchorKey(*keyFile)
		if err != nil {
			return usagef("%v", err)
		}
		key = k
	}
	ref, err := a.storeRef()
	if err != nil {
		return usagef("%v", err)
	}
	// Refuse an existing file before reading the whole log.
	if *out != "-" {
		if _, err := os.Lstat(*out); err == nil {
			return fmt.Errorf("%s already exists: refusing to overwrite an anchor", *out)
		}
	}
	st, err := a.openStore(ref, true)
	if err != nil {
		return err
	}
	defer st.Close()

	body, err := takeAnchor(a, st, ref)
	if err != nil {
		return err
	}
	doc, sum, err := sealAnchor(body, key)
	if err != nil {
		return err
	}
	if *out == "-" {
		if _, err := a.stdio.Out.Write(doc); err != nil {
			return err
		}
	} else if err := writeNewPrivateFile(*out, doc); err != nil {
		return err
	}
	rep := anchorReport{Out: *out, Store: body.Store, Position: body.Log.Position, Count: body.Log.Count,
		Streams: len(body.Streams), SHA256: sum, Signed: key != nil}
	switch {
	case *out == "-":
		// The anchor itself is the output.
	case a.json:
		return a.printJSON(rep)
	default:
		signed := "checksummed (sha256)"
		if rep.Signed {
			signed = "signed (HMAC-SHA256) and checksummed"
		}
		a.printf("Anchored %d streams and the log at position %d (%d events) of %s in %s, %s.\nKeep it outside the store; check with: casebook verify --anchor %s\n",
			rep.Streams, rep.Position, rep.Count, rep.Store, rep.Out, signed, rep.Out)
	}
	return nil
}

// takeAnchor reads the log up to its head as it is now and records every
// stream's head.
func takeAnchor(a *app, st eventstore.Store, ref storeRef) (anchorBody, error) {
	head, err := st.Head(a.ctx)
	if err != nil {
		return anchorBody{}, fmt.Errorf("read the store's head: %w", err)
	}
	body := anchorBody{TakenAt: time.Now().UTC(), Store: ref.String(), Log: anchoredLog{Position: uint64(head)}}
	heads := map[string]*anchoredStream{}
	bar := a.bar("anchor", logUnit(ref), int64(head))
	for ev, err := range st.ReadAll(a.ctx, eventstore.ReadAllOptions{}) {
		if err != nil {
			return anchorBody{}, fmt.Errorf("read the log: %w", err)
		}
		if ev.Position > head {
			break // appended after the anchor was begun
		}
		bar.Set(int64(ev.Position))
		if strings.HasPrefix(ev.Stream, "$") {
			continue // a KurrentDB system stream, not Casebook's
		}
		body.Log.Count++
		h := heads[ev.Stream]
		if h == nil {
			h = &anchoredStream{Stream: ev.Stream}
			heads[ev.Stream] = h
		}
		h.Version, h.HeadHash = ev.Revision, eventHash(ev)
	}
	bar.Done()
	body.Streams = make([]anchoredStream, 0, len(heads))
	for _, h := range heads {
		body.Streams = append(body.Streams, *h)
	}
	sort.Slice(body.Streams, func(i, j int) bool { return body.Streams[i].Stream < body.Streams[j].Stream })
	return body, nil
}

// eventHash is the event's hash from its envelope ("" when it has none).
func eventHash(ev eventstore.RecordedEvent) string {
	m, err := domain.DecodeMetadata(ev.Metadata)
	if err != nil {
		return ""
	}
	return m.Hash
}

// sealAnchor encodes the anchor file: the body, its checksum and, with a
// key, its HMAC.
func sealAnchor(body anchorBody, key []byte) (doc []byte, sum string, err error) {
	compact, err := json.Marshal(body)
	if err != nil {
		return nil, "", err
	}
	f := anchorFile{Format: anchorFormat, Anchor: compact, SHA256: sha256Hex(compact)}
	if key != nil {
		f.HMACSHA256 = hmacHex(key, compact)
	}
	doc, err = json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, "", err
	}
	return append(doc, '\n'), f.SHA256, nil
}

// openAnchor reads and checks an anchor file: its format, its checksum
// and, when a key is given, its HMAC. It returns the body and whether the
// HMAC was checked.
func openAnchor(file string, key []byte) (anchorBody, bool, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return anchorBody{}, false, fmt.Errorf("anchor: %w", err)
	}
	var f anchorFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return anchorBody{}, false, fmt.Errorf("anchor %s: not an anchor file: %w", file, err)
	}
	if f.Format != anchorFormat {
		return anchorBody{}, false, fmt.Errorf("anchor %s: format %q, want %q", file, f.Format, anchorFormat)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, f.Anchor); err != nil {
		return anchorBody{}, false, fmt.Errorf("anchor %s: %w", file, err)
	}
	if !hmac.Equal([]byte(sha256Hex(compact.Bytes())), []byte(f.SHA256)) {
		return anchorBody{}, false, fmt.Errorf("anchor %s: its checksum does not match its content: the file was damaged or edited", file)
	}
	signed := false
	if key != nil {
		if f.HMACSHA256 == "" {
			return anchorBody{}, false, fmt.Errorf("anchor %s is not signed, but a key was given: it may have been replaced", file)
		}
		if !hmac.Equal([]byte(hmacHex(key, compact.Bytes())), []byte(f.HMACSHA256)) {
			return anchorBody{}, false, fmt.Errorf("anchor %s: its signature does not match (another key, or the file was edited)", file)
		}
		signed = true
	}
	var body anchorBody
	dec = json.NewDecoder(bytes.NewReader(compact.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return anchorBody{}, false, fmt.Errorf("anchor %s: %w", file, err)
	}
	return body, signed, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hmacHex(key, b []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// minAnchorKey is the shortest HMAC key accepted (128 bits).
const minAnchorKey = 16

// readAnchorKey reads an HMAC key file: its bytes, without a trailing
// newline (e.g. `head -c 32 /dev/urandom | base64 > anchor.key`).
func readAnchorKey(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--key-file: %w", err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < minAnchorKey {
		return nil, fmt.Errorf("--key-file %s: the key is %d bytes; at least %d are needed", file, len(b), minAnchorKey)
	}
	return b, nil
}

// writeNewPrivateFile writes a file that must not exist yet, mode 0600,
// through a temporary file renamed into place: an interrupted write never
// leaves a truncated file under the final name.
func writeNewPrivateFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // once linked, only the temporary name goes
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Link rather than rename: it fails if the target appeared meanwhile.
	// Where hard links are not supported, rename after a last check.
	if err := os.Link(tmp.Name(), path); err != nil {
		if _, statErr := os.Lstat(path); statErr == nil || errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists: refusing to overwrite it", path)
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return err
		}
	}
	syncDir(filepath.Dir(path))
	return nil
}

// anchorCheck compares a log, read in order, with an anchor.
type anchorCheck struct {
	body    anchorBody
	want    map[string]anchoredStream
	seen    map[string]*anchorSeen
	count   uint64 // events of the log up to the anchored position
	checked bool   // signature checked
}

type anchorSeen struct {
	events uint64
	atHash string // hash of the event at the anchored version
	atSeen bool
}

// anchorFinding is something the log lost or changed since the anchor.
type anchorFinding = brokenStream

type anchorResult struct {
	File     string          `json:"file"`
	TakenAt  time.Time       `json:"taken_at"`
	Position uint64          `json:"position"`
	Count    uint64          `json:"count"`
	Streams  int             `json:"streams"`
	Signed   bool            `json:"signature_checked"`
	Findings []anchorFinding `json:"findings"`
	Log      []string        `json:"log"`
}

func newAnchorCheck(body anchorBody, signed bool) *anchorCheck {
	c := &anchorCheck{body: body, want: make(map[string]anchoredStream, len(body.Streams)), seen: map[string]*anchorSeen{}, checked: signed}
	for _, s := range body.Streams {
		c.want[s.Stream] = s
	}
	return c
}

// add looks at the next event of the log.
func (c *anchorCheck) add(ev eventstore.RecordedEvent) {
	if uint64(ev.Position) <= c.body.Log.Position {
		c.count++
	}
	w, ok := c.want[ev.Stream]
	if !ok {
		return
	}
	s := c.seen[ev.Stream]
	if s == nil {
		s = &anchorSeen{}
		c.seen[ev.Stream] = s
	}
	s.events++
	if ev.Revision == w.Version {
		s.atSeen, s.atHash = true, eventHash(ev)
	}
}

// result lists what no longer matches the anchor; head is the log's head
// now, refs the case references the chain checker found.
func (c *anchorCheck) result(file string, head eventstore.Position, chains *chainChecker) anchorResult {
	r := anchorResult{File: file, TakenAt: c.body.TakenAt, Position: c.body.Log.Position, Count: c.body.Log.Count,
		Streams: len(c.body.Streams), Signed: c.checked, Findings: []anchorFinding{}, Log: []string{}}
	for _, w := range c.body.Streams {
		s := c.seen[w.Stream]
		var reason string
		switch {
		case s == nil:
			reason = fmt.Sprintf("the stream is gone: anchored with %d events (up to version %d)", w.Version+1, w.Version)
		case s.events < w.Version+1:
			reason = fmt.Sprintf("shorter than anchored: %d events now, %d anchored (up to version %d)", s.events, w.Version+1, w.Version)
		case !s.atSeen:
			reason = fmt.Sprintf("no event at the anchored version %d: the stream was renumbered", w.Version)
		case s.atHash != w.HeadHash:
			reason = fmt.Sprintf("the event at the anchored version %d differs: hash %s, anchored %s", w.Version, shortHash(s.atHash), shortHash(w.HeadHash))
		default:
			continue
		}
		f := anchorFinding{Stream: w.Stream, Version: w.Version, Reason: reason}
		if id, ok := domain.CaseIDFromStream(w.Stream); ok {
			f.CaseID = &id
		}
		if sc := chains.streams[w.Stream]; sc != nil {
			f.Reference = sc.ref
		}
		r.Findings = append(r.Findings, f)
	}
	if uint64(head) < c.body.Log.Position {
		r.Log = append(r.Log, fmt.Sprintf("the log is shorter than anchored: it ends at position %d, anchored %d", head, c.body.Log.Position))
	}
	switch {
	case c.count < c.body.Log.Count:
		r.Log = append(r.Log, fmt.Sprintf("the log holds %d events up to position %d, %d anchored: %d missing",
			c.count, c.body.Log.Position, c.body.Log.Count, c.body.Log.Count-c.count))
	case c.count > c.body.Log.Count:
		r.Log = append(r.Log, fmt.Sprintf("the log holds %d events up to position %d, %d anchored: %d more, inserted before the anchor",
			c.count, c.body.Log.Position, c.body.Log.Count, c.count-c.body.Log.Count))
	}
	return r
}

// shortHash abbreviates a hash for a message.
func shortHash(h string) string {
	if h == "" {
		return "(none)"
	}
	return short(h)
}

func (r anchorResult) ok() bool { return len(r.Findings) == 0 && len(r.Log) == 0 }

// describe prints the anchor check for people.
func (r anchorResult) describe(w io.Writer) {
	sig := "checksum ok"
	if r.Signed {
		sig = "signature and checksum ok"
	}
	fmt.Fprintf(w, "Anchor:     %s, taken %s (%s): %d streams, log at position %d (%d events)\n",
		r.File, r.TakenAt.Format(time.RFC3339), sig, r.Streams, r.Position, r.Count)
	if r.ok() {
		fmt.Fprintf(w, "            nothing anchored was cut off or changed\n")
		return
	}
	fmt.Fprintf(w, "Since the anchor:\n")
	for _, l := range r.Log {
		fmt.Fprintf(w, "  %s\n", l)
	}
	lines := make([]string, len(r.Findings))
	for i, f := range r.Findings {
		lines[i] = "  " + describeFinding(f)
	}
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

func describeFinding(f anchorFinding) string {
	what := "stream " + f.Stream
	if f.CaseID != nil {
		what = "case " + f.CaseID.String()
		if f.Reference != "" {
			what += " (" + f.Reference + ")"
		}
	}
	return what + ": " + f.Reason
}
