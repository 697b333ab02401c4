package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// stepClock moves 1 ms on every read, so every stretch of the request path
// between two readings takes a known, non-zero time without any sleeping.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

// TestWarmAcquiresShowInTheAverageLatency drives acquires through the
// handler onto redisstate, then reads GET /metrics: every warm acquire left
// one latency sample, and the average is no longer the seed's constant 0.
func TestWarmAcquiresShowInTheAverageLatency(t *testing.T) {
	for _, kind := range []string{"miniredis", "redis"} {
		t.Run(kind, func(t *testing.T) {
			cfg, err := pool.ParseConfig([]byte(testConfig))
			require.NoError(t, err)
			store, seed := newStore(t, kind, cfg)
			clock := &stepClock{now: t0}
			svc, err := pool.NewService(pool.ServiceOptions{Store: store, Config: cfg, Clock: clock, Secrets: pool.NewSecrets("s")})
			require.NoError(t, err)
			h := New(Options{Service: svc, Token: testToken, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Clock: clock})
			call := func(method, path, query, body string) Response {
				return h.Handle(context.Background(), Request{Method: method, Path: path, Query: query, Body: []byte(body),
					Headers: map[string]string{"authorization": "Bearer " + testToken}})
			}
			const warm = 3
			for _, id := range []string{"sb-a", "sb-b", "sb-c"} {
				seed.addReady("python", id, t0)
			}
			for range warm {
				r := call("POST", "/acquire", "", `{"image":"python"}`)
				require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			}
			r := call("POST", "/acquire", "", `{"image":"node"}`) // empty, on_empty fail: no sample
			require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
			require.NoError(t, svc.Flush(context.Background()))

			r = call("GET", "/metrics", "", "")
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			py := decode(t, r)["pools"].(map[string]any)["python"].(map[string]any)
			require.EqualValues(t, warm, py["acquires_from_pool"])
			hist := py["acquire_latency_ms"].(map[string]any)
			require.EqualValues(t, warm, hist["warm"].(map[string]any)["count"], "one sample per warm acquire")
			require.EqualValues(t, 0, hist["cold"].(map[string]any)["count"])
			avg := py["avg_acquire_latency_ms"].(float64)
			// Arrival is stamped before auth, then the service and the Store's
			// answer each read the clock: at least 2 ms per acquire.
			require.GreaterOrEqual(t, avg, 2.0)
			require.Equal(t, avg*warm, hist["warm"].(map[string]any)["sum"].(float64))

			r = call("GET", "/metrics", "format=prometheus", "")
			require.Equal(t, http.StatusOK, r.Status)
			require.Contains(t, string(r.Body), `hotpool_acquire_latency_seconds_count{pool="python",source="pool"} 3`)
		})
	}
}
