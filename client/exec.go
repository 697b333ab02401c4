package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The sandbox agent's API (docs/agent.md): do-app-sandbox's service-mode
// agent, bearer-authenticated with the sandbox's agent token.
const (
	agentExecPath      = "/api/exec"
	agentWriteFilePath = "/api/files/write"
	agentReadFilePath  = "/api/files/read"
	// execGrace is how much longer than the command's own timeout the client
	// waits for the agent's answer.
	execGrace = 10 * time.Second
)

// ExecOptions tune one command.
type ExecOptions struct {
	Env     map[string]string // added to the command's environment
	Cwd     string            // working directory; "" is the agent's default
	Timeout time.Duration     // the agent kills the command after it; 0 is the agent's default
}

// ExecResult is a finished command.
type ExecResult struct {
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	ExitCode int    `json:"exit_code"`
}

type execRequest struct {
	Command string            `json:"command"`
	Env     map[string]string `json:"env,omitempty"`
	Cwd     string            `json:"cwd,omitempty"`
	Timeout int               `json:"timeout,omitempty"` // seconds
}

// Exec runs cmd through the sandbox's shell and returns its output and exit
// status. A non-zero exit code is a result, not an error. Exec is never
// retried: a command may not be safe to run twice.
func (s *Sandbox) Exec(ctx context.Context, cmd string, opts ExecOptions) (*ExecResult, error) {
	if strings.TrimSpace(cmd) == "" {
		return nil, fmt.Errorf("%w: exec: empty command", ErrInvalidRequest)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: exec: timeout must be >= 0", ErrInvalidRequest)
	}
	// The agent answers once the command is done: wait for the command's own
	// timeout and a grace, not the client's per-request bound.
	var limit time.Duration
	if opts.Timeout > 0 {
		limit = opts.Timeout + execGrace
	}
	req := execRequest{Command: cmd, Env: opts.Env, Cwd: opts.Cwd, Timeout: ceilSeconds(opts.Timeout)}
	var res ExecResult
	if err := s.agent(ctx, agentExecPath, limit, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

type fileRequest struct {
	Path     string `json:"path"`
	Content  string `json:"content,omitempty"`
	Encoding string `json:"encoding,omitempty"`
}

// WriteFile writes data to path inside the sandbox, creating parent
// directories. The content travels base64-encoded, so any bytes are safe.
func (s *Sandbox) WriteFile(ctx context.Context, path string, data []byte) error {
	if path == "" {
		return fmt.Errorf("%w: write file: empty path", ErrInvalidRequest)
	}
	req := fileRequest{Path: path, Content: base64.StdEncoding.EncodeToString(data), Encoding: "base64"}
	return s.agent(ctx, agentWriteFilePath, 0, req, nil)
}

// ReadFile reads the file at path inside the sandbox.
func (s *Sandbox) ReadFile(ctx context.Context, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: read file: empty path", ErrInvalidRequest)
	}
	var res fileRequest
	if err := s.agent(ctx, agentReadFilePath, 0, fileRequest{Path: path}, &res); err != nil {
		return nil, err
	}
	switch res.Encoding {
	case "base64":
		b, err := base64.StdEncoding.DecodeString(res.Content)
		if err != nil {
			return nil, fmt.Errorf("sandbox agent: read %s: bad base64 content: %v", path, err)
		}
		return b, nil
	case "", "utf-8", "text":
		return []byte(res.Content), nil
	default:
		return nil, fmt.Errorf("sandbox agent: read %s: unknown encoding %q", path, res.Encoding)
	}
}

// agent POSTs a JSON request to the sandbox's agent and decodes the answer
// into out (when not nil). The call is bounded by limit, or by the client's
// request timeout when limit is 0.
func (s *Sandbox) agent(ctx context.Context, path string, limit time.Duration, in, out any) error {
	if s == nil || s.c == nil {
		return errors.New("sandbox agent: the sandbox was not returned by Acquire")
	}
	if s.URL == "" || s.AgentToken == "" {
		return fmt.Errorf("sandbox agent: sandbox %s has no agent URL or token (is it a service-mode image?)", s.ID)
	}
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("sandbox agent: encode request: %w", err)
	}
	// An exec's own limit running out reads as its deadline; the client's
	// request bound running out reads as an unreachable agent, as a transport
	// timeout does.
	ownLimit := limit > 0
	if !ownLimit {
		limit = s.c.reqTimeout
	}
	callCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, strings.TrimRight(s.URL, "/")+path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("sandbox agent: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.c.userAgent)
	req.Header.Set("Authorization", "Bearer "+s.AgentToken)
	res, err := s.c.hc.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("sandbox agent %s: %w", path, ctx.Err())
		case ownLimit && callCtx.Err() != nil:
			return fmt.Errorf("sandbox agent %s: %w", path, callCtx.Err())
		}
		return fmt.Errorf("%w: sandbox agent %s: %v", ErrUnavailable, path, unwrapURLError(err))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%w: sandbox agent %s: %v", ErrUnavailable, path, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return &AgentError{Status: res.StatusCode, Message: agentMessage(data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("sandbox agent %s: unexpected answer (%v): %s", path, err, snippet(data))
	}
	return nil
}

// agentMessage reads an agent's error body ({"error": "…"}, the contract's
// {"error": {"message": "…"}}, {"detail": "…"}, or plain text) as one short line.
func agentMessage(b []byte) string {
	return snippet([]byte(rawAgentMessage(b)))
}

func rawAgentMessage(b []byte) string {
	var v struct {
		Error  json.RawMessage `json:"error"`
		Detail string          `json:"detail"`
	}
	if json.Unmarshal(b, &v) == nil {
		var s string
		if json.Unmarshal(v.Error, &s) == nil && s != "" {
			return s
		}
		var o struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(v.Error, &o) == nil && o.Message != "" {
			return o.Message
		}
		if v.Detail != "" {
			return v.Detail
		}
	}
	return string(b)
}
