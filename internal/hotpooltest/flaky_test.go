package hotpooltest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// flakyRun serves steady demand (perMinute acquires, held 20-60 s) from one
// pool (on_empty fail, so every acquire is a hit or a miss) for 20 simulated
// minutes with a share of deployments failing at random, and returns the hit
// rate.
func flakyRun(t *testing.T, failRate float64, target int, perMinute float64) (hitRate float64, s Stats) {
	t.Helper()
	rdb, prefix := redistest.Client(t)
	c := pool.DefaultConfig()
	py := pool.DefaultPool()
	py.TargetReady, py.MaxReady = target, target+3
	py.OnEmpty = pool.OnEmptyFail
	py.IdleTimeout = pool.Duration(time.Hour)
	py.Template.Repository = "sandbox-python-service"
	c.Pools = map[string]*pool.PoolConfig{"py": &py}
	c.CircuitOpenFor = pool.Duration(2 * time.Minute)
	h, err := NewHarness(rdb, prefix, HarnessOptions{Config: &c, Seed: 11, CreateDelay: 30 * time.Second, FailRate: failRate,
		AcquiresPerMinute: map[string]float64{"py": perMinute}, HoldMin: 20 * time.Second, HoldMax: time.Minute})
	require.NoError(t, err)
	defer h.Close()
	h.SetTraffic(false)
	_, err = h.Converge(context.Background(), 60)
	require.NoError(t, err)
	h.SetTraffic(true)
	h.Stats = Stats{}
	require.NoError(t, h.Run(context.Background(), 20*time.Minute))
	require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
	return float64(h.Stats.WarmHits) / float64(h.Stats.Acquires), h.Stats
}

// Intermittent create failures cost about their share of throughput, not
// most of it: a failure backs off only the slots that failed in a row while
// the others go on, and a success resets the streak (and the circuit's
// count), so a pool stalls only on consecutive failures. Before, every
// failure paused the whole pool's creates for 5-10 s and a few failures in
// one pass, successes between them, opened the circuit: target 8 at 12
// acquires a minute kept 0.48 of its clean hit rate (docs/BENCHMARKS.md §7).
func TestSimulation_FlakyCreatesCostTheirShare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target    int
		perMinute float64
		minRatio  float64
	}{
		{8, 12, 0.7},
		{5, 6, 0.6}, // 40% failing costs about 40%: the pool cannot serve what never deploys
	} {
		clean, _ := flakyRun(t, 0, tc.target, tc.perMinute)
		flaky, s := flakyRun(t, 0.4, tc.target, tc.perMinute)
		t.Logf("target %d, %.0f acquires/min: hit rate %.2f with no failed deployments, %.2f with 40%% failing (ratio %.2f; %d acquires)",
			tc.target, tc.perMinute, clean, flaky, flaky/clean, s.Acquires)
		require.Greater(t, clean, 0.9)
		require.GreaterOrEqual(t, flaky/clean, tc.minRatio)
	}
}

// burstRun: 30 acquires 0.3 s apart on a pool of 5 that cold-starts the
// rest, then 3 minutes for the claims; it returns how many were served.
func burstRun(t *testing.T, failRate float64) int {
	t.Helper()
	rdb, prefix := redistest.Client(t)
	c := pool.DefaultConfig()
	py := pool.DefaultPool()
	py.TargetReady, py.MaxReady = 5, 10
	py.IdleTimeout = pool.Duration(time.Hour)
	py.Template.Repository = "sandbox-python-service"
	c.Pools = map[string]*pool.PoolConfig{"py": &py}
	c.MaxConcurrentCreates = 30
	c.CircuitOpenFor = pool.Duration(2 * time.Minute)
	h, err := NewHarness(rdb, prefix, HarnessOptions{Config: &c, Seed: 5, CreateDelay: 30 * time.Second, FailRate: failRate,
		HoldMin: time.Hour, HoldMax: time.Hour})
	require.NoError(t, err)
	defer h.Close()
	ctx := context.Background()
	h.Sim.SetFailRate(0)
	_, err = h.Converge(ctx, 60)
	require.NoError(t, err)
	h.Sim.SetFailRate(failRate)
	h.Stats = Stats{}
	for range 30 {
		h.Acquire(ctx, "py")
		h.Clock.Advance(300 * time.Millisecond)
	}
	require.NoError(t, h.Run(ctx, 3*time.Minute))
	require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
	return h.Stats.WarmHits + h.Stats.ClaimsServed
}

// A burst of cold claims with 40% of deployments failing: each claim
// retries its own slot (create_retries attempts, 2 s backoff), so almost all
// are served. max_concurrent_creates is raised so that the cap, not the
// failures, does not decide (at the default 10 both serve 15 of 30).
func TestSimulation_FlakyCreatesDuringABurst(t *testing.T) {
	t.Parallel()
	clean, flaky := burstRun(t, 0), burstRun(t, 0.4)
	t.Logf("burst of 30: served %d with no failed deployments, %d with 40%% failing", clean, flaky)
	require.Equal(t, 30, clean)
	require.GreaterOrEqual(t, flaky, 24, "each claim retries its own slot: 3 attempts at 40%% fail all only 6%% of the time")
}

