package appsim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/stretchr/testify/require"
)

const token = "sim-token"

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// serve runs a simulator under httptest.
func serve(t testing.TB, opts appsim.Options) (*appsim.Server, string) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	sim := appsim.New(opts)
	ts := httptest.NewServer(sim)
	t.Cleanup(func() {
		ts.Close()
		// The sandboxes' temporary root goes with the simulator.
		_ = sim.Close()
	})
	return sim, ts.URL
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.body, v), string(a.body))
}

// do sends one request with the bearer token (tok "" sends none).
func do(t testing.TB, method, url, tok string, body any) answer {
	t.Helper()
	a, err := send(method, url, tok, body)
	require.NoError(t, err)
	return a
}

// send is do without the test: safe in any goroutine.
func send(method, url, tok string, body any) (answer, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return answer{}, err
		}
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return answer{}, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// appSpec is a valid spec like the provider sends.
func appSpec(name string) *godo.AppSpec {
	return &godo.AppSpec{
		Name:   name,
		Region: "nyc",
		Services: []*godo.AppServiceSpec{{
			Name: "sandbox",
			Image: &godo.ImageSourceSpec{
				RegistryType: godo.ImageSourceSpecRegistryType_Ghcr,
				Registry:     "bikramkgupta",
				Repository:   "sandbox-python-service",
				Tag:          "latest",
			},
			InstanceSizeSlug: "apps-s-1vcpu-1gb",
			InstanceCount:    1,
			HTTPPort:         8080,
			HealthCheck:      &godo.AppServiceSpecHealthCheck{HTTPPath: "/health"},
			Envs: []*godo.AppVariableDefinition{
				{Key: "HOTPOOL_SANDBOX_ID", Value: "abcdefghijklm", Type: godo.AppVariableType_General},
				{Key: "SANDBOX_API_TOKEN", Value: "agent-secret", Type: godo.AppVariableType_Secret},
			},
		}},
	}
}

func create(t testing.TB, base, name string) *godo.App {
	t.Helper()
	a := do(t, http.MethodPost, base+"/v2/apps", token, godo.AppCreateRequest{Spec: appSpec(name)})
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	var root struct{ App *godo.App }
	a.decode(t, &root)
	require.NotNil(t, root.App)
	return root.App
}

func get(t testing.TB, base, id string) *godo.App {
	t.Helper()
	a := do(t, http.MethodGet, base+"/v2/apps/"+id, token, nil)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	var root struct{ App *godo.App }
	a.decode(t, &root)
	return root.App
}
