// Package sandboxagent is the do-app-sandbox SDK's service-mode agent
// contract (its FastAPI app, images/sandbox_api/main.py), written down as a
// working agent: the simulated App Platform gives every app one, so local
// sandboxes really run commands, stream their output, keep background
// processes and serve ports, and the client's contract tests run against it.
// docs/agent.md states the contract.
//
// The contract's roots (/workspace, /home/sandbox, /tmp) map to folders under
// Root. How far a command is confined is the Agent's Isolation: under
// bubblewrap it sees those folders at the contract's paths and the rest of
// the host read-only; without it, it runs in the host's shell.
package sandboxagent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// The contract's constants.
const (
	TokenEnv       = "SANDBOX_API_TOKEN" // the variable the agent reads its token from
	DefaultCwd     = "/workspace"
	DefaultTimeout = 120 // seconds
	maxBody        = 16 << 20
)

// Roots are the only paths the file routes accept (anything else is 403).
var Roots = []string{"/workspace", "/home/sandbox", "/tmp"}

// accessDenied is the agent's 403 for a path outside Roots, word for word
// (Python's repr of its list of roots).
const accessDenied = "Access denied: path must be within ['/workspace', '/home/sandbox', '/tmp']"

// Agent serves one sandbox. Close it when the sandbox goes: that kills the
// background processes it started.
type Agent struct {
	Token     string    // "" answers 503 to every authenticated route, as an agent without SANDBOX_API_TOKEN does
	Root      string    // host directory standing for the sandbox's file system
	Isolation Isolation // how commands are confined (zero: the host's shell)

	once   sync.Once
	mux    *http.ServeMux
	ctx    context.Context // ends when the agent is closed: follows of a log stop
	cancel context.CancelFunc

	mu     sync.Mutex
	procs  map[int]*process
	closed bool
}

func (a *Agent) init() {
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.procs = map[int]*process{}
	m := http.NewServeMux()
	m.HandleFunc("POST /api/exec", a.authed(a.exec))
	m.HandleFunc("POST /api/exec/stream", a.authed(a.execStream))
	m.HandleFunc("POST /api/exec/background", a.authed(a.startBackground))
	m.HandleFunc("GET /api/processes", a.authed(a.listProcesses))
	m.HandleFunc("GET /api/processes/{pid}", a.authed(a.withProcess(a.getProcess)))
	m.HandleFunc("GET /api/processes/{pid}/logs", a.authed(a.withProcess(a.processLogs)))
	m.HandleFunc("GET /api/processes/{pid}/logs/stream", a.authed(a.withProcess(a.followLogs)))
	m.HandleFunc("POST /api/processes/{pid}/kill", a.authed(a.withProcess(a.killProcess)))
	m.HandleFunc("GET /api/files", a.authed(a.listFiles))
	m.HandleFunc("POST /api/files/content", a.authed(a.write))
	m.HandleFunc("GET /api/files/content", a.authed(func(w http.ResponseWriter, r *http.Request) { a.read(w, r, false) }))
	m.HandleFunc("GET /api/files/download", a.authed(func(w http.ResponseWriter, r *http.Request) { a.read(w, r, true) }))
	m.HandleFunc("/proxy/{port}/{path...}", a.authed(a.proxy))
	a.mux = m
}

func detail(w http.ResponseWriter, status int, d any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"detail": d})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP routes the contract. /health needs no token; an unknown route is
// 404 and a known one with another method 405, before any token is checked,
// as FastAPI does.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.once.Do(a.init)
	if r.Method == http.MethodGet && r.URL.Path == "/health" {
		writeJSON(w, map[string]any{"status": "healthy", "mode": "service", "timestamp": unixSeconds(now())})
		return
	}
	if _, pattern := a.mux.Handler(r); pattern == "" {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := a.mux.Handler(probe); p != "" {
				detail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
				return
			}
		}
		detail(w, http.StatusNotFound, "Not Found")
		return
	}
	a.mux.ServeHTTP(w, r)
}

