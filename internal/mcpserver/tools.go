package mcpserver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hotpool/hotpool/client"
)

// The tools' arguments and results. The jsonschema tags are what a model
// reads about each field.

type acquireIn struct {
	Image        string `json:"image,omitempty" jsonschema:"the pool (image) to take a sandbox from, e.g. python or node; hotpool_pools lists them; default: the server's"`
	LeaseSeconds int    `json:"lease_seconds,omitempty" jsonschema:"how long to hold the sandbox before it is destroyed; this server renews it while it runs, up to its limit; default: the deployment's"`
}

type acquireOut struct {
	SandboxID string    `json:"sandbox_id"`
	Image     string    `json:"image"`
	ExpiresAt time.Time `json:"expires_at"`
	Source    string    `json:"source" jsonschema:"pool: a warm sandbox; cold: one created for this call"`
}

type execIn struct {
	SandboxID      string            `json:"sandbox_id" jsonschema:"the id sandbox_acquire returned"`
	Command        string            `json:"command" jsonschema:"a shell command (sh -c), e.g. pip install requests && python3 main.py"`
	Cwd            string            `json:"cwd,omitempty" jsonschema:"working directory; default /workspace"`
	Env            map[string]string `json:"env,omitempty" jsonschema:"extra environment variables"`
	TimeoutSeconds int               `json:"timeout_seconds,omitempty" jsonschema:"kill the command after this many seconds without output; default 120"`
}

type execOut struct {
	ExitCode  int    `json:"exit_code"`
	Stdout    string `json:"stdout"`
	Stderr    string `json:"stderr"`
	Truncated bool   `json:"truncated" jsonschema:"true when stdout or stderr was longer than the cap and only its end is shown"`
}

type writeIn struct {
	SandboxID string `json:"sandbox_id"`
	Path      string `json:"path" jsonschema:"an absolute path under /workspace, /home/sandbox or /tmp; parents are created"`
	Content   string `json:"content"`
	Encoding  string `json:"encoding,omitempty" jsonschema:"utf8 (default) or base64 for binary content"`
}

type writeOut struct {
	Path  string `json:"path"`
	Bytes int    `json:"bytes"`
}

type readIn struct {
	SandboxID string `json:"sandbox_id"`
	Path      string `json:"path" jsonschema:"an absolute path under /workspace, /home/sandbox or /tmp"`
	MaxBytes  int    `json:"max_bytes,omitempty" jsonschema:"read at most this many bytes (default 262144)"`
}

type readOut struct {
	Path      string `json:"path"`
	Content   string `json:"content"`
	Encoding  string `json:"encoding" jsonschema:"utf8, or base64 when the file is not UTF-8 text"`
	Size      int    `json:"size"`
	Truncated bool   `json:"truncated"`
}

type listIn struct {
	SandboxID string `json:"sandbox_id"`
	Path      string `json:"path,omitempty" jsonschema:"a directory under /workspace, /home/sandbox or /tmp; default /workspace"`
}

type entry struct {
	Name  string `json:"name"`
	IsDir bool   `json:"is_dir"`
	Size  int64  `json:"size"`
}

type listOut struct {
	Path      string  `json:"path"`
	Entries   []entry `json:"entries"`
	Truncated bool    `json:"truncated"`
}

type renewIn struct {
	SandboxID    string `json:"sandbox_id"`
	LeaseSeconds int    `json:"lease_seconds" jsonschema:"the new lease, counted from now"`
}

type renewOut struct {
	SandboxID string    `json:"sandbox_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

type releaseIn struct {
	SandboxID string `json:"sandbox_id"`
}

type releaseOut struct {
	SandboxID string `json:"sandbox_id"`
	Released  bool   `json:"released"`
}

type runIn struct {
	Language       string `json:"language" jsonschema:"python, node or bash"`
	Code           string `json:"code" jsonschema:"the whole program"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty" jsonschema:"kill it after this many seconds without output; default 120"`
}

type poolsIn struct{}

type poolInfo struct {
	Image  string `json:"image"`
	Ready  int    `json:"ready" jsonschema:"warm sandboxes: an acquire now takes milliseconds"`
	Target int    `json:"target_ready"`
	State  string `json:"state" jsonschema:"active, or shutdown (acquires refused)"`
}

type poolsOut struct {
	Pools []poolInfo `json:"pools"`
}

