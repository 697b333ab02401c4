package appsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/digitalocean/godo"

	"github.com/hotpool/hotpool/internal/sandboxagent"
)

// app is one simulated app; spec holds secrets in the clear (the fake agent
// needs its token) and is redacted whenever it is rendered.
type app struct {
	id           string
	deploymentID string
	spec         *godo.AppSpec
	createdAt    time.Time
	fails        bool
	delay        time.Duration       // its deployment's time (CreateDelay, jittered)
	agent        *sandboxagent.Agent // made on the first agent call (guarded by Server.mu)
}

// maxBody caps a create request, like any sane API.
const maxBody = 1 << 20

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, reqID string, now time.Time) {
	var req godo.AppCreateRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || json.Unmarshal(body, &req) != nil {
		writeError(w, http.StatusBadRequest, reqID, "error parsing request body")
		return
	}
	if err := validateSpec(req.Spec); err != nil {
		writeError(w, http.StatusUnprocessableEntity, reqID, err.Error())
		return
	}
	id, depID := s.newID(), s.newID()
	s.mu.Lock()
	if _, dup := s.names[req.Spec.Name]; dup {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, reqID, "an app with the name "+strconv.Quote(req.Spec.Name)+" already exists")
		return
	}
	a := &app{id: id, deploymentID: depID, spec: req.Spec, createdAt: now, fails: s.rng.Float64() < s.opts.FailRate,
		delay: s.opts.CreateDelay}
	if j := s.opts.CreateJitter; j > 0 {
		a.delay = time.Duration(float64(s.opts.CreateDelay) * (1 - j + 2*j*s.rng.Float64()))
	}
	s.apps[id] = a
	s.names[req.Spec.Name] = id
	s.order = append(s.order, id)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"app": s.render(a, baseOf(r), now)})
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, reqID, id string, now time.Time) {
	s.mu.Lock()
	a, ok := s.apps[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, reqID, "The resource you requested could not be found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"app": s.render(a, baseOf(r), now)})
}

func (s *Server) deleteApp(w http.ResponseWriter, reqID, id string) {
	s.mu.Lock()
	a, ok := s.apps[id]
	var agent *sandboxagent.Agent
	if ok {
		agent = a.agent
		delete(s.apps, id)
		delete(s.names, a.spec.Name)
		delete(s.healthFail, id)
		for i, x := range s.order {
			if x == id {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, reqID, "The resource you requested could not be found.")
		return
	}
	if agent != nil {
		// A deleted app's sandbox goes with it, its background processes
		// first: nothing is reused, nothing outlives it.
		_ = agent.Close()
		_ = os.RemoveAll(agent.Root)
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

// Pagination as DigitalOcean does it: per_page defaults to 20 and is capped
// at 200; links.pages carries first/prev/next/last as absolute URLs.
const (
	defaultPerPage = 20
	maxPerPage     = 200
)

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, reqID string, now time.Time) {
	q := r.URL.Query()
	page, perPage := 1, defaultPerPage
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, reqID, "page must be a positive integer")
			return
		}
		page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, reqID, "per_page must be a positive integer")
			return
		}
		perPage = min(n, maxPerPage)
	}
	base := baseOf(r)
	s.mu.Lock()
	total := len(s.order)
	start := total // a page past the end, however large (page × per_page may overflow)
	if page-1 <= total/perPage {
		start = min((page-1)*perPage, total)
	}
	end := min(start+perPage, total)
	apps := make([]*app, 0, end-start)
	for _, id := range s.order[start:end] {
		apps = append(apps, s.apps[id])
	}
	s.mu.Unlock()

	out := make([]*godo.App, 0, len(apps))
	for _, a := range apps {
		out = append(out, s.render(a, base, now))
	}
	lastPage := max(1, (total+perPage-1)/perPage)
	pages := godo.Pages{}
	link := func(p int) string {
		u := url.URL{Path: "/v2/apps", RawQuery: url.Values{"page": {strconv.Itoa(p)}, "per_page": {strconv.Itoa(perPage)}}.Encode()}
		return base + u.String()
	}
	if page > 1 {
		pages.First, pages.Prev = link(1), link(min(page-1, lastPage))
	}
	if page < lastPage {
		pages.Next, pages.Last = link(page+1), link(lastPage)
	}
	resp := map[string]any{
		"apps":  out,
		"links": godo.Links{Pages: &pages},
		"meta":  godo.Meta{Total: total},
	}
	writeJSON(w, http.StatusOK, resp)
}

