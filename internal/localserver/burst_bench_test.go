package localserver

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// burstSize is how many callers acquire at the same instant, from a warm
// pool that holds as many: the burst peers report (agent-sandbox's claim
// controller measures 200 claims).
const burstSize = 200

// BenchmarkBurst200 fires 200 simultaneous acquires over HTTP at the local
// server (its real handlers, service and Lua on redis-server) from a warm
// pool of 200, and reports each claim's latency at p50, p95 and p99, and the
// time until all 200 were served. Every sandbox must go out once. Each burst
// gets a server and a key prefix of its own (so its own API budget), and
// only the burst is timed:
//
//	scripts/test -run '^$' -bench BenchmarkBurst200 -benchtime 1x -count 3 ./internal/localserver/
func BenchmarkBurst200(b *testing.B) {
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 200, "max_ready": 200, "idle_timeout": 3600}},
		"max_total_sandboxes": 400, "max_concurrent_creates": 200, "api_budget": {"per_minute": 250, "per_hour": 5000}}`))
	require.NoError(b, err)
	var p50, p95, p99, all []float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c, stop := burstServer(b, cfg)
		b.StartTimer()
		lat, total, sandboxes := burst(b, c)
		b.StopTimer()
		ids := map[string]bool{}
		for _, sb := range sandboxes {
			require.False(b, ids[sb.ID], "sandbox %s went out twice", sb.ID)
			ids[sb.ID] = true
		}
		require.Len(b, ids, burstSize, "every caller served")
		slices.Sort(lat)
		p50, p95, p99 = append(p50, q(lat, 0.50)), append(p95, q(lat, 0.95)), append(p99, q(lat, 0.99))
		all = append(all, total)
		stop()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(mean(p50), "p50-ms")
	b.ReportMetric(mean(p95), "p95-ms")
	b.ReportMetric(mean(p99), "p99-ms")
	b.ReportMetric(mean(all), "all-served-ms")
}

// burstServer starts a local server on redis-server under a fresh prefix and
// waits until its pool of 200 is warm.
func burstServer(b *testing.B, cfg *pool.Config) (*client.Client, func()) {
	_, prefix := redistest.Client(b)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Options{Addr: "127.0.0.1:0", Config: cfg, Token: "bench", RedisURL: redistest.URL(), KeyPrefix: prefix,
		SimCreateDelay: 10 * time.Millisecond, ReconcileEvery: 100 * time.Millisecond})
	require.NoError(b, err)
	c, err := client.New(s.BaseURL, "bench", client.WithBackoff(10*time.Millisecond, 200*time.Millisecond))
	require.NoError(b, err)
	_, err = c.WarmUp(ctx, 3*time.Minute)
	require.NoError(b, err)
	return c, func() { cancel(); <-s.Done() }
}

// burst starts burstSize acquires at once and returns each one's latency
// (ms), the time until the last was served (ms), and the sandboxes.
func burst(b *testing.B, c *client.Client) ([]float64, float64, []*client.Sandbox) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	lat := make([]float64, burstSize)
	sbs := make([]*client.Sandbox, burstSize)
	errs := make([]error, burstSize)
	for i := range burstSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			sbs[i], errs[i] = c.Acquire(context.Background(), "python", client.AcquireOptions{})
			lat[i] = float64(time.Since(t0).Microseconds()) / 1000
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	total := float64(time.Since(t0).Microseconds()) / 1000
	for _, err := range errs {
		require.NoError(b, err)
	}
	return lat, total, sbs
}

func q(sorted []float64, p float64) float64 {
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}
