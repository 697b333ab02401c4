package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/hotpooltest"
	"github.com/hotpool/hotpool/internal/pool"
)

// The faults real deployments have, each an exact interleaving, in the
// deterministic harness against real Redis.

// A pass killed after it condemned a sandbox for scale-down (here, during
// that sandbox's Delete, before the pass's update_pool) must not let the
// next pass, 5 s later, scale down a second one: the condemnation itself
// dates last_scale_down_at.
func TestFault_KilledPassCannotDoubleScaleDown(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	py(cfg).IdleTimeout = pool.Duration(2 * time.Minute)
	py(cfg).ScaleDownDelay = pool.Duration(time.Minute)
	py(cfg).CooldownAfterAcquire = pool.Duration(2 * time.Minute)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	_, err := e.Converge(ctx, 30)
	require.NoError(t, err)
	require.Len(t, e.readyIDs(t), 3)

	// Idle from here on: the next passes scale down. The first one's Delete
	// kills its pass (its context ends, as when the function is killed).
	e.Clock.Advance(3 * time.Minute)
	passCtx, kill := context.WithCancel(ctx)
	e.pv.mu.Lock()
	e.pv.onDelete = kill
	e.pv.mu.Unlock()
	_, _ = e.Reconciler.Reconcile(passCtx)
	e.pv.mu.Lock()
	e.pv.onDelete = nil
	e.pv.mu.Unlock()
	require.Len(t, e.readyIDs(t), 2, "the killed pass condemned one")

	for range 6 { // 30 s of passes, well inside scale_down_delay
		e.Clock.Advance(5 * time.Second)
		rep, err := e.Pass(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Pools["py"].ScaledDown, "a second scale-down within scale_down_delay")
	}
	require.Len(t, e.readyIDs(t), 2)
	e.Clock.Advance(time.Minute)
	rep, err := e.Pass(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pools["py"].ScaledDown, "the next one comes once the delay has passed")
	e.noViolations(t)
}

// emptiedAtTheCap is a pool (on_empty create) converged at its target of 3
// under max_total_sandboxes 3, whose Redis is then emptied: the 3 apps live
// on with no record.
func emptiedAtTheCap(t *testing.T) (*lessonEnv, context.Context) {
	t.Helper()
	cfg := lessonConfig(3, 5)
	py(cfg).OnEmpty = pool.OnEmptyCreate
	total := 3
	cfg.MaxTotalSandboxes = &total
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	_, err := e.Converge(ctx, 30)
	require.NoError(t, err)
	require.Len(t, e.apps(t), 3)
	require.NoError(t, e.FlushRedis(ctx, e.rdb))
	return e, ctx
}

// After Redis is emptied, the live apps are young orphans the first pass
// rightly leaves alone; three acquires on the empty pool must not add three
// cold-claim sandboxes to them: 6 apps under a cap of 3 for the whole
// orphan_grace. The orphans count against the caps everywhere, cold claims
// included, and are deleted (never adopted as stock) once their grace ends.
func TestFault_EmptiedRedisCannotBreachTheCap(t *testing.T) {
	t.Parallel()
	e, ctx := emptiedAtTheCap(t)
	require.Len(t, e.apps(t), 3)
	e.Clock.Advance(5 * time.Second)
	_, err := e.Pass(ctx)
	require.NoError(t, err)
	for range 3 {
		e.Acquire(ctx, "py")
	}
	require.Zero(t, e.Stats.ColdClaims, "no cold claim beyond the cap")
	require.Equal(t, 3, e.Stats.Exhausted)

	maxApps := 0
	for range 60 { // 5 minutes: the 2-minute grace, the orphans' deletes, the refill
		require.NoError(t, e.Step(ctx))
		maxApps = max(maxApps, len(e.apps(t)))
	}
	require.LessOrEqual(t, maxApps, 3, "the platform never held more than the cap")
	_, err = e.Converge(ctx, 30)
	require.NoError(t, err)
	require.Len(t, e.readyIDs(t), 3, "the pool refilled under its cap")
	require.NoError(t, e.CheckConsistency(ctx))
	e.noViolations(t)
}

