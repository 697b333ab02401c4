package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hotpool/hotpool/client"
)

func init() {
	register(command{name: "proc", summary: "background processes in a leased sandbox: proc start|list|logs|kill", run: runProc})
	register(command{name: "ls", summary: "list a directory in a leased sandbox", run: runLs})
	register(command{name: "cp", summary: "copy a file into a leased sandbox or out of it (:PATH is the sandbox's side)", run: runCp})
}

// sandboxFlags name the leased sandbox a command talks to; acquire --env
// exports them, so after eval "$(hotpool acquire python --env)" none is
// needed.
type sandboxFlags struct {
	url, token *string
}

func addSandboxFlags(fs *flag.FlagSet) sandboxFlags {
	return sandboxFlags{
		url:   fs.String("sandbox-url", os.Getenv("HOTPOOL_SANDBOX_URL"), "the sandbox's URL (env HOTPOOL_SANDBOX_URL, set by acquire --env)"),
		token: fs.String("agent-token", "", "the sandbox's agent token (env HOTPOOL_AGENT_TOKEN, set by acquire --env; prefer the env: flags show in ps)"),
	}
}

// sandbox attaches to the sandbox the flags or the environment name.
func (sf sandboxFlags) sandbox(cn *conn, fs *flag.FlagSet, stderr io.Writer) (*client.Sandbox, int) {
	tok := *sf.token
	if tok == "" {
		tok = os.Getenv("HOTPOOL_AGENT_TOKEN")
	}
	if *sf.url == "" || tok == "" {
		return nil, usageError(stderr, fs, "which sandbox? run eval \"$(hotpool acquire IMAGE --env)\" first (or give --sandbox-url and HOTPOOL_AGENT_TOKEN)")
	}
	c, err := cn.client()
	if err != nil {
		return nil, fail(stderr, err)
	}
	return c.Attach(client.SandboxRef{ID: os.Getenv("HOTPOOL_SANDBOX_ID"), URL: *sf.url, AgentToken: tok}), exitOK
}

func runProc(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "start":
		return runProcStart(ctx, args, stdout, stderr)
	case "list", "ls":
		return runProcList(ctx, args, stdout, stderr)
	case "logs":
		return runProcLogs(ctx, args, stdout, stderr)
	case "kill":
		return runProcKill(ctx, args, stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: hotpool proc start [--cwd D] [--env K=V]... -- COMMAND...\n"+
		"       hotpool proc list\n"+
		"       hotpool proc logs [-f] [--tail N] PID\n"+
		"       hotpool proc kill [--signal N] PID")
	if sub == "-h" || sub == "--help" || sub == "help" {
		return exitOK
	}
	if sub != "" {
		fmt.Fprintf(stderr, "hotpool proc: unknown subcommand %q\n", sub)
	}
	return exitUsage
}

func runProcStart(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("proc start", "[--cwd D] [--env K=V]... -- COMMAND...", stderr)
	cn, sf := addConnFlags(fs), addSandboxFlags(fs)
	cwd, env := addCommandFlags(fs)
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
	p, err := sb.StartProcess(ctx, strings.Join(pos, " "), client.ProcessOptions{Cwd: *cwd, Env: env})
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "%d\n", p.PID)
	fmt.Fprintf(stderr, "hotpool: started pid %d, logging to %s (hotpool proc logs -f %d; hotpool proc kill %d)\n", p.PID, p.LogFile, p.PID, p.PID)
	return exitOK
}

func runProcList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("proc list", "", stderr)
	cn, sf := addConnFlags(fs), addSandboxFlags(fs)
	if _, code, done := parseArgs(fs, args); done {
		return code
	}
	sb, code := sf.sandbox(cn, fs, stderr)
	if sb == nil {
		return code
	}
	list, err := sb.Processes(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tSTATUS\tSTARTED\tLOG\tCOMMAND")
	for _, p := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", p.PID, p.Status, p.StartedAt.UTC().Format(time.RFC3339), p.LogFile, p.Command)
	}
	if err := tw.Flush(); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// pidArg reads the one PID argument.
func pidArg(fs *flag.FlagSet, pos []string, stderr io.Writer) (int, int) {
	if len(pos) != 1 {
		return 0, usageError(stderr, fs, "want exactly one PID (hotpool proc list shows them)")
	}
	pid, err := strconv.Atoi(pos[0])
	if err != nil || pid <= 0 {
		return 0, usageError(stderr, fs, "PID must be a positive number, got %q", pos[0])
	}
	return pid, exitOK
}

