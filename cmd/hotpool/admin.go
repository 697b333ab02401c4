package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/hotpool/hotpool/client"
)

func init() {
	register(command{name: "shutdown", summary: "shut a pool (or the whole manager) down", run: runShutdown})
	register(command{name: "start", summary: "start a shut-down pool (or the whole manager) again", run: runStart})
	register(command{name: "reconcile", summary: "run one reconcile pass now and show what it did", run: runReconcile})
}

func runShutdown(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runAdmin(ctx, "shutdown", args, stdout, stderr)
}

func runStart(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runAdmin(ctx, "start", args, stdout, stderr)
}

func runAdmin(ctx context.Context, action string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(action, "[POOL]", stderr)
	cn := addConnFlags(fs)
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) > 1 {
		return usageError(stderr, fs, "takes at most one POOL, got %d arguments", len(pos))
	}
	pool := ""
	if len(pos) == 1 {
		pool = pos[0]
	}
	c, err := cn.client()
	if err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var res *client.ShutdownResult
	if action == "shutdown" {
		res, err = c.Shutdown(ctx, pool)
	} else {
		res, err = c.Start(ctx, pool)
	}
	if err != nil {
		return fail(stderr, err)
	}
	what := "manager"
	if res.Pool != "" {
		what = fmt.Sprintf("pool %q", res.Pool)
	}
	if res.Shutdown {
		fmt.Fprintf(stdout, "%s shut down: acquire answers pool_shutdown; warm sandboxes are being destroyed\n", what)
	} else {
		fmt.Fprintf(stdout, "%s started: reconcile refills it to target_ready\n", what)
	}
	return exitOK
}

func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reconcile", "[--json]", stderr)
	cn := addConnFlags(fs)
	asJSON := fs.Bool("json", false, "print the pass report as JSON")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 0 {
		return usageError(stderr, fs, "takes no arguments")
	}
	c, err := cn.client()
	if err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := c.Reconcile(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}
	if !rep.Leader {
		fmt.Fprintln(stdout, "another reconcile pass holds the lock; this one did nothing")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tREADY\tTARGET\tCREATING\tIN_USE\tDELETING\tCREATED\tMARKED_READY\tDELETED\tREAPED\tEXPIRED\tSCALED_DOWN\tCIRCUIT")
	names := slices.Sorted(maps.Keys(rep.Pools))
	for _, n := range names {
		p := rep.Pools[n]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", n, p.Ready, p.Target, p.Creating, p.InUse,
			p.Deleting, p.Created, p.MarkedReady, p.Deleted, p.Reaped, p.Expired, p.ScaledDown, p.Circuit)
	}
	if err := tw.Flush(); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "pass took %s, %d App Platform API calls\n", rep.FinishedAt.Sub(rep.StartedAt).Round(time.Millisecond), rep.APICalls)
	for _, e := range rep.Errors {
		fmt.Fprintf(stdout, "error: %s\n", oneLine(e))
	}
	return exitOK
}
