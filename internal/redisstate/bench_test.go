package redisstate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// BenchmarkAcquire is a warm acquire through the Store: one EVALSHA of
// acquire.lua. b.N ready sandboxes are seeded before the timer starts.
func BenchmarkAcquire(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	ctx := context.Background()
	s := New(rdb, prefix)
	if err := s.Preload(ctx); err != nil {
		b.Fatal(err)
	}
	benchAcquire(b, s)
}

// BenchmarkRawEvalSha is the floor: EVALSHA of a trivial script on the same
// server and client, the cost of one round trip.
func BenchmarkRawEvalSha(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	ctx := context.Background()
	sc := redis.NewScript("return 1")
	if err := sc.Load(ctx, rdb).Err(); err != nil {
		b.Fatal(err)
	}
	keys := []string{NewKeys(prefix).Lock()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := sc.EvalSha(ctx, rdb, keys).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAcquireDurability is the warm acquire against a real primary with
// one replica, without and with durability (WAIT for that replica after the
// script, in one pipeline): the durability setting's cost.
func BenchmarkAcquireDurability(b *testing.B) {
	primary, _ := redistest.Pair(b)
	for _, replicas := range []int{0, 1} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			benchAcquire(b, New(primary.Client(), redistest.Prefix(b), WithDurability(replicas, 5*time.Second)))
		})
	}
}

// benchAcquire seeds b.N ready sandboxes (untimed) and times acquiring them.
func benchAcquire(b *testing.B, s *Store) {
	ctx := context.Background()
	caps := seedReady(b, s, b.N)
	p := pool.AcquireParams{Pool: testPool, OnEmpty: pool.OnEmptyFail, Caps: caps, LeaseTTL: 15 * time.Minute,
		LeaseTokenHash: pool.HashToken("lease"), Now: at(time.Minute)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Acquire(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

// seedReady makes n ready sandboxes of testPool, as reconcile would, and
// returns caps that hold them all.
func seedReady(b *testing.B, s *Store, n int) pool.Caps {
	b.Helper()
	ctx := context.Background()
	fence := pool.Fence{Token: "bench"}
	if ok, err := s.Lock(ctx, fence, time.Hour, t0); err != nil || !ok {
		b.Fatalf("lock: %v %v", ok, err)
	}
	caps := pool.Caps{MaxReady: n + 1, MaxTotal: -1, MaxConcurrentCreates: 10}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("sb%08d", i)
		if err := s.Reserve(ctx, fence, pool.ReserveParams{Pool: testPool, SandboxID: id, Caps: caps,
			CreateDeadline: at(time.Hour), Now: t0}); err != nil {
			b.Fatal(err)
		}
		if err := s.MarkReady(ctx, fence, id, "app", "https://x", at(time.Hour), t0); err != nil {
			b.Fatal(err)
		}
	}
	return caps
}
