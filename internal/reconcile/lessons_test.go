package reconcile_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/hotpooltest"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/reconcile"
)

// The ways the Python SandboxManager and other pools failed, each shown
// impossible by a test named after the failure (TestLesson_RunawayCreation,
// _GlobalCapOffByOne, _ReleaseNotNotified, _HandedOutBeforeServing, …), on
// the real Store (Redis), the real provider and the simulated App Platform.

const convergeLimit = 24

func TestLesson_RunawayCreation(t *testing.T) {
	t.Parallel()
	// Slow deployments, health checks every pass, cold claims on top: the
	// pool's stock never goes above max_ready and every app has a record.
	cfg := lessonConfig(5, 5)
	py(cfg).HealthCheckInterval = pool.Seconds(5)
	py(cfg).OnEmpty = pool.OnEmptyCreate
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{CreateDelay: 2 * time.Minute, AcquiresPerMinute: map[string]float64{"py": 2}})
	ctx := context.Background()
	for range 72 { // 6 minutes
		require.NoError(t, e.Step(ctx))
		m := e.metrics(t)
		obs, err := e.Store.Observe(ctx, e.Now())
		require.NoError(t, err)
		claims := 0
		for _, sb := range obs.Sandboxes {
			if sb.State == pool.StateCreating && sb.ClaimHash != "" {
				claims++
			}
		}
		require.LessOrEqual(t, m.Ready+m.Creating-claims, 5, "stock above max_ready")
		require.LessOrEqual(t, len(e.apps(t)), len(obs.Sandboxes), "an app without a record")
	}
	require.Positive(t, e.Stats.ColdClaims)
	e.noViolations(t)
}

func TestLesson_GlobalCapOffByOne(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	three := 3
	cfg.MaxTotalSandboxes = &three
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	_, err := e.Converge(context.Background(), convergeLimit)
	require.NoError(t, err, "a pool whose target equals the global cap must fill")
	require.Equal(t, 3, e.metrics(t).Ready)
	require.Equal(t, 3, e.Stats.MaxTotal)
	e.noViolations(t)
}

func TestLesson_TransientErrorDestroysHealthy(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	_, err := e.Converge(ctx, convergeLimit)
	require.NoError(t, err)
	before := e.readyIDs(t)
	require.Len(t, before, 3)

	// Every API call fails or hangs up, and every /health times out.
	e.Sim.SetFaults(appsim.Faults{Rate500: 0.4, Rate503: 0.3, Rate429: 0.2, DropRate: 0.1})
	e.pv.healthUnknown.Store(true)
	deletes0 := e.Sim.Calls()["DELETE /v2/apps/{id}"]
	require.NoError(t, e.Run(ctx, 5*time.Minute))
	require.Positive(t, e.Stats.PassErrors)
	require.ElementsMatch(t, before, e.readyIDs(t), "an unknown answer condemned a healthy sandbox")
	require.Equal(t, deletes0, e.Sim.Calls()["DELETE /v2/apps/{id}"])
	e.noViolations(t)
}

func TestLesson_FailedDeploymentsNeverDeleted(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{FailRate: 1})
	ctx := context.Background()
	for range 120 { // 10 minutes; every pass sees what the platform did since the last
		require.NoError(t, e.Step(ctx))
		for _, a := range e.apps(t) {
			require.NotEqual(t, pool.PhaseFailed, a.Phase, "app %s failed and was left standing", a.ID)
		}
	}
	calls := e.Sim.Calls()
	require.Positive(t, calls["POST /v2/apps"])
	inFlight := len(e.apps(t))
	require.Equal(t, calls["POST /v2/apps"], calls["DELETE /v2/apps/{id}"]+inFlight, "every failed create is deleted")
	e.noViolations(t)
}