// The same emptied Redis, with the acquires before any pass: Redis knows of
// no app, so the three cold claims are taken, but the first pass lists
// before it creates, counts the live apps against the cap (NoteUntracked
// comes before any Reserve), and the claims are served only as the orphans
// go. The platform never holds more than the cap.
func TestFault_ColdClaimsBeforeTheFirstPassAfterAFlushWaitForTheCap(t *testing.T) {
	t.Parallel()
	e, ctx := emptiedAtTheCap(t)
	for range 3 {
		e.Acquire(ctx, "py")
	}
	require.Equal(t, 3, e.Stats.ColdClaims, "nothing in Redis says the cap is reached")

	maxApps := 0
	for range 60 {
		require.NoError(t, e.Step(ctx))
		maxApps = max(maxApps, len(e.apps(t)))
	}
	require.LessOrEqual(t, maxApps, 3, "the platform never held more than the cap")
	require.Equal(t, 3, e.Stats.ClaimsServed, "each claim served once the orphans made room")
	require.NoError(t, e.CheckConsistency(ctx))
	e.noViolations(t)
}

// A claim waiting for its next attempt must still resolve when a redeploy
// removes its pool or lowers create_retries below its attempts: its poll
// answers creation failed within a pass or two, never "creating" forever.
func TestFault_ClaimResolvesWhateverTheConfigDoes(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(*pool.Config){
		"pool removed":           func(c *pool.Config) { delete(c.Pools, "py") },
		"create_retries lowered": func(c *pool.Config) { py(c).CreateRetries = 1 },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := lessonConfig(0, 5)
			py(cfg).OnEmpty = pool.OnEmptyCreate
			py(cfg).CreateRetries = 3
			e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
			ctx := context.Background()
			e.pv.refuseCreates.Store(true)
			e.Acquire(ctx, "py")
			require.Equal(t, 1, e.Stats.ColdClaims)
			e.Clock.Advance(5 * time.Second)
			_, err := e.Pass(ctx) // attempt 1 refused: the claim waits for attempt 2
			require.NoError(t, err)
			obs, err := e.Store.Observe(ctx, e.Now())
			require.NoError(t, err)
			require.Len(t, obs.Claims, 1)
			require.Equal(t, 1, obs.Claims[0].Attempts)
			require.False(t, obs.Claims[0].Failed)

			change(cfg) // the redeploy
			e.pv.refuseCreates.Store(false)
			for range 3 {
				require.NoError(t, e.Step(ctx))
			}
			require.Equal(t, 1, e.Stats.ClaimsFailed, "the poll ended: creation failed")
			require.Zero(t, e.Stats.ClaimsServed)
			e.noViolations(t)
		})
	}
}

// With reconcile's clock 45 s ahead of acquire's, a 60 s lease must not be
// reaped with 40 s left by its holder's clock: reaping waits
// clock_skew_tolerance past expiry. The lease still ends: once that margin
// has passed too, it is reaped.
func TestFault_SkewedReconcileClockNeverReapsALiveLease(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(2, 3)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{ReconcileSkew: 45 * time.Second, LeaseTTL: time.Minute})
	ctx := context.Background()
	_, err := e.Converge(ctx, 30)
	require.NoError(t, err)
	e.Acquire(ctx, "py")
	require.Len(t, e.Leases(), 1)
	l := e.Leases()[0]
	require.Equal(t, e.Now().Add(time.Minute), l.ExpiresAt)

	e.Clock.Advance(20 * time.Second) // 40 s left by acquire's clock; reconcile reads 5 s past expiry
	rep, err := e.Pass(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Pools["py"].Reaped)
	_, err = e.Service.Renew(ctx, l.Sandbox.ID, l.Token, 60)
	require.NoError(t, err, "the holder's lease is live")

	e.Clock.Advance(2*time.Minute + 5*time.Second) // past the renewed lease and the margin
	rep, err = e.Pass(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pools["py"].Reaped, "an abandoned lease still ends")
	e.noViolations(t)
}

