package localserver

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// readyOf reads each pool's ready count from GET /metrics.
func readyOf(t *testing.T, base string) map[string]int {
	t.Helper()
	code, m := post(t, base, "GET", "/metrics", ``)
	require.Equal(t, http.StatusOK, code, m)
	out := map[string]int{}
	for name, p := range m["pools"].(map[string]any) {
		out[name] = int(p.(map[string]any)["ready"].(float64))
	}
	return out
}

// A reload changes targets, adds a pool and retires one while clients keep
// acquiring: the passes bring every pool to its new target, the retired
// pool's sandboxes are deleted, and the API answers for the new config at
// once (run with -race: requests and passes read the config as it is swapped).
func TestReloadPutsANewConfigInForce(t *testing.T) {
	_, prefix := redistest.Client(t)
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 2, "max_ready": 4, "on_empty": "fail"}, "node": {"target_ready": 1}},
		"max_total_sandboxes": 10}`))
	require.NoError(t, err)
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", Config: cfg, Token: token, RedisURL: redistest.URL(),
		KeyPrefix: prefix, SimCreateDelay: 50 * time.Millisecond, ReconcileEvery: 100 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	require.Eventually(t, func() bool { r := readyOf(t, s.BaseURL); return r["python"] == 2 && r["node"] == 1 },
		20*time.Second, 50*time.Millisecond)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				a, err := s.Service().Acquire(ctx, pool.AcquireRequest{Image: "python"})
				if err == nil {
					_, _ = s.Service().Release(context.Background(), a.Sandbox.ID, a.LeaseToken)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}

	next, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 3, "max_ready": 4, "on_empty": "fail"}}, "max_total_sandboxes": 10}`))
	require.NoError(t, err)
	require.NoError(t, s.Reload(context.Background(), next))
	require.Same(t, next, s.Config())
	code, m := post(t, s.BaseURL, "POST", "/acquire", `{"image":"node"}`)
	require.Equal(t, http.StatusNotFound, code, m)
	require.Equal(t, "unknown_image", m["error"].(map[string]any)["code"], m)

	time.Sleep(time.Second)
	stop()
	wg.Wait()
	require.Eventually(t, func() bool { return readyOf(t, s.BaseURL)["python"] == 3 }, 20*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		apps, err := s.Provider.List(context.Background())
		require.NoError(t, err)
		for _, a := range apps {
			if a.Pool == "node" {
				return false
			}
		}
		return len(apps) == 3
	}, 20*time.Second, 100*time.Millisecond, "the retired pool's sandbox is deleted, and only the new target's apps remain")

	// The retired pool comes back, and a lowered max_ready trims at once (a
	// lowered target alone waits for idle scale-down, as in the seed).
	back, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 1, "max_ready": 1, "on_empty": "fail"}, "node": {"target_ready": 2}},
		"max_total_sandboxes": 10}`))
	require.NoError(t, err)
	require.NoError(t, s.Reload(context.Background(), back))
	require.Eventually(t, func() bool { r := readyOf(t, s.BaseURL); return r["python"] == 1 && r["node"] == 2 },
		20*time.Second, 50*time.Millisecond)
}

func TestReloadRefusesWhatNeedsARestart(t *testing.T) {
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", Config: testConfig(t), Token: token, ReconcileEvery: -1})
	require.NoError(t, err)
	defer s.Close()
	before := s.Config()

	moved := testConfig(t)
	moved.Deployment = "other"
	moved.APIBudget.PerMinute = 10
	err = s.Reload(context.Background(), moved)
	require.ErrorIs(t, err, ErrReloadNeedsRestart)
	require.ErrorContains(t, err, "[deployment api_budget] changed")

	bad := testConfig(t)
	bad.MaxConcurrentCreates = 0
	require.ErrorIs(t, s.Reload(context.Background(), bad), pool.ErrInvalidConfig)
	require.Error(t, s.Reload(context.Background(), nil))
	require.Same(t, before, s.Config(), "a refused reload changes nothing")
}
