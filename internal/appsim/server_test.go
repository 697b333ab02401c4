package appsim_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

type errorBody struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// requireError checks DigitalOcean's error body and the RateLimit-* headers.
func requireError(t *testing.T, a answer, status int, id string) errorBody {
	t.Helper()
	require.Equal(t, status, a.status, string(a.body))
	require.Equal(t, "application/json; charset=utf-8", a.header.Get("Content-Type"))
	var raw map[string]any
	a.decode(t, &raw)
	for k := range raw {
		require.Contains(t, []string{"id", "message", "request_id"}, k, "only the spec's error fields")
	}
	var e errorBody
	a.decode(t, &e)
	require.Equal(t, id, e.ID)
	require.NotEmpty(t, e.Message)
	require.NotEmpty(t, e.RequestID)
	require.Equal(t, e.RequestID, a.header.Get("X-Request-Id"))
	return e
}

func requireRateHeaders(t *testing.T, a answer) {
	t.Helper()
	for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		_, err := strconv.Atoi(a.header.Get(h))
		require.NoError(t, err, "%s: %q", h, a.header.Get(h))
	}
}

func TestBearerTokenIsChecked(t *testing.T) {
	sim, base := serve(t, appsim.Options{})
	for _, tok := range []string{"", "wrong"} {
		a := do(t, http.MethodGet, base+"/v2/apps", tok, nil)
		e := requireError(t, a, http.StatusUnauthorized, "unauthorized")
		require.Equal(t, "Unable to authenticate you.", e.Message)
		requireRateHeaders(t, a)
	}
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, base+"/v2/apps", token, nil).status)
	require.Equal(t, 3, sim.Calls()["GET /v2/apps"])
}

func TestSpecValidationAnswers422(t *testing.T) {
	_, base := serve(t, appsim.Options{})
	cases := map[string]func(s *godo.AppSpec){
		"name too short":      func(s *godo.AppSpec) { s.Name = "a" },
		"name too long":       func(s *godo.AppSpec) { s.Name = strings.Repeat("a", 33) },
		"name uppercase":      func(s *godo.AppSpec) { s.Name = "Hp-python" },
		"name starts digit":   func(s *godo.AppSpec) { s.Name = "1hp" },
		"name ends dash":      func(s *godo.AppSpec) { s.Name = "hp-" },
		"unknown region":      func(s *godo.AppSpec) { s.Region = "mars" },
		"unknown size":        func(s *godo.AppSpec) { s.Services[0].InstanceSizeSlug = "apps-s-64vcpu" },
		"no services":         func(s *godo.AppSpec) { s.Services = nil },
		"no image":            func(s *godo.AppSpec) { s.Services[0].Image = nil },
		"bad registry type":   func(s *godo.AppSpec) { s.Services[0].Image.RegistryType = "QUAY" },
		"docr with registry":  func(s *godo.AppSpec) { s.Services[0].Image.RegistryType = "DOCR" },
		"tag and digest":      func(s *godo.AppSpec) { s.Services[0].Image.Digest = "sha256:" + strings.Repeat("a", 64) },
		"no repository":       func(s *godo.AppSpec) { s.Services[0].Image.Repository = "" },
		"bad port":            func(s *godo.AppSpec) { s.Services[0].HTTPPort = 70000 },
		"bad env key":         func(s *godo.AppSpec) { s.Services[0].Envs[0].Key = "1X" },
		"bad env type":        func(s *godo.AppSpec) { s.Services[0].Envs[0].Type = "PLAIN" },
		"bad component name":  func(s *godo.AppSpec) { s.Services[0].Name = "S" },
		"negative instances":  func(s *godo.AppSpec) { s.Services[0].InstanceCount = -1 },
		"duplicate component": func(s *godo.AppSpec) { s.Services = append(s.Services, s.Services[0]) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			s := appSpec("hp-python-abcdefghijklm")
			mutate(s)
			a := do(t, http.MethodPost, base+"/v2/apps", token, godo.AppCreateRequest{Spec: s})
			requireError(t, a, http.StatusUnprocessableEntity, "unprocessable_entity")
			requireRateHeaders(t, a)
		})
	}
	// Every valid region and size is accepted.
	for i, r := range appsim.Regions {
		s := appSpec(fmt.Sprintf("hp-region-%d", i))
		s.Region = r
		s.Services[0].InstanceSizeSlug = appsim.InstanceSizes[i]
		require.Equal(t, http.StatusOK, do(t, http.MethodPost, base+"/v2/apps", token, godo.AppCreateRequest{Spec: s}).status)
	}
}

