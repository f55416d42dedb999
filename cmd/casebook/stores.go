package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore"
	"github.com/casebook/casebook/eventstore/sqlitestore"
	"github.com/casebook/casebook/keystore"
)

// eventsFile is the embedded store's file in a data directory.
const eventsFile = "events.db"

// readModelsFile is the projections' database in a data directory.
const readModelsFile = "readmodels.db"

// storeRef names a store: the embedded one in a data directory (or a single
// SQLite file, e.g. a backup), or a KurrentDB by connection string.
type storeRef struct {
	dir  string // data directory (embedded)
	file string // the SQLite file (embedded)
	url  string // KurrentDB connection string
}

func (r storeRef) embedded() bool { return r.url == "" }

func (r storeRef) String() string {
	if r.url != "" {
		return redactURL(r.url)
	}
	return r.file
}

// isStoreURL reports whether s is a KurrentDB connection string.
func isStoreURL(s string) bool {
	for _, p := range []string{"esdb://", "esdb+discover://", "kurrentdb://", "kurrentdb+discover://", "kurrent://", "kurrent+discover://"} {
		if strings.HasPrefix(strings.ToLower(s), p) {
			return true
		}
	}
	return false
}

// parseStoreRef reads a STORE argument: a connection string, a data
// directory, or the path of an SQLite event store file.
func parseStoreRef(s string) (storeRef, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return storeRef{}, errors.New("empty store")
	case isStoreURL(s):
		return storeRef{url: s}, nil
	case strings.Contains(s, "://"):
		return storeRef{}, fmt.Errorf("store %q: want a data directory or an esdb://, esdb+discover:// or kurrentdb:// URL", redactURL(s))
	}
	if st, err := os.Stat(s); err == nil && st.Mode().IsRegular() {
		return storeRef{dir: filepath.Dir(s), file: s}, nil
	}
	return storeRef{dir: s, file: filepath.Join(s, eventsFile)}, nil
}

// storeRef is the store the global flags select: --store when given,
// otherwise the embedded store in --data.
func (a *app) storeRef() (storeRef, error) {
	if a.storeURL != "" {
		return parseStoreRef(a.storeURL)
	}
	return storeRef{dir: a.data, file: filepath.Join(a.data, eventsFile)}, nil
}

// openStore opens the store. Read-only opens of the embedded store never
// write to the file, so they can run beside casebookd.
func (a *app) openStore(ref storeRef, readOnly bool) (eventstore.Store, error) {
	return openStore(a.ctx, ref, readOnly, a)
}

func openStore(ctx context.Context, ref storeRef, readOnly bool, a *app) (eventstore.Store, error) {
	if !ref.embedded() {
		return openKurrentDB(ctx, ref.url, a)
	}
	if readOnly {
		if _, err := os.Stat(ref.file); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("no event store at %s (run casebookd or casebook demo first, or pass --data)", ref.file)
			}
			return nil, err
		}
	} else if err := os.MkdirAll(filepath.Dir(ref.file), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	st, err := sqlitestore.Open(ctx, ref.file, sqlitestore.Options{ReadOnly: readOnly, Logger: a.logger()})
	if err != nil {
		if errors.Is(err, sqlitestore.ErrLocked) {
			return nil, fmt.Errorf("%w\n(casebookd is probably running on this data directory: stop it first, or use --store with its KurrentDB)", err)
		}
		return nil, err
	}
	return st, nil
}

// storeIsEmpty reports whether the store holds no event.
func storeIsEmpty(ctx context.Context, st eventstore.Store) (bool, error) {
	head, err := st.Head(ctx)
	if err != nil {
		return false, fmt.Errorf("read the store's head: %w", err)
	}
	return head == eventstore.Start, nil
}

// redactURL hides a password in a connection string.
func redactURL(s string) string {
	at := strings.Index(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	userinfo := s[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return s[:scheme+3] + user + ":xxxxx" + s[at:]
	}
	return s
}

// logUnit names what a progress bar over a store's log positions counts:
// the embedded store's positions are dense (1, 2, 3, ...), so they count
// events; KurrentDB's are offsets in its transaction log.
func logUnit(r storeRef) string {
	if r.embedded() {
		return "events"
	}
	return "log position"
}

// importCore is the application core over st, as the CLI's writing
// commands (demo, import, migrate) use it: the same rules as casebookd,
// without read models; keys seal the personal data it records (nil:
// none is recorded).
func (a *app) importCore(st eventstore.Store, keys *keystore.Vault) (*core.Core, error) {
	agencies, err := core.LoadAgencies(a.agenciesFile)
	if err != nil {
		return nil, err
	}
	places, err := core.LoadPlaces(a.placesFile)
	if err != nil {
		return nil, err
	}
	return core.New(core.Config{Store: st, Agencies: agencies, Places: places, Logger: a.logger(), Keys: keys})
}

// operator is the CLI's caller as the core sees it: an operator (the admin
// role) named after the account running the command.
func (a *app) operator() core.Identity {
	name := a.getenv("USER")
	if name == "" {
		name = "operator"
	}
	agencies, err := core.LoadAgencies(a.agenciesFile)
	agency := "HO"
	if err == nil {
		agency = agencies.Codes()[0]
	}
	return core.Identity{Subject: "casebook-cli:" + name, Role: domain.RoleAdmin, Agency: agency}
}

// refusal words an import the core refused.
func refusal(what string, err error) error {
	var de *domain.Error
	if errors.As(err, &de) && de.Code == domain.CodeRefused {
		return &problemsError{fmt.Sprintf("refusing to import %s: %s", what, de.Message)}
	}
	return err
}
