package localserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

const token = "local-test-token"

func testConfig(t *testing.T) *pool.Config {
	t.Helper()
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 2, "max_ready": 4}}, "max_total_sandboxes": 10}`))
	require.NoError(t, err)
	return cfg
}

// post sends one authenticated request and decodes the JSON answer.
func post(t *testing.T, base, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return resp.StatusCode, m
}

// exercise warms the pool through the in-process loop, then acquires and releases.
func exercise(t *testing.T, s *Server) {
	t.Helper()
	resp, err := http.Get(s.BaseURL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	code, m := post(t, s.BaseURL, "POST", "/reconcile", `{"action":"warm_up","timeout_seconds":20}`)
	require.Equal(t, http.StatusOK, code, m)
	require.Equal(t, true, m["done"])

	code, m = post(t, s.BaseURL, "POST", "/acquire", `{"image":"python"}`)
	require.Equal(t, http.StatusOK, code, m)
	require.Equal(t, "pool", m["source"])
	sb := m["sandbox"].(map[string]any)
	require.NotEmpty(t, sb["url"])
	lease := m["lease"].(map[string]any)

	code, m = post(t, s.BaseURL, "POST", "/release", `{"sandbox_id":"`+sb["id"].(string)+`","lease_token":"`+lease["token"].(string)+`"}`)
	require.Equal(t, http.StatusOK, code, m)
	require.Equal(t, "deleting", m["state"])

	code, m = post(t, s.BaseURL, "GET", "/metrics", ``)
	require.Equal(t, http.StatusOK, code, m)
	py := m["pools"].(map[string]any)["python"].(map[string]any)
	require.EqualValues(t, 1, py["total_acquires"])
	require.EqualValues(t, 1, py["acquires_from_pool"])
}

func TestServeEmbeddedRedisAndSimulator(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Start(ctx, Options{Addr: "127.0.0.1:0", Config: testConfig(t), Token: token, SimCreateDelay: 100 * time.Millisecond, ReconcileEvery: 200 * time.Millisecond})
	require.NoError(t, err)
	require.NotNil(t, s.Mini)
	require.NotNil(t, s.Sim)
	exercise(t, s)

	cancel() // the signal-aware ctx of main ends: graceful stop
	select {
	case <-s.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
	_, err = http.Get(s.BaseURL + "/healthz")
	require.Error(t, err, "the listener is closed")
}

func TestServeExternalRedis(t *testing.T) {
	_, prefix := redistest.Client(t)
	s, err := Start(context.Background(), Options{
		Addr: "127.0.0.1:0", Config: testConfig(t), Token: token, RedisURL: redistest.URL(), KeyPrefix: prefix,
		SimCreateDelay: 100 * time.Millisecond, ReconcileEvery: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	defer s.Close()
	require.Nil(t, s.Mini)
	exercise(t, s)
}

// A restart against the same external Redis: the simulated apps of the
// first run died with it, so their records are cleared and the first acquire
// of the second run gets a live sandbox.
func TestRestartAgainstAPersistentRedisHandsOutLiveSandboxes(t *testing.T) {
	_, prefix := redistest.Client(t)
	opts := Options{
		Addr: "127.0.0.1:0", Config: testConfig(t), Token: token, RedisURL: redistest.URL(), KeyPrefix: prefix,
		SimCreateDelay: 100 * time.Millisecond, ReconcileEvery: 200 * time.Millisecond,
	}
	s1, err := Start(context.Background(), opts)
	require.NoError(t, err)
	code, m := post(t, s1.BaseURL, "POST", "/reconcile", `{"action":"warm_up","timeout_seconds":20}`)
	require.Equal(t, http.StatusOK, code, m)
	require.NoError(t, s1.Close())

	s2, err := Start(context.Background(), opts)
	require.NoError(t, err)
	defer s2.Close()
	code, m = post(t, s2.BaseURL, "POST", "/reconcile", `{"action":"warm_up","timeout_seconds":20}`)
	require.Equal(t, http.StatusOK, code, m)
	code, m = post(t, s2.BaseURL, "POST", "/acquire", `{"image":"python"}`)
	require.Equal(t, http.StatusOK, code, m)
	resp, err := http.Get(m["sandbox"].(map[string]any)["url"].(string) + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the sandbox handed out is alive")
	require.Positive(t, s2.ClearedKeys, "the first run's state was cleared")
}

func TestStartRefusesBadOptions(t *testing.T) {
	ctx := context.Background()
	_, err := Start(ctx, Options{Config: testConfig(t)})
	require.ErrorContains(t, err, "token")
	_, err = Start(ctx, Options{Config: testConfig(t), Token: token, Addr: "127.0.0.1:0", Provider: "aws"})
	require.ErrorContains(t, err, "provider")
	_, err = Start(ctx, Options{Config: testConfig(t), Token: token, Addr: "127.0.0.1:0", Provider: ProviderDigitalOcean})
	require.ErrorContains(t, err, "HOTPOOL_SECRET is not set", "real sandboxes need a secret that survives a restart")
	_, err = Start(ctx, Options{Config: testConfig(t), Token: token, Addr: "127.0.0.1:0", Provider: ProviderDigitalOcean,
		Secret: "a-secret-of-thirty-two-bytes-or-more"})
	require.ErrorContains(t, err, "DIGITALOCEAN_TOKEN")
	_, err = Start(ctx, Options{Config: testConfig(t), Token: "   ", Addr: "127.0.0.1:0"})
	require.ErrorContains(t, err, "blank", "a whitespace token would close the API")
	_, err = Start(ctx, Options{Config: testConfig(t), Token: token, Addr: "127.0.0.1:0", Secret: "too-short"})
	require.ErrorContains(t, err, "at least 32")
	_, err = Start(ctx, Options{Config: testConfig(t), Token: token, Addr: "127.0.0.1:0", RedisURL: "redis://:hunter2@[bad"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestServeDeliversWebhooksAfterPasses(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 1}},
		"webhooks": [{"url": "` + hook.URL + `", "secret_env": "HOOK_SECRET"}]}`))
	require.NoError(t, err)
	s, err := Start(context.Background(), Options{
		Addr: "127.0.0.1:0", Config: cfg, Token: token, SimCreateDelay: 50 * time.Millisecond, ReconcileEvery: 100 * time.Millisecond,
		Getenv: func(k string) string { return map[string]string{"HOOK_SECRET": "s3cret"}[k] },
	})
	require.NoError(t, err)
	defer s.Close()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(bodies) > 0
	}, 20*time.Second, 50*time.Millisecond, "no webhook delivery after the loop's passes")
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, strings.Join(bodies, "\n"), "python")
}

// A pool that went idle in an earlier run (external Redis kept its state) is
// active again when the server starts, as the seed's start() makes it: it
// fills without waiting for an acquire or a warm-up.
func TestStartActivatesPoolsIdleFromAnEarlierRun(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	earlier := time.Now().Add(-24 * time.Hour)
	require.NoError(t, redisstate.New(rdb, prefix).Activate(ctx, []string{"python"}, earlier))

	s, err := Start(ctx, Options{
		Addr: "127.0.0.1:0", Config: testConfig(t), Token: token, RedisURL: redistest.URL(), KeyPrefix: prefix,
		SimCreateDelay: 100 * time.Millisecond, ReconcileEvery: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	defer s.Close()
	require.Eventually(t, func() bool {
		code, m := post(t, s.BaseURL, "GET", "/metrics", ``)
		py, _ := m["pools"].(map[string]any)["python"].(map[string]any)
		return code == http.StatusOK && py["ready"] == float64(2)
	}, 20*time.Second, 100*time.Millisecond)
}