func TestLesson_ShutdownLeaksInFlightCreates(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(4, 6)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{LeaseTTL: 30 * time.Minute, HoldMin: time.Hour, HoldMax: time.Hour})
	ctx := context.Background()
	_, err := e.Converge(ctx, convergeLimit)
	require.NoError(t, err)
	e.Acquire(ctx, "py")
	e.Acquire(ctx, "py")
	_, err = e.Pass(ctx) // two replacements now in flight
	require.NoError(t, err)
	require.Equal(t, 2, e.metrics(t).Creating)

	_, err = e.Service.Shutdown(ctx, "py")
	require.NoError(t, err)
	require.NoError(t, e.Run(ctx, time.Minute))
	m := e.metrics(t)
	require.Equal(t, pool.PoolMetrics{InUse: 2}, pool.PoolMetrics{Ready: m.Ready, Creating: m.Creating, InUse: m.InUse, Deleting: m.Deleting})
	require.Len(t, e.apps(t), 2, "only the leased sandboxes' apps remain")

	_, err = e.Service.Acquire(ctx, pool.AcquireRequest{Image: "py"})
	require.ErrorIs(t, err, pool.ErrPoolShutdown)
	_, err = e.Service.Start(ctx, "py")
	require.NoError(t, err)
	passes, err := e.Converge(ctx, convergeLimit)
	require.NoError(t, err, "start re-enables and refills")
	t.Logf("refilled after start in %d passes", passes)
	e.noViolations(t)
}

func TestLesson_RetriesWithoutBackoff(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	e.pv.refuseCreates.Store(true)
	ctx := context.Background()
	require.NoError(t, e.Run(ctx, 30*time.Minute))
	creates := e.pv.creates()
	// 1 Hz retries would be 1,800; exponential backoff and then one probe
	// per circuit window (2 min) is about 3 + 15.
	require.LessOrEqual(t, len(creates), 20)
	require.GreaterOrEqual(t, len(creates), 10, "the pool keeps probing")
	for i := 1; i < len(creates); i++ {
		require.GreaterOrEqual(t, creates[i].Sub(creates[i-1]), reconcile.BackoffBase/2, "retry %d came too soon", i)
	}
	m := e.metrics(t)
	require.Contains(t, m.State.CircuitReason, "consecutive create failures", "the reason is visible in metrics")
	t.Logf("%d create attempts in 30 simulated minutes of a refused image", len(creates))
	e.noViolations(t)
}

func TestLesson_CreationFailingForever(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	e.pv.refuseCreates.Store(true)
	ctx := context.Background()
	var rep pool.PassReport
	var err error
	for i := 0; i < 60 && !strings.HasPrefix(rep.Pools["py"].Circuit, "open"); i++ {
		e.Clock.Advance(5 * time.Second)
		rep, err = e.Pass(ctx)
		require.NoError(t, err)
	}
	require.True(t, strings.HasPrefix(rep.Pools["py"].Circuit, "open: "), rep.Pools["py"].Circuit)
	require.Len(t, e.pv.creates(), py(cfg).CreateRetries, "the circuit opens after create_retries failures")
	e.Clock.Advance(5 * time.Second)
	rep, err = e.Pass(ctx) // forgets the last failed record
	require.NoError(t, err)
	require.False(t, rep.Busy(), "an open circuit does not keep RunFor polling")

	n := len(e.pv.creates())
	require.NoError(t, e.Run(ctx, cfg.CircuitOpenFor.D()-10*time.Second))
	require.Len(t, e.pv.creates(), n, "no create while the circuit is open")

	e.pv.refuseCreates.Store(false)
	passes, err := e.Converge(ctx, 60)
	require.NoError(t, err, "a successful probe closes the circuit and the pool fills")
	require.Equal(t, "closed", func() string {
		r, err := e.Pass(ctx)
		require.NoError(t, err)
		return r.Pools["py"].Circuit
	}())
	t.Logf("recovered %d passes after the platform healed", passes)
	e.noViolations(t)
}

