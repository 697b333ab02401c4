package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hotpool/hotpool/client"
)

func init() {
	register(command{name: "exec", summary: "run a command in a leased sandbox through its agent", run: runExec})
}

// envFlag collects repeated --env K=V.
type envFlag map[string]string

func (e envFlag) String() string { return "" }

func (e envFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want K=V, got %q", s)
	}
	e[k] = v
	return nil
}

var _ flag.Value = envFlag(nil)

func runExec(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("exec", "[--cwd D] [--env K=V]... [--timeout D] -- COMMAND...", stderr)
	cn := addConnFlags(fs)
	sandboxURL := fs.String("sandbox-url", os.Getenv("HOTPOOL_SANDBOX_URL"), "the sandbox's URL (env HOTPOOL_SANDBOX_URL, set by acquire --env)")
	agentToken := fs.String("agent-token", "", "the sandbox's agent token (env HOTPOOL_AGENT_TOKEN, set by acquire --env; prefer the env: flags show in ps)")
	cwd := fs.String("cwd", "", "working directory inside the sandbox")
	env := envFlag{}
	fs.Var(env, "env", "K=V added to the command's environment (repeatable)")
	var timeout time.Duration
	addDuration(fs, &timeout, "timeout", 0, "the agent kills the command after this long (default: the agent's)")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) == 0 {
		return usageError(stderr, fs, "want a COMMAND")
	}
	tok := *agentToken
	if tok == "" {
		tok = os.Getenv("HOTPOOL_AGENT_TOKEN")
	}
	if *sandboxURL == "" || tok == "" {
		return usageError(stderr, fs, "--sandbox-url and --agent-token (or eval \"$(hotpool acquire IMAGE --env)\") are required")
	}
	c, err := cn.client()
	if err != nil {
		return fail(stderr, err)
	}
	sb := c.Attach(client.SandboxRef{ID: os.Getenv("HOTPOOL_SANDBOX_ID"), URL: *sandboxURL, AgentToken: tok})
	res, err := sb.Exec(ctx, strings.Join(pos, " "), client.ExecOptions{Env: env, Cwd: *cwd, Timeout: timeout})
	if err != nil {
		return fail(stderr, err)
	}
	_, _ = io.WriteString(stdout, res.Stdout)
	_, _ = io.WriteString(stderr, res.Stderr)
	// The command's own status, like ssh and docker exec; a status no process
	// can exit with (a kill reported as -1) is a plain failure.
	if res.ExitCode < 0 || res.ExitCode > 255 {
		return exitError
	}
	return res.ExitCode
}
