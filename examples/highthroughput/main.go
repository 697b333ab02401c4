// Command highthroughput is the seed's high-throughput example on hotpool:
// warm the pool up first, then run many tasks concurrently, each on its own
// single-use sandbox, and report the acquire latencies and the pool hit rate.
//
//	go run ./examples/highthroughput -tasks 20 -workers 5
//
// It reads HOTPOOL_URL (default http://127.0.0.1:8080) and HOTPOOL_API_TOKEN
// (default dev-token).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"sync"
	"time"

	"github.com/hotpool/hotpool/client"
)

// outcome is one task's result.
type outcome struct {
	acquire time.Duration
	source  string
	err     error
}

// runTask acquires a sandbox, runs the task in it and always releases it.
func runTask(ctx context.Context, c *client.Client, image string, id int) outcome {
	var o outcome
	start := time.Now()
	sb, err := c.Acquire(ctx, image, client.AcquireOptions{Lease: 5 * time.Minute})
	o.acquire = time.Since(start)
	if err != nil {
		o.err = err
		return o
	}
	o.source = sb.Source
	defer func() {
		// Single use: release even when the task failed or ctx ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if _, err := sb.Release(rctx); err != nil && o.err == nil {
			o.err = fmt.Errorf("release: %w", err)
		}
	}()
	// The task: any command the image has (python3 in the python image, and
	// on the host for local sandboxes, which run commands with its shell).
	res, err := sb.Exec(ctx, fmt.Sprintf("python3 -c 'import sys; print(sum(range(int(sys.argv[1]))))' %d", id), client.ExecOptions{Timeout: time.Minute})
	switch {
	case err != nil:
		o.err = err
	case res.ExitCode != 0:
		o.err = fmt.Errorf("task %d exited %d: %s", id, res.ExitCode, res.Stderr)
	}
	return o
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("highthroughput", flag.ContinueOnError)
	url := fs.String("url", envOr("HOTPOOL_URL", "http://127.0.0.1:8080"), "hotpool endpoint")
	token := fs.String("token", envOr("HOTPOOL_API_TOKEN", "dev-token"), "API token")
	image := fs.String("image", "python", "pool to run the tasks in")
	tasks := fs.Int("tasks", 20, "number of tasks")
	workers := fs.Int("workers", 5, "tasks running at once")
	warm := fs.Duration("warm-up", 2*time.Minute, "wait this long for the pools to fill first (0 skips)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tasks < 1 || *workers < 1 {
		return errors.New("-tasks and -workers must be at least 1")
	}
	c, err := client.New(*url, *token)
	if err != nil {
		return err
	}
	if *warm > 0 {
		if _, err := c.WarmUp(ctx, *warm); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	before, err := c.Metrics(ctx)
	if err != nil {
		return err
	}

	jobs := make(chan int)
	results := make([]outcome, *tasks)
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				results[id] = runTask(ctx, c, *image, id)
			}
		}()
	}
	for id := 0; id < *tasks; id++ {
		jobs <- id
	}
	close(jobs)
	wg.Wait()

	after, err := c.Metrics(ctx)
	if err != nil {
		return err
	}
	return report(stdout, *image, results, before, after)
}

// report prints the tasks' outcome and the pool's hit rate over the run.
func report(w io.Writer, image string, results []outcome, before, after *client.Metrics) error {
	var lat []time.Duration
	failed, warm, exhausted := 0, 0, 0
	for _, r := range results {
		if r.err != nil {
			failed++
			if errors.Is(r.err, client.ErrPoolExhausted) {
				exhausted++
			}
			continue
		}
		lat = append(lat, r.acquire)
		if r.source == "pool" {
			warm++
		}
	}
	fmt.Fprintf(w, "%d tasks: %d ok (%d from the warm pool), %d failed (%d pool_exhausted)\n",
		len(results), len(results)-failed, warm, failed, exhausted)
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Fprintf(w, "acquire latency: p50 %s, p95 %s, max %s\n",
			pct(lat, 50).Round(time.Microsecond), pct(lat, 95).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	}
	b, a := before.Pools[image], after.Pools[image]
	if n := a.TotalAcquires - b.TotalAcquires; n > 0 {
		fmt.Fprintf(w, "pool hit rate over the run: %.1f%% (%d of %d acquires)\n",
			100*float64(a.AcquiresFromPool-b.AcquiresFromPool)/float64(n), a.AcquiresFromPool-b.AcquiresFromPool, n)
	}
	for _, r := range results {
		if r.err != nil {
			return fmt.Errorf("%d tasks failed; first: %w", failed, r.err)
		}
	}
	return nil
}

// pct is the p-th percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h printed the flags: asked for, so not a failure.
	case err != nil:
		fmt.Fprintln(os.Stderr, "highthroughput:", err)
		os.Exit(1)
	}
}