func TestLesson_ReleaseNotNotified(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(2, 4)
	cfg.MaxTotalSandboxes = func() *int { n := 8; return &n }()
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{AcquiresPerMinute: map[string]float64{"py": 2}, AbandonRate: 1, LeaseTTL: 2 * time.Minute})
	ctx := context.Background()
	require.NoError(t, e.Run(ctx, 20*time.Minute))
	e.SetTraffic(false)
	require.NoError(t, e.Run(ctx, 4*time.Minute))
	m := e.metrics(t)
	require.Zero(t, m.InUse, "abandoned leases are reaped")
	require.Positive(t, m.State.Stats.LeasesReaped)
	require.Greater(t, e.Stats.WarmHits, 20, "the cap never wedges the pool")
	e.noViolations(t)
}

func TestLesson_AcquireCallsControlPlane(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	py(cfg).OnEmpty = pool.OnEmptyCreate
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{LeaseTTL: time.Hour, HoldMin: time.Hour, HoldMax: time.Hour})
	ctx := context.Background()
	_, err := e.Converge(ctx, convergeLimit)
	require.NoError(t, err)
	before := e.Sim.Calls()
	for range 4 { // three warm hits, then a cold claim
		e.Acquire(ctx, "py")
	}
	require.Equal(t, 3, e.Stats.WarmHits)
	require.Equal(t, 1, e.Stats.ColdClaims)
	require.Equal(t, before, e.Sim.Calls(), "acquire made a platform call")
	e.noViolations(t)
}

func TestLesson_AgesNotStaggered(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(10, 14)
	py(cfg).MaxWarmAge = pool.Duration(10 * time.Minute)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	_, err := e.Converge(ctx, convergeLimit) // filled at once
	require.NoError(t, err)
	maxExpired, minReady, expired := 0, 10, 0
	for range 240 { // 20 minutes: two warm-age cycles
		e.Clock.Advance(5 * time.Second)
		rep, err := e.Pass(ctx)
		require.NoError(t, err)
		p := rep.Pools["py"]
		expired += p.Expired
		maxExpired = max(maxExpired, p.Expired)
		minReady = min(minReady, p.Ready)
	}
	require.GreaterOrEqual(t, expired, 15, "the sandboxes were cycled")
	require.LessOrEqual(t, maxExpired, 3, "expiries are spread, not all at once")
	require.GreaterOrEqual(t, minReady, 8, "rolling: replacements deploy before the deadlines")
	t.Logf("10 sandboxes filled at once, max_warm_age 10 min, 20 min: %d expiries, at most %d in one pass, ready never below %d", expired, maxExpired, minReady)
	e.noViolations(t)
}

func TestLesson_ScaleDownNeedsAcquire(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	py(cfg).IdleTimeout = pool.Duration(2 * time.Minute)
	py(cfg).ScaleDownDelay = pool.Duration(time.Minute)
	py(cfg).CooldownAfterAcquire = pool.Duration(2 * time.Minute)
	py(cfg).OnEmpty = pool.OnEmptyCreate
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	var downs []time.Time
	for range 120 { // 10 minutes, never an acquire
		e.Clock.Advance(5 * time.Second)
		rep, err := e.Pass(ctx)
		require.NoError(t, err)
		if rep.Pools["py"].ScaledDown > 0 {
			require.Equal(t, 1, rep.Pools["py"].ScaledDown)
			downs = append(downs, e.Now())
		}
	}
	require.Len(t, downs, 3, "a never-used pool scales down to 0")
	for i := 1; i < len(downs); i++ {
		require.GreaterOrEqual(t, downs[i].Sub(downs[i-1]), time.Minute, "one every scale_down_delay")
	}
	require.Zero(t, e.metrics(t).Ready)

	e.Acquire(ctx, "py") // reactivates the pool (a cold claim, the pool being empty)
	e.SetTraffic(false)
	require.NoError(t, e.Run(ctx, 2*time.Minute))
	require.Equal(t, 3, e.metrics(t).Ready, "an acquire reactivates the pool and it refills")
	require.Equal(t, 1, e.Stats.ClaimsServed)
	e.noViolations(t)
}