// A list fetched by page number can miss an app when another is deleted
// between two page fetches. A ready sandbox missing from a full list is
// confirmed with a Get before anything is dropped: one that exists stays
// ready; one whose Get answers 404 is gone indeed.
func TestFault_AShiftedListNeverDropsAHealthySandbox(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(3, 5)
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{})
	ctx := context.Background()
	_, err := e.Converge(ctx, 30)
	require.NoError(t, err)
	obs, err := e.Store.Observe(ctx, e.Now())
	require.NoError(t, err)
	var victim pool.Sandbox
	for _, sb := range obs.Sandboxes {
		if sb.State == pool.StateReady {
			victim = sb
			break
		}
	}
	require.NotEmpty(t, victim.AppID)

	e.pv.mu.Lock()
	e.pv.hideFromList = victim.AppID
	e.pv.mu.Unlock()
	e.Clock.Advance(2 * time.Minute) // a health check is due: the pass lists
	rep, err := e.Pass(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, rep.APICalls, 2, "the pass listed, and asked for the missing app")
	require.Zero(t, rep.Pools["py"].Unhealthy, "a sandbox the list missed but a Get found is not dropped")
	require.Contains(t, e.readyIDs(t), victim.ID)

	// Really gone (deleted behind hotpool's back): the Get's 404 proves it.
	require.NoError(t, e.Provider.Delete(ctx, victim.AppID))
	e.Clock.Advance(2 * time.Minute)
	rep, err = e.Pass(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Pools["py"].Unhealthy)
	require.NotContains(t, e.readyIDs(t), victim.ID)
	e.noViolations(t)
}

// The client always sends an idempotency key and retries on 502/504 and
// transport errors. On an empty on_empty "create" pool the same key twice
// must make one claim and one creating record, answer the same claim id,
// and then the same sandbox and lease, not a second sandbox held in_use for
// nobody.
func TestFault_IdempotentRetryOfAColdAcquireMakesOneSandbox(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(0, 5)
	py(cfg).OnEmpty = pool.OnEmptyCreate
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{CreateDelay: 20 * time.Second})
	ctx := context.Background()
	req := pool.AcquireRequest{Image: "py", IdempotencyKey: "job-7", LeaseSeconds: 600}
	first, err := e.Service.Acquire(ctx, req)
	require.NoError(t, err)
	require.NotNil(t, first.Claim)
	retry, err := e.Service.Acquire(ctx, req) // the 202 was lost: the client retries
	require.NoError(t, err)
	require.NotNil(t, retry.Claim)
	require.Equal(t, first.Claim.ID, retry.Claim.ID, "the same claim")
	require.True(t, retry.Replayed)
	require.Equal(t, 1, e.metrics(t).Creating, "one creating record")

	deployPasses(t, e)
	lease, err := e.Service.Acquire(ctx, pool.AcquireRequest{ClaimID: first.Claim.ID})
	require.NoError(t, err)
	require.Nil(t, lease.Claim, "served")
	again, err := e.Service.Acquire(ctx, req) // a retry after the claim was served
	require.NoError(t, err)
	require.NotNil(t, again.Claim)
	require.Equal(t, first.Claim.ID, again.Claim.ID)
	polled, err := e.Service.Acquire(ctx, pool.AcquireRequest{ClaimID: again.Claim.ID})
	require.NoError(t, err)
	require.Equal(t, lease.Sandbox.ID, polled.Sandbox.ID, "the same sandbox")
	require.Equal(t, lease.LeaseToken, polled.LeaseToken, "and the same lease")
	require.Len(t, e.apps(t), 1, "one app on the platform")
	e.noViolations(t)
}

// serveColdClaim takes a cold claim with key req.IdempotencyKey on an empty
// pool and runs passes until it is served; it returns the lease.
func serveColdClaim(t *testing.T, e *lessonEnv, req pool.AcquireRequest) pool.Acquired {
	t.Helper()
	ctx := context.Background()
	first, err := e.Service.Acquire(ctx, req)
	require.NoError(t, err)
	require.NotNil(t, first.Claim)
	deployPasses(t, e)
	lease, err := e.Service.Acquire(ctx, pool.AcquireRequest{ClaimID: first.Claim.ID})
	require.NoError(t, err)
	require.Nil(t, lease.Claim, "served")
	return lease
}

// deployPasses runs the passes of 40 simulated seconds, 5 s apart: longer
// than the lessons' 20 s deployments.
func deployPasses(t *testing.T, e *lessonEnv) {
	t.Helper()
	for range 8 {
		e.Clock.Advance(5 * time.Second)
		_, err := e.Pass(context.Background())
		require.NoError(t, err)
	}
}