func TestBadBodyDuplicateAndMissing(t *testing.T) {
	_, base := serve(t, appsim.Options{})
	requireError(t, do(t, http.MethodPost, base+"/v2/apps", token, []byte("{not json")), http.StatusBadRequest, "bad_request")
	requireError(t, do(t, http.MethodPost, base+"/v2/apps", token, []byte(`{}`)), http.StatusUnprocessableEntity, "unprocessable_entity")
	app := create(t, base, "hp-python-abcdefghijklm")
	requireError(t, do(t, http.MethodPost, base+"/v2/apps", token, godo.AppCreateRequest{Spec: appSpec("hp-python-abcdefghijklm")}), http.StatusConflict, "conflict")
	a := do(t, http.MethodDelete, base+"/v2/apps/"+app.ID, token, nil)
	require.Equal(t, http.StatusOK, a.status)
	var del struct{ ID string }
	a.decode(t, &del)
	require.Equal(t, app.ID, del.ID)
	requireError(t, do(t, http.MethodGet, base+"/v2/apps/"+app.ID, token, nil), http.StatusNotFound, "not_found")
	requireError(t, do(t, http.MethodDelete, base+"/v2/apps/"+app.ID, token, nil), http.StatusNotFound, "not_found")
	// The name is free again once the app is gone.
	create(t, base, "hp-python-abcdefghijklm")
}

func TestDeploymentPhasesFollowTheClock(t *testing.T) {
	clock := pool.NewManualClock(epoch)
	_, base := serve(t, appsim.Options{Clock: clock, CreateDelay: 40 * time.Second})
	app := create(t, base, "hp-python-abcdefghijklm")
	require.Equal(t, epoch, app.CreatedAt)
	for _, want := range []godo.DeploymentPhase{"PENDING_BUILD", "BUILDING", "PENDING_DEPLOY", "DEPLOYING"} {
		got := get(t, base, app.ID)
		require.Nil(t, got.ActiveDeployment)
		require.NotNil(t, got.InProgressDeployment)
		require.Equal(t, want, got.InProgressDeployment.Phase)
		require.Empty(t, got.LiveURL)
		clock.Advance(10 * time.Second)
	}
	got := get(t, base, app.ID)
	require.Nil(t, got.InProgressDeployment)
	require.Equal(t, godo.DeploymentPhase_Active, got.ActiveDeployment.Phase)
	require.Equal(t, base+"/live/"+app.ID, got.LiveURL)
	require.Equal(t, epoch.Add(40*time.Second), got.LastDeploymentActiveAt)
	// Secrets never come back.
	raw := do(t, http.MethodGet, base+"/v2/apps/"+app.ID, token, nil)
	require.NotContains(t, string(raw.body), "agent-secret")
	require.Contains(t, string(raw.body), `"value":"EV[1:`)
	require.Contains(t, string(raw.body), "abcdefghijklm", "GENERAL env is shown")
}

func TestFailingDeploymentErrorsHalfWay(t *testing.T) {
	clock := pool.NewManualClock(epoch)
	_, base := serve(t, appsim.Options{Clock: clock, CreateDelay: 40 * time.Second, FailRate: 1})
	app := create(t, base, "hp-python-abcdefghijklm")
	clock.Advance(19 * time.Second)
	require.Equal(t, godo.DeploymentPhase_Building, get(t, base, app.ID).InProgressDeployment.Phase)
	clock.Advance(time.Second)
	got := get(t, base, app.ID)
	require.Equal(t, godo.DeploymentPhase_Error, got.InProgressDeployment.Phase)
	require.Nil(t, got.ActiveDeployment)
	clock.Advance(time.Hour)
	require.Equal(t, godo.DeploymentPhase_Error, get(t, base, app.ID).InProgressDeployment.Phase)
}

