package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/casebook/casebook/cmd/casebook/internal/progress"
	"github.com/casebook/casebook/internal/buildinfo"
)

// Exit statuses.
const (
	exitOK       = 0
	exitProblems = 1 // something was found broken, or the command failed
	exitUsage    = 2
)

// Stdio are the streams a run reads and writes.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// app is one run of the CLI: its streams, environment and global flags.
type app struct {
	ctx    context.Context
	stdio  Stdio
	getenv func(string) string

	// global flags
	data          string
	storeURL      string
	agenciesFile  string
	placesFile    string
	masterKeyFile string
	json          bool
	quiet         bool
}

// command is a subcommand.
type command struct {
	name    string
	usage   string // arguments, after the name (shown by "casebook help")
	summary string
	run     func(a *app, args []string) error
}

func commands() []command {
	return []command{
		{"demo", "[--seed N] [--force] [--events N]", "load the demo data set (the press release's figures), or generate a national-scale one of N events, into an empty store", runDemo},
		{"verify", "[--anchor FILE [--key-file FILE]]", "check every stream's hash chain (and SQLite's integrity), and against an anchor; exit 1 when anything is broken", runVerify},
		{"anchor", "--out FILE [--key-file FILE]", "record every stream's head and the log's head, to keep outside the store (verify --anchor)", runAnchor},
		{"access-report", "--subject S --from T --to T [--format csv|json] [--scan]", "every consultation by one person in a period (a data-protection inquiry); read-only", runAccessReport},
		{"replay", "--case ID [--version N | --as-of TIME]", "print a case's history as a timeline and its state at a point", runReplay},
		{"export", "[--case ID] [--from T] [--to T] [--out FILE]", "write events as NDJSON, one event per line with its envelope", runExport},
		{"import", "[--in FILE]", "load an NDJSON export into a store (verified first; resumable)", runImport},
		{"backup", "--to FILE", "consistent online copy of the embedded store (and of its key store, to FILE.keys)", runBackup},
		{"restore", "--from FILE [--keys FILE] [--force]", "restore a backup (and its key store copy) into a data directory", runRestore},
		{"projections", "status | rebuild [NAME]", "read models' state, and an offline rebuild", runProjections},
		{"token", "create --subject S --role R --agency A [--tokens FILE]", "add an API token to the tokens file", runToken},
		{"migrate", "--from STORE --to STORE [--encrypt]", "copy every event (and the keys of sealed fields) to another store (resumable), then verify; --encrypt seals plaintext personal data", runMigrate},
	}
}

// Main runs the CLI with args (without the program name) and returns the
// exit status. Tests call it in-process.
func Main(ctx context.Context, args []string, stdio Stdio, getenv func(string) string) int {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	a := &app{ctx: ctx, stdio: stdio, getenv: getenv}
	return a.main(args)
}

func (a *app) main(args []string) int {
	// Global flags may come before the command name as well as after it.
	fs := a.flagSet("casebook")
	fs.Usage = func() { a.usage(fs.Output()) }
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *version {
		fmt.Fprintln(a.stdio.Out, buildinfo.Read().String("casebook"))
		return exitOK
	}
	rest := fs.Args()
	if len(rest) == 0 {
		a.usage(a.stdio.Err)
		return exitUsage
	}
	name := rest[0]
	if name == "help" {
		a.usage(a.stdio.Out)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return a.exitCode(c.name, c.run(a, rest[1:]))
		}
	}
	fmt.Fprintf(a.stdio.Err, "casebook: unknown command %q\n\n", name)
	a.usage(a.stdio.Err)
	return exitUsage
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: casebook [--data DIR | --store URL] [--json] COMMAND [flags]\n\nCommands:\n")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-12s %s\n  %-12s   casebook %s %s\n", c.name, c.summary, "", c.name, c.usage)
	}
	fmt.Fprintf(w, `
Global flags (also accepted after the command name):
  --data DIR   data directory of the embedded store (env CASEBOOK_DATA; default ./data)
  --store URL  event store: a data directory, or esdb:// / esdb+discover:// / kurrentdb:// (env CASEBOOK_STORE)
  --agencies FILE  agencies file, CODE,name per line (env CASEBOOK_AGENCIES_FILE; default: the built-in list)
  --places FILE    places file, CODE,name per line: what import and migrate accept as locations (env CASEBOOK_PLACES_FILE; default: the built-in list)
  --master-key-file FILE  master key of the store's keys (env CASEBOOK_MASTER_KEY_FILE; default DIR/master.key)
  --json       machine-readable output
  --quiet      no progress bar (it is drawn only on a terminal anyway)
  --version    print the version (module version, VCS revision) and exit

Run "casebook COMMAND --help" for a command's flags.
Exit status: 0 ok, 1 problems found or the command failed, 2 usage error.
`)
}