// Once a cold lease is released, its key leases another sandbox, as a warm
// key does: it no longer replays the dead claim, whose polls answer "claim
// not found".
func TestFault_AReleasedColdLeasesKeyLeasesAnotherSandbox(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(0, 5)
	py(cfg).OnEmpty = pool.OnEmptyCreate
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{CreateDelay: 20 * time.Second})
	ctx := context.Background()
	req := pool.AcquireRequest{Image: "py", IdempotencyKey: "job-8", LeaseSeconds: 600}
	lease := serveColdClaim(t, e, req)
	_, err := e.Service.Release(ctx, lease.Sandbox.ID, lease.LeaseToken)
	require.NoError(t, err)

	again, err := e.Service.Acquire(ctx, req)
	require.NoError(t, err)
	require.False(t, again.Replayed, "not a replay of the released lease's claim")
	require.NotNil(t, again.Claim, "a new cold claim (the pool is empty)")
	deployPasses(t, e)
	next, err := e.Service.Acquire(ctx, pool.AcquireRequest{ClaimID: again.Claim.ID})
	require.NoError(t, err, "the new claim is served, not 'claim not found'")
	require.NotEqual(t, lease.Sandbox.ID, next.Sandbox.ID, "another sandbox")
	require.NotEqual(t, lease.LeaseToken, next.LeaseToken)
	e.noViolations(t)
}

// A renewed cold lease keeps its key for the renewed lease: a retry with the
// key after the original lease time (and its hour of margin), while the
// renewed lease is held, replays that lease instead of acquiring a second
// sandbox. The key's time to live shows it without waiting the hour.
func TestFault_ARenewedColdLeaseKeepsItsKey(t *testing.T) {
	t.Parallel()
	cfg := lessonConfig(0, 5)
	py(cfg).OnEmpty = pool.OnEmptyCreate
	e := newLesson(t, cfg, hotpooltest.HarnessOptions{CreateDelay: 20 * time.Second})
	ctx := context.Background()
	req := pool.AcquireRequest{Image: "py", IdempotencyKey: "job-9", LeaseSeconds: 600}
	lease := serveColdClaim(t, e, req)
	const renewed = 3 * time.Hour
	_, err := e.Service.Renew(ctx, lease.Sandbox.ID, lease.LeaseToken, int(renewed/time.Second))
	require.NoError(t, err)
	keys, err := e.rdb.Keys(ctx, e.Store.Keys().Tag()+"*").Result()
	require.NoError(t, err)
	checked := 0
	for _, k := range keys {
		if v, err := e.rdb.Get(ctx, k).Result(); err == nil && strings.HasPrefix(v, "claim:") {
			ttl, err := e.rdb.PTTL(ctx, k).Result()
			require.NoError(t, err)
			require.GreaterOrEqual(t, ttl, renewed-time.Minute, "the claim's key lives as long as the renewed lease")
			checked++
		}
	}
	require.Equal(t, 1, checked, "one claim key")
	e.Clock.Advance(2 * time.Hour) // past the original lease, within the renewed one
	again, err := e.Service.Acquire(ctx, req)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.NotNil(t, again.Claim, "the claim is replayed")
	polled, err := e.Service.Acquire(ctx, pool.AcquireRequest{ClaimID: again.Claim.ID})
	require.NoError(t, err)
	require.Equal(t, lease.Sandbox.ID, polled.Sandbox.ID, "the same sandbox, not a second")
	e.noViolations(t)
}

