package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotpool/hotpool/client"
)

func init() {
	register(command{name: "acquire", summary: "lease a pre-warmed sandbox of an image", run: runAcquire})
}

// acquireJSON is what `acquire --json` prints: everything a script needs,
// including the lease and agent tokens (stdout is the caller's own).
type acquireJSON struct {
	ID             string    `json:"id"`
	Image          string    `json:"image"`
	AppID          string    `json:"app_id"`
	URL            string    `json:"url"`
	Region         string    `json:"region"`
	InstanceSize   string    `json:"instance_size"`
	Source         string    `json:"source"`
	LeaseToken     string    `json:"lease_token"`
	LeaseExpiresAt time.Time `json:"lease_expires_at"`
	AgentToken     string    `json:"agent_token"`
	Replayed       bool      `json:"replayed,omitempty"`
}

func runAcquire(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("acquire", "IMAGE [--lease D] [--wait D] [--json | --env]", stderr)
	cn := addConnFlags(fs)
	var lease, wait, timeout time.Duration
	addDuration(fs, &lease, "lease", 0, "lease length, e.g. 15m (default: the server's default_lease)")
	addDuration(fs, &wait, "wait", 0, "let the server wait up to this long (max 25s) for a ready sandbox")
	addDuration(fs, &timeout, "timeout", 5*time.Minute, "give up following a cold start after this long")
	key := fs.String("idempotency-key", "", "repeat-safe key: the same key answers the same sandbox")
	asJSON := fs.Bool("json", false, "print the sandbox as JSON (includes the agent token)")
	asEnv := fs.Bool("env", false, "print shell exports (HOTPOOL_SANDBOX_ID, HOTPOOL_LEASE_TOKEN, ...) for eval")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		return usageError(stderr, fs, "want exactly one IMAGE, got %d arguments", len(pos))
	}
	if *asJSON && *asEnv {
		return usageError(stderr, fs, "--json and --env exclude each other")
	}
	if wait > client.MaxWait {
		return usageError(stderr, fs, "--wait must be at most %s", client.MaxWait)
	}
	c, err := cn.client()
	if err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	coldStart := func() {
		fmt.Fprintf(stderr, "hotpool: pool %q is empty: a sandbox is being created for you (a deployment takes 30-90 s; --timeout %s)\n", pos[0], timeout)
	}
	sb, err := c.Acquire(ctx, pos[0], client.AcquireOptions{Lease: lease, Wait: wait, IdempotencyKey: *key, OnColdStart: coldStart})
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(acquireJSON{
			ID: sb.ID, Image: sb.Image, AppID: sb.AppID, URL: sb.URL, Region: sb.Region,
			InstanceSize: sb.InstanceSize, Source: sb.Source, LeaseToken: sb.LeaseToken,
			LeaseExpiresAt: sb.LeaseExpiresAt, AgentToken: sb.AgentToken, Replayed: sb.Replayed,
		}); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}
	if *asEnv {
		printExports(stdout, sb)
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sandbox\t%s\n", sb.ID)
	fmt.Fprintf(tw, "image\t%s (%s)\n", sb.Image, sb.Source)
	fmt.Fprintf(tw, "url\t%s\n", sb.URL)
	fmt.Fprintf(tw, "lease token\t%s\n", sb.LeaseToken)
	fmt.Fprintf(tw, "lease expires\t%s\n", sb.LeaseExpiresAt.UTC().Format(time.RFC3339))
	// Tokens in the environment, not on argv, where ps shows them.
	fmt.Fprintf(tw, "release with\tHOTPOOL_LEASE_TOKEN=%s hotpool release %s\n", shellQuote(sb.LeaseToken), sb.ID)
	if err := tw.Flush(); err != nil {
		return fail(stderr, err)
	}
	// The exports of this very sandbox: a hint to acquire again with --env
	// would lease a second one while this one stays held.
	fmt.Fprintln(stdout, "\nto use it from this shell (exec, cp, ls, proc, renew and release read these), paste:")
	printExports(stdout, sb)
	return exitOK
}

// printExports prints the shell exports of a sandbox that release, renew,
// exec and the other sandbox commands read, so a shell session needs no
// copying.
func printExports(w io.Writer, sb *client.Sandbox) {
	for _, kv := range [][2]string{
		{"HOTPOOL_SANDBOX_ID", sb.ID}, {"HOTPOOL_LEASE_TOKEN", sb.LeaseToken},
		{"HOTPOOL_SANDBOX_URL", sb.URL}, {"HOTPOOL_AGENT_TOKEN", sb.AgentToken},
	} {
		fmt.Fprintf(w, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
}

// shellQuote single-quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
