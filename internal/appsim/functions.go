package appsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The Functions API subset `hotpool trigger ensure` uses, as godo sends it
// and DigitalOcean's OpenAPI specification (resources/functions) answers it:
//
//	GET  /v2/functions/namespaces                        {"namespaces": [namespace_info]}
//	GET  /v2/functions/namespaces/{ns}/triggers/{name}   {"trigger": trigger_info}, 404
//	POST /v2/functions/namespaces/{ns}/triggers          {"trigger": trigger_info}, 400, 404
//	PUT  /v2/functions/namespaces/{ns}/triggers/{name}   {"trigger": trigger_info}, 404
//
// Namespaces exist only when a test adds them (AddNamespace).

// Namespace is one simulated functions namespace (namespace_info.yml).
type Namespace struct {
	APIHost   string `json:"api_host"`
	Namespace string `json:"namespace"`
	Label     string `json:"label"`
	Region    string `json:"region"`
	UUID      string `json:"uuid"`
	Key       string `json:"key,omitempty"`
}

// Trigger is one trigger as the API answers it (trigger_info.yml).
type Trigger struct {
	Namespace        string           `json:"namespace"`
	Name             string           `json:"name"`
	Function         string           `json:"function"`
	Type             string           `json:"type"`
	IsEnabled        bool             `json:"is_enabled"`
	CreatedAt        time.Time        `json:"created_at"`
	UpdatedAt        time.Time        `json:"updated_at"`
	ScheduledDetails scheduledDetails `json:"scheduled_details"`
	ScheduledRuns    map[string]any   `json:"scheduled_runs,omitempty"`
}

type scheduledDetails struct {
	Cron string         `json:"cron"`
	Body map[string]any `json:"body,omitempty"`
}

// AddNamespace makes a namespace exist (as `doctl serverless namespaces
// create` would) and returns its id.
func (s *Server) AddNamespace(label, region string) string {
	id := "fn-" + s.newID()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.namespaces = append(s.namespaces, Namespace{
		APIHost: "https://faas-" + region + "-sim.doserverless.co", Namespace: id, Label: label, Region: region, UUID: strings.TrimPrefix(id, "fn-"),
	})
	return id
}

// Triggers returns the triggers of a namespace, by name.
func (s *Server) Triggers(namespace string) []Trigger {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Trigger
	for _, t := range s.triggers {
		if t.Namespace == namespace {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Trigger) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Server) serveFunctions(w http.ResponseWriter, r *http.Request, path string) {
	rest := strings.TrimPrefix(strings.TrimPrefix(path, "/v2/functions/namespaces"), "/")
	parts := strings.Split(rest, "/")
	endpoint := r.Method + " /v2/functions/namespaces"
	if rest != "" {
		endpoint += "/{ns}"
		if len(parts) > 1 {
			endpoint += "/" + parts[1]
		}
		if len(parts) > 2 {
			endpoint += "/{name}"
		}
	}
	now := s.record(endpoint, r)
	reqID := s.newID()
	w.Header().Set("X-Request-Id", reqID)
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, reqID, "Unable to authenticate you.")
		return
	}
	switch {
	case rest == "" && r.Method == http.MethodGet:
		s.mu.Lock()
		ns := slices.Clone(s.namespaces)
		s.mu.Unlock()
		if ns == nil {
			ns = []Namespace{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"namespaces": ns})
	case len(parts) >= 2 && parts[1] == "triggers":
		if !s.hasNamespace(parts[0]) {
			writeError(w, http.StatusNotFound, reqID, "namespace not found")
			return
		}
		name := ""
		if len(parts) == 3 {
			name = parts[2]
		}
		s.serveTrigger(w, r, reqID, parts[0], name, now)
	default:
		writeError(w, http.StatusNotFound, reqID, "The resource you requested could not be found.")
	}
}

func (s *Server) hasNamespace(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.namespaces, func(n Namespace) bool { return n.Namespace == id })
}

func (s *Server) serveTrigger(w http.ResponseWriter, r *http.Request, reqID, ns, name string, now time.Time) {
	key := ns + "/" + name
	switch {
	case name != "" && r.Method == http.MethodGet:
		s.mu.Lock()
		t, ok := s.triggers[key]
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, reqID, "trigger not found")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"trigger": t})
	case name == "" && r.Method == http.MethodPost:
		var req struct {
			Name             string            `json:"name"`
			Function         string            `json:"function"`
			Type             string            `json:"type"`
			IsEnabled        *bool             `json:"is_enabled"`
			ScheduledDetails *scheduledDetails `json:"scheduled_details"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, reqID, "invalid request body")
			return
		}
		// create_trigger.yml: every one of these is required.
		if req.Name == "" || req.Function == "" || req.Type != "SCHEDULED" || req.IsEnabled == nil ||
			req.ScheduledDetails == nil || len(strings.Fields(req.ScheduledDetails.Cron)) != 5 {
			writeError(w, http.StatusBadRequest, reqID, "name, function, type SCHEDULED, is_enabled and scheduled_details.cron are required")
			return
		}
		s.mu.Lock()
		if _, dup := s.triggers[ns+"/"+req.Name]; dup {
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, reqID, "trigger already exists")
			return
		}
		t := Trigger{Namespace: ns, Name: req.Name, Function: req.Function, Type: req.Type, IsEnabled: *req.IsEnabled,
			CreatedAt: now.UTC(), UpdatedAt: now.UTC(), ScheduledDetails: *req.ScheduledDetails}
		s.triggers[ns+"/"+req.Name] = t
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"trigger": t})
	case name != "" && r.Method == http.MethodPut:
		var req struct {
			IsEnabled        *bool             `json:"is_enabled"`
			ScheduledDetails *scheduledDetails `json:"scheduled_details"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, reqID, "invalid request body")
			return
		}
		s.mu.Lock()
		t, ok := s.triggers[key]
		if ok {
			if req.IsEnabled != nil {
				t.IsEnabled = *req.IsEnabled
			}
			if req.ScheduledDetails != nil {
				t.ScheduledDetails = *req.ScheduledDetails
			}
			t.UpdatedAt = now.UTC()
			s.triggers[key] = t
		}
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, reqID, "trigger not found")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"trigger": t})
	default:
		writeError(w, http.StatusNotFound, reqID, "The resource you requested could not be found.")
	}
}
