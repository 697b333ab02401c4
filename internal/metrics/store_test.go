package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

// TestFromTheRealStore checks that what the Store's scripts count is what the
// document and the Prometheus text show: a warm hit (its latency and warm
// age), an empty miss and the sandbox counts, read back through Store.Metrics.
func TestFromTheRealStore(t *testing.T) {
	run := func(t *testing.T, rdb *redis.Client, prefix string) {
		ctx := context.Background()
		now := t0
		st := redisstate.New(rdb, prefix)
		f := pool.Fence{Token: pool.NewToken()}
		caps := pool.Caps{MaxReady: 5, MaxTotal: -1, MaxConcurrentCreates: 5}
		ok, err := st.Lock(ctx, f, time.Minute, now)
		require.NoError(t, err)
		require.True(t, ok)
		for _, id := range []string{"sb1", "sb2"} {
			require.NoError(t, st.Reserve(ctx, f, pool.ReserveParams{Pool: "python", SandboxID: id, Caps: caps, Attempt: 1,
				CreateDeadline: now.Add(10 * time.Minute), Now: now}))
		}
		require.NoError(t, st.MarkReady(ctx, f, "sb1", "app1", "https://sb1.example", now.Add(30*time.Minute), now))
		acquireAt := now.Add(10 * time.Second)
		_, err = st.Acquire(ctx, pool.AcquireParams{Pool: "python", OnEmpty: pool.OnEmptyFail, Caps: caps, LeaseTTL: time.Minute,
			LeaseTokenHash: pool.HashToken(pool.NewToken()), Now: acquireAt})
		require.NoError(t, err)
		// The service records the warm hit's latency after answering it.
		require.NoError(t, st.RecordAcquireLatency(ctx, "python", pool.SourcePool, 3*time.Millisecond))
		_, err = st.Acquire(ctx, pool.AcquireParams{Pool: "python", OnEmpty: pool.OnEmptyFail, Caps: caps, LeaseTTL: time.Minute,
			LeaseTokenHash: pool.HashToken(pool.NewToken()), Now: acquireAt})
		require.ErrorIs(t, err, pool.ErrPoolExhausted)

		snap, err := st.Metrics(ctx, []string{"python"}, acquireAt)
		require.NoError(t, err)
		cfg := testConfig(t)
		d := Build(ctx, snap, cfg, nil, acquireAt)
		py := d.Pools["python"]
		require.Equal(t, 0, py.Ready)
		require.Equal(t, 1, py.Creating)
		require.Equal(t, 1, py.InUse)
		require.Equal(t, int64(1), py.AcquiresFromPool)
		require.Equal(t, 1.0, py.PoolHitRate)
		require.Equal(t, int64(1), py.Misses.Empty)
		require.Equal(t, int64(1), py.AcquireLatencyMs.Warm.Count)
		require.Equal(t, int64(0), py.AcquireLatencyMs.Cold.Count)
		require.Equal(t, 3.0, py.AvgAcquireLatencyMs)
		require.Equal(t, 10000.0, py.AvgWarmAgeAtAcquireMs, "ready at t0, acquired 10 s later")
		require.Equal(t, 2, d.TotalSandboxes)

		fams := parse(t, d)
		lbl := map[string]string{"pool": "python", "source": "pool"}
		require.Equal(t, 1.0, value(t, fams, "hotpool_acquires_total", lbl).GetCounter().GetValue())
		require.Equal(t, 1.0, value(t, fams, "hotpool_misses_total", map[string]string{"pool": "python", "reason": "empty"}).GetCounter().GetValue())
		h := value(t, fams, "hotpool_acquire_latency_seconds", lbl).GetHistogram()
		require.Equal(t, uint64(1), h.GetSampleCount())
		require.InDelta(t, 0.003, h.GetSampleSum(), 1e-9, "the 3 ms sample the service recorded")
		require.Equal(t, 10.0, value(t, fams, "hotpool_warm_age_at_acquire_seconds", map[string]string{"pool": "python"}).GetSummary().GetSampleSum())
	}
	t.Run("redis", func(t *testing.T) {
		rdb, prefix := redistest.Client(t)
		run(t, rdb, prefix)
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		run(t, rdb, "mini")
	})
}
