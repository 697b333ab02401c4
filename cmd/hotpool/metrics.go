package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/client"
)

func init() {
	register(command{name: "metrics", summary: "show every pool's metrics (table, --json or --prometheus)", run: runMetrics})
}

func runMetrics(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("metrics", "[--json | --prometheus]", stderr)
	cn := addConnFlags(fs)
	asJSON := fs.Bool("json", false, "print the server's JSON document")
	prom := fs.Bool("prometheus", false, "print the Prometheus text format")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 0 {
		return usageError(stderr, fs, "takes no arguments")
	}
	if *asJSON && *prom {
		return usageError(stderr, fs, "--json and --prometheus exclude each other")
	}
	c, err := cn.client()
	if err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if *prom {
		text, err := c.MetricsPrometheus(ctx)
		if err != nil {
			return fail(stderr, err)
		}
		_, _ = io.WriteString(stdout, text)
		return exitOK
	}
	m, err := c.Metrics(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		_, _ = stdout.Write(m.Raw)
		if len(m.Raw) > 0 && m.Raw[len(m.Raw)-1] != '\n' {
			fmt.Fprintln(stdout)
		}
		return exitOK
	}
	if err := metricsTable(stdout, m); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// avgMs is a latency histogram's mean in milliseconds, "-" when it has no
// sample or no sum of its own.
func avgMs(h api.Histogram) string {
	if h.Count == 0 || h.Sum == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *h.Sum/float64(h.Count))
}

// metricsTable prints one row per pool and a totals line.
func metricsTable(w io.Writer, m *client.Metrics) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// Warm and cold acquires apart: one average of 1 ms hits and 60 s cold
	// starts describes neither.
	fmt.Fprintln(tw, "POOL\tREADY\tTARGET\tCREATING\tIN_USE\tDELETING\tACQUIRES\tHIT_RATE\tWARM_MS\tCOLD_MS\tSTATE")
	names := slices.Sorted(maps.Keys(m.Pools))
	for _, n := range names {
		p := m.Pools[n]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%s\t%s\t%s\n", n, p.Ready, p.TargetReady, p.Creating,
			p.InUse, p.Deleting, p.TotalAcquires, p.PoolHitRate*100, avgMs(p.AcquireLatencyMs.Warm), avgMs(p.AcquireLatencyMs.Cold),
			poolState(p, m.ManagerShutdown))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	limit := "unlimited"
	if m.MaxTotalSandboxes != nil {
		limit = fmt.Sprint(*m.MaxTotalSandboxes)
	}
	line := fmt.Sprintf("total sandboxes: %d (max %s)", m.TotalSandboxes, limit)
	if m.ManagerShutdown {
		line += "; manager shut down"
	}
	if b := m.APIBudget; b != nil {
		line += fmt.Sprintf("; API budget left: %d this minute, %d this hour", b.RemainingMinute, b.RemainingHour)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// poolState is the one word (or short phrase) that says what a pool is doing.
func poolState(p client.PoolMetrics, managerShutdown bool) string {
	var s []string
	switch {
	case p.Shutdown || managerShutdown:
		s = append(s, "shutdown")
	case p.Idle:
		s = append(s, "idle")
	default:
		s = append(s, "active")
	}
	if p.Circuit.State == "open" {
		s = append(s, "circuit-open")
	}
	return strings.Join(s, ",")
}