func TestLesson_PoolsStartedTwice(t *testing.T) {
	t.Parallel()
	// Overlapping reconcilers (two cron runs, or two processes) never
	// overshoot: one pass at a time holds the lock; the other does nothing.
	cfg := lessonConfig(4, 6)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	second := reconcile.New(e.Store, e.Provider, cfg, e.Clock)
	leaders := 0
	for range 40 {
		e.Clock.Advance(5 * time.Second)
		var wg sync.WaitGroup
		reps := make([]pool.PassReport, 4)
		errs := make([]error, 4)
		for i := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.Reconciler
				if i%2 == 1 {
					r = second
				}
				reps[i], errs[i] = r.Reconcile(ctx)
			}()
		}
		wg.Wait()
		for i, rep := range reps {
			require.NoError(t, errs[i])
			if rep.Leader {
				leaders++
			}
		}
		require.NoError(t, e.Check(ctx))
		require.LessOrEqual(t, len(e.apps(t)), 6)
	}
	require.Positive(t, leaders)
	require.Equal(t, 4, e.metrics(t).Ready)
	require.Equal(t, 4, e.Sim.Calls()["POST /v2/apps"], "exactly target creates, however many reconcilers ran")
	e.noViolations(t)
}

func TestLesson_ExpiredNeverReplaced(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	py(cfg).MaxWarmAge = pool.Duration(5 * time.Minute)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	_, err := e.Converge(ctx, convergeLimit)
	require.NoError(t, err)
	require.NoError(t, e.Run(ctx, 30*time.Minute)) // no acquire at all
	m := e.metrics(t)
	require.GreaterOrEqual(t, m.State.Stats.ExpiredWarm, int64(12), "expired sandboxes were cycled")
	require.GreaterOrEqual(t, m.Ready, 3, "and replaced without any acquire")
	require.LessOrEqual(t, m.Ready+m.Creating, 5)
	e.noViolations(t)
}

func TestLesson_OrphansAfterRestart(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	five := 5
	cfg.MaxTotalSandboxes = &five
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	_, err := e.Converge(ctx, convergeLimit)
	require.NoError(t, err)
	old := e.apps(t)
	require.Len(t, old, 3)

	require.NoError(t, e.FlushRedis(ctx, e.rdb)) // Redis emptied: 3 apps nobody knows
	for range 60 {                               // 5 minutes
		require.NoError(t, e.Step(ctx))
		require.LessOrEqual(t, len(e.apps(t)), 5, "orphans in their grace still count toward the cap")
	}
	apps := e.apps(t)
	for _, o := range old {
		for _, a := range apps {
			require.NotEqual(t, o.ID, a.ID, "orphan %s survived its grace", o.ID)
		}
	}
	_, err = e.Converge(ctx, convergeLimit)
	require.NoError(t, err)
	require.NoError(t, e.CheckConsistency(ctx))
	require.EqualValues(t, 3, e.metrics(t).State.Stats.OrphansDeleted)
	e.noViolations(t)
}

func TestLesson_SweepKillsLeased(t *testing.T) {
	t.Parallel()
	// A leased sandbox survives everything that destroys sandboxes: failing
	// health, shutdown, an orphan sweep, warm expiry. Only its lease's end
	// reaps it. The harness probes each live lease's URL after every step.
	cfg := lessonConfig(3, 5)
	py(cfg).MaxWarmAge = pool.Duration(3 * time.Minute)
	py(cfg).HealthCheckInterval = pool.Seconds(5)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{LeaseTTL: 10 * time.Minute, HoldMin: time.Hour, HoldMax: time.Hour})
	ctx := context.Background()
	_, err := e.Converge(ctx, convergeLimit)
	require.NoError(t, err)
	e.Acquire(ctx, "py")
	e.Acquire(ctx, "py")
	leases := e.Leases()
	require.Len(t, leases, 2)
	for _, l := range leases {
		e.Sim.SetHealthFailing(l.Sandbox.AppID, true)
	}
	require.NoError(t, e.Run(ctx, 4*time.Minute))
	_, err = e.Service.Shutdown(ctx, "py")
	require.NoError(t, err)
	require.NoError(t, e.Run(ctx, 5*time.Minute)) // lease ends at 10 min
	require.Equal(t, 2, e.metrics(t).InUse)
	e.noViolations(t) // no probe saw a 404

	require.NoError(t, e.Run(ctx, 2*time.Minute)) // past the leases: reaped
	m := e.metrics(t)
	require.Zero(t, m.InUse)
	require.EqualValues(t, 2, m.State.Stats.LeasesReaped)
	require.Empty(t, e.apps(t))
	e.noViolations(t)
}