// languages: how run_code runs each language.
var languages = map[string]struct{ file, cmd, image string }{
	"python": {"/workspace/main.py", "python3 main.py", "python"},
	"node":   {"/workspace/main.js", "node main.js", "node"},
	"bash":   {"/workspace/main.sh", "bash main.sh", ""},
}

func (s *Server) addTools() {
	mcp.AddTool(s.srv, &mcp.Tool{Name: "sandbox_acquire", Description: "Lease a fresh, single-use Linux sandbox from a warm pool (milliseconds; a cold start takes 30-90 s and reports progress). " +
		"Returns its sandbox_id for the other sandbox_ tools. Release it with sandbox_release when done."}, handle(s.acquire))
	mcp.AddTool(s.srv, &mcp.Tool{Name: "sandbox_exec", Description: "Run a shell command in a sandbox and return its exit code, stdout and stderr (each capped to its last 64 KiB). " +
		"A non-zero exit code is a result, not an error. The working directory defaults to /workspace."}, handle(s.exec))
	mcp.AddTool(s.srv, &mcp.Tool{Name: "sandbox_write_file", Description: "Write a file in a sandbox (under /workspace, /home/sandbox or /tmp), creating its directories."}, handle(s.write))
	mcp.AddTool(s.srv, &mcp.Tool{Name: "sandbox_read_file", Description: "Read a file from a sandbox: its text, or base64 when it is not UTF-8."}, handle(s.read))
	mcp.AddTool(s.srv, &mcp.Tool{Name: "sandbox_list_files", Description: "List a directory in a sandbox (default /workspace)."}, handle(s.list))
	mcp.AddTool(s.srv, &mcp.Tool{Name: "sandbox_renew", Description: "Extend a sandbox's lease to lease_seconds from now."}, handle(s.renew))
	mcp.AddTool(s.srv, &mcp.Tool{Name: "sandbox_release", Description: "Give a sandbox back: it is destroyed with everything in it, and its sandbox_id stops working."}, handle(s.release))
	mcp.AddTool(s.srv, &mcp.Tool{Name: "run_code", Description: "Run a program in a fresh sandbox and return its exit code, stdout and stderr: acquire, write, run and release in one call. " +
		"The sandbox is always released, so nothing persists between calls."}, handle(s.runCode))
	mcp.AddTool(s.srv, &mcp.Tool{Name: "hotpool_pools", Description: "List the sandbox images (pools) and how many warm sandboxes each has ready."}, handle(s.pools))
}

func (s *Server) acquire(ctx context.Context, req *mcp.CallToolRequest, in acquireIn) (*mcp.CallToolResult, acquireOut, error) {
	sb, err := s.lease(ctx, req, in.Image, in.LeaseSeconds)
	if err != nil {
		return nil, acquireOut{}, err
	}
	s.keep(sb)
	return nil, acquireOut{SandboxID: sb.ID, Image: sb.Image, ExpiresAt: sb.LeaseExpiresAt, Source: sb.Source}, nil
}

// lease acquires a sandbox. A cold start sends progress notifications (when
// the caller asked for them with a progress token) every few seconds until
// the sandbox is ready; the caller's cancel cancels the claim (the client
// does that when ctx ends).
func (s *Server) lease(ctx context.Context, req *mcp.CallToolRequest, image string, leaseSeconds int) (*client.Sandbox, error) {
	if image == "" {
		image = s.o.DefaultImage
	}
	if leaseSeconds < 0 {
		return nil, &toolError{code: "invalid_request", msg: "lease_seconds must be positive", next: "omit it for the deployment's default lease"}
	}
	lease := s.o.Lease
	if leaseSeconds > 0 {
		lease = time.Duration(leaseSeconds) * time.Second
	}
	cold := make(chan struct{})
	var once sync.Once
	onCold := func() { once.Do(func() { close(cold) }) }
	done := make(chan struct{})
	defer close(done)
	go s.progress(ctx, req, image, cold, done)
	sb, err := s.o.Client.Acquire(ctx, image, client.AcquireOptions{Lease: lease, OnColdStart: onCold})
	if err != nil {
		return nil, err
	}
	s.log.Info("mcp: acquired", "sandbox", sb)
	return sb, nil
}

// progressEvery is how often a cold start reports progress.
var progressEvery = 2 * time.Second