// baseOf is the address the client reached us at; live URLs hang off it so
// they work under Start and httptest alike.
func baseOf(r *http.Request) string { return "http://" + r.Host }

// render is the app as GET /v2/apps/{id} shows it at now.
func (s *Server) render(a *app, base string, now time.Time) *godo.App {
	phase, phaseAt := s.phaseAt(a, now)
	dep := &godo.Deployment{
		ID:                 a.deploymentID,
		Phase:              phase,
		PhaseLastUpdatedAt: phaseAt,
		CreatedAt:          a.createdAt,
		UpdatedAt:          phaseAt,
		Cause:              "app created",
	}
	out := &godo.App{
		ID:                      a.id,
		Spec:                    redact(a.spec),
		CreatedAt:               a.createdAt,
		UpdatedAt:               phaseAt,
		LastDeploymentCreatedAt: a.createdAt,
		TierSlug:                "basic",
	}
	if a.spec.Region != "" {
		out.Region = &godo.AppRegion{Slug: a.spec.Region}
	}
	if phase == godo.DeploymentPhase_Active {
		live := base + "/live/" + a.id
		out.ActiveDeployment = dep
		out.LiveURL, out.LiveURLBase, out.DefaultIngress = live, live, live
		out.LastDeploymentActiveAt = phaseAt
	} else {
		// A first deployment that has not gone live (or failed) stays the
		// in-progress deployment: there is no active one to show.
		out.InProgressDeployment = dep
	}
	return out
}

// phaseAt derives the deployment phase from the clock: the four phases share
// CreateDelay; a failing deployment errors when its build would finish.
func (s *Server) phaseAt(a *app, now time.Time) (godo.DeploymentPhase, time.Time) {
	d := a.delay
	if d <= 0 {
		d = s.opts.CreateDelay
	}
	elapsed := max(0, now.Sub(a.createdAt)) // a clock set back never un-deploys
	if a.fails && elapsed >= d/2 {
		return godo.DeploymentPhase_Error, a.createdAt.Add(d / 2)
	}
	if elapsed >= d {
		return godo.DeploymentPhase_Active, a.createdAt.Add(d)
	}
	quarter := int(4 * elapsed / d)
	phases := []godo.DeploymentPhase{
		godo.DeploymentPhase_PendingBuild, godo.DeploymentPhase_Building,
		godo.DeploymentPhase_PendingDeploy, godo.DeploymentPhase_Deploying,
	}
	return phases[quarter], a.createdAt.Add(time.Duration(quarter) * d / 4)
}

// redact copies a spec with every SECRET value replaced by an encrypted-looking
// EV[...] token, as the real API answers: secrets never come back.
func redact(spec *godo.AppSpec) *godo.AppSpec {
	cp := *spec
	cp.Services = make([]*godo.AppServiceSpec, len(spec.Services))
	for i, svc := range spec.Services {
		sc := *svc
		sc.Envs = make([]*godo.AppVariableDefinition, len(svc.Envs))
		for j, e := range svc.Envs {
			ec := *e
			if ec.Type == godo.AppVariableType_Secret {
				sum := sha256.Sum256([]byte("appsim\x00" + e.Value))
				ec.Value = "EV[1:" + base64.RawStdEncoding.EncodeToString(sum[:18]) + "]"
			}
			sc.Envs[j] = &ec
		}
		cp.Services[i] = &sc
	}
	return &cp
}

// AppCount is how many apps exist now, by the platform's own books: a soak
// holds it against max_total_sandboxes without spending API calls.
func (s *Server) AppCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.apps)
}
