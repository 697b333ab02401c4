package redisstate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// BenchmarkAcquireOverRoundTrip reports acquire's cost as a multiple of one
// round trip, measured in one run: warm acquires and EVALSHAs of a bare
// script alternate in blocks on the same server and client, and the median
// of each adjacent pair's ratio is reported (ratio), with the server's own time
// per call of each from INFO commandstats (server-µs, bare-server-µs). It is
// a figure to watch, not a timed test.
//
//	scripts/test -run '^$' -bench BenchmarkAcquireOverRoundTrip -benchtime 2000x ./internal/redisstate/
func BenchmarkAcquireOverRoundTrip(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	ctx := context.Background()
	s := New(rdb, prefix)
	if err := s.Preload(ctx); err != nil {
		b.Fatal(err)
	}
	bare := redis.NewScript("return 1")
	if err := bare.Load(ctx, rdb).Err(); err != nil {
		b.Fatal(err)
	}
	caps := seedReady(b, s, b.N+200) // and 200 for the server-time reads
	p := pool.AcquireParams{Pool: testPool, OnEmpty: pool.OnEmptyFail, Caps: caps, LeaseTTL: 15 * time.Minute,
		LeaseTokenHash: pool.HashToken("lease"), Now: at(time.Minute)}
	keys := []string{NewKeys(prefix).Lock()}
	// Small blocks, each acquire block paired with the bare block after it:
	// the median of the pairs' ratios, so a slow spell on this shared
	// machine (which lasts longer than a pair) weighs on both sides of a
	// pair, not on one side of the whole run.
	const block = 10
	var acq, raw []time.Duration
	var ratios []float64
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		n := min(block, b.N-done)
		t0 := time.Now()
		for range n {
			if _, err := s.Acquire(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		acq = append(acq, time.Since(t0)/time.Duration(n))
		t0 = time.Now()
		for range n {
			if err := bare.EvalSha(ctx, rdb, keys).Err(); err != nil {
				b.Fatal(err)
			}
		}
		raw = append(raw, time.Since(t0)/time.Duration(n))
		ratios = append(ratios, float64(acq[len(acq)-1])/float64(raw[len(raw)-1]))
	}
	b.StopTimer()
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
	b.ReportMetric(float64(median(acq).Microseconds()), "acquire-µs")
	b.ReportMetric(float64(median(raw).Microseconds()), "bare-µs")
	// The server's own time per call of each, from INFO commandstats after
	// a reset: where the difference is spent, in Lua or around it.
	serverTime := func(run func() error) float64 {
		if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		for range 200 {
			if err := run(); err != nil {
				b.Fatal(err)
			}
		}
		info, err := rdb.Info(ctx, "commandstats").Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range strings.Split(info, "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "cmdstat_evalsha:"); ok {
				for _, kv := range strings.Split(rest, ",") {
					if v, ok := strings.CutPrefix(kv, "usec_per_call="); ok {
						f, _ := strconv.ParseFloat(v, 64)
						return f
					}
				}
			}
		}
		return 0
	}
	b.ReportMetric(serverTime(func() error { _, err := s.Acquire(ctx, p); return err }), "acquire-server-µs")
	b.ReportMetric(serverTime(func() error { return bare.EvalSha(ctx, rdb, keys).Err() }), "bare-server-µs")
}
