package hotpooltest

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// simConfig: two pools, one cold-starting (create), one failing fast, a
// global cap that binds under bursts.
func simConfig() *pool.Config {
	c := pool.DefaultConfig()
	py := pool.DefaultPool()
	py.TargetReady, py.MaxReady = 4, 6
	py.Template.Repository = "sandbox-python-service" // "py" names its image
	py.IdleTimeout = pool.Duration(time.Hour)
	node := pool.DefaultPool()
	node.TargetReady, node.MaxReady = 2, 3
	node.OnEmpty = pool.OnEmptyFail
	node.IdleTimeout = pool.Duration(time.Hour)
	node.MaxWarmAge = pool.Duration(10 * time.Minute)
	c.Pools = map[string]*pool.PoolConfig{"py": &py, "node": &node}
	total := 20
	c.MaxTotalSandboxes = &total
	c.MaxConcurrentCreates = 4
	c.CreateTimeout = pool.Duration(3 * time.Minute)
	c.OrphanGrace = pool.Duration(2 * time.Minute)
	c.CircuitOpenFor = pool.Duration(2 * time.Minute)
	c.HealthCheckURL = true
	return &c
}

// simDuration is short in CI; HOTPOOL_SIM_LONG=1 runs hours.
func simDuration() time.Duration {
	if os.Getenv("HOTPOOL_SIM_LONG") != "" {
		return 6 * time.Hour
	}
	return 18 * time.Minute
}

// simSeed is 42, or HOTPOOL_SIM_SEED to explore other runs.
func simSeed(t *testing.T) uint64 {
	v := os.Getenv("HOTPOOL_SIM_SEED")
	if v == "" {
		return 42
	}
	n, err := strconv.ParseUint(v, 10, 64)
	require.NoError(t, err, "HOTPOOL_SIM_SEED")
	return n
}

// ConvergePasses is the stated bound: once faults stop, every pool is back
// at target within this many passes (5 s apart: 2 minutes).
const ConvergePasses = 24

func TestSimulation_InvariantsHoldUnderFaultsAndConverge(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	h, err := NewHarness(rdb, prefix, HarnessOptions{
		Config: simConfig(), Seed: simSeed(t), CreateDelay: 40 * time.Second, FailRate: 0.05,
		AcquiresPerMinute: map[string]float64{"py": 3, "node": 1},
		AbandonRate:       0.1, LeaseTTL: 10 * time.Minute,
	})
	require.NoError(t, err)
	defer h.Close()

	d := simDuration()
	// Calm, then faults on the API and on health, then calm again.
	require.NoError(t, h.Run(ctx, d/3))
	h.Sim.SetFaults(appsim.Faults{Rate429: 0.05, Rate500: 0.05, Rate503: 0.05, DropRate: 0.02})
	require.NoError(t, h.Run(ctx, d/3))
	h.Sim.SetFaults(appsim.Faults{})
	require.NoError(t, h.Run(ctx, d/3))

	passes, err := h.Converge(ctx, ConvergePasses)
	require.NoError(t, err)
	require.NoError(t, h.CheckConsistency(ctx))
	require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))

	s := h.Stats
	require.Positive(t, s.WarmHits)
	require.Positive(t, s.Released)
	require.Positive(t, s.Abandoned, "some leases must be reaped for the run to mean anything")
	require.LessOrEqual(t, s.MaxTotal, 20)
	require.LessOrEqual(t, s.MaxCreating, 4)
	t.Logf("simulated %v in %d steps, %d passes: acquires=%d warm=%d cold=%d served=%d claim-failed=%d exhausted=%d released=%d abandoned=%d; pass errors=%d api calls=%d (%.1f/min); max total=%d max creating=%d; pool-steps below target %d, empty %d, of %d; warm hit rate %.2f; converged in %d passes",
		d, s.Steps, s.Passes, s.Acquires, s.WarmHits, s.ColdClaims, s.ClaimsServed, s.ClaimsFailed, s.Exhausted,
		s.Released, s.Abandoned, s.PassErrors, s.APICalls, float64(s.APICalls)/d.Minutes(), s.MaxTotal, s.MaxCreating,
		s.StepsBelowTarget, s.StepsEmpty, s.PoolStepsTotal, float64(s.WarmHits)/float64(s.Acquires), passes)
}