// errUsage marks a command-line mistake (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// problemsError says the command ran but found problems (exit status 1);
// its report has already been printed.
type problemsError struct{ msg string }

func (e *problemsError) Error() string { return e.msg }

func (a *app) exitCode(name string, err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var pe *problemsError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(a.stdio.Err, "casebook %s: %s\n", name, ue.msg)
		fmt.Fprintf(a.stdio.Err, "Run \"casebook %s --help\" for usage.\n", name)
		return exitUsage
	case errors.As(err, &pe):
		fmt.Fprintf(a.stdio.Err, "casebook %s: %s\n", name, pe.msg)
		return exitProblems
	default:
		fmt.Fprintf(a.stdio.Err, "casebook %s: %v\n", name, err)
		return exitProblems
	}
}

// flagSet returns a flag set with the global flags registered, defaulting
// to what the environment (or earlier global flags) say.
func (a *app) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stdio.Err)
	data := a.data
	if data == "" {
		data = a.getenv("CASEBOOK_DATA")
	}
	if data == "" {
		data = "./data"
	}
	storeURL := a.storeURL
	if storeURL == "" {
		storeURL = a.getenv("CASEBOOK_STORE")
	}
	fs.StringVar(&a.data, "data", data, "data directory of the embedded store (env CASEBOOK_DATA)")
	fs.StringVar(&a.storeURL, "store", storeURL, "event store URL or data directory (env CASEBOOK_STORE)")
	agencies := a.agenciesFile
	if agencies == "" {
		agencies = a.getenv("CASEBOOK_AGENCIES_FILE")
	}
	fs.StringVar(&a.agenciesFile, "agencies", agencies, "agencies file, one CODE,name per line; empty: the built-in list (env CASEBOOK_AGENCIES_FILE)")
	places := a.placesFile
	if places == "" {
		places = a.getenv("CASEBOOK_PLACES_FILE")
	}
	fs.StringVar(&a.placesFile, "places", places, "places file, one CODE,name per line; empty: the built-in list (env CASEBOOK_PLACES_FILE)")
	fs.StringVar(&a.masterKeyFile, "master-key-file", a.masterKeyFile,
		"master key file of the store's keys (env CASEBOOK_MASTER_KEY_FILE; default: master.key in the data directory)")
	fs.BoolVar(&a.json, "json", a.json, "machine-readable JSON output")
	fs.BoolVar(&a.quiet, "quiet", a.quiet, "no progress bar")
	return fs
}

// parse parses a command's flags; positional arguments are refused unless
// the command takes them (maxArgs).
func (a *app) parse(fs *flag.FlagSet, args []string, usage string, maxArgs int) ([]string, error) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: casebook %s %s\n\nFlags:\n", fs.Name(), usage)
		fs.PrintDefaults()
	}
	// Flags may follow positional arguments ("rebuild NAME --data DIR").
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) > maxArgs {
		return nil, usagef("unexpected argument %q", positional[maxArgs])
	}
	return positional, nil
}

// printJSON writes v as indented JSON on stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdio.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.stdio.Out, format, args...) }

// bar returns a progress bar on stderr: drawn on a terminal, silent
// elsewhere or with --quiet/--json.
func (a *app) bar(label, unit string, total int64) *progress.Bar {
	opts := progress.Options{Label: label, Unit: unit, Total: total}
	if a.quiet {
		off := false
		opts.Enabled = &off
	}
	return progress.New(a.stdio.Err, opts)
}

// logger discards the stores' logs unless something goes wrong enough for
// them to matter: warnings and errors go to stderr.
func (a *app) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stdio.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// parseTime accepts RFC 3339 times and plain dates (midnight UTC).
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a date (2011-06-06) nor an RFC 3339 time (2011-06-06T09:00:00Z)", s)
}
