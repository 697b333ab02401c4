package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/sandboxagent"
)

func init() {
	register(command{name: "config", summary: "config validate FILE: check a config file, listing every problem", run: runConfig})
}

func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("config", "validate FILE", stderr)
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 2 || pos[0] != "validate" {
		return usageError(stderr, fs, "usage is 'hotpool config validate FILE'")
	}
	file := pos[1]
	cfg, err := pool.LoadConfig(file)
	if err != nil {
		return configProblems(stderr, file, err)
	}
	names := cfg.PoolNames()
	desc := strings.Join(names, ", ")
	if cfg.DefaultPoolConfig != nil {
		if desc != "" {
			desc += ", "
		}
		desc += "default_pool_config"
	}
	fmt.Fprintf(stdout, "%s: ok (%d pools: %s)\n", file, len(names), desc)
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "%s: warning: %s\n", file, w)
	}
	// What hotpool serve would give this machine's simulated sandboxes.
	if iso := sandboxagent.DetectIsolation(); !iso.Isolated() {
		fmt.Fprintf(stderr, "%s: warning: under hotpool serve here, %s\n", file, iso)
	}
	return exitOK
}

// configProblems prints a config's problems, one line each with its path,
// and returns exitError: config validate and serve say it the same way.
func configProblems(stderr io.Writer, file string, err error) int {
	var ve *pool.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintf(stderr, "%s: %s\n", file, p)
		}
		fmt.Fprintf(stderr, "hotpool: %s: %d problem(s)\n", file, len(ve.Problems))
		return exitError
	}
	// The file cannot be read, or the document is empty.
	msg := strings.TrimPrefix(err.Error(), pool.ErrInvalidConfig.Error()+": ")
	fmt.Fprintf(stderr, "hotpool: %s: %s\n", file, oneLine(msg))
	return exitError
}