func runProcLogs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("proc logs", "[-f] [--tail N] PID", stderr)
	cn, sf := addConnFlags(fs), addSandboxFlags(fs)
	follow := fs.Bool("f", false, "follow the log as it grows, like tail -f (Ctrl-C ends it)")
	tail := fs.Int("tail", 0, "only the last N lines (0: all)")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if *tail < 0 {
		return usageError(stderr, fs, "--tail must be >= 0")
	}
	pid, code := pidArg(fs, pos, stderr)
	if pid == 0 {
		return code
	}
	sb, code := sf.sandbox(cn, fs, stderr)
	if sb == nil {
		return code
	}
	if !*follow {
		logs, err := sb.ProcessLogs(ctx, pid, *tail)
		if err != nil {
			return fail(stderr, err)
		}
		_, _ = io.WriteString(stdout, logs)
		return exitOK
	}
	ls, err := sb.FollowLogs(ctx, pid)
	if err != nil {
		return fail(stderr, err)
	}
	defer ls.Close()
	for {
		line, err := ls.Next()
		switch {
		case err == nil:
			fmt.Fprintln(stdout, line.Line)
		case errors.Is(err, io.EOF), ctx.Err() != nil:
			return exitOK // the agent ended the follow, or Ctrl-C
		default:
			return fail(stderr, err)
		}
	}
}

func runProcKill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("proc kill", "[--signal N] PID", stderr)
	cn, sf := addConnFlags(fs), addSandboxFlags(fs)
	sig := fs.Int("signal", int(syscall.SIGTERM), "the signal's number (15 TERM, 9 KILL, 2 INT)")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if *sig <= 0 {
		return usageError(stderr, fs, "--signal must be a positive signal number")
	}
	pid, code := pidArg(fs, pos, stderr)
	if pid == 0 {
		return code
	}
	sb, code := sf.sandbox(cn, fs, stderr)
	if sb == nil {
		return code
	}
	if err := sb.KillProcess(ctx, pid, syscall.Signal(*sig)); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "sent signal %d to %d\n", *sig, pid)
	return exitOK
}

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ls", "[PATH] (default /workspace)", stderr)
	cn, sf := addConnFlags(fs), addSandboxFlags(fs)
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) > 1 {
		return usageError(stderr, fs, "want at most one PATH")
	}
	dir := ""
	if len(pos) == 1 {
		dir = pos[0]
	}
	sb, code := sf.sandbox(cn, fs, stderr)
	if sb == nil {
		return code
	}
	files, err := sb.ListFiles(ctx, dir)
	if err != nil {
		return fail(stderr, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, f := range files {
		size, name := strconv.FormatInt(f.Size, 10), f.Name
		if f.IsDir {
			size, name = "-", name+"/"
		}
		fmt.Fprintf(tw, "%s\t%s\t\t%s\n", f.Permissions, size, name)
	}
	if err := tw.Flush(); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// runCp copies one file between this machine and the sandbox. The sandbox's
// side is written :PATH; - is standard input or output.
func runCp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cp", "SRC DST: LOCAL :SANDBOX_PATH uploads, :SANDBOX_PATH LOCAL downloads (- is stdin/stdout)", stderr)
	cn, sf := addConnFlags(fs), addSandboxFlags(fs)
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 2 {
		return usageError(stderr, fs, "want SRC and DST, e.g. hotpool cp main.py :/workspace/main.py")
	}
	src, dst := pos[0], pos[1]
	remoteSrc, remoteDst := strings.HasPrefix(src, ":"), strings.HasPrefix(dst, ":")
	if remoteSrc == remoteDst {
		return usageError(stderr, fs, "exactly one side must be the sandbox's, written :PATH (e.g. :/workspace/main.py)")
	}
	sb, code := sf.sandbox(cn, fs, stderr)
	if sb == nil {
		return code
	}
	if remoteDst {
		var data []byte
		var err error
		if src == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(src)
		}
		if err != nil {
			return fail(stderr, err)
		}
		if err := sb.WriteFile(ctx, dst[1:], data); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stderr, "hotpool: copied %d bytes to %s\n", len(data), dst[1:])
		return exitOK
	}
	data, err := sb.ReadFile(ctx, src[1:])
	if err != nil {
		return fail(stderr, err)
	}
	if dst == "-" {
		_, err = stdout.Write(data)
	} else {
		if st, statErr := os.Stat(dst); statErr == nil && st.IsDir() {
			dst = filepath.Join(dst, path.Base(src[1:]))
		}
		err = os.WriteFile(dst, data, 0o644)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if dst != "-" {
		fmt.Fprintf(stderr, "hotpool: copied %d bytes to %s\n", len(data), dst)
	}
	return exitOK
}
