package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hotpool/hotpool/client"
)

// toolError is what a model reads when a tool fails: the stable code, what
// happened, and what to do next. It comes back as a tool result with
// isError set, never as a protocol error, so the model can act on it.
type toolError struct {
	code string
	msg  string
	next string
	// output is what a command wrote before it failed (a timeout, a cut
	// stream), when there was any.
	output *execOut
}

func (e *toolError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.code, e.msg)
	if e.next != "" {
		fmt.Fprintf(&b, "\nWhat to do: %s", e.next)
	}
	if o := e.output; o != nil && (o.Stdout != "" || o.Stderr != "") {
		fmt.Fprintf(&b, "\nOutput before it stopped:\nstdout:\n%s\nstderr:\n%s", o.Stdout, o.Stderr)
	}
	return b.String()
}

// withOutput keeps a failed command's partial output beside its error.
func withOutput(err error, out execOut) error {
	te := explain(err)
	te.output = &out
	return te
}

// handle turns a tool's error into a toolError, so every failure reads the
// same way.
func handle[In, Out any](h mcp.ToolHandlerFor[In, Out]) mcp.ToolHandlerFor[In, Out] {
	return func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		res, out, err := h(ctx, req, in)
		if err != nil {
			return nil, out, explain(err)
		}
		return res, out, nil
	}
}

// explain maps the client's errors to a code and the next step. The codes
// are the API's stable codes where the API answered, and the agent's
// contract's otherwise.
func explain(err error) *toolError {
	var te *toolError
	if errors.As(err, &te) {
		return te
	}
	msg := strings.TrimPrefix(err.Error(), "hotpool: ")
	var ae *client.APIError
	var cold *client.ColdStartError
	switch {
	case errors.As(err, &cold):
		return &toolError{code: "cancelled", msg: msg, next: "call sandbox_acquire again when you need a sandbox"}
	case errors.Is(err, client.ErrTooManyPools):
		return &toolError{code: "too_many_pools", msg: msg, next: "use an image that hotpool_pools lists"}
	case errors.Is(err, client.ErrPoolExhausted):
		next := "retry later, or use another image (hotpool_pools shows which have ready sandboxes)"
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			next = fmt.Sprintf("retry in %s, or use another image (hotpool_pools shows which have ready sandboxes)", ae.RetryAfter)
		}
		return &toolError{code: "pool_exhausted", msg: msg, next: next}
	case errors.Is(err, client.ErrPoolShutdown):
		return &toolError{code: "pool_shutdown", msg: msg, next: "this pool is shut down by its operator: use another image, or ask them to start it"}
	case errors.Is(err, client.ErrUnknownImage):
		return &toolError{code: "unknown_image", msg: msg, next: "call hotpool_pools for the images this deployment serves"}
	case errors.Is(err, client.ErrSandboxCreation):
		return &toolError{code: "sandbox_creation_failed", msg: msg, next: "retry in a minute, or use another image"}
	case errors.Is(err, client.ErrLeaseExpired), errors.Is(err, client.ErrSandboxNotFound), errors.Is(err, client.ErrSandboxGone):
		return &toolError{code: "lease_expired", msg: msg, next: "the sandbox is gone with everything in it: call sandbox_acquire for a new one"}
	case errors.Is(err, client.ErrExecTimeout):
		return &toolError{code: "exec_timeout", msg: "the command wrote nothing for its timeout and was killed", next: "raise timeout_seconds, or run long jobs in the background (cmd &> /tmp/log &) and poll the log"}
	case errors.Is(err, client.ErrStreamIncomplete):
		return &toolError{code: "output_incomplete", msg: msg, next: "the command may still have run; check its effects before running it again"}
	case errors.Is(err, client.ErrPathNotAllowed):
		return &toolError{code: "path_not_allowed", msg: msg, next: "use an absolute path under /workspace, /home/sandbox or /tmp"}
	case errors.Is(err, client.ErrFileNotFound):
		return &toolError{code: "file_not_found", msg: msg, next: "sandbox_list_files shows what is there"}
	case errors.Is(err, client.ErrNotADirectory), errors.Is(err, client.ErrIsADirectory):
		return &toolError{code: "invalid_request", msg: msg, next: "sandbox_list_files takes a directory, sandbox_read_file a file"}
	case errors.Is(err, client.ErrInvalidRequest):
		return &toolError{code: "invalid_request", msg: msg, next: "fix the arguments as the message says"}
	case errors.Is(err, client.ErrUnauthorized):
		return &toolError{code: "unauthorized", msg: msg, next: "the MCP server's HOTPOOL_API_TOKEN is wrong; a person must fix its configuration"}
	case errors.Is(err, client.ErrUnavailable):
		return &toolError{code: "unavailable", msg: msg, next: "hotpool cannot be reached right now: retry in a few seconds"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &toolError{code: "cancelled", msg: msg}
	}
	return &toolError{code: "internal", msg: msg, next: "retry once; if it fails again, report it"}
}
