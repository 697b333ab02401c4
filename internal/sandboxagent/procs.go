package sandboxagent

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a command started in the background: its output (stdout and
// stderr together) goes to logFile, a file in the sandbox's /tmp.
type process struct {
	pid       int // the host's pid of what was started: bwrap's when confined
	command   string
	logFile   string // a sandbox path
	startedAt time.Time
	done      chan struct{} // closed once the process has exited and been reaped
}

func (p *process) status() string {
	select {
	case <-p.done:
		return "stopped"
	default:
		return "running"
	}
}

func (p *process) view() map[string]any {
	return map[string]any{"pid": p.pid, "command": p.command, "status": p.status(), "log_file": p.logFile, "started_at": unixSeconds(p.startedAt)}
}

// startBackground starts a command with bash, its output to a log file of
// its own, and answers its pid at once. The process lives until it exits, is
// killed, or the sandbox goes (Close).
func (a *Agent) startBackground(w http.ResponseWriter, r *http.Request) {
	var req execRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Command == nil {
		unprocessable(w, "body", "command", "Field required", "missing")
		return
	}
	cwd := DefaultCwd
	if req.Cwd != nil {
		cwd = *req.Cwd
	}
	if !a.cwdExists(cwd) {
		internalError(w)
		return
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	logFile := "/tmp/proc_" + hex.EncodeToString(id[:]) + ".log"
	f, err := os.Create(a.host(logFile))
	if err != nil {
		detail(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer f.Close()
	shell := "/bin/bash"
	if _, err := os.Stat(shell); err != nil {
		shell = "/bin/sh"
	}
	cmd := a.command(context.Background(), shell, "-c", *req.Command, cwd, req.Env)
	cmd.Stdout, cmd.Stderr = f, f
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		detail(w, http.StatusServiceUnavailable, "sandbox is shutting down")
		return
	}
	if err := cmd.Start(); err != nil {
		internalError(w)
		return
	}
	p := &process{pid: cmd.Process.Pid, command: *req.Command, logFile: logFile, startedAt: now(), done: make(chan struct{})}
	a.procs[p.pid] = p
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	writeJSON(w, map[string]any{"pid": p.pid, "log_file": logFile})
}

// listProcesses answers every process the agent started, oldest first.
func (a *Agent) listProcesses(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	list := make([]*process, 0, len(a.procs))
	for _, p := range a.procs {
		list = append(list, p)
	}
	a.mu.Unlock()
	out := make([]map[string]any, 0, len(list))
	slices.SortFunc(list, func(x, y *process) int { return x.startedAt.Compare(y.startedAt) })
	for _, p := range list {
		out = append(out, p.view())
	}
	writeJSON(w, out)
}

// withProcess finds the route's {pid} among the agent's processes: one it
// did not start is 404 "Process N not tracked".
func (a *Agent) withProcess(h func(http.ResponseWriter, *http.Request, *process)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pid, ok := pidOf(w, r)
		if !ok {
			return
		}
		a.mu.Lock()
		p := a.procs[pid]
		a.mu.Unlock()
		if p == nil {
			msg := fmt.Sprintf("Process %d not tracked", pid)
			if strings.HasSuffix(r.URL.Path, "/kill") {
				msg += ". Only processes started via /api/exec/background can be killed."
			}
			detail(w, http.StatusNotFound, msg)
			return
		}
		h(w, r, p)
	}
}

func (a *Agent) getProcess(w http.ResponseWriter, _ *http.Request, p *process) {
	writeJSON(w, p.view())
}

// processLogs answers the log, or with ?tail=N its last N lines (tail -n).
func (a *Agent) processLogs(w http.ResponseWriter, r *http.Request, p *process) {
	tail := 0
	if v := r.URL.Query().Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			unprocessable(w, "query", "tail", "Input should be a valid integer, unable to parse string as an integer", "int_parsing")
			return
		}
		tail = max(n, -n)
	}
	data, err := os.ReadFile(a.host(p.logFile))
	if err != nil {
		writeJSON(w, map[string]string{"logs": ""})
		return
	}
	logs := string(data)
	if tail > 0 {
		logs = lastLines(logs, tail)
	}
	writeJSON(w, map[string]string{"logs": strings.ToValidUTF8(logs, "\uFFFD")})
}

// lastLines is tail -n n of s: its last n lines, a final line without a
// newline counting as one.
func lastLines(s string, n int) string {
	end := len(s)
	if strings.HasSuffix(s, "\n") {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if s[i] == '\n' {
			if n--; n == 0 {
				return s[i+1:]
			}
		}
	}
	return s
}

// followPoll is how often a follow looks for new lines in the log.
const followPoll = 100 * time.Millisecond

// followLogs streams the log like tail -f: its last 10 lines, then each new
// line as it is written, as data-only events, until the caller disconnects or
// the sandbox goes.
func (a *Agent) followLogs(w http.ResponseWriter, r *http.Request, p *process) {
	f, err := os.Open(a.host(p.logFile))
	if err != nil {
		startSSE(w) // tail -f of a missing file prints nothing and exits
		return
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	startSSE(w)
	var pending string
	if i := strings.LastIndexByte(string(data), '\n'); i >= 0 {
		for _, l := range strings.SplitAfter(lastLines(string(data[:i+1]), 10), "\n") {
			if l != "" {
				sse(w, "", map[string]any{"line": strings.TrimRight(l, "\n"), "timestamp": unixSeconds(now())})
			}
		}
		pending = string(data[i+1:])
	} else {
		pending = string(data)
	}
	br := bufio.NewReader(f)
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		for {
			chunk, err := br.ReadString('\n')
			pending += chunk
			if err != nil {
				break
			}
			sse(w, "", map[string]any{"line": strings.TrimRight(pending, "\n"), "timestamp": unixSeconds(now())})
			pending = ""
		}
		select {
		case <-r.Context().Done():
			return
		case <-a.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// killProcess sends a signal (15 unless the body names one) to the process.
// One that has already exited, or a signal that does not exist, is 400.
func (a *Agent) killProcess(w http.ResponseWriter, r *http.Request, p *process) {
	req := struct {
		Signal *int `json:"signal"`
	}{}
	if body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody)); len(strings.TrimSpace(string(body))) > 0 {
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if !decodeBody(w, r, &req) {
			return
		}
	}
	sig := 15
	if req.Signal != nil {
		sig = *req.Signal
	}
	var err error
	switch {
	case sig < 0 || sig > 64:
		err = syscall.EINVAL
	case p.status() == "stopped":
		err = syscall.ESRCH
	case sig == 0:
		err = syscall.Kill(p.pid, 0)
	default:
		err = a.signalCommand(p.pid, syscall.Signal(sig))
	}
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			detail(w, http.StatusBadRequest, fmt.Sprintf("Failed to kill process: [Errno %d] %s", int(errno), pythonStrerror(errno)))
			return
		}
		detail(w, http.StatusBadRequest, "Failed to kill process: "+err.Error())
		return
	}
	writeJSON(w, map[string]bool{"success": true})
}

// pythonStrerror is the errno's message as Python's OSError prints it
// (capitalised, as glibc's strerror is).
func pythonStrerror(e syscall.Errno) string {
	s := e.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
