package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func init() {
	register(command{name: "release", summary: "release (destroy) a leased sandbox", run: runRelease})
	register(command{name: "renew", summary: "extend a sandbox's lease", run: runRenew})
}

// leaseArgs parses "ID --lease-token T"; the token may also come from
// HOTPOOL_LEASE_TOKEN, which keeps it out of the process list.
func leaseArgs(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (id, token string, cn *conn, code int, done bool) {
	fs := newFlagSet(name, "[ID] --lease-token T", stderr)
	cn = addConnFlags(fs)
	tok := fs.String("lease-token", "", "the lease token acquire printed (env HOTPOOL_LEASE_TOKEN; prefer the env: flags show in ps)")
	if extra != nil {
		extra(fs)
	}
	pos, code, done := parseArgs(fs, args)
	if done {
		return "", "", nil, code, true
	}
	if len(pos) == 0 && os.Getenv("HOTPOOL_SANDBOX_ID") != "" {
		pos = []string{os.Getenv("HOTPOOL_SANDBOX_ID")}
	}
	if len(pos) != 1 {
		return "", "", nil, usageError(stderr, fs, "want exactly one sandbox ID (or HOTPOOL_SANDBOX_ID), got %d arguments", len(pos)), true
	}
	token = *tok
	if token == "" {
		token = os.Getenv("HOTPOOL_LEASE_TOKEN")
	}
	if token == "" {
		return "", "", nil, usageError(stderr, fs, "--lease-token is required"), true
	}
	return pos[0], token, cn, exitOK, false
}

func runRelease(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	id, token, cn, code, done := leaseArgs("release", args, stderr, nil)
	if done {
		return code
	}
	c, err := cn.client()
	if err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := c.Release(ctx, id, token)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "released %s (%s)\n", res.SandboxID, res.State)
	return exitOK
}

func runRenew(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var lease time.Duration
	id, token, cn, code, done := leaseArgs("renew", args, stderr, func(fs *flag.FlagSet) {
		fs.Var(durationFlag{&lease}, "lease", "new lease length from now, e.g. 15m (default: the server's default_lease)")
	})
	if done {
		return code
	}
	c, err := cn.client()
	if err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	exp, err := c.Renew(ctx, id, token, lease)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "renewed %s: lease expires %s\n", id, exp.UTC().Format(time.RFC3339))
	return exitOK
}
