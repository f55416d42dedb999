// Command casebookd is Casebook's server: the HTTP API over the event store,
// with the projections that serve the case list and the reports.
//
// Configuration comes from flags, each with a CASEBOOK_* environment
// equivalent (a flag given on the command line wins over the environment):
//
//	--addr             CASEBOOK_ADDR             listen address (127.0.0.1:8080)
//	--data             CASEBOOK_DATA             data directory (./data)
//	--store            CASEBOOK_STORE            event store URL; empty: the embedded store <data>/events.db;
//	                                             esdb://, esdb+discover://, kurrentdb://, kurrentdb+discover://: KurrentDB
//	--tokens           CASEBOOK_TOKENS_FILE      API tokens file (token,subject,role,agency per line); re-read on SIGHUP
//	--master-key-file  CASEBOOK_MASTER_KEY_FILE  master key wrapping the keys that seal personal data (<data>/master.key;
//	                                             created 0600 with 32 random bytes when absent and no key store holds keys)
//	--oidc-issuer      CASEBOOK_OIDC_ISSUER      OpenID Connect issuer whose bearer tokens are accepted (off when empty)
//	--oidc-audience    CASEBOOK_OIDC_AUDIENCE    the audience its tokens must carry (required with --oidc-issuer)
//	--oidc-subject-claim CASEBOOK_OIDC_SUBJECT_CLAIM  claim holding the subject (sub)
//	--oidc-role-claim  CASEBOOK_OIDC_ROLE_CLAIM  claim holding the Casebook role (casebook_role); dotted paths allowed
//	--oidc-agency-claim CASEBOOK_OIDC_AGENCY_CLAIM  claim holding the agency (casebook_agency)
//	--require-purpose  CASEBOOK_REQUIRE_PURPOSE  reads of case data must state Casebook-Purpose (false: the role's default)
//	--agencies         CASEBOOK_AGENCIES_FILE    agencies file, CODE,name per line (the built-in list)
//	--places           CASEBOOK_PLACES_FILE      places file, CODE,name per line: the codes locations are (the built-in list)
//	--retention        CASEBOOK_RETENTION_FILE   retention table, crime_type,years,group per line (the built-in, after MoPI)
//	--read-model-wait  CASEBOOK_READ_MODEL_WAIT  how long a read-model query waits for min_position (2s)
//	--max-requests     CASEBOOK_MAX_REQUESTS     concurrent request cap (1024)
//	--log-level        CASEBOOK_LOG_LEVEL        debug, info, warn, error (info)
//	--log-format       CASEBOOK_LOG_FORMAT       json or text (json)
//	--shutdown-timeout CASEBOOK_SHUTDOWN_TIMEOUT time allowed to drain in-flight requests (20s)
//	--read-timeout     CASEBOOK_READ_TIMEOUT     time to read a whole request; a late body is answered 408 (30s)
//	--principal-max-requests, --principal-rate, --principal-burst,
//	--auth-failure-rate, --auth-failure-burst   each caller's share (see README "Configuration")
//	--version                                    print the version and exit
//
// `casebookd healthcheck [--addr ADDR]` asks a running casebookd whether it
// is ready (GET /readyz): exit 0 when it is, 1 when not, 2 on a usage
// error. Container health checks use it (the image has no curl).
//
// Signals: SIGTERM and SIGINT shut down gracefully (stop accepting, drain
// in-flight requests, stop the projections, close the store); SIGHUP
// re-reads the tokens file.
//
// Exit status: 0 after a clean shutdown (and for --help, --version);
// 1 when the server could not start (bad data directory, tokens file,
// store, listen address), stopped serving on its own, or did not shut down
// cleanly; 2 on a usage error (unknown flag, bad value).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/casebook/casebook/internal/buildinfo"
)

// Exit statuses (see the package comment).
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(runHealthcheck(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr))
	}

	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(exitOK)
		}
		fmt.Fprintln(os.Stderr, "casebookd:", err)
		os.Exit(exitUsage)
	}
	if m.Config.ShowVersion {
		fmt.Println(buildinfo.Read().String("casebookd"))
		os.Exit(exitOK)
	}
	if err := m.Run(ctx); err != nil {
		m.Logger.Error("casebookd failed to start", "error", err)
		_ = m.Close()
		os.Exit(exitFailed)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	exit := exitOK
loop:
	for {
		select {
		case <-ctx.Done():
			m.Logger.Info("shutting down", "reason", "signal")
			break loop
		case <-hup:
			if err := m.ReloadTokens(); err != nil {
				m.Logger.Error("tokens not reloaded; the previous tokens stay in force", "error", err)
			}
		case err := <-m.Failed():
			m.Logger.Error("server failed", "error", err)
			exit = exitFailed
			break loop
		}
	}
	stop()
	if err := m.Close(); err != nil {
		m.Logger.Error("shutdown", "error", err)
		exit = exitFailed
	}
	os.Exit(exit)
}

// newLogger builds the process logger.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
