package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Healthcheck exit statuses.
const (
	healthReady    = 0
	healthNotReady = 1
	healthUsage    = 2
)

// runHealthcheck is `casebookd healthcheck`: it asks the casebookd listening
// on --addr (default CASEBOOK_ADDR, as the server itself reads it) whether
// it is ready (GET /readyz) and exits 0 when it answers 200, 1 otherwise.
// It is for container health checks: the distroless image has no curl.
// A wildcard listen address (0.0.0.0:8080, [::]:8080, :8080) is probed on
// loopback.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("casebookd healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := DefaultConfig().Addr
	if v := getenv("CASEBOOK_ADDR"); v != "" {
		addr = v
	}
	fs.StringVar(&addr, "addr", addr, "casebookd's listen address (env CASEBOOK_ADDR)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return healthReady
		}
		return healthUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "casebookd healthcheck: unexpected argument %q\n", fs.Arg(0))
		return healthUsage
	}
	target, err := probeAddr(addr)
	if err != nil {
		fmt.Fprintf(stderr, "casebookd healthcheck: %v\n", err)
		return healthUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := "http://" + target + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "casebookd healthcheck: %v\n", err)
		return healthUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "casebookd healthcheck: %s: %v\n", url, err)
		return healthNotReady
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "casebookd healthcheck: %s answered %s\n", url, resp.Status)
		return healthNotReady
	}
	fmt.Fprintf(stdout, "ready (%s)\n", url)
	return healthReady
}

// probeAddr turns a listen address into one to connect to.
func probeAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--addr %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if ip != nil && ip.To4() == nil {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	return net.JoinHostPort(host, port), nil
}
