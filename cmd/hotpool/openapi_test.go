package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/pool"
)

const openapiPath = "../../docs/openapi.yaml"

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(openapiPath)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	return doc
}

// TestOpenAPISpecIsValid: docs/openapi.yaml is a valid OpenAPI 3 document
// and covers every route of the contract.
func TestOpenAPISpecIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, p := range []string{"/healthz", "/acquire", "/acquire/renew", "/acquire/cancel", "/release", "/metrics", "/reconcile",
		"/reconcile/shutdown", "/reconcile/start", "/reconcile/warm-up"} {
		require.NotNil(t, doc.Paths.Find(p), p)
	}
	// docs/api.md names the same codes: TestAPIDocMatchesTheOpenAPISpec.
}

// validatingTransport checks every request to the hotpool API and every answer
// against docs/openapi.yaml with openapi3filter; requests to other hosts (the
// sandbox agents) pass through unchecked.
type validatingTransport struct {
	router   routers.Router
	host     string
	mu       sync.Mutex
	checked  int
	problems []string
}

func (v *validatingTransport) fail(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != v.host {
		return http.DefaultTransport.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	reset := func() { req.Body = io.NopCloser(bytes.NewReader(body)) }
	reset()
	what := req.Method + " " + req.URL.RequestURI()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.fail("%s: no route in the spec: %v", what, err)
		return http.DefaultTransport.RoundTrip(req)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		v.fail("%s: request: %v", what, err)
	}
	reset()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(rb)), Options: opts}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		v.fail("%s: %d response: %v", what, resp.StatusCode, err)
	}
	v.mu.Lock()
	v.checked++
	v.mu.Unlock()
	return resp, nil
}

