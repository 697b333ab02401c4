package client

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReconcilePass(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/reconcile", func(w http.ResponseWriter, r recorded, n int) {
		writeJSON(w, 200, map[string]any{
			"started_at": "2026-01-02T03:04:05Z", "finished_at": "2026-01-02T03:04:06Z", "leader": true,
			"pools":     map[string]any{"python": map[string]any{"ready": 2, "target": 3, "created": 1, "circuit": "closed"}},
			"api_calls": 4,
		})
	})
	c, _ := f.client()
	rep, err := c.Reconcile(context.Background())
	require.NoError(t, err)
	require.True(t, rep.Leader)
	require.Equal(t, 4, rep.APICalls)
	require.Equal(t, PoolPassReport{Ready: 2, Target: 3, Created: 1, Circuit: "closed"}, rep.Pools["python"])
	require.Equal(t, map[string]any{"action": "pass"}, f.requests()[0].Body)
}

func TestShutdownAndStart(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/reconcile", func(w http.ResponseWriter, r recorded, n int) {
		pool, _ := r.Body["pool"].(string)
		writeJSON(w, 200, map[string]any{"shutdown": r.Body["action"] == "shutdown", "pool": pool})
	})
	c, _ := f.client()
	ctx := context.Background()
	res, err := c.Shutdown(ctx, "python")
	require.NoError(t, err)
	require.Equal(t, &ShutdownResult{Shutdown: true, Pool: "python"}, res)
	res, err = c.Start(ctx, "")
	require.NoError(t, err)
	require.Equal(t, &ShutdownResult{Shutdown: false}, res)
	reqs := f.requests()
	require.Equal(t, map[string]any{"action": "shutdown", "pool": "python"}, reqs[0].Body)
	require.Equal(t, map[string]any{"action": "start"}, reqs[1].Body, "no pool: the whole manager")
}

func warmUpTimeout(w http.ResponseWriter, ready int) {
	writeJSON(w, 504, map[string]any{"error": map[string]any{
		"code": "warm_up_timeout", "message": "not at target",
		"details": map[string]any{"pools": map[string]any{"python": map[string]any{"ready": ready, "target": 3}}},
	}})
}

func TestWarmUpReportsProgressUntilDone(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/reconcile", func(w http.ResponseWriter, r recorded, n int) {
		if n < 3 {
			warmUpTimeout(w, n)
			return
		}
		writeJSON(w, 200, map[string]any{"done": true, "pools": map[string]any{"python": map[string]any{"ready": 3, "target": 3}}})
	})
	c, _ := f.client()
	var seen []int
	st, err := c.WarmUp(context.Background(), time.Minute, WarmUpOptions{Interval: 2 * time.Second, Progress: func(p map[string]PoolProgress) {
		seen = append(seen, p["python"].Ready)
	}})
	require.NoError(t, err)
	require.True(t, st.Done)
	require.Equal(t, []int{1, 2, 3}, seen)
	for _, r := range f.requests() {
		require.Equal(t, "warm_up", r.Body["action"])
		require.LessOrEqual(t, r.Body["timeout_seconds"], float64(2), "each poll waits at most the interval")
	}
}

func TestWarmUpTimesOutNamingPools(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/reconcile", func(w http.ResponseWriter, r recorded, n int) { warmUpTimeout(w, 1) })
	c, _ := f.client()
	c.sleep = sleepCtx // the real wait: the deadline below ends it
	_, err := c.WarmUp(context.Background(), 300*time.Millisecond, WarmUpOptions{Interval: 100 * time.Millisecond})
	require.ErrorIs(t, err, ErrWarmUpTimeout)
	var we *WarmUpError
	require.ErrorAs(t, err, &we)
	require.Equal(t, PoolProgress{Ready: 1, Target: 3}, we.Pools["python"])
	require.Contains(t, err.Error(), "python 1/3")
}

func TestWarmUpFallsBackToMetrics(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/reconcile", func(w http.ResponseWriter, r recorded, n int) {
		writeErr(w, 400, "invalid_request", "unknown action", 0)
	})
	f.on("/metrics", func(w http.ResponseWriter, r recorded, n int) {
		writeJSON(w, 200, map[string]any{"pools": map[string]any{
			"python": map[string]any{"ready": n, "target_ready": 2},
		}})
	})
	c, _ := f.client()
	st, err := c.WarmUp(context.Background(), time.Minute)
	require.NoError(t, err)
	require.Equal(t, PoolProgress{Ready: 2, Target: 2}, st.Pools["python"])
	require.Len(t, f.requests(), 3, "one warm_up try, then metrics until ready")
}

func TestWarmUpRejectsNonPositiveTimeout(t *testing.T) {
	f := newFakeAPI(t)
	c, _ := f.client()
	_, err := c.WarmUp(context.Background(), 0)
	require.ErrorIs(t, err, ErrInvalidRequest)
}
