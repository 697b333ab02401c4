package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

func TestMetricsReadsEveryPoolInOneScript(t *testing.T) {
	onBoth(t, testMetrics)
}

func TestObserveReadsEverything(t *testing.T) {
	onBoth(t, testObserve)
}

// onBoth runs a test on the real redis-server and on miniredis.
func onBoth(t *testing.T, test func(t *testing.T, f *fixture)) {
	t.Run("redis", func(t *testing.T) { test(t, newFixture(t)) })
	t.Run("miniredis", func(t *testing.T) { test(t, newMiniFixture(t)) })
}

func testMetrics(t *testing.T, f *fixture) {
	f.leased()             // python: a in_use
	f.ready("r1", at(0))   // python: r1 ready
	f.reserve("c1", at(0)) // python: c1 creating
	require.NoError(t, f.s.MarkDeleting(f.ctx, leader, "r1", pool.ReasonScaleDown, at(time.Minute)))
	f.ready("r2", at(0))
	require.NoError(t, f.s.Reserve(f.ctx, leader, pool.ReserveParams{Pool: "node", SandboxID: "n1", Caps: testCaps,
		CreateDeadline: at(time.Hour), Now: at(0)}))
	_, err := f.s.Acquire(f.ctx, acquireParams(at(2*time.Minute), "h2"))
	require.NoError(t, err) // python: r2 in_use
	p := acquireParams(at(3*time.Minute), "h3")
	_, err = f.s.Acquire(f.ctx, p)
	require.ErrorIs(t, err, pool.ErrPoolExhausted)
	require.NoError(t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: "", Shutdown: true, Now: at(4 * time.Minute)}))
	// The two warm acquires' latencies, as the service records them after answering.
	for range 2 {
		require.NoError(t, f.s.RecordAcquireLatency(f.ctx, testPool, pool.SourcePool, 3*time.Millisecond))
	}

	snap, err := f.s.Metrics(f.ctx, []string{testPool, "ruby"}, at(5*time.Minute))
	require.NoError(t, err)
	require.True(t, snap.ManagerShutdown)
	require.Equal(t, 5, snap.Total)
	require.Equal(t, 2, snap.CreatingTotal)
	require.Len(t, snap.Pools, 3, "named pools and every pool with state")
	py := snap.Pools[testPool]
	require.Equal(t, pool.PoolMetrics{Ready: 0, Creating: 1, InUse: 2, Deleting: 1}, pool.PoolMetrics{
		Ready: py.Ready, Creating: py.Creating, InUse: py.InUse, Deleting: py.Deleting})
	st := py.State.Stats
	require.Equal(t, int64(2), st.TotalAcquires)
	require.Equal(t, int64(2), st.AcquiresFromPool)
	require.Equal(t, int64(1), st.MissesEmpty)
	require.Equal(t, int64(1), st.ScaledDown)
	require.Equal(t, int64(4), st.Creates)
	require.InDelta(t, 6.0, st.AcquireLatencyMs, 1e-9)
	require.InDelta(t, 6.0, st.WarmLatencyMsSum, 1e-9)
	require.Equal(t, int64(2), st.WarmLatencyBuckets[2])
	require.Len(t, st.ColdLatencyBuckets, len(pool.LatencyBucketsMs)+1)
	require.Equal(t, at(2*time.Minute), py.State.LastAcquireAt)
	require.Equal(t, 1, snap.Pools["node"].Creating)
	require.Equal(t, pool.PoolMetrics{}, pool.PoolMetrics{Ready: snap.Pools["ruby"].Ready, InUse: snap.Pools["ruby"].InUse})

	_, err = f.s.Metrics(f.ctx, []string{""}, t0)
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func testObserve(t *testing.T, f *fixture) {
	f.leased()
	f.claim(at(time.Minute))
	f.ready("r1", at(0))
	require.NoError(t, f.s.MarkFailed(f.ctx, leader, "cold1", pool.FailParams{MaxAttempts: 3, ClaimNextTryAt: at(2 * time.Minute),
		NextCreateAt: at(3 * time.Minute), CircuitOpenUntil: at(4 * time.Minute), CircuitReason: "boom", Now: at(time.Minute)}))
	require.NoError(t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(2 * time.Minute)}))

	obs, err := f.s.Observe(f.ctx, at(3*time.Minute))
	require.NoError(t, err)
	require.Equal(t, at(3*time.Minute), obs.At)
	require.False(t, obs.ManagerShutdown)
	require.Len(t, obs.Pools, 1)
	ps := obs.Pools[testPool]
	require.True(t, ps.Shutdown)
	require.Equal(t, 1, ps.ConsecutiveFailures)
	require.Equal(t, at(3*time.Minute), ps.NextCreateAt)
	require.True(t, ps.CircuitOpen(at(3*time.Minute)))
	require.Equal(t, "boom", ps.CircuitReason)
	require.Equal(t, at(time.Minute), ps.ActivatedAt, "the claim's acquire found the pool empty, which activates it")

	byID := map[string]pool.Sandbox{}
	for _, sb := range obs.Sandboxes {
		byID[sb.ID] = sb
	}
	require.Len(t, byID, 3)
	require.Equal(t, pool.Sandbox{ID: "a", Pool: testPool, State: pool.StateInUse, AppID: "app-a", URL: "https://a.example",
		Region: "nyc", InstanceSize: "apps-s-1vcpu-1gb", CreatedAt: at(0), CreateDeadline: at(10 * time.Minute), ReadyAt: at(0),
		WarmDeadline: at(30 * time.Minute), AcquiredAt: at(time.Minute), LeaseExpiresAt: at(16 * time.Minute), Attempt: 1,
		LeaseHanded: true, LastHealthyAt: at(0)}, byID["a"])
	require.Equal(t, pool.StateReady, byID["r1"].State)
	cold := byID["cold1"]
	require.Equal(t, pool.StateDeleting, cold.State)
	require.Equal(t, pool.ReasonCreateFailed, cold.DeleteReason)
	require.Equal(t, at(time.Minute), cold.DeletingSince)
	require.Equal(t, "c1", cold.ClaimHash)

	require.Equal(t, []pool.Claim{{Hash: "c1", Pool: testPool, Attempts: 1, CreatedAt: at(time.Minute),
		LeaseTTL: 15 * time.Minute, NextTryAt: at(2 * time.Minute)}}, obs.Claims)
}
