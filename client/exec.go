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
	"net/url"
	"strings"
	"time"
)

// The sandbox agent's API (docs/agent.md): do-app-sandbox's service-mode
// agent, bearer-authenticated with the sandbox's agent token.
const (
	agentExecPath     = "/api/exec"
	agentFilePath     = "/api/files/content"  // POST writes {path, content, encoding}
	agentDownloadPath = "/api/files/download" // GET ?path= answers the raw bytes
	// agentDefaultTimeout is the agent's own limit when a command gives none.
	agentDefaultTimeout = 120 * time.Second
	// execGrace is how much longer than the command's own timeout the client
	// waits for the agent's answer.
	execGrace = 10 * time.Second
)

// ExecOptions tune one command.
type ExecOptions struct {
	Env     map[string]string // added to the command's environment
	Cwd     string            // working directory; "" is the agent's default
	Timeout time.Duration     // the agent kills the command after it (408, ErrExecTimeout); 0 is the agent's default, 120 s
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
	// The agent answers once the command is done: wait for the command's own
	// timeout and a grace, not the client's per-request bound.
	req, limit, err := execArgs(cmd, opts)
	if err != nil {
		return nil, err
	}
	var res ExecResult
	if err := s.agent(ctx, http.MethodPost, agentExecPath, limit, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// execArgs checks a command and its options and returns the agent's request
// and how long to wait for it: the command's timeout (the agent's 120 s by
// default) and a grace.
func execArgs(cmd string, opts ExecOptions) (execRequest, time.Duration, error) {
	if strings.TrimSpace(cmd) == "" {
		return execRequest{}, 0, fmt.Errorf("%w: exec: empty command", ErrInvalidRequest)
	}
	if opts.Timeout < 0 {
		return execRequest{}, 0, fmt.Errorf("%w: exec: timeout must be >= 0", ErrInvalidRequest)
	}
	limit := agentDefaultTimeout + execGrace
	if opts.Timeout > 0 {
		limit = opts.Timeout + execGrace
	}
	return execRequest{Command: cmd, Env: opts.Env, Cwd: opts.Cwd, Timeout: ceilSeconds(opts.Timeout)}, limit, nil
}

type fileRequest struct {
	Path     string `json:"path"`
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"`
}

// WriteFile writes data to path inside the sandbox (under /workspace,
// /home/sandbox or /tmp), creating parent directories. The content travels
// base64-encoded, so any bytes are safe.
func (s *Sandbox) WriteFile(ctx context.Context, path string, data []byte) error {
	if path == "" {
		return fmt.Errorf("%w: write file: empty path", ErrInvalidRequest)
	}
	req := fileRequest{Path: path, Content: base64.StdEncoding.EncodeToString(data), Encoding: "base64"}
	return s.agent(ctx, http.MethodPost, agentFilePath, 0, req, nil)
}

// ReadFile reads the file at path inside the sandbox, byte for byte (the
// agent's download route: no newline translation, no encoding).
func (s *Sandbox) ReadFile(ctx context.Context, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: read file: empty path", ErrInvalidRequest)
	}
	var raw []byte
	if err := s.agent(ctx, http.MethodGet, agentDownloadPath+"?path="+url.QueryEscape(path), 0, nil, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// agent sends a request to the sandbox's agent (a JSON body when in is not
// nil) and decodes the answer into out: JSON, or the raw bytes when out is a
// *[]byte. The call is bounded by limit, or by the client's request timeout
// when limit is 0.
func (s *Sandbox) agent(ctx context.Context, method, path string, limit time.Duration, in, out any) error {
	// An exec's own limit running out reads as its deadline; the client's
	// request bound running out reads as an unreachable agent, as a transport
	// timeout does.
	ownLimit := limit > 0
	if !ownLimit {
		limit = s.c.reqTimeout
	}
	callCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	res, err := s.agentDo(callCtx, method, path, in, "application/json")
	if err != nil {
		var ae *AgentError
		switch {
		case errors.As(err, &ae):
		case ctx.Err() != nil:
			return fmt.Errorf("sandbox agent %s: %w", path, ctx.Err())
		case ownLimit && callCtx.Err() != nil:
			return fmt.Errorf("sandbox agent %s: %w", path, callCtx.Err())
		case callCtx.Err() != nil:
			return fmt.Errorf("%w: sandbox agent %s: no answer within %s", ErrUnavailable, path, limit)
		}
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%w: sandbox agent %s: %v", ErrUnavailable, path, err)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("sandbox agent %s: unexpected answer (%v): %s", path, err, snippet(data))
	}
	return nil
}

// agentDo sends one request to the sandbox's agent and returns its 2xx
// answer, whose body the caller reads and closes; any other answer is read
// here and returned as an *AgentError. It is never retried.
func (s *Sandbox) agentDo(ctx context.Context, method, path string, in any, accept string) (*http.Response, error) {
	if s == nil || s.c == nil {
		return nil, errors.New("sandbox agent: the sandbox was not returned by Acquire")
	}
	if s.URL == "" || s.AgentToken == "" {
		return nil, fmt.Errorf("sandbox agent: sandbox %s has no agent URL or token (is it a service-mode image?)", s.ID)
	}
	var body io.Reader
	if in != nil {
		payload, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("sandbox agent: encode request: %w", err)
		}
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(s.URL, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("sandbox agent: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", s.c.userAgent)
	req.Header.Set("Authorization", "Bearer "+s.AgentToken)
	res, err := s.c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sandbox agent %s: %w", path, context.Cause(ctx))
		}
		return nil, fmt.Errorf("%w: sandbox agent %s: %v", ErrUnavailable, path, unwrapURLError(err))
	}
	if res.StatusCode >= 200 && res.StatusCode <= 299 {
		return res, nil
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	return nil, &AgentError{Status: res.StatusCode, Message: agentMessage(data), FromAgent: isAgentBody(data), Sandbox: s.ID}
}

// isAgentBody reports whether an error answer has the agent's own shape
// ({"detail": …}), as opposed to the platform's edge answering for an app
// that is no longer there.
func isAgentBody(b []byte) bool {
	var v struct {
		Detail json.RawMessage `json:"detail"`
	}
	return json.Unmarshal(b, &v) == nil && len(v.Detail) > 0
}

// agentMessage reads an agent's error body (the contract's {"detail": "…"}
// or {"detail": [{"msg": …}]}, {"error": …}, or plain text) as one short line.
func agentMessage(b []byte) string {
	return snippet([]byte(rawAgentMessage(b)))
}

func rawAgentMessage(b []byte) string {
	var v struct {
		Error  json.RawMessage `json:"error"`
		Detail json.RawMessage `json:"detail"`
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
		var d string
		if json.Unmarshal(v.Detail, &d) == nil && d != "" {
			return d
		}
		var list []struct {
			Loc []any  `json:"loc"`
			Msg string `json:"msg"`
		}
		if json.Unmarshal(v.Detail, &list) == nil && len(list) > 0 {
			return fmt.Sprintf("%v: %s", list[0].Loc, list[0].Msg)
		}
	}
	return string(b)
}
