package benchsuite

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

const (
	benchToken = "bench-token"
	benchPool  = "python"
)

// shared is a Redis client for fixtures that outlive one run of a benchmark
// function (b.Cleanup runs after every b.N round); TestMain deletes their keys.
var (
	shared         *redis.Client
	sharedPrefixes []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for _, p := range sharedPrefixes {
			deletePrefix(ctx, shared, p)
		}
		cancel()
		_ = shared.Close()
	}
	os.Exit(code)
}

// sharedClient gates on the real server like redistest (it fails with the
// command to fix it) and returns the long-lived client and a fresh prefix for a fixture.
func sharedClient(b *testing.B) (*redis.Client, string) {
	b.Helper()
	redistest.Client(b) // fails when the server is unreachable
	if shared == nil {
		opt, err := redis.ParseURL(redistest.URL())
		if err != nil {
			b.Fatal(err)
		}
		shared = redis.NewClient(opt)
	}
	p := redistest.Prefix(b)
	sharedPrefixes = append(sharedPrefixes, p)
	return shared, p
}

func deletePrefix(ctx context.Context, rdb *redis.Client, prefix string) {
	iter := rdb.Scan(ctx, 0, redisstate.NewKeys(prefix).Tag()+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			rdb.Del(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
}

// benchConfig is one pool that fails fast when empty, so a benchmark never
// waits on a cold start.
func benchConfig(tb testing.TB) *pool.Config {
	tb.Helper()
	cfg, err := pool.ParseConfig([]byte(`{"deployment": "bench", "pools": {"python": {"target_ready": 0, "max_ready": 10, "on_empty": "fail"}}}`))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// seedReady puts n ready sandboxes in a pool, the way reconcile does
// (Reserve, then MarkReady under the leader's fence), with unbounded caps.
func seedReady(ctx context.Context, tb testing.TB, s *redisstate.Store, poolName string, n, from int, now time.Time) {
	tb.Helper()
	fence := pool.Fence{Token: "bench-seed"}
	if ok, err := s.Lock(ctx, fence, time.Hour, now); err != nil || !ok {
		tb.Fatalf("lock: %v %v", ok, err)
	}
	caps := pool.Caps{MaxReady: 1 << 30, MaxTotal: -1, MaxConcurrentCreates: 1 << 30}
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("sb%09d", i)
		if err := s.Reserve(ctx, fence, pool.ReserveParams{Pool: poolName, SandboxID: id, Caps: caps,
			CreateDeadline: now.Add(time.Hour), Now: now}); err != nil {
			tb.Fatal(err)
		}
		if err := s.MarkReady(ctx, fence, id, "app-"+id, "https://"+id+".example", now.Add(24*time.Hour), now); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.Unlock(ctx, fence); err != nil {
		tb.Fatal(err)
	}
}