func TestLesson_HandedOutBeforeServing(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{LeaseTTL: time.Hour, HoldMin: time.Hour, HoldMax: time.Hour})
	ctx := context.Background()
	_, err := e.Pass(ctx) // three creates
	require.NoError(t, err)
	apps := e.apps(t)
	require.Len(t, apps, 3)
	sick := apps[0]
	e.Sim.SetHealthFailing(sick.ID, true) // deploys ACTIVE but never serves
	require.NoError(t, e.Run(ctx, time.Minute))
	require.Equal(t, 2, e.metrics(t).Ready, "an ACTIVE app that does not serve is not ready")

	for range 3 {
		e.Acquire(ctx, "py")
	}
	require.Equal(t, 2, e.Stats.WarmHits)
	require.Equal(t, 1, e.Stats.Exhausted)
	for _, l := range e.Leases() {
		require.NotEqual(t, sick.ID, l.Sandbox.AppID)
	}
	require.NoError(t, e.Run(ctx, 4*time.Minute)) // its create deadline passes
	for _, a := range e.apps(t) {
		require.NotEqual(t, sick.ID, a.ID, "the sick app is deleted at its deadline")
	}
	e.noViolations(t)
}

func TestReconcile_LostCreateResponseIsRepairedBySandboxID(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	e.pv.loseCreateResponse.Store(true)
	rep, err := e.Pass(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Errors, 1, "the first unknown answer stops this pass's creates")
	e.pv.loseCreateResponse.Store(false)
	_, err = e.Converge(ctx, convergeLimit)
	require.NoError(t, err)
	require.NoError(t, e.CheckConsistency(ctx))
	require.Len(t, e.apps(t), 3, "the app whose answer was lost is adopted by its sandbox id, not duplicated")
	e.noViolations(t)
}

func TestReconcile_LockHeldElsewhereChangesNothing(t *testing.T) {
	t.Parallel()
	e := newLesson(t, lessonConfig(3, 5), hotpooltest.HarnessOptions{})
	ctx := context.Background()
	held, err := e.Store.Lock(ctx, pool.Fence{Token: pool.NewToken()}, time.Minute, e.Now())
	require.NoError(t, err)
	require.True(t, held)
	rep, err := e.Reconciler.Reconcile(ctx)
	require.NoError(t, err)
	require.False(t, rep.Leader)
	require.Zero(t, rep.APICalls)
	require.Empty(t, e.Sim.Calls())
	obs, err := e.Store.Observe(ctx, e.Now())
	require.NoError(t, err)
	require.Empty(t, obs.Sandboxes)
}

