package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hotpool/hotpool/internal/logging"
	"github.com/hotpool/hotpool/internal/mcpserver"
)

func init() {
	register(command{name: "mcp", summary: "serve hotpool's sandboxes as MCP tools on stdio, for LLM agents", run: runMCP})
}

// runMCP serves the Model Context Protocol on stdin and stdout. Its log goes
// to stderr (stdout is the protocol's); it never holds a token a model can
// see. When stdin closes or a SIGTERM or SIGINT arrives, it releases every
// sandbox it still holds.
func runMCP(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := newFlagSet("mcp", "[--image I] [--lease D] [--max-hold D]", stderr)
	cn := addConnFlags(fs)
	image := fs.String("image", mcpserver.DefaultImage, "the pool sandbox_acquire and run_code use when the model names none")
	var lease, maxHold time.Duration
	addDuration(fs, &lease, "lease", 0, "the lease asked for when the model gives none (default: the deployment's default_lease)")
	addDuration(fs, &maxHold, "max-hold", mcpserver.DefaultMaxHold, "renew a held sandbox's lease for at most this long after its acquire; then it runs out, so an abandoned server frees its sandboxes")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error (the log goes to stderr)")
	if _, code, done := parseArgs(fs, args); done {
		return code
	}
	c, err := cn.client()
	if err != nil {
		return fail(stderr, err)
	}
	log := logging.New(stderr, logging.ParseLevel(*logLevel))
	srv := mcpserver.New(mcpserver.Options{Client: c, DefaultImage: *image, Lease: lease, MaxHold: maxHold, Logger: log, Version: version()})
	log.Info("mcp: serving hotpool's sandboxes on stdio", "url", cn.url, "image", *image)
	if err := srv.Run(ctx, &mcp.StdioTransport{}); err != nil {
		fmt.Fprintf(stderr, "hotpool mcp: %v\n", err)
		return exitError
	}
	return exitOK
}
