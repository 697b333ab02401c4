package client

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

const metricsBody = `{"pools": {"python": {"ready": 3, "creating": 1, "in_use": 2,
  "total_acquires": 10, "acquires_from_pool": 9, "acquires_cold_start": 1,
  "pool_hit_rate": 0.9, "avg_acquire_latency_ms": 1.2, "deleting": 1,
  "target_ready": 3, "max_ready": 10, "shutdown": false, "idle": false,
  "circuit": {"state": "open", "reason": "3 creates failed", "until": "2026-01-02T03:04:05Z"},
  "misses": {"empty": 4, "shutdown": 0, "capacity": 1, "circuit_open": 2},
  "acquire_latency_ms": {"warm": {"bounds": [1, 5], "counts": [8, 1, 0], "count": 9, "sum": 7.5},
    "cold": {"bounds": [1, 5], "counts": [0, 0, 1], "count": 1}}}},
  "total_sandboxes": 7, "max_total_sandboxes": 50, "manager_shutdown": false,
  "api_budget": {"remaining_minute": 190, "remaining_hour": 3900}}`

func TestMetrics(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/metrics", func(w http.ResponseWriter, r recorded, n int) {
		if n == 1 {
			// A GET is retried after a gateway error.
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>bad gateway</html>"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(metricsBody))
	})
	c, _ := f.client()
	m, err := c.Metrics(context.Background())
	require.NoError(t, err)
	p := m.Pools["python"]
	require.Equal(t, 3, p.Ready)
	require.Equal(t, 1, p.Creating)
	require.Equal(t, 2, p.InUse)
	require.EqualValues(t, 10, p.TotalAcquires)
	require.InDelta(t, 0.9, p.PoolHitRate, 1e-9)
	require.Equal(t, 3, p.TargetReady)
	require.Equal(t, "open", p.Circuit.State)
	require.EqualValues(t, 2, p.Misses.CircuitOpen)
	require.Equal(t, []int64{8, 1, 0}, p.AcquireLatencyMs.Warm.Counts)
	require.InDelta(t, 7.5, *p.AcquireLatencyMs.Warm.Sum, 1e-9)
	require.Nil(t, p.AcquireLatencyMs.Cold.Sum)
	require.EqualValues(t, 1, p.AcquireLatencyMs.Cold.Count)
	require.Equal(t, 7, m.TotalSandboxes)
	require.Equal(t, 50, *m.MaxTotalSandboxes)
	require.Equal(t, 190, m.APIBudget.RemainingMinute)
	require.JSONEq(t, metricsBody, string(m.Raw))
	require.Len(t, f.requests(), 2)
}

func TestMetricsPrometheus(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/metrics", func(w http.ResponseWriter, r recorded, n int) {
		require.Equal(t, "format=prometheus", r.Query)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("hotpool_ready{pool=\"python\"} 3\n"))
	})
	c, _ := f.client()
	s, err := c.MetricsPrometheus(context.Background())
	require.NoError(t, err)
	require.Equal(t, "hotpool_ready{pool=\"python\"} 3\n", s)
}

func TestNonJSONErrorBodyStillGivesAClearError(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/metrics", func(w http.ResponseWriter, r recorded, n int) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("boom\n  stack"))
	})
	c, _ := f.client()
	_, err := c.Metrics(context.Background())
	require.ErrorIs(t, err, ErrInternal)
	require.Equal(t, "hotpool: internal: HTTP 500 boom stack", err.Error())
	require.Len(t, f.requests(), 1, "a 500 is a bug, not retried")
}