func TestListPagesLikeDigitalOcean(t *testing.T) {
	_, base := serve(t, appsim.Options{})
	for i := 0; i < 45; i++ {
		create(t, base, fmt.Sprintf("hp-app-%02d", i))
	}
	type listRoot struct {
		Apps  []*godo.App
		Links godo.Links
		Meta  godo.Meta
	}
	page := func(q string) listRoot {
		a := do(t, http.MethodGet, base+"/v2/apps?"+q, token, nil)
		require.Equal(t, http.StatusOK, a.status, string(a.body))
		requireRateHeaders(t, a)
		var r listRoot
		a.decode(t, &r)
		return r
	}
	p1 := page("per_page=20")
	require.Len(t, p1.Apps, 20)
	require.Equal(t, 45, p1.Meta.Total)
	require.Equal(t, "hp-app-00", p1.Apps[0].Spec.Name)
	require.Equal(t, base+"/v2/apps?page=2&per_page=20", p1.Links.Pages.Next)
	require.Equal(t, base+"/v2/apps?page=3&per_page=20", p1.Links.Pages.Last)
	require.Empty(t, p1.Links.Pages.Prev)
	require.False(t, p1.Links.IsLastPage())

	p3 := page("page=3&per_page=20")
	require.Len(t, p3.Apps, 5)
	require.Equal(t, "hp-app-40", p3.Apps[0].Spec.Name)
	require.Equal(t, base+"/v2/apps?page=2&per_page=20", p3.Links.Pages.Prev)
	require.Equal(t, base+"/v2/apps?page=1&per_page=20", p3.Links.Pages.First)
	require.True(t, p3.Links.IsLastPage())
	cur, err := p3.Links.CurrentPage()
	require.NoError(t, err)
	require.Equal(t, 3, cur)

	require.Len(t, page("").Apps, 20, "default per_page is 20")
	require.Len(t, page("per_page=500").Apps, 45, "per_page is capped at 200, which holds all 45")
	require.Empty(t, page("page=9&per_page=20").Apps)
	requireError(t, do(t, http.MethodGet, base+"/v2/apps?page=0", token, nil), http.StatusBadRequest, "bad_request")
	requireError(t, do(t, http.MethodGet, base+"/v2/apps?per_page=x", token, nil), http.StatusBadRequest, "bad_request")
}

func TestOwnRateLimitAnswers429WithRetryAfter(t *testing.T) {
	clock := pool.NewManualClock(epoch)
	_, base := serve(t, appsim.Options{Clock: clock, RateLimitPerMinute: 3, RateLimitPerHour: 5})
	for i := 0; i < 3; i++ {
		a := do(t, http.MethodGet, base+"/v2/apps", token, nil)
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "5", a.header.Get("RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(5-i-1), a.header.Get("RateLimit-Remaining"))
		require.Equal(t, strconv.FormatInt(epoch.Add(time.Hour).Unix(), 10), a.header.Get("RateLimit-Reset"))
		clock.Advance(10 * time.Second)
	}
	a := do(t, http.MethodGet, base+"/v2/apps", token, nil)
	e := requireError(t, a, http.StatusTooManyRequests, "too_many_requests")
	require.Equal(t, "API rate limit exceeded.", e.Message)
	require.Equal(t, "30", a.header.Get("Retry-After"), "the first call leaves the minute at +60s; now is +30s")
	require.Equal(t, "0", a.header.Get("RateLimit-Remaining"))
	clock.Advance(30 * time.Second)
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, base+"/v2/apps", token, nil).status)
	clock.Advance(2 * time.Minute)
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, base+"/v2/apps", token, nil).status)
	a = do(t, http.MethodGet, base+"/v2/apps", token, nil)
	requireError(t, a, http.StatusTooManyRequests, "too_many_requests")
	require.Equal(t, strconv.Itoa(3600-180), a.header.Get("Retry-After"), "the hour is full until the first call is an hour old")
}

