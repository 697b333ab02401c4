// Package sandboxagent is the do-app-sandbox SDK's service-mode agent
// contract (its FastAPI app, images/sandbox_api/main.py), written down as a
// working agent: the simulated App Platform gives every app one, so local
// sandboxes really run commands, and the client's contract test runs
// against it. docs/agent.md states the contract.
//
// It runs commands with the host's shell, in a per-sandbox directory: a
// local sandbox is NOT isolated from the host. The contract's roots
// (/workspace, /home/sandbox, /tmp) map to folders under Root.
package sandboxagent

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
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

// Agent serves one sandbox.
type Agent struct {
	Token string // "" answers 503 to every authenticated route, as an agent without SANDBOX_API_TOKEN does
	Root  string // host directory standing for the sandbox's file system
}

func detail(w http.ResponseWriter, status int, d any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"detail": d})
}

// ServeHTTP routes the contract.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	switch route {
	case "GET /health":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "healthy", "mode": "service"})
		return
	case "POST /api/exec", "POST /api/files/content", "GET /api/files/content", "GET /api/files/download":
	default:
		detail(w, http.StatusNotFound, "Not Found")
		return
	}
	if !a.auth(w, r) {
		return
	}
	switch route {
	case "POST /api/exec":
		a.exec(w, r)
	case "POST /api/files/content":
		a.write(w, r)
	case "GET /api/files/content":
		a.read(w, r, false)
	case "GET /api/files/download":
		a.read(w, r, true)
	}
}

// auth: a missing header is 401, a wrong token 403, an unset token 503.
func (a *Agent) auth(w http.ResponseWriter, r *http.Request) bool {
	if a.Token == "" {
		detail(w, http.StatusServiceUnavailable, TokenEnv+" is not set")
		return false
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		detail(w, http.StatusUnauthorized, "Not authenticated")
		return false
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(a.Token)) != 1 {
		detail(w, http.StatusForbidden, "Invalid token")
		return false
	}
	return true
}

// unprocessable is FastAPI's 422: detail is a list of problems.
func unprocessable(w http.ResponseWriter, loc, msg string) {
	detail(w, http.StatusUnprocessableEntity, []map[string]any{{"loc": []string{"body", loc}, "msg": msg, "type": "value_error"}})
}

type execRequest struct {
	Command *string           `json:"command"`
	Env     map[string]string `json:"env"`
	Cwd     *string           `json:"cwd"`
	Timeout *float64          `json:"timeout"`
}

func (a *Agent) exec(w http.ResponseWriter, r *http.Request) {
	var req execRequest
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err := json.Unmarshal(b, &req); err != nil {
		unprocessable(w, "body", "Input should be a valid JSON object")
		return
	}
	if req.Command == nil {
		unprocessable(w, "command", "Field required")
		return
	}
	cwd, timeout := DefaultCwd, float64(DefaultTimeout)
	if req.Cwd != nil {
		cwd = *req.Cwd
	}
	if req.Timeout != nil {
		timeout = *req.Timeout
	}
	dir := a.host(cwd)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		// The real agent's subprocess call raises: an unhandled plain-text 500.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "Internal Server Error")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(timeout*float64(time.Second)))
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", *req.Command)
	cmd.Dir = dir
	cmd.Env = a.environ()
	for k, v := range req.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		detail(w, http.StatusRequestTimeout, "Command timed out")
		return
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = 127
		stderr.WriteString(err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"stdout": stdout.String(), "stderr": stderr.String(), "exit_code": code})
}

// environ is a command's environment: the host's PATH (and locale) so the
// host's tools run, the sandbox's HOME and TMPDIR, and SANDBOX_MODE; nothing
// else of the host's, so the server's own secrets (HOTPOOL_API_TOKEN,
// DIGITALOCEAN_TOKEN, HOTPOOL_SECRET, …) never reach a sandboxed command.
func (a *Agent) environ() []string {
	env := []string{"HOME=" + a.host("/home/sandbox"), "TMPDIR=" + a.host("/tmp"), "SANDBOX_MODE=service"}
	for _, k := range []string{"PATH", "LANG", "LC_ALL"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
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

// MakeRoots creates the contract's directories under Root.
func (a *Agent) MakeRoots() error {
	for _, r := range Roots {
		if err := os.MkdirAll(a.host(r), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func (a *Agent) write(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Path     *string `json:"path"`
		Content  *string `json:"content"`
		Encoding string  `json:"encoding"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err := json.Unmarshal(b, &req); err != nil {
		unprocessable(w, "body", "Input should be a valid JSON object")
		return
	}
	if req.Path == nil || req.Content == nil {
		unprocessable(w, "path", "Field required")
		return
	}
	if !allowed(*req.Path) {
		detail(w, http.StatusForbidden, "Access denied: path must be under /workspace, /home/sandbox or /tmp")
		return
	}
	data := []byte(*req.Content)
	if req.Encoding == "base64" {
		dec, err := base64.StdEncoding.DecodeString(*req.Content)
		if err != nil {
			detail(w, http.StatusBadRequest, "Invalid base64 content")
			return
		}
		data = dec
	}
	dst := a.host(*req.Path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		detail(w, http.StatusInternalServerError, err.Error())
		return
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		detail(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "path": *req.Path, "size": len(data)})
}

func (a *Agent) read(w http.ResponseWriter, r *http.Request, raw bool) {
	p := r.URL.Query().Get("path")
	if p == "" {
		detail(w, http.StatusUnprocessableEntity, []map[string]any{{"loc": []string{"query", "path"}, "msg": "Field required", "type": "missing"}})
		return
	}
	if !allowed(p) {
		detail(w, http.StatusForbidden, "Access denied: path must be under /workspace, /home/sandbox or /tmp")
		return
	}
	data, err := os.ReadFile(a.host(p))
	if err != nil {
		detail(w, http.StatusNotFound, "File not found")
		return
	}
	if raw {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(data)
		return
	}
	out := map[string]any{"path": p}
	if utf8.Valid(data) {
		// Text is read with newline translation, as Python's open() does.
		out["content"] = strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
	} else {
		out["content"], out["encoding"] = base64.StdEncoding.EncodeToString(data), "base64"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
