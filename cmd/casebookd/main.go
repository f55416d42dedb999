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
//	--oidc-issuer      CASEBOOK_OIDC_ISSUER      OpenID Connect issuer whose bearer tokens are accepted (off when empty)
//	--oidc-audience    CASEBOOK_OIDC_AUDIENCE    the audience its tokens must carry (required with --oidc-issuer)
//	--oidc-subject-claim CASEBOOK_OIDC_SUBJECT_CLAIM  claim holding the subject (sub)
//	--oidc-role-claim  CASEBOOK_OIDC_ROLE_CLAIM  claim holding the Casebook role (casebook_role); dotted paths allowed
//	--oidc-agency-claim CASEBOOK_OIDC_AGENCY_CLAIM  claim holding the agency (casebook_agency)
//	--require-purpose  CASEBOOK_REQUIRE_PURPOSE  reads of case data must state Casebook-Purpose (false: the role's default)
//	--agencies         CASEBOOK_AGENCIES_FILE    agencies file, CODE,name per line (the built-in list)
//	--read-model-wait  CASEBOOK_READ_MODEL_WAIT  how long a read-model query waits for min_position (2s)
//	--max-requests     CASEBOOK_MAX_REQUESTS     concurrent request cap (1024)
//	--log-level        CASEBOOK_LOG_LEVEL        debug, info, warn, error (info)
//	--log-format       CASEBOOK_LOG_FORMAT       json or text (json)
//	--shutdown-timeout CASEBOOK_SHUTDOWN_TIMEOUT time allowed to drain in-flight requests (20s)
//
// Signals: SIGTERM and SIGINT shut down gracefully (stop accepting, drain
// in-flight requests, stop the projections, close the store); SIGHUP
// re-reads the tokens file.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "casebookd:", err)
		os.Exit(2)
	}
	if err := m.Run(ctx); err != nil {
		m.Logger.Error("casebookd failed to start", "error", err)
		_ = m.Close()
		os.Exit(1)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	exit := 0
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
			exit = 1
			break loop
		}
	}
	stop()
	if err := m.Close(); err != nil {
		m.Logger.Error("shutdown", "error", err)
		exit = 1
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