func TestFaultsAreDeterministicUnderASeed(t *testing.T) {
	statuses := func(seed uint64) []int {
		sim, base := serve(t, appsim.Options{Seed: seed})
		sim.SetFaults(appsim.Faults{Rate429: 0.2, Rate500: 0.1, Rate503: 0.1})
		out := make([]int, 200)
		for i := range out {
			out[i] = do(t, http.MethodGet, base+"/v2/apps", token, nil).status
		}
		return out
	}
	a, b, c := statuses(7), statuses(7), statuses(8)
	require.Equal(t, a, b)
	require.NotEqual(t, a, c)
	count := map[int]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range []int{200, 429, 500, 503} {
		require.Positive(t, count[s], "status %d drawn", s)
	}
	require.Equal(t, 200, count[200]+count[429]+count[500]+count[503])
	t.Logf("200 requests at 20%%/10%%/10%% faults: %v", count)
}

func TestQueuedFaultsDropsAndDelays(t *testing.T) {
	sim, base := serve(t, appsim.Options{})
	sim.SetFaults(appsim.Faults{RetryAfter: 7 * time.Second})
	sim.QueueFaults(503, 429, 500)
	requireError(t, do(t, http.MethodGet, base+"/v2/apps", token, nil), http.StatusServiceUnavailable, "service_unavailable")
	a := do(t, http.MethodGet, base+"/v2/apps", token, nil)
	requireError(t, a, http.StatusTooManyRequests, "too_many_requests")
	require.Equal(t, "7", a.header.Get("Retry-After"))
	requireError(t, do(t, http.MethodGet, base+"/v2/apps", token, nil), http.StatusInternalServerError, "server_error")
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, base+"/v2/apps", token, nil).status)
	sim.QueueFaults(http.StatusBadGateway)
	requireError(t, do(t, http.MethodGet, base+"/v2/apps", token, nil), http.StatusBadGateway, "example_error")

	sim.QueueFaults(appsim.DropConnection)
	req, err := http.NewRequest(http.MethodPost, base+"/v2/apps", strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err, "a dropped connection gives no answer")

	sim.SetFaults(appsim.Faults{Delay: 20 * time.Millisecond})
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, base+"/v2/apps", token, nil).status)
	require.Equal(t, 6, sim.Calls()["GET /v2/apps"])
	require.Equal(t, 1, sim.Calls()["POST /v2/apps"])
}

func TestLiveURLServesHealthAndTheAgent(t *testing.T) {
	clock := pool.NewManualClock(epoch)
	sim, base := serve(t, appsim.Options{Clock: clock, CreateDelay: time.Minute})
	app := create(t, base, "hp-python-abcdefghijklm")
	live := base + "/live/" + app.ID
	require.Equal(t, http.StatusServiceUnavailable, do(t, http.MethodGet, live+"/health", "", nil).status, "not deployed yet")
	clock.Advance(time.Minute)
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, live+"/health", "", nil).status)
	sim.SetHealthFailing(app.ID, true)
	require.Equal(t, http.StatusServiceUnavailable, do(t, http.MethodGet, live+"/health", "", nil).status)
	sim.SetHealthFailing(app.ID, false)
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, live+"/health", "", nil).status)

	cmd := map[string]string{"command": "echo $((2+2))"}
	require.Equal(t, http.StatusForbidden, do(t, http.MethodPost, live+"/api/exec", "wrong", cmd).status)
	require.Equal(t, http.StatusUnauthorized, do(t, http.MethodPost, live+"/api/exec", "", cmd).status)
	require.Equal(t, http.StatusUnprocessableEntity, do(t, http.MethodPost, live+"/api/exec", "agent-secret", []byte("{}")).status)
	a := do(t, http.MethodPost, live+"/api/exec", "agent-secret", cmd)
	require.Equal(t, http.StatusOK, a.status)
	var out struct {
		Stdout   string `json:"stdout"`
		Stderr   string `json:"stderr"`
		ExitCode int    `json:"exit_code"`
	}
	a.decode(t, &out)
	require.Equal(t, "4\n", out.Stdout, "the agent really runs the command")
	require.Zero(t, out.ExitCode)

	require.Equal(t, http.StatusNotFound, do(t, http.MethodGet, live+"/elsewhere", "", nil).status)
	require.Equal(t, http.StatusOK, do(t, http.MethodDelete, base+"/v2/apps/"+app.ID, token, nil).status)
	require.Equal(t, http.StatusNotFound, do(t, http.MethodGet, live+"/health", "", nil).status)
	calls := sim.Calls()
	require.Equal(t, 5, calls["GET /live/{id}/health"])
	require.Equal(t, 4, calls["POST /live/{id}/api/exec"])
	require.Equal(t, 1, calls["GET /live/{id}/other"])
	require.Empty(t, sim.SandboxDir(app.ID), "a deleted app's sandbox directory is gone")
	require.Equal(t, 2, sim.APICalls(), "live URLs are not API calls")
}

