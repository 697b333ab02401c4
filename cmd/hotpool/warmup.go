package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hotpool/hotpool/client"
)

func init() {
	register(command{name: "warm-up", summary: "wait until every pool has target_ready sandboxes ready", run: runWarmUp})
}

func runWarmUp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("warm-up", "--timeout D", stderr)
	cn := addConnFlags(fs)
	var timeout, interval time.Duration
	addDuration(fs, &timeout, "timeout", 0, "how long to wait, e.g. 2m (required)")
	addDuration(fs, &interval, "interval", 2*time.Second, "how often to report progress")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 0 {
		return usageError(stderr, fs, "takes no arguments")
	}
	if timeout <= 0 {
		return usageError(stderr, fs, "--timeout is required, e.g. --timeout 2m")
	}
	c, err := cn.client()
	if err != nil {
		return fail(stderr, err)
	}
	pr := newProgress(stderr)
	st, err := c.WarmUp(ctx, timeout, client.WarmUpOptions{Interval: interval, Progress: pr.show})
	pr.finish()
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "warm: %s\n", progressLine(st.Pools))
	return exitOK
}

// progress draws "python 2/3 node 1/1" on stderr: redrawn in place on a
// terminal, one line per change otherwise (logs stay readable).
type progress struct {
	w    io.Writer
	tty  bool
	last string
	drew bool
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w)}
}

func (p *progress) show(pools map[string]client.PoolProgress) {
	line := progressLine(pools)
	if line == p.last {
		return
	}
	p.last = line
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drew = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// finish ends an in-place line so the next output starts on its own line.
func (p *progress) finish() {
	if p.drew {
		fmt.Fprintln(p.w)
	}
}

func progressLine(pools map[string]client.PoolProgress) string {
	names := slices.Sorted(maps.Keys(pools))
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d/%d", n, pools[n].Ready, pools[n].Target))
	}
	if len(parts) == 0 {
		return "(no pools)"
	}
	return strings.Join(parts, " ")
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
