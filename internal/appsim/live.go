package appsim

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/digitalocean/godo"

	"github.com/hotpool/hotpool/internal/sandboxagent"
)

// serveLive answers an app's live URL: its health path (and /health, which
// every live app answers), and the routes of the service-mode agent
// (sandboxagent), which really runs commands in the app's own directory on
// this host, confined as Options.Isolation says.
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
	case strings.HasPrefix(sub, "/api/"):
		endpoint = r.Method + " /live/{id}" + sub
	case strings.HasPrefix(sub, "/proxy/"):
		endpoint = r.Method + " /live/{id}/proxy"
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
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy", "mode": "service"})
	default:
		if phase, _ := s.phaseAt(a, now); phase != godo.DeploymentPhase_Active {
			http.Error(w, "not deployed", http.StatusServiceUnavailable)
			return
		}
		ag, err := s.agentOf(id, a)
		if errors.Is(err, errAppGone) {
			http.Error(w, "no such app", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = sub
		ag.ServeHTTP(w, r2)
	}
}

// errAppGone: the app was deleted while its request was on the way.
var errAppGone = errors.New("appsim: app deleted")

// agentOf is the app's agent, made on first use: its token is the app's
// SANDBOX_API_TOKEN (none: every call answers 503, as the real agent does),
// its file system a directory of its own under the server's AgentRoot.
func (s *Server) agentOf(id string, a *app) (*sandboxagent.Agent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[id] != a {
		// Deleted since serveLive looked it up: make no directory to leak.
		return nil, errAppGone
	}
	if a.agent != nil {
		return a.agent, nil
	}
	if s.agentRoot == "" {
		root := s.opts.AgentRoot
		if root == "" {
			d, err := os.MkdirTemp("", "hotpool-sandboxes-")
			if err != nil {
				return nil, err
			}
			root, s.ownRoot = d, true
		}
		s.agentRoot = root
	}
	ag := &sandboxagent.Agent{Root: filepath.Join(s.agentRoot, id), Isolation: s.opts.Isolation}
	for _, e := range a.spec.Services[0].Envs {
		if e.Key == sandboxagent.TokenEnv {
			ag.Token = e.Value
		}
	}
	if err := ag.MakeRoots(); err != nil {
		return nil, err
	}
	a.agent = ag
	return ag, nil
}

// SandboxDir is the host directory of an app's sandbox file system ("" until
// its agent first answered).
func (s *Server) SandboxDir(appID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.apps[appID]; ok && a.agent != nil {
		return a.agent.Root
	}
	return ""
}
