// Command casebook is the auditors' and operators' tool for Casebook: it
// loads the demo data set, verifies hash chains, replays a case's history,
// exports and imports NDJSON, backs up and restores the embedded store,
// rebuilds projections, creates API tokens and migrates between stores.
//
// It works on the embedded store in a data directory (--data, default
// ./data) or on any store by URL (--store). Read-only commands open the
// store read-only and can run beside a live casebookd.
//
// Exit status: 0 success, 1 a problem was found (a broken hash chain, a
// failed check) or the command failed, 2 the command line was wrong.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv)
	stop()
	os.Exit(code)
}