// Files written through the agent are on disk in the app's own directory,
// and go with the app.
func TestAgentFilesLiveInTheAppsDirectory(t *testing.T) {
	clock := pool.NewManualClock(epoch)
	sim, base := serve(t, appsim.Options{Clock: clock})
	app := create(t, base, "hp-python-abcdefghijkln")
	clock.Advance(time.Minute)
	live := base + "/live/" + app.ID
	write := map[string]string{"path": "/tmp/code.py", "content": base64.StdEncoding.EncodeToString([]byte("print(42)\n")), "encoding": "base64"}
	require.Equal(t, http.StatusForbidden, do(t, http.MethodPost, live+"/api/files/content", "wrong", write).status)
	require.Equal(t, http.StatusOK, do(t, http.MethodPost, live+"/api/files/content", "agent-secret", write).status)
	require.Equal(t, http.StatusForbidden, do(t, http.MethodPost, live+"/api/files/content", "agent-secret",
		map[string]string{"path": "/etc/x", "content": "x"}).status)
	dir := sim.SandboxDir(app.ID)
	b, err := os.ReadFile(filepath.Join(dir, "tmp", "code.py"))
	require.NoError(t, err)
	require.Equal(t, "print(42)\n", string(b))
	require.Equal(t, http.StatusNotFound, do(t, http.MethodGet, live+"/api/files/content?path=/tmp/nope", "agent-secret", nil).status)
	require.Equal(t, http.StatusOK, do(t, http.MethodDelete, base+"/v2/apps/"+app.ID, token, nil).status)
	_, err = os.Stat(dir)
	require.True(t, os.IsNotExist(err), "the sandbox's files go with its app")
}

func TestStartServesAndCloses(t *testing.T) {
	start := time.Now()
	sim := appsim.New(appsim.Options{Token: token})
	base, err := sim.Start()
	require.NoError(t, err)
	t.Logf("simulator started in %s", time.Since(start))
	a := do(t, http.MethodGet, base+"/v2/apps", token, nil)
	require.Equal(t, http.StatusOK, a.status)
	var root map[string]json.RawMessage
	a.decode(t, &root)
	require.Contains(t, root, "apps")
	require.Contains(t, root, "meta")
	require.NoError(t, sim.Close())
	require.NoError(t, sim.Close(), "closing twice is fine")
	_, err = http.Get(base + "/v2/apps")
	require.Error(t, err)
}

func TestCustomHealthPathAndHealthBothAnswer(t *testing.T) {
	sim, base := serve(t, appsim.Options{})
	s := appSpec("hp-node-abcdefghijklm")
	s.Services[0].HealthCheck.HTTPPath = "/ready"
	a := do(t, http.MethodPost, base+"/v2/apps", token, godo.AppCreateRequest{Spec: s})
	require.Equal(t, http.StatusOK, a.status)
	var root struct{ App *godo.App }
	a.decode(t, &root)
	live := root.App.LiveURL
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, live+"/ready", "", nil).status)
	require.Equal(t, http.StatusOK, do(t, http.MethodGet, live+"/health", "", nil).status)
	sim.SetHealthFailing(root.App.ID, true)
	require.Equal(t, http.StatusServiceUnavailable, do(t, http.MethodGet, live+"/ready", "", nil).status)
	require.Equal(t, 3, sim.Calls()["GET /live/{id}/health"])
}
