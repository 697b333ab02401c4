package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/pool"
)

// DefaultURL is where `hotpool serve` listens unless told otherwise.
const DefaultURL = "http://127.0.0.1:8080"

// conn holds the flags every client command shares.
type conn struct {
	url   string
	token string
}

// addConnFlags registers --url and --token; their defaults come from
// HOTPOOL_URL and HOTPOOL_API_TOKEN.
func addConnFlags(fs *flag.FlagSet) *conn {
	c := &conn{}
	url := os.Getenv("HOTPOOL_URL")
	if url == "" {
		url = DefaultURL
	}
	fs.StringVar(&c.url, "url", url, "hotpool endpoint (env HOTPOOL_URL)")
	fs.StringVar(&c.token, "token", "", "API token (env HOTPOOL_API_TOKEN; prefer the env: flags show in ps)")
	return c
}

func (c *conn) client() (*client.Client, error) {
	token, source := c.token, "--token"
	if token == "" {
		token, source = os.Getenv("HOTPOOL_API_TOKEN"), "HOTPOOL_API_TOKEN"
	}
	if token == "" {
		source = ""
	}
	tokenSource = source
	return client.New(c.url, token, client.WithUserAgent("hotpool-cli/1"))
}

// tokenSource is where the running command took its API token from
// ("--token", "HOTPOOL_API_TOKEN", or "" for none), so an unauthorized
// answer can say which to fix. One command runs per process.
var tokenSource string

// tokenHint says what to do about an API token the server refused.
func tokenHint() string {
	if tokenSource == "" {
		return "no API token was sent: set HOTPOOL_API_TOKEN (or pass --token) to the server's token (hotpool serve's --token, or the deployment's HOTPOOL_API_TOKEN)"
	}
	return "the API token from " + tokenSource + " was refused: it is not the server's token (hotpool serve's --token, or the deployment's HOTPOOL_API_TOKEN)"
}

// newFlagSet returns a flag set whose errors and -h text go to stderr.
func newFlagSet(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hotpool %s %s\n\nflags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may come before, between or after the
// positional arguments ("acquire python --lease 10m") and returns the
// positional ones. done is set when the caller must return code at once
// (-h, or a bad flag already reported by the flag package).
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, done bool) {
	// The flag package prints an error and the whole usage; a bad value
	// deserves one line, -h the usage.
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(out)
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, exitOK, true
			}
			fmt.Fprintf(out, "hotpool %s: %v (run 'hotpool %s -h')\n", fs.Name(), err, fs.Name())
			return nil, exitUsage, true
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			// "--" ends the flags: everything after it is positional.
			return append(pos, rest...), exitOK, false
		}
		args = rest
		if len(args) == 0 {
			return pos, exitOK, false
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// durationFlag is a flag holding a pool.Duration: "90s", "2m" or seconds.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	v, err := pool.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", s)
	}
	*f.d = v.D()
	return nil
}

func addDuration(fs *flag.FlagSet, d *time.Duration, name string, def time.Duration, usage string) {
	*d = def
	fs.Var(durationFlag{d}, name, usage)
}

// usageError reports a wrong argument in one line and returns exitUsage.
func usageError(stderr io.Writer, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(stderr, "hotpool %s: %s (run 'hotpool %s -h')\n", fs.Name(), fmt.Sprintf(format, args...), fs.Name())
	return exitUsage
}

// fail prints err as one line on stderr and returns its exit code.
func fail(stderr io.Writer, err error) int {
	// The client's own errors already start with "hotpool: ".
	msg := strings.TrimPrefix(oneLine(err.Error()), "hotpool: ")
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Code == "unauthorized" {
		msg += ": " + tokenHint()
	}
	fmt.Fprintf(stderr, "hotpool: %s\n", msg)
	return exitCode(err)
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var ae *client.APIError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, client.ErrWarmUpTimeout), errors.Is(err, context.DeadlineExceeded):
		return exitTimeout
	case errors.Is(err, client.ErrUnavailable), errors.As(err, &ae) && ae.Status == 503:
		return exitUnavailable
	default:
		return exitError
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