// authed checks the bearer token first: an agent without a token is 503, a
// missing or non-Bearer header 401, a wrong token 403 (compared in constant
// time).
func (a *Agent) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.Token == "" {
			detail(w, http.StatusServiceUnavailable, "Server not configured: "+TokenEnv+" is not set")
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			detail(w, http.StatusUnauthorized, "Missing or invalid authorization header")
			return
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(a.Token)) != 1 {
			detail(w, http.StatusForbidden, "Invalid token")
			return
		}
		h(w, r)
	}
}

// unprocessable is FastAPI's 422: detail is a list of problems.
func unprocessable(w http.ResponseWriter, where, loc, msg, typ string) {
	detail(w, http.StatusUnprocessableEntity, []map[string]any{{"loc": []string{where, loc}, "msg": msg, "type": typ}})
}

// decodeBody reads a JSON object body into v; a body that is not one is
// FastAPI's 422.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		unprocessable(w, "body", "body", "Input should be a valid JSON object: "+err.Error(), "json_invalid")
		return false
	}
	return true
}

// host maps a sandbox path to the host; the contract's roots live under Root.
func (a *Agent) host(p string) string {
	p = path.Clean("/" + p)
	return filepath.Join(a.Root, filepath.FromSlash(p))
}

// allowed: the path is under one of Roots.
func allowed(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	c := path.Clean(p)
	for _, r := range Roots {
		if c == r || strings.HasPrefix(c, r+"/") {
			return true
		}
	}
	return false
}

// resolve is os.path.realpath as the sandbox sees it: p cleaned, with every
// symbolic link inside the sandbox's file system followed, an absolute
// target read as a sandbox path. So a link in /workspace to /etc/passwd
// resolves to /etc/passwd, which the file routes refuse, as the real agent's
// realpath check does. A relative p is not a sandbox path: "" is returned.
func (a *Agent) resolve(p string) string {
	if !strings.HasPrefix(p, "/") {
		return ""
	}
	parts := strings.Split(p, "/")
	cur, hops := "/", 0
	for i := 0; i < len(parts); i++ {
		switch part := parts[i]; part {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		default:
			next := path.Join(cur, part)
			fi, err := os.Lstat(a.host(next))
			if err != nil || fi.Mode()&os.ModeSymlink == 0 {
				cur = next
				continue
			}
			target, err := os.Readlink(a.host(next))
			if hops++; err != nil || hops > 40 {
				return next
			}
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			parts = append(strings.Split(path.Clean(target), "/"), parts[i+1:]...)
			cur, i = "/", -1
		}
	}
	return cur
}

// MakeRoots creates the contract's directories under Root.
func (a *Agent) MakeRoots() error {
	for _, r := range Roots {
		if err := os.MkdirAll(a.host(r), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Close ends the sandbox's processes: every background process it started is
// killed with its whole process group, and log follows end. The agent answers
// nothing useful afterwards; its app is gone.
func (a *Agent) Close() error {
	a.once.Do(a.init)
	a.mu.Lock()
	a.closed = true
	procs := make([]*process, 0, len(a.procs))
	for _, p := range a.procs {
		procs = append(procs, p)
	}
	a.mu.Unlock()
	a.cancel()
	for _, p := range procs {
		_ = killGroup(p.pid, syscall.SIGKILL)
		<-p.done
	}
	return nil
}

// pidOf parses the {pid} of a route: not an integer is FastAPI's 422.
func pidOf(w http.ResponseWriter, r *http.Request) (int, bool) {
	var pid int
	if _, err := fmt.Sscanf(r.PathValue("pid"), "%d", &pid); err != nil || fmt.Sprint(pid) != r.PathValue("pid") {
		unprocessable(w, "path", "pid", "Input should be a valid integer, unable to parse string as an integer", "int_parsing")
		return 0, false
	}
	return pid, true
}
