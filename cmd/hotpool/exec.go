package main

import (
	"context"
	"flag"
	"fmt"
	"io"
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

// addCommandFlags are the flags of a command run in a sandbox: its working
// directory and its extra environment.
func addCommandFlags(fs *flag.FlagSet) (*string, envFlag) {
	cwd := fs.String("cwd", "", "working directory inside the sandbox (default /workspace)")
	env := envFlag{}
	fs.Var(env, "env", "K=V added to the command's environment (repeatable)")
	return cwd, env
}

func runExec(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("exec", "[--cwd D] [--env K=V]... [--timeout D] [--buffered] -- COMMAND...", stderr)
	cn, sf := addConnFlags(fs), addSandboxFlags(fs)
	cwd, env := addCommandFlags(fs)
	buffered := fs.Bool("buffered", false, "wait for the command's end and print its output at once (the agent's /api/exec), instead of streaming it")
	var timeout time.Duration
	addDuration(fs, &timeout, "timeout", 0, "the agent kills the command after this long (streamed: this long without output; default: the agent's 120s)")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) == 0 {
		return usageError(stderr, fs, "want a COMMAND")
	}
	sb, code := sf.sandbox(cn, fs, stderr)
	if sb == nil {
		return code
	}
	opts := client.ExecOptions{Env: env, Cwd: *cwd, Timeout: timeout}
	var status int
	if *buffered {
		res, err := sb.Exec(ctx, strings.Join(pos, " "), opts)
		if err != nil {
			return fail(stderr, err)
		}
		_, _ = io.WriteString(stdout, res.Stdout)
		_, _ = io.WriteString(stderr, res.Stderr)
		status = res.ExitCode
	} else {
		// Each line as the command writes it, stdout to stdout and stderr to
		// stderr, as docker exec does.
		st, err := sb.ExecStream(ctx, strings.Join(pos, " "), opts)
		if err != nil {
			return fail(stderr, err)
		}
		status, err = st.Copy(stdout, stderr)
		if err != nil {
			return fail(stderr, err)
		}
	}
	// The command's own status, like ssh and docker exec; a status no process
	// can exit with (a signal reported as minus its number) is a plain failure.
	if status < 0 || status > 255 {
		return exitError
	}
	return status
}
