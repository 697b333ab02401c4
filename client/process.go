package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a command the sandbox's agent runs in the background.
type Process struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
	// Status is "running" or "stopped".
	Status string `json:"status"`
	// LogFile is the file in the sandbox that takes its stdout and stderr.
	LogFile   string    `json:"log_file"`
	StartedAt time.Time `json:"-"`
}

// ProcessOptions tune a background process.
type ProcessOptions struct {
	Env map[string]string // added to the process's environment
	Cwd string            // working directory; "" is the agent's default, /workspace
}

type processWire struct {
	Process
	StartedAt float64 `json:"started_at"`
}

func (p processWire) process() Process {
	out := p.Process
	out.StartedAt = fromUnixSeconds(p.StartedAt)
	return out
}

// StartProcess starts cmd in the background (a server, a watcher) and
// returns at once. Its output goes to its log file: read it with
// ProcessLogs or FollowLogs. It lives until it exits, KillProcess ends it, or
// the sandbox is released. Never retried: a retry could start it twice.
func (s *Sandbox) StartProcess(ctx context.Context, cmd string, opts ProcessOptions) (*Process, error) {
	if strings.TrimSpace(cmd) == "" {
		return nil, fmt.Errorf("%w: start process: empty command", ErrInvalidRequest)
	}
	req := struct {
		Command string            `json:"command"`
		Cwd     string            `json:"cwd,omitempty"`
		Env     map[string]string `json:"env,omitempty"`
	}{cmd, opts.Cwd, opts.Env}
	var out struct {
		PID     int    `json:"pid"`
		LogFile string `json:"log_file"`
	}
	if err := s.agent(ctx, http.MethodPost, "/api/exec/background", 0, req, &out); err != nil {
		return nil, err
	}
	return &Process{PID: out.PID, Command: cmd, Status: "running", LogFile: out.LogFile, StartedAt: s.c.now()}, nil
}

// Processes lists the background processes the agent started, running or
// stopped.
func (s *Sandbox) Processes(ctx context.Context) ([]Process, error) {
	var wire []processWire
	if err := s.agent(ctx, http.MethodGet, "/api/processes", 0, nil, &wire); err != nil {
		return nil, err
	}
	out := make([]Process, len(wire))
	for i, p := range wire {
		out[i] = p.process()
	}
	return out, nil
}

// Process reads one background process; a pid the agent did not start is
// ErrProcessNotFound.
func (s *Sandbox) Process(ctx context.Context, pid int) (*Process, error) {
	var wire processWire
	if err := s.agent(ctx, http.MethodGet, "/api/processes/"+strconv.Itoa(pid), 0, nil, &wire); err != nil {
		return nil, err
	}
	p := wire.process()
	return &p, nil
}

// ProcessLogs reads a background process's log: all of it, or with tail > 0
// its last tail lines.
func (s *Sandbox) ProcessLogs(ctx context.Context, pid, tail int) (string, error) {
	if tail < 0 {
		return "", fmt.Errorf("%w: process logs: tail must be >= 0", ErrInvalidRequest)
	}
	path := "/api/processes/" + strconv.Itoa(pid) + "/logs"
	if tail > 0 {
		path += "?tail=" + strconv.Itoa(tail)
	}
	var out struct {
		Logs string `json:"logs"`
	}
	if err := s.agent(ctx, http.MethodGet, path, 0, nil, &out); err != nil {
		return "", err
	}
	return out.Logs, nil
}

// LogLine is one line of a followed log.
type LogLine struct {
	Line string
	Time time.Time
}

// LogStream follows a background process's log, like tail -f.
type LogStream struct{ st *stream }

// FollowLogs follows a background process's log like tail -f: its last 10
// lines, then each line as it is written, until ctx ends or Close. The
// process's exit does not end it (the agent keeps following the file).
func (s *Sandbox) FollowLogs(ctx context.Context, pid int) (*LogStream, error) {
	st, err := s.openStream(ctx, http.MethodGet, "/api/processes/"+strconv.Itoa(pid)+"/logs/stream", nil, 0)
	if err != nil {
		return nil, err
	}
	return &LogStream{st: st}, nil
}

