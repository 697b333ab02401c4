package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testToken = "s3cret-api-token"

// recorded is one request the fake API saw.
type recorded struct {
	Method string
	Path   string
	Query  string
	Auth   string
	ReqID  string
	Body   map[string]any
}

// fakeAPI is an httptest server speaking the hotpool contract; each test
// scripts its answers per path.
type fakeAPI struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	routes map[string]func(w http.ResponseWriter, r recorded, n int) // n: 1-based count of this path
	counts map[string]int
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{t: t, routes: map[string]func(http.ResponseWriter, recorded, int){}, counts: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	rec := recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), ReqID: r.Header.Get("X-Request-Id")}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &rec.Body); err != nil {
			writeErr(w, 400, "invalid_request", "bad json", 0)
			return
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, rec)
	f.counts[r.URL.Path]++
	n := f.counts[r.URL.Path]
	h := f.routes[r.URL.Path]
	f.mu.Unlock()
	if rec.Auth != "Bearer "+testToken {
		writeErr(w, 401, "unauthorized", "missing or wrong bearer token", 0)
		return
	}
	if h == nil {
		writeErr(w, 404, "not_found", "no route "+r.URL.Path, 0)
		return
	}
	h(w, rec, n)
}

func (f *fakeAPI) on(path string, h func(w http.ResponseWriter, r recorded, n int)) {
	f.routes[path] = h
}

func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// client returns a Client of the fake whose waits are recorded, not slept.
func (f *fakeAPI) client(opts ...Option) (*Client, *[]time.Duration) {
	c, err := New(f.srv.URL, testToken, opts...)
	require.NoError(f.t, err)
	var mu sync.Mutex
	slept := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*slept = append(*slept, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, slept
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", "srv-req-1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string, retryAfter int) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// okAcquire is a 200 acquire answer.
func okAcquire(id, agentURL string) map[string]any {
	return map[string]any{
		"sandbox": map[string]any{
			"id": id, "image": "python", "app_id": "app-" + id, "url": agentURL,
			"region": "nyc", "instance_size": "apps-s-1vcpu-1gb",
			"created_at": "2026-01-02T03:04:05Z", "ready_at": "2026-01-02T03:05:05Z",
			"agent_token": "agent-tok-" + id,
		},
		"lease":  map[string]any{"token": "lease-tok-" + id, "expires_at": "2026-01-02T03:20:05Z"},
		"source": "pool",
	}
}