// progress reports a cold start's wait to the client until done.
func (s *Server) progress(ctx context.Context, req *mcp.CallToolRequest, image string, cold, done <-chan struct{}) {
	if req == nil || req.Params == nil || req.Session == nil {
		return
	}
	token := req.Params.GetProgressToken()
	if token == nil {
		return
	}
	select {
	case <-cold:
	case <-done:
		return
	}
	start := time.Now()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for n := 1.0; ; n++ {
		msg := fmt.Sprintf("pool %s is empty: a sandbox is being created (a deployment takes 30-90 s), %.0f s so far", image, time.Since(start).Seconds())
		if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: n, Message: msg}); err != nil {
			s.log.Debug("mcp: progress not sent", "err", err)
		}
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// capture keeps the last cap bytes written to it.
type capture struct {
	cap       int
	buf       []byte
	truncated bool
}

func (c *capture) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	if len(c.buf) > c.cap {
		cut := len(c.buf) - c.cap
		// Keep whole UTF-8 characters.
		for cut < len(c.buf) && !utf8.RuneStart(c.buf[cut]) {
			cut++
		}
		c.buf = append(c.buf[:0], c.buf[cut:]...)
		c.truncated = true
	}
	return len(p), nil
}

func (c *capture) String() string {
	if c.truncated {
		return "[… earlier output cut: only the last part is shown]\n" + string(c.buf)
	}
	return string(c.buf)
}

// run streams a command, keeping the tail of each output.
func (s *Server) run(ctx context.Context, sb *client.Sandbox, command, cwd string, env map[string]string, timeoutSeconds int) (execOut, error) {
	if timeoutSeconds < 0 {
		return execOut{}, &toolError{code: "invalid_request", msg: "timeout_seconds must be positive", next: "omit it for 120 s"}
	}
	st, err := sb.ExecStream(ctx, command, client.ExecOptions{Cwd: cwd, Env: env, Timeout: time.Duration(timeoutSeconds) * time.Second})
	if err != nil {
		return execOut{}, err
	}
	stdout, stderr := &capture{cap: s.o.OutputCap}, &capture{cap: s.o.OutputCap}
	code, err := st.Copy(stdout, stderr)
	out := execOut{ExitCode: code, Stdout: stdout.String(), Stderr: stderr.String(), Truncated: stdout.truncated || stderr.truncated}
	if err != nil {
		return out, withOutput(err, out)
	}
	return out, nil
}

func (s *Server) exec(ctx context.Context, _ *mcp.CallToolRequest, in execIn) (*mcp.CallToolResult, execOut, error) {
	sb, err := s.sandbox(in.SandboxID)
	if err != nil {
		return nil, execOut{}, err
	}
	out, err := s.run(ctx, sb, in.Command, in.Cwd, in.Env, in.TimeoutSeconds)
	return nil, out, err
}

func (s *Server) write(ctx context.Context, _ *mcp.CallToolRequest, in writeIn) (*mcp.CallToolResult, writeOut, error) {
	sb, err := s.sandbox(in.SandboxID)
	if err != nil {
		return nil, writeOut{}, err
	}
	data := []byte(in.Content)
	switch in.Encoding {
	case "", "utf8", "utf-8":
	case "base64":
		if data, err = base64.StdEncoding.DecodeString(in.Content); err != nil {
			return nil, writeOut{}, &toolError{code: "invalid_request", msg: "content is not valid base64: " + err.Error(), next: "send standard base64, or encoding utf8 for text"}
		}
	default:
		return nil, writeOut{}, &toolError{code: "invalid_request", msg: fmt.Sprintf("encoding %q", in.Encoding), next: "use utf8 or base64"}
	}
	if err := sb.WriteFile(ctx, in.Path, data); err != nil {
		return nil, writeOut{}, err
	}
	return nil, writeOut{Path: in.Path, Bytes: len(data)}, nil
}

func (s *Server) read(ctx context.Context, _ *mcp.CallToolRequest, in readIn) (*mcp.CallToolResult, readOut, error) {
	sb, err := s.sandbox(in.SandboxID)
	if err != nil {
		return nil, readOut{}, err
	}
	limit := in.MaxBytes
	if limit <= 0 {
		limit = DefaultReadCap
	}
	data, err := sb.ReadFile(ctx, in.Path)
	if err != nil {
		return nil, readOut{}, err
	}
	out := readOut{Path: in.Path, Size: len(data)}
	if len(data) > limit {
		data, out.Truncated = data[:limit], true
		for len(data) > 0 && !utf8.Valid(data) && len(data) > limit-utf8.UTFMax {
			data = data[:len(data)-1] // do not split a character at the cut
		}
	}
	if utf8.Valid(data) {
		out.Content, out.Encoding = string(data), "utf8"
	} else {
		out.Content, out.Encoding = base64.StdEncoding.EncodeToString(data), "base64"
	}
	return nil, out, nil
}