// A cancelled claim never leaves more ready than max_ready. Target and
// max_ready 1: the ready sandbox is leased, the next acquire takes a cold
// claim, a pass refills the pool and deploys the claim's sandbox too; then
// the caller cancels. The claim's sandbox would join a full pool: it is
// deleted instead. The same when the cancel comes while it deploys (it
// returns through markready). Before, both left 2 ready under max_ready 1.
func TestFault_ACancelledClaimNeverOverfillsMaxReady(t *testing.T) {
	t.Parallel()
	for _, whileDeploying := range []bool{false, true} {
		cfg := lessonConfig(1, 1)
		py(cfg).OnEmpty = pool.OnEmptyCreate
		e := newLesson(t, cfg, hotpooltest.HarnessOptions{CreateDelay: 20 * time.Second})
		ctx := context.Background()
		_, err := e.Converge(ctx, 40)
		require.NoError(t, err)
		warm, err := e.Service.Acquire(ctx, pool.AcquireRequest{Image: "py", LeaseSeconds: 600})
		require.NoError(t, err)
		require.Nil(t, warm.Claim)
		cold, err := e.Service.Acquire(ctx, pool.AcquireRequest{Image: "py", LeaseSeconds: 600})
		require.NoError(t, err)
		require.NotNil(t, cold.Claim)
		if whileDeploying {
			e.Clock.Advance(5 * time.Second)
			_, err = e.Pass(ctx) // the refill and the claim's sandbox start deploying
			require.NoError(t, err)
			toPool, err := e.Service.CancelClaim(ctx, cold.Claim.ID)
			require.NoError(t, err)
			require.True(t, toPool, "still deploying: it may yet join the pool")
			// After every pass, not only the last: a pass that makes it ready
			// must not leave the pool over max_ready until the next one.
			for range 8 {
				e.Clock.Advance(5 * time.Second)
				_, err := e.Pass(ctx)
				require.NoError(t, err)
				require.LessOrEqual(t, e.metrics(t).Ready, 1, "after a pass: over max_ready 1")
			}
		} else {
			deployPasses(t, e) // the refill is ready, and the claim's sandbox is held for its caller
			toPool, err := e.Service.CancelClaim(ctx, cold.Claim.ID)
			require.NoError(t, err)
			require.False(t, toPool, "the pool is full: the claim's sandbox is not added to it")
		}
		m := e.metrics(t)
		require.LessOrEqual(t, m.Ready, 1, "while deploying %v: ready %d over max_ready 1", whileDeploying, m.Ready)
		e.noViolations(t)
		_, err = e.Service.Release(ctx, warm.Sandbox.ID, warm.LeaseToken)
		require.NoError(t, err)
	}
}

// dynamicLesson is a deployment whose default_pool_config serves any image
// (cold claims, no target), capped at one dynamic pool; listed names the
// pools the config lists as well.
func dynamicLesson(t *testing.T, listed ...string) *lessonEnv {
	t.Helper()
	cfg := lessonConfig(0, 2)
	dflt := *py(cfg)
	dflt.OnEmpty = pool.OnEmptyCreate
	dflt.Template.Registry, dflt.Template.Repository = "acme", "" // acme/sandbox-<image>-service
	cfg.DefaultPoolConfig = &dflt
	cfg.MaxDynamicPools = 1
	cfg.Pools = map[string]*pool.PoolConfig{}
	for _, name := range listed {
		pc := dflt
		cfg.Pools[name] = &pc
	}
	return newLesson(t, cfg, hotpooltest.HarnessOptions{CreateDelay: 20 * time.Second})
}

// max_dynamic_pools counts what default_pool_config serves, as the config
// now reads: a pool the config comes to list frees its dynamic slot, and one
// it stops listing, while default_pool_config serves it, takes one.
func TestFault_DynamicSlotsFollowTheConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	claim := func(e *lessonEnv, image string) error {
		_, err := e.Service.Acquire(ctx, pool.AcquireRequest{Image: image, LeaseSeconds: 600})
		return err
	}
	pass := func(e *lessonEnv) {
		e.Clock.Advance(5 * time.Second)
		_, err := e.Pass(ctx)
		require.NoError(t, err)
	}

	// ruby takes the one slot, then the operator lists ruby: perl gets in.
	e := dynamicLesson(t)
	require.NoError(t, claim(e, "ruby"))
	require.ErrorIs(t, claim(e, "perl"), pool.ErrTooManyPools)
	pc := *e.Config.DefaultPoolConfig
	e.Config.Pools["ruby"] = &pc
	pass(e)
	require.NoError(t, claim(e, "perl"), "ruby is listed now: its dynamic slot is free")

	// ruby is listed and holds a sandbox, then a redeploy stops listing it:
	// default_pool_config serves it, so it takes the slot, and perl does not
	// get in beside it.
	e = dynamicLesson(t, "ruby")
	require.NoError(t, claim(e, "ruby"))
	delete(e.Config.Pools, "ruby")
	pass(e)
	require.ErrorIs(t, claim(e, "perl"), pool.ErrTooManyPools, "two dynamic pools under a cap of 1")
}