func TestSimulation_RefillLagAfterBurst(t *testing.T) {
	t.Parallel()
	delay := 40 * time.Second
	cases := []struct {
		name      string
		passEvery time.Duration
		bound     time.Duration
	}{
		// RunFor: passes every 5 s while anything is creating or below target.
		{"RunFor every 5s", 5 * time.Second, delay + 10*time.Second},
		// The cron trigger alone: a pass a minute.
		{"cron only, every 60s", time.Minute, delay + 2*time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rdb, prefix := redistest.Client(t)
			ctx := context.Background()
			h, err := NewHarness(rdb, prefix, HarnessOptions{Config: simConfig(), Seed: 7, CreateDelay: delay, PassEvery: tc.passEvery})
			require.NoError(t, err)
			defer h.Close()
			h.SetTraffic(false)
			_, err = h.Converge(ctx, ConvergePasses)
			require.NoError(t, err)
			// Let a pass go by, so the burst lands at an arbitrary point of the cadence.
			require.NoError(t, h.Run(ctx, tc.passEvery/2))

			warm := h.Burst(ctx, "py", 4)
			require.Equal(t, 4, warm)
			lag, passes, err := h.RefillLag(ctx, "py", 5*time.Minute)
			require.NoError(t, err)
			// A refill cannot beat one deployment.
			require.GreaterOrEqual(t, lag, delay)
			require.LessOrEqual(t, lag, tc.bound)
			t.Logf("refill lag after a burst of 4 (target 4, create delay %v, %s): %v (%.2fx the create delay), %d passes",
				delay, tc.name, lag, lag.Seconds()/delay.Seconds(), passes)
			require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
		})
	}
}

// The local server embeds miniredis: the same run must hold there too.
func TestSimulation_OnMiniredis(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	h, err := NewHarness(rdb, "mini", HarnessOptions{
		Config: simConfig(), Seed: 3, FailRate: 0.05,
		AcquiresPerMinute: map[string]float64{"py": 3, "node": 1}, AbandonRate: 0.1,
	})
	require.NoError(t, err)
	defer h.Close()
	require.NoError(t, h.Run(ctx, 6*time.Minute))
	_, err = h.Converge(ctx, ConvergePasses)
	require.NoError(t, err)
	require.NoError(t, h.CheckConsistency(ctx))
	require.Positive(t, h.Stats.WarmHits)
	require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
}

// The functions' schedules after a burst (create delays 40 s and 70 s): the scheduled
// trigger alone waits for the next cron minute before a create starts; a
// kick from the acquire starts a run at once. The burst lands at each 10 s
// offset of the minute in turn; lags are simulated time, so they repeat.
func TestSimulation_RefillLagCronAgainstKicked(t *testing.T) {
	t.Parallel()
	// 40 s fits one run (55 s); 70 s does not, so a run ends with the
	// deployments in flight and hands them to the next through a kick.
	for _, delay := range []time.Duration{40 * time.Second, 70 * time.Second} {
		t.Run(delay.String(), func(t *testing.T) { refillLagCronAgainstKicked(t, delay) })
	}
}