func (s *Server) list(ctx context.Context, _ *mcp.CallToolRequest, in listIn) (*mcp.CallToolResult, listOut, error) {
	sb, err := s.sandbox(in.SandboxID)
	if err != nil {
		return nil, listOut{}, err
	}
	files, err := sb.ListFiles(ctx, in.Path)
	if err != nil {
		return nil, listOut{}, err
	}
	out := listOut{Path: in.Path, Entries: []entry{}}
	if out.Path == "" {
		out.Path = "/workspace"
	}
	for i, f := range files {
		if i == DefaultMaxFiles {
			out.Truncated = true
			break
		}
		out.Entries = append(out.Entries, entry{Name: f.Name, IsDir: f.IsDir, Size: f.Size})
	}
	return nil, out, nil
}

func (s *Server) renew(ctx context.Context, _ *mcp.CallToolRequest, in renewIn) (*mcp.CallToolResult, renewOut, error) {
	sb, err := s.sandbox(in.SandboxID)
	if err != nil {
		return nil, renewOut{}, err
	}
	if in.LeaseSeconds <= 0 {
		return nil, renewOut{}, &toolError{code: "invalid_request", msg: "lease_seconds must be positive", next: "give the new lease in seconds, e.g. 900"}
	}
	if err := sb.Renew(ctx, time.Duration(in.LeaseSeconds)*time.Second); err != nil {
		return nil, renewOut{}, err
	}
	return nil, renewOut{SandboxID: sb.ID, ExpiresAt: sb.LeaseExpiresAt}, nil
}

func (s *Server) release(ctx context.Context, _ *mcp.CallToolRequest, in releaseIn) (*mcp.CallToolResult, releaseOut, error) {
	sb, err := s.sandbox(in.SandboxID)
	if err != nil {
		return nil, releaseOut{}, err
	}
	s.forget(sb.ID)
	if _, err := sb.Release(ctx); err != nil && !errors.Is(err, client.ErrLeaseExpired) {
		return nil, releaseOut{}, err
	}
	s.log.Info("mcp: released", "sandbox", sb)
	return nil, releaseOut{SandboxID: sb.ID, Released: true}, nil
}

func (s *Server) runCode(ctx context.Context, req *mcp.CallToolRequest, in runIn) (*mcp.CallToolResult, execOut, error) {
	lang, ok := languages[in.Language]
	if !ok {
		return nil, execOut{}, &toolError{code: "invalid_request", msg: fmt.Sprintf("language %q", in.Language), next: "use python, node or bash"}
	}
	if in.Code == "" {
		return nil, execOut{}, &toolError{code: "invalid_request", msg: "code is empty", next: "send the whole program in code"}
	}
	image := lang.image
	if image == "" {
		image = s.o.DefaultImage
	}
	sb, err := s.lease(ctx, req, image, 0)
	if err != nil {
		return nil, execOut{}, err
	}
	s.keep(sb)
	defer func() {
		// Always released, on error and on cancellation too.
		s.forget(sb.ID)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), client.ReleaseTimeout)
		defer cancel()
		if _, err := sb.Release(rctx); err != nil {
			s.log.Warn("mcp: run_code release failed", "sandbox", sb, "err", err)
		}
	}()
	if err := sb.WriteFile(ctx, lang.file, []byte(in.Code)); err != nil {
		return nil, execOut{}, err
	}
	out, err := s.run(ctx, sb, lang.cmd, "/workspace", nil, in.TimeoutSeconds)
	return nil, out, err
}

func (s *Server) pools(ctx context.Context, _ *mcp.CallToolRequest, _ poolsIn) (*mcp.CallToolResult, poolsOut, error) {
	m, err := s.o.Client.Metrics(ctx)
	if err != nil {
		return nil, poolsOut{}, err
	}
	out := poolsOut{Pools: []poolInfo{}}
	for name, p := range m.Pools {
		state := "active"
		if p.Shutdown || m.ManagerShutdown {
			state = "shutdown"
		}
		out.Pools = append(out.Pools, poolInfo{Image: name, Ready: p.Ready, Target: p.TargetReady, State: state})
	}
	slices.SortFunc(out.Pools, func(a, b poolInfo) int { return strings.Compare(a.Image, b.Image) })
	return nil, out, nil
}