// Next returns the next line. It is io.EOF when the agent ended the follow,
// ctx's error when ctx ended, ErrStreamIncomplete when the connection broke.
func (ls *LogStream) Next() (LogLine, error) {
	_, data, err := ls.st.event()
	if err != nil {
		return LogLine{}, err
	}
	var d struct {
		Line      string  `json:"line"`
		Timestamp float64 `json:"timestamp"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return LogLine{}, fmt.Errorf("%w: log stream: undecodable event (%v)", ErrStreamIncomplete, err)
	}
	return LogLine{Line: d.Line, Time: fromUnixSeconds(d.Timestamp)}, nil
}

// Close ends the follow.
func (ls *LogStream) Close() error { return ls.st.close() }

// KillProcess sends sig (0 means SIGTERM, the agent's default) to a
// background process. One that has already exited is ErrProcessNotRunning;
// an unknown pid ErrProcessNotFound.
func (s *Sandbox) KillProcess(ctx context.Context, pid int, sig syscall.Signal) error {
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	req := struct {
		Signal int `json:"signal"`
	}{int(sig)}
	return s.agent(ctx, http.MethodPost, "/api/processes/"+strconv.Itoa(pid)+"/kill", 0, req, nil)
}

// FileInfo is one entry of a directory in the sandbox.
type FileInfo struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	IsDir bool   `json:"is_dir"`
	// Size is the file's size in bytes; 0 for a directory.
	Size int64 `json:"size"`
	// Permissions are the mode's permission bits in octal, such as "644".
	Permissions string `json:"permissions"`
}

// ListFiles lists a directory in the sandbox (under /workspace,
// /home/sandbox or /tmp; "" is /workspace). A path outside them is
// ErrPathNotAllowed, a missing one ErrFileNotFound, a file ErrNotADirectory.
func (s *Sandbox) ListFiles(ctx context.Context, path string) ([]FileInfo, error) {
	route := "/api/files"
	if path != "" {
		route += "?path=" + url.QueryEscape(path)
	}
	var out struct {
		Files []struct {
			FileInfo
			Size *int64 `json:"size"`
		} `json:"files"`
	}
	if err := s.agent(ctx, http.MethodGet, route, 0, nil, &out); err != nil {
		return nil, err
	}
	files := make([]FileInfo, len(out.Files))
	for i, f := range out.Files {
		files[i] = f.FileInfo
		if f.Size != nil {
			files[i].Size = *f.Size
		}
	}
	return files, nil
}

// PortURL is the URL that reaches port inside the sandbox through its
// agent's proxy (path may be "" or start with "/"). Requests to it need the
// agent token: send them with PortClient.
func (s *Sandbox) PortURL(port int, path string) string {
	return strings.TrimRight(s.URL, "/") + "/proxy/" + strconv.Itoa(port) + "/" + strings.TrimPrefix(path, "/")
}

// PortClient is an HTTP client whose requests to the sandbox's URL carry its
// agent token, for PortURL. The agent buffers each answer whole and answers
// 502 when nothing listens on the port, 504 when it does not answer within
// 60 s. Requests to other hosts go out without the token.
func (s *Sandbox) PortClient() *http.Client {
	base := http.DefaultTransport
	if s.c != nil && s.c.hc != nil && s.c.hc.Transport != nil {
		base = s.c.hc.Transport
	}
	host := ""
	if u, err := url.Parse(s.URL); err == nil {
		host = u.Host
	}
	return &http.Client{Transport: &agentAuth{base: base, host: host, token: s.AgentToken}}
}

// agentAuth adds the agent's bearer token to requests for its host.
type agentAuth struct {
	base  http.RoundTripper
	host  string
	token string
}

func (t *agentAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != t.host || t.host == "" {
		return t.base.RoundTrip(r)
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(r2)
}
