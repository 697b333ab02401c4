package events

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

// BenchmarkDeliver measures events delivered per second to a local receiver
// that answers 204 at once, in batches of DefaultBatchSize, on the real
// redis-server: the delivery overhead a reconcile pass pays.
func BenchmarkDeliver(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	keys := redisstate.NewKeys(prefix)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	b.Cleanup(srv.Close)
	clock := pool.NewManualClock(t0)
	d := NewDeliverer(rdb, prefix, []pool.Webhook{{URL: srv.URL, SecretEnv: "HOOK_SECRET"}}, secrets, srv.Client(), clock, nil)
	ctx := context.Background()
	at := strconv.FormatInt(t0.UnixMilli(), 10)
	pipe := rdb.Pipeline()
	for i := 0; i < b.N; i++ {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events(), Values: []any{"type", redisstate.EventSandboxReady, "pool", "python", "sandbox_id", "sb" + strconv.Itoa(i), "at", at, "reason", "ready"}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	delivered := 0
	for delivered < b.N {
		rep, err := d.Deliver(ctx)
		if err != nil {
			b.Fatal(err)
		}
		delivered += rep.Delivered
	}
	b.ReportMetric(float64(delivered)/time.Since(start).Seconds(), "events/s")
}
