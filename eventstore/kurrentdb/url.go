package kurrentdb

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// knownSettings are the connection string settings the v4.2.0 client
// understands (lower case). Others would only earn a console warning from
// the client, so Open rejects them instead.
var knownSettings = map[string]bool{
	"discoveryinterval": true, "gossiptimeout": true, "maxdiscoverattempts": true,
	"nodepreference": true, "keepaliveinterval": true, "keepalivetimeout": true,
	"tls": true, "tlscafile": true, "usercertfile": true, "userkeyfile": true,
	"tlsverifycert": true, "defaultdeadline": true,
}

// Defaults that differ from the client's: a down node should be reported
// within a second or so, not after ten discovery rounds, and a hung node
// should not hold a discovery for 5 s per round.
const (
	defaultMaxDiscoverAttempts = 3
	defaultGossipTimeoutSec    = 3
)

// IsConnectionString reports whether s names a KurrentDB store (esdb://,
// esdb+discover://, kurrentdb:// or kurrentdb+discover://), so that a
// command line can choose the backend from --store.
func IsConnectionString(s string) bool {
	scheme, _, ok := strings.Cut(strings.TrimSpace(s), "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "esdb", "esdb+discover", "kurrentdb", "kurrentdb+discover":
		return true
	}
	return false
}

// ParseURL turns a Casebook connection string into the client's
// configuration. It accepts esdb://, esdb+discover://, kurrentdb:// and
// kurrentdb+discover://. It does not contact the store.
func ParseURL(connString string) (*esdb.Configuration, error) {
	s := strings.TrimSpace(connString)
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, fmt.Errorf("kurrentdb: connection string %q: missing scheme (want esdb://, esdb+discover://, kurrentdb:// or kurrentdb+discover://)", redact(s))
	}
	switch strings.ToLower(scheme) {
	case "esdb", "kurrentdb":
		scheme = "esdb"
	case "esdb+discover", "kurrentdb+discover":
		scheme = "esdb+discover"
	default:
		return nil, fmt.Errorf("kurrentdb: connection string %q: unsupported scheme %q (want esdb://, esdb+discover://, kurrentdb:// or kurrentdb+discover://)", redact(s), scheme)
	}

	// Check settings before the client sees them: it reports unknown ones
	// and short keep-alives through its default console logger.
	hostPart, query, _ := strings.Cut(rest, "?")
	values, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("kurrentdb: connection string settings: %w", err)
	}
	var keepAlive *time.Duration
	given := map[string]bool{}
	clean := url.Values{}
	for k, vs := range values {
		lk := strings.ToLower(k)
		if !knownSettings[lk] {
			return nil, fmt.Errorf("kurrentdb: connection string: unknown setting %q", k)
		}
		given[lk] = true
		if lk == "keepaliveinterval" && len(vs) > 0 {
			ms, err := strconv.Atoi(vs[0])
			if err != nil || ms < -1 {
				return nil, fmt.Errorf("kurrentdb: connection string: keepAliveInterval %q: want milliseconds or -1", vs[0])
			}
			d := time.Duration(ms) * time.Millisecond
			if ms == -1 {
				d = -1
			}
			keepAlive = &d
			continue
		}
		clean[k] = vs
	}
	esURL := scheme + "://" + hostPart
	if len(clean) > 0 {
		esURL += "?" + clean.Encode()
	}
	cfg, err := esdb.ParseConnectionString(esURL)
	if err != nil {
		return nil, fmt.Errorf("kurrentdb: connection string %q: %w", redact(s), err)
	}
	if keepAlive != nil {
		cfg.KeepAliveInterval = *keepAlive
	}
	if !given["maxdiscoverattempts"] {
		cfg.MaxDiscoverAttempts = defaultMaxDiscoverAttempts
	}
	if !given["gossiptimeout"] {
		cfg.GossipTimeout = defaultGossipTimeoutSec
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kurrentdb: connection string: %w", err)
	}
	if cfg.Address == "" && len(cfg.GossipSeeds) == 0 {
		return nil, errors.New("kurrentdb: connection string has no host")
	}
	return cfg, nil
}

// redact hides a password in a connection string for error messages.
func redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return s
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
