package appsim

import (
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
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// exec is the fake agent: bearer auth against the app's SECRET env values
// (hotpool sets exactly one, the agent token), then an echo of the command.
func (s *Server) exec(w http.ResponseWriter, r *http.Request, a *app) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	authorized := false
	for _, e := range a.spec.Services[0].Envs {
		if e.Type == godo.AppVariableType_Secret && ok && token != "" && pool.TokensEqual(token, e.Value) {
			authorized = true
		}
	}
	if !authorized {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	var req struct {
		Command string `json:"command"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || json.Unmarshal(body, &req) != nil || req.Command == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"command": "..."}`})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stdout": req.Command + "\n", "stderr": "", "exit_code": 0})
}