// stallRun is the scenario of a pool that stalled under flaky creates: pool
// py with target 5, max_ready 6, on_empty fail and create_retries 10, capped
// at 8 sandboxes and 3 concurrent creates; deployments take 300 ms and 40 %
// fail; passes run every 200 ms. Once it is full, 30 acquires 0.3 s apart,
// each released at once. It returns the hits, and how long after the churn
// the pool took to be back at 5 ready (or -1 when it was not within limit).
func stallRun(t *testing.T, seed uint64, limit time.Duration) (hits int, back time.Duration) {
	t.Helper()
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	c := stalledCaseConfig()
	h, err := NewHarness(rdb, prefix, HarnessOptions{Config: &c, Seed: seed, Step: 100 * time.Millisecond,
		PassEvery: 200 * time.Millisecond, CreateDelay: 300 * time.Millisecond, FailRate: 0.4})
	require.NoError(t, err)
	defer h.Close()
	h.SetTraffic(false)
	_, err = h.Converge(ctx, 600)
	require.NoError(t, err)
	h.ResetStats()
	for range 30 {
		h.AcquireFor(ctx, "py", 50*time.Millisecond)
		for range 3 {
			require.NoError(t, h.Step(ctx))
		}
	}
	hits = h.Stats.WarmHits
	start := h.Now()
	for h.Now().Sub(start) <= limit {
		snap, err := h.Counts(ctx)
		require.NoError(t, err)
		if snap.Pools["py"].Ready >= 5 {
			return hits, h.Now().Sub(start)
		}
		require.NoError(t, h.Step(ctx))
	}
	require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
	return hits, -1
}

// A pool below target whose circuit is closed never stalls: with 40 % of
// creates failing it serves in proportion to the successes, and it refills
// soon after the churn, in every one of ten seeds. Before the fix, a failure
// streak as long as the target held every create slot, for a backoff that
// doubled from 10 s with each failure of the streak: 5 of 7 runs ended at
// ready 0 for over 45 s.
func TestSimulation_FlakyCreatesNeverStallThePool(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 10; seed++ {
		hits, back := stallRun(t, seed, 45*time.Second)
		t.Logf("seed %d: %d of 30 hits, back at 5 ready %v after the churn", seed, hits, back)
		require.GreaterOrEqual(t, hits, 20, "seed %d", seed)
		require.GreaterOrEqual(t, back, time.Duration(0), "seed %d: not back at target within 45 s", seed)
	}
}

// stalledCaseConfig is issue 30's stalled case: pool py, target 5,
// max_ready 6, on_empty fail, create_retries 10, at most 8 sandboxes and 3
// concurrent creates.
func stalledCaseConfig() pool.Config {
	c := pool.DefaultConfig()
	py := pool.DefaultPool()
	py.TargetReady, py.MaxReady, py.CreateRetries = 5, 6, 10
	py.OnEmpty = pool.OnEmptyFail
	py.IdleTimeout = pool.Duration(time.Hour)
	py.Template.Repository = "sandbox-python-service"
	c.Pools = map[string]*pool.PoolConfig{"py": &py}
	eight := 8
	c.MaxTotalSandboxes, c.MaxConcurrentCreates = &eight, 3
	return c
}

// failingPoolCalls serves a pool whose deployments fail 90 % of the time
// (issue 30's stalled case: target 5, max_ready 6, create_retries 10, at
// most 8 sandboxes and 3 concurrent creates, 300 ms deployments) with one
// acquire every 10 s for 10 simulated minutes, and returns the API calls a
// minute the reconciler spent.
func failingPoolCalls(t *testing.T, sched Schedule, passEvery time.Duration) float64 {
	t.Helper()
	rdb, prefix := redistest.Client(t)
	c := stalledCaseConfig()
	h, err := NewHarness(rdb, prefix, HarnessOptions{Config: &c, Seed: 5, Step: passEvery, PassEvery: passEvery,
		Schedule: sched, CreateDelay: 300 * time.Millisecond, FailRate: 0.9, CheckEvery: 50,
		AcquiresPerMinute: map[string]float64{"py": 6}, HoldMin: time.Second, HoldMax: 2 * time.Second})
	require.NoError(t, err)
	defer h.Close()
	const run = 10 * time.Minute
	require.NoError(t, h.Run(context.Background(), run))
	require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
	t.Logf("calls by endpoint: %v", h.Sim.Calls())
	return float64(h.Stats.APICalls) / run.Minutes()
}

// A pool whose creates keep failing spends a small share of the API budget:
// its backoff and circuit hold the creates, and a scan that found nothing
// new is not repeated at every pass. Before (e93f706), the same pool under
// the local server's 200 ms passes listed every app at every pass
// (scan_no_records) and spent the whole per-minute budget.
func TestSimulation_AFailingPoolSpendsLittleOfTheBudget(t *testing.T) {
	t.Parallel()
	budget := float64(pool.DefaultAPIPerMinute)
	for _, tc := range []struct {
		name  string
		sched Schedule
		every time.Duration
	}{
		{"local server, a pass every 200ms", ScheduleEvery, 200 * time.Millisecond},
		{"functions' cron, passes every 5s while work is in flight", ScheduleCron, 5 * time.Second},
	} {
		perMinute := failingPoolCalls(t, tc.sched, tc.every)
		t.Logf("%s: %.1f API calls a minute (budget %v)", tc.name, perMinute, budget)
		require.Less(t, perMinute, budget/4, tc.name)
	}
}