// TestRealHandlerMatchesOpenAPI drives the real local server through the Go
// client and checks every request and answer, errors included, against the spec.
func TestRealHandlerMatchesOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 1, "max_ready": 2, "on_empty": "fail"},
		"go": {"target_ready": 0, "max_ready": 1, "template": {"repository": "sandbox-go-service"}}}, "max_total_sandboxes": 5}`))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := localserver.Start(ctx, localserver.Options{Addr: "127.0.0.1:0", Config: cfg, Token: "spec-token",
		SimCreateDelay: 100 * time.Millisecond, ReconcileEvery: 200 * time.Millisecond})
	require.NoError(t, err)
	defer func() { cancel(); <-s.Done() }()

	doc.Servers = openapi3.Servers{{URL: s.BaseURL}}
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	u, err := url.Parse(s.BaseURL)
	require.NoError(t, err)
	vt := &validatingTransport{router: router, host: u.Host}
	c, err := client.New(s.BaseURL, "spec-token", client.WithHTTPClient(&http.Client{Transport: vt}),
		client.WithBackoff(50*time.Millisecond, 300*time.Millisecond))
	require.NoError(t, err)

	_, err = c.WarmUp(ctx, 30*time.Second, client.WarmUpOptions{Interval: time.Second})
	require.NoError(t, err)
	sb, err := c.Acquire(ctx, "python", client.AcquireOptions{Lease: time.Minute, IdempotencyKey: "spec-1"})
	require.NoError(t, err)
	_, err = c.Acquire(ctx, "python", client.AcquireOptions{Lease: time.Minute, IdempotencyKey: "spec-1"})
	require.NoError(t, err, "the idempotent replay")
	_, err = c.Acquire(ctx, "python", client.AcquireOptions{})
	require.ErrorIs(t, err, client.ErrPoolExhausted)
	_, err = c.Acquire(ctx, "nope", client.AcquireOptions{})
	require.ErrorIs(t, err, client.ErrUnknownImage)
	cold, err := c.Acquire(ctx, "go", client.AcquireOptions{})
	require.NoError(t, err, "a 202 claim, polled until 200")
	_, err = c.Renew(ctx, sb.ID, sb.LeaseToken, 2*time.Minute)
	require.NoError(t, err)
	_, err = c.Renew(ctx, sb.ID, "wrong", 0)
	require.ErrorIs(t, err, client.ErrLeaseMismatch)
	_, err = c.Release(ctx, "nosuchsandbox", "t")
	require.ErrorIs(t, err, client.ErrSandboxNotFound)
	for _, x := range []*client.Sandbox{sb, cold} {
		_, err = x.Release(ctx)
		require.NoError(t, err)
	}
	_, err = c.Metrics(ctx)
	require.NoError(t, err)
	_, err = c.MetricsPrometheus(ctx)
	require.NoError(t, err)
	_, err = c.Reconcile(ctx)
	if err != nil {
		// The in-process loop may hold the lock at that moment: 503 unavailable.
		require.ErrorIs(t, err, client.ErrUnavailable)
	}
	_, err = c.Shutdown(ctx, "python")
	require.NoError(t, err)
	_, err = c.Acquire(ctx, "python", client.AcquireOptions{})
	require.ErrorIs(t, err, client.ErrPoolShutdown)
	_, err = c.Start(ctx, "")
	require.NoError(t, err)
	bad, err := client.New(s.BaseURL, "wrong", client.WithHTTPClient(&http.Client{Transport: vt}))
	require.NoError(t, err)
	_, err = bad.Metrics(ctx)
	require.ErrorIs(t, err, client.ErrUnauthorized)

	vt.mu.Lock()
	defer vt.mu.Unlock()
	require.Empty(t, vt.problems)
	require.GreaterOrEqual(t, vt.checked, 17)
	t.Logf("%d requests and answers checked against docs/openapi.yaml", vt.checked)
}

// TestAPIDocMatchesTheOpenAPISpec: docs/api.md and docs/openapi.yaml name the
// same routes; each route's section names every request field of the spec's
// body and every top-level field of its 200 answer, and lists exactly the
// spec's statuses on its "Answers:" line; the code table holds exactly the
// spec's codes, each with the spec's status for it.
func TestAPIDocMatchesTheOpenAPISpec(t *testing.T) {
	doc := loadOpenAPI(t)
	raw, err := os.ReadFile("../../docs/api.md")
	require.NoError(t, err)
	md := string(raw)
	require.NotContains(t, md, "../shared", "the contract stands alone in the repository")
	require.NotContains(t, md, "As in the contract")

	sections := map[string]string{}
	parts := strings.Split(md, "\n## ")
	for _, p := range parts[1:] {
		head, body, _ := strings.Cut(p, "\n")
		if f := strings.Fields(head); len(f) == 2 && strings.HasPrefix(f[1], "/") {
			sections[head] = body
		}
	}
	var specRoutes []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := method + " " + path
			specRoutes = append(specRoutes, route)
			sec, ok := sections[route]
			require.True(t, ok, "docs/api.md has no section %q", route)
			// Statuses.
			line := ""
			for _, l := range strings.Split(strings.ReplaceAll(sec, "\n", " "), "Answers: ")[1:] {
				line = l
			}
			require.NotEmpty(t, line, "%s: no Answers: line", route)
			line, _, _ = strings.Cut(line, ".  ")
			got := regexp.MustCompile(`\b[1-5]\d\d\b`).FindAllString(strings.Split(line, "\n")[0], -1)
			var want []string
			for code := range op.Responses.Map() {
				want = append(want, code)
			}
			require.ElementsMatch(t, want, dedupe(got), "%s: statuses", route)
			// Request fields.
			if op.RequestBody != nil {
				if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil {
					for name := range mt.Schema.Value.Properties {
						require.Contains(t, sec, "`"+name+"`", "%s: request field %s", route, name)
					}
				}
			}
			// The 200 answer's top-level fields.
			if r := op.Responses.Value("200"); r != nil {
				if mt := r.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
					for name := range mt.Schema.Value.Properties {
						require.Contains(t, sec, name, "%s: answer field %s", route, name)
					}
				}
			}
		}
	}
	require.Len(t, sections, len(specRoutes), "docs/api.md documents a route the spec lacks: %v vs %v", keys(sections), specRoutes)

	// The code table: exactly the spec's codes.
	specCodes := doc.Components.Schemas["Error"].Value.Properties["error"].Value.Properties["code"].Value.Enum
	rows := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([0-9]{3}) \\|").FindAllStringSubmatch(md, -1)
	var docCodes []any
	for _, r := range rows {
		docCodes = append(docCodes, r[1])
	}
	require.ElementsMatch(t, specCodes, docCodes)
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