func TestReconcile_InterruptedPassIsCompletedByTheNext(t *testing.T) {
	t.Parallel()
	e := newLesson(t, lessonConfig(4, 6), hotpooltest.HarnessOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	e.pv.onCreate = func(n int) {
		if n == 2 {
			cancel() // the function is killed during its second create
		}
	}
	rep, err := e.Reconciler.Reconcile(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, rep.Errors)
	e.pv.onCreate = nil

	passes, err := e.Converge(context.Background(), convergeLimit)
	require.NoError(t, err)
	require.NoError(t, e.CheckConsistency(context.Background()))
	require.Len(t, e.apps(t), 4, "no duplicate and no leaked app")
	t.Logf("an interrupted pass was completed in %d passes", passes)
	e.noViolations(t)
}

func TestRunFor_FillsAnEmptyPoolWithinOneCronInvocation(t *testing.T) {
	t.Parallel()
	var clock *pool.ManualClock
	sleep := reconcile.WithSleep(func(ctx context.Context, d time.Duration) error {
		clock.Advance(d)
		return ctx.Err()
	})
	e := newLesson(t, lessonConfig(3, 5), hotpooltest.HarnessOptions{CreateDelay: 40 * time.Second,
		ReconcilerOptions: []reconcile.Option{sleep}})
	clock = e.Clock
	start := e.Now()
	reps, err := e.Reconciler.RunFor(context.Background(), pool.RunBudget, pool.RunEvery)
	require.NoError(t, err)
	last := reps[len(reps)-1]
	require.Equal(t, 3, last.Pools["py"].Ready, "ready within the same invocation that started the creates")
	require.False(t, last.Busy())
	require.Less(t, e.Now().Sub(start), pool.RunBudget)
	calls := 0
	for _, r := range reps {
		calls += r.APICalls
	}
	t.Logf("RunFor: %d passes, %v simulated, %d API calls", len(reps), e.Now().Sub(start), calls)
	require.NoError(t, e.Check(context.Background()))
	e.noViolations(t)
}

func TestReconcile_SteadyPassesCostNothingOnThePlatform(t *testing.T) {
	t.Parallel()
	// The real provider over HTTP, counted by the simulator: a steady pool
	// costs one list per health_check_interval (60 s) and nothing between,
	// however often passes run; a change costs its own calls only.
	cfg := lessonConfig(3, 5)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	_, err := e.Converge(ctx, convergeLimit)
	require.NoError(t, err)
	e.Clock.Advance(py(cfg).HealthCheckInterval.D())
	scanAt := e.Now()
	api0 := e.Sim.APICalls()
	_, err = e.Pass(ctx) // the health check is due: one full list
	require.NoError(t, err)
	require.Equal(t, 1, e.Sim.APICalls()-api0)

	// One acquire: the passes that refill it create the replacement, Get
	// it while it deploys and mark it ready, without listing.
	calls0 := e.Sim.Calls()
	e.Clock.Advance(time.Second)
	e.Acquire(ctx, "py")
	for e.metrics(t).Ready < 3 {
		e.Clock.Advance(4 * time.Second)
		_, err = e.Pass(ctx)
		require.NoError(t, err)
	}
	calls := e.Sim.Calls()
	require.Less(t, e.Now().Sub(scanAt), py(cfg).HealthCheckInterval.D(), "the refill ended before the next scan")
	require.Equal(t, calls0["GET /v2/apps"], calls["GET /v2/apps"], "no list for a change")
	require.Equal(t, calls0["POST /v2/apps"]+1, calls["POST /v2/apps"])
	gets := calls["GET /v2/apps/{id}"] - calls0["GET /v2/apps/{id}"]
	require.Positive(t, gets)

	// Steady again until the next health check is due: nothing at all.
	api0 = e.Sim.APICalls()
	passes := 0
	for e.Now().Add(5*time.Second).Sub(scanAt) < py(cfg).HealthCheckInterval.D() {
		e.Clock.Advance(5 * time.Second)
		rep, err := e.Pass(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.APICalls)
		passes++
	}
	require.Positive(t, passes)
	require.Zero(t, e.Sim.APICalls()-api0, "steady passes between scans call nothing")
	e.Clock.Advance(5 * time.Second)
	rep, err := e.Pass(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.APICalls, "the next health check lists again")
	t.Logf("refill of one sandbox: 1 create, %d gets, 0 lists; then %d steady passes with no API call", gets, passes)
	e.noViolations(t)
}
