package appsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

var (
	schemaOnce sync.Once
	schemaMap  map[string]*openapi3.Schema
	schemaErr  error
)

// schemas loads DigitalOcean's schemas (testdata/do-openapi) once.
func schemas(t *testing.T) map[string]*openapi3.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = true
		doc, err := loader.LoadFromFile("testdata/do-openapi/schemas.yml")
		if err != nil {
			schemaErr = err
			return
		}
		schemaMap = map[string]*openapi3.Schema{}
		for name, ref := range doc.Components.Schemas {
			schemaMap[name] = ref.Value
		}
	})
	require.NoError(t, schemaErr)
	for name, v := range schemaMap {
		require.NotNil(t, v, name)
	}
	return schemaMap
}

func conforms(t *testing.T, schema *openapi3.Schema, body []byte, opts ...openapi3.SchemaValidationOption) {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v), string(body))
	require.NoError(t, schema.VisitJSON(v, append(opts, openapi3.MultiErrors())...), string(body))
}

// Every answer of the simulator validates against the schema DigitalOcean
// publishes for it: apps in each phase, a list page, a delete, and the
// error bodies.
func TestAnswersConformToDigitalOceansSchemas(t *testing.T) {
	s := schemas(t)
	clock := pool.NewManualClock(epoch)
	sim, base := serve(t, appsim.Options{Clock: clock, CreateDelay: time.Minute})
	ok := do(t, http.MethodPost, base+"/v2/apps", token, map[string]any{"spec": appSpec("hp-python-abcdefghijklm")})
	require.Equal(t, http.StatusOK, ok.status)
	conforms(t, s["AppResponse"], ok.body)
	var root struct{ App struct{ ID string } }
	ok.decode(t, &root)
	for i := 0; i < 5; i++ {
		a := do(t, http.MethodGet, base+"/v2/apps/"+root.App.ID, token, nil)
		require.Equal(t, http.StatusOK, a.status)
		conforms(t, s["AppResponse"], a.body)
		clock.Advance(15 * time.Second)
	}
	// The check can fail: a phase the spec does not know is caught.
	bad := do(t, http.MethodGet, base+"/v2/apps/"+root.App.ID, token, nil)
	var v any
	require.NoError(t, json.Unmarshal(bytes.Replace(bad.body, []byte(`"phase":"ACTIVE"`), []byte(`"phase":"DONE"`), 1), &v))
	require.Error(t, s["AppResponse"].VisitJSON(v))

	list := do(t, http.MethodGet, base+"/v2/apps?per_page=1", token, nil)
	conforms(t, s["AppsResponse"], list.body)
	create(t, base, "hp-python-bbbbbbbbbbbbb")
	list = do(t, http.MethodGet, base+"/v2/apps?per_page=1&page=2", token, nil)
	conforms(t, s["AppsResponse"], list.body)

	errs := []answer{
		do(t, http.MethodGet, base+"/v2/apps", "wrong", nil),
		do(t, http.MethodGet, base+"/v2/apps/nope", token, nil),
		do(t, http.MethodPost, base+"/v2/apps", token, map[string]any{"spec": map[string]any{"name": "X"}}),
		do(t, http.MethodPost, base+"/v2/apps", token, []byte("{")),
	}
	sim.QueueFaults(429, 500, 503)
	for i := 0; i < 3; i++ {
		errs = append(errs, do(t, http.MethodGet, base+"/v2/apps", token, nil))
	}
	for _, a := range errs {
		require.GreaterOrEqual(t, a.status, 400)
		conforms(t, s["Error"], a.body)
	}
	del := do(t, http.MethodDelete, base+"/v2/apps/"+root.App.ID, token, nil)
	require.Equal(t, http.StatusOK, del.status)
	conforms(t, s["DeleteResponse"], del.body)
}

// The provider's create request validates against apps_create_app_request.yml.
func TestProviderRequestConformsToTheCreateSchema(t *testing.T) {
	s := schemas(t)
	sim := appsim.New(appsim.Options{Token: token})
	var mu sync.Mutex
	var bodies [][]byte
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, err := io.ReadAll(r.Body)
			if err == nil {
				mu.Lock()
				bodies = append(bodies, b)
				mu.Unlock()
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	p, err := appplatform.New(appplatform.Options{Token: token, BaseURL: ts.URL, Deployment: "hp"})
	require.NoError(t, err)
	cfg := pool.DefaultConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, image := range []string{"python", "node"} {
		_, err := p.Create(ctx, pool.CreateSpec{
			SandboxID: pool.NewSandboxID(), Pool: image,
			Template: cfg.Template(image, pool.DefaultPool()),
			Env:      map[string]string{appplatform.EnvAgentToken: "secret"},
		})
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 2)
	for _, b := range bodies {
		conforms(t, s["CreateRequest"], b, openapi3.VisitAsRequest())
	}
}
