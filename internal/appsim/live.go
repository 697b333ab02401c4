package appsim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/pool"
)

// serveLive answers an app's live URL: its health path (and /health, which
// every live app answers), and POST /api/exec of
// a fake service-mode agent that echoes the command (it never runs anything).
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request, rest string) {
	id, sub, _ := strings.Cut(rest, "/")
	sub = "/" + sub
	s.mu.Lock()
	a, ok := s.apps[id]
	failing := s.healthFail[id]
	s.mu.Unlock()
	health := "/health"
	if ok {
		if hc := a.spec.Services[0].HealthCheck; hc != nil && hc.HTTPPath != "" {
			health = hc.HTTPPath
		}
	}
	endpoint := r.Method + " /live/{id}/other"
	switch {
	case r.Method == http.MethodGet && (sub == health || sub == "/health"):
		endpoint = "GET /live/{id}/health"
	case r.Method == http.MethodPost && sub == "/api/exec":
		endpoint = "POST /live/{id}/api/exec"
	case r.Method == http.MethodPost && (sub == "/api/files/write" || sub == "/api/files/read"):
		endpoint = "POST /live/{id}" + sub
	}
	now := s.record(endpoint, r)
	if !ok {
		// The edge answers 404 for an app that does not exist (any more).
		http.Error(w, "no such app", http.StatusNotFound)
		return
	}
	switch endpoint {
	case "GET /live/{id}/health":
		if phase, _ := s.phaseAt(a, now); phase != godo.DeploymentPhase_Active {
			http.Error(w, "not deployed", http.StatusServiceUnavailable)
			return
		}
		if failing {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case "POST /live/{id}/api/exec":
		s.exec(w, r, a)
	case "POST /live/{id}/api/files/write":
		s.writeFile(w, r, a)
	case "POST /live/{id}/api/files/read":
		s.readFile(w, r, a)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// Limits of the fake agent's in-memory file system.
const (
	maxAgentFiles    = 64
	maxAgentFileSize = 512 << 10
)

// authorized checks the bearer token against the app's SECRET env values
// (hotpool sets exactly one, the agent token) and answers 401 otherwise.
func authorized(w http.ResponseWriter, r *http.Request, a *app) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	for _, e := range a.spec.Services[0].Envs {
		if e.Type == godo.AppVariableType_Secret && ok && token != "" && pool.TokensEqual(token, e.Value) {
			return true
		}
	}
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
	return false
}

// agentRequest decodes a fake agent request body into v; false (and 400
// answered) when it is not JSON or check refuses it.
func agentRequest(w http.ResponseWriter, r *http.Request, v any, check func() string) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	msg := "body must be JSON"
	if err == nil && json.Unmarshal(body, v) == nil {
		if msg = check(); msg == "" {
			return true
		}
	}
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
	return false
}

// exec is the fake agent's command runner: it echoes the command (it never
// runs anything), except that "cat PATH" prints a file written through
// /api/files/write, so a write → exec → read flow can be shown locally.
func (s *Server) exec(w http.ResponseWriter, r *http.Request, a *app) {
	if !authorized(w, r, a) {
		return
	}
	var req struct {
		Command string `json:"command"`
	}
	if !agentRequest(w, r, &req, func() string {
		if req.Command == "" {
			return `body must be {"command": "..."}`
		}
		return ""
	}) {
		return
	}
	if path, ok := strings.CutPrefix(req.Command, "cat "); ok {
		s.mu.Lock()
		data, found := a.files[strings.TrimSpace(path)]
		s.mu.Unlock()
		if found {
			writeJSON(w, http.StatusOK, map[string]any{"stdout": string(data), "stderr": "", "exit_code": 0})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"stdout": "", "stderr": "cat: " + path + ": No such file or directory\n", "exit_code": 1})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stdout": req.Command + "\n", "stderr": "", "exit_code": 0})
}

// writeFile stores {path, content (base64 or utf-8)} in the app's memory.
func (s *Server) writeFile(w http.ResponseWriter, r *http.Request, a *app) {
	if !authorized(w, r, a) {
		return
	}
	var req struct {
		Path     string `json:"path"`
		Content  string `json:"content"`
		Encoding string `json:"encoding"`
	}
	var data []byte
	if !agentRequest(w, r, &req, func() string {
		if !strings.HasPrefix(req.Path, "/") {
			return "path must be absolute"
		}
		switch req.Encoding {
		case "base64":
			d, err := base64.StdEncoding.DecodeString(req.Content)
			if err != nil {
				return "content is not base64"
			}
			data = d
		case "", "utf-8":
			data = []byte(req.Content)
		default:
			return "encoding must be base64 or utf-8"
		}
		if len(data) > maxAgentFileSize {
			return "file too large for the simulated agent"
		}
		return ""
	}) {
		return
	}
	s.mu.Lock()
	if a.files == nil {
		a.files = map[string][]byte{}
	}
	_, exists := a.files[req.Path]
	full := !exists && len(a.files) >= maxAgentFiles
	if !full {
		a.files[req.Path] = data
	}
	s.mu.Unlock()
	if full {
		writeJSON(w, http.StatusInsufficientStorage, map[string]string{"error": "too many files for the simulated agent"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": req.Path, "size": len(data)})
}

// readFile answers {content (base64), encoding} of a stored file, or 404.
func (s *Server) readFile(w http.ResponseWriter, r *http.Request, a *app) {
	if !authorized(w, r, a) {
		return
	}
	var req struct {
		Path string `json:"path"`
	}
	if !agentRequest(w, r, &req, func() string {
		if req.Path == "" {
			return "path is required"
		}
		return ""
	}) {
		return
	}
	s.mu.Lock()
	data, ok := a.files[req.Path]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such file: " + req.Path})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"content": base64.StdEncoding.EncodeToString(data), "encoding": "base64"})
}
