// Command hotpool runs hotpool locally (serve) and talks to a deployed
// hotpool (acquire, release, metrics, warm-up, ...). Each subcommand lives in
// its own file and registers itself in commands.
package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"
)

// Exit codes, documented in the README.
const (
	exitOK          = 0
	exitError       = 1 // the operation failed (the message says why)
	exitUsage       = 2 // bad flags or arguments
	exitUnavailable = 3 // the server or a backend could not be reached, or answered 503
	exitTimeout     = 4 // warm-up (or another wait) ran out of time
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

// register adds a subcommand; each command file calls it from init.
func register(c command) { commands[c.name] = c }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(stdout, "hotpool", version())
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hotpool: unknown command %q (run 'hotpool help')\n", args[0])
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hotpool <command> [flags]\n\ncommands:")
	names := slices.Sorted(maps.Keys(commands))
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'hotpool <command> -h' for a command's flags")
	fmt.Fprintln(w, "environment: HOTPOOL_URL (default http://127.0.0.1:8080), HOTPOOL_API_TOKEN")
	fmt.Fprintln(w, "exit codes: 0 ok, 1 failed, 2 bad usage, 3 unreachable or 503, 4 timed out")
	fmt.Fprintln(w, "hotpool --version prints the version")
}

// version is the module version the binary was built from (a tagged
// release, a pseudo-version, or "(devel)" for a local build) and its VCS
// revision when the build recorded one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}