func refillLagCronAgainstKicked(t *testing.T, delay time.Duration) {
	lags := map[Schedule][]time.Duration{}
	for _, sched := range []Schedule{ScheduleCron, ScheduleCronKicked} {
		rdb, prefix := redistest.Client(t)
		ctx := context.Background()
		// py alone: node's max_warm_age replacements would take create slots
		// (max_concurrent_creates 4) and delay py's creates whatever the
		// schedule.
		cfg := simConfig()
		delete(cfg.Pools, "node")
		h, err := NewHarness(rdb, prefix, HarnessOptions{Config: cfg, Seed: 7, CreateDelay: delay, Step: time.Second, Schedule: sched,
			// Each burst's leases outlast its refill, so no release kicks a
			// run meanwhile, and are gone before the next burst.
			HoldMin: 150 * time.Second, HoldMax: 160 * time.Second})
		require.NoError(t, err)
		h.SetTraffic(false)
		_, err = h.Converge(ctx, ConvergePasses)
		require.NoError(t, err)
		for offset := time.Duration(0); offset < time.Minute; offset += 10 * time.Second {
			// Settle, then land the burst at this offset of the minute.
			now := h.Clock.Now()
			wait := 3*time.Minute + (offset-now.Sub(now.Truncate(time.Minute))+time.Minute)%time.Minute
			require.NoError(t, h.Run(ctx, wait))
			require.Equal(t, 4, h.Burst(ctx, "py", 4))
			lag, _, err := h.RefillLag(ctx, "py", 5*time.Minute)
			require.NoError(t, err)
			require.GreaterOrEqual(t, lag, delay, "a refill cannot beat one deployment")
			lags[sched] = append(lags[sched], lag)
		}
		require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
		h.Close()
	}
	mean := func(ds []time.Duration) time.Duration {
		var s time.Duration
		for _, d := range ds {
			s += d
		}
		return s / time.Duration(len(ds))
	}
	cron, kicked := lags[ScheduleCron], lags[ScheduleCronKicked]
	t.Logf("refill lag after a burst of 4 (target 4, create delay %v), %d burst offsets: cron only mean %v max %v; kicked mean %v max %v; mean ratio %.2f",
		delay, len(cron), mean(cron), slices.Max(cron), mean(kicked), slices.Max(kicked), mean(cron).Seconds()/mean(kicked).Seconds())
	// A kick starts the creates within a step; the next pass after the
	// deployment marks them ready (every 5 s), whatever the minute.
	require.LessOrEqual(t, slices.Max(kicked), delay+2*5*time.Second)
	require.Greater(t, mean(cron), mean(kicked), "the cron minute is waited for without a kick")
}

// CountsAfterWrites only skips reads that could not differ: the same seeded
// run, with acquires, releases, claims, failures and abandoned leases, counts
// exactly the same with and without it, while reading the counts less often.
func TestCountsAfterWritesCountsTheSame(t *testing.T) {
	t.Parallel()
	run := func(reuse bool) (Stats, int64) {
		rdb, prefix := redistest.Client(t)
		ctx := context.Background()
		h, err := NewHarness(rdb, prefix, HarnessOptions{
			Config: simConfig(), Seed: 11, Step: time.Second, Schedule: ScheduleCronKicked, FailRate: 0.05,
			AcquiresPerMinute: map[string]float64{"py": 2, "node": 1}, AbandonRate: 0.1,
			CheckEvery: 60, CountsAfterWrites: reuse,
		})
		require.NoError(t, err)
		defer h.Close()
		var reads atomic.Int64
		rdb.AddHook(countEvalsha{&reads})
		require.NoError(t, h.Run(ctx, 12*time.Minute))
		require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
		return h.Stats, reads.Load()
	}
	fresh, freshCalls := run(false)
	reused, reusedCalls := run(true)
	require.Positive(t, fresh.WarmHits)
	require.Positive(t, fresh.Abandoned)
	require.Equal(t, fresh, reused)
	require.Less(t, reusedCalls, freshCalls, "idle steps must reuse the last read")
	t.Logf("script calls: %d reading every step, %d reading after writes", freshCalls, reusedCalls)
}

// countEvalsha counts the scripts a client runs.
type countEvalsha struct{ n *atomic.Int64 }

func (c countEvalsha) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c countEvalsha) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c countEvalsha) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
