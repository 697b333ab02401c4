package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

func TestMarkDeletingTransitions(t *testing.T) {
	now := at(20 * time.Minute) // after the leased sandbox's lease (t0+16m)
	toDeleting := func(id, reason string) []change {
		return []change{
			hset(":sb:"+id, "state", "deleting", "deleting_since", msStr(now), "delete_reason", reason),
			set(":deleting", zs(id+"="+msStr(now))),
			set(kDeleting, zs(id+"="+msStr(now))),
		}
	}
	mark := func(id, reason string, when time.Time) func(f *fixture) error {
		return func(f *fixture) error { return f.s.MarkDeleting(f.ctx, leader, id, reason, when) }
	}
	cases := []transitionCase{}
	for reason, counter := range map[string]string{
		pool.ReasonExpired: "expired_warm", pool.ReasonUnhealthy: "health_removals", pool.ReasonScaleDown: "scaled_down",
		pool.ReasonOrphan: "orphans_deleted", pool.ReasonOverCapacity: "", pool.ReasonShutdown: "",
	} {
		ch := append(toDeleting("r1", reason), set(kReady, nil))
		if counter != "" {
			ch = append(ch, hset(kPool, counter, "1"))
		}
		if reason == pool.ReasonScaleDown {
			// Dated in the same step, not by the pass's later update_pool.
			ch = append(ch, hset(kPool, "last_scale_down_at", msStr(now)))
		}
		cases = append(cases, transitionCase{
			name: "ready -> deleting for " + reason, seed: func(f *fixture) { f.ready("r1", at(0)) },
			run: mark("r1", reason, now), changes: ch,
		})
	}
	cases = append(cases, []transitionCase{
		{
			name: "an expired lease is reaped, leaving a tombstone",
			seed: func(f *fixture) { f.leased() },
			run:  mark("a", pool.ReasonLeaseExpired, now),
			changes: append(toDeleting("a", pool.ReasonLeaseExpired),
				set(kInUse, nil),
				hset(kPool, "leases_reaped", "1"),
				set(":released:a", map[string]any{"value": "h1:lease_expired", "ttl": true}),
				event(EventSandboxReaped, testPool, "a", now, pool.ReasonLeaseExpired)),
		},
		{
			// The lease ended at 16 m by this clock, 30 s ago: acquire's
			// clock may be that far behind, so its holder may still hold it.
			name:    "a lease expired by less than the clock skew tolerance is not reaped",
			seed:    func(f *fixture) { f.leased() },
			run:     mark("a", pool.ReasonLeaseExpired, at(16*time.Minute+30*time.Second)),
			wantErr: pool.ErrStateConflict,
		},
		{
			name:    "a live lease is never reaped",
			seed:    func(f *fixture) { f.leased() },
			run:     mark("a", pool.ReasonLeaseExpired, at(10*time.Minute)),
			wantErr: pool.ErrStateConflict,
		},
		{
			name:    "a leased sandbox is not scaled down",
			seed:    func(f *fixture) { f.leased() },
			run:     mark("a", pool.ReasonScaleDown, now),
			wantErr: pool.ErrStateConflict,
		},
		{
			name:    "a leased orphan goes",
			seed:    func(f *fixture) { f.leased() },
			run:     mark("a", pool.ReasonOrphan, now),
			changes: append(toDeleting("a", pool.ReasonOrphan), set(kInUse, nil), hset(kPool, "orphans_deleted", "1")),
		},
		{
			name: "shutting down drains the last creating sandbox and fails its claim",
			seed: func(f *fixture) {
				f.claim(at(0))
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(0)}))
			},
			run: mark("cold1", pool.ReasonShutdown, now),
			changes: append(toDeleting("cold1", pool.ReasonShutdown),
				set(":creating", nil), set(kCreating, nil), set(":claims", nil),
				hset(kPool, "claims_creating", "0"),
				hset(":claim:c1", "failed", "1", "sandbox_id", "", "fail_reason", pool.ReasonShutdown),
				event(EventPoolDrained, testPool, "", now, "")),
		},
		{
			name: "a deleting record stays as it is",
			seed: func(f *fixture) {
				f.ready("r1", at(0))
				require.NoError(f.t, f.s.MarkDeleting(f.ctx, leader, "r1", pool.ReasonUnhealthy, at(0)))
			},
			run: mark("r1", pool.ReasonScaleDown, now),
		},
		{name: "unknown ids are not found", run: mark("nope", pool.ReasonScaleDown, now), wantErr: pool.ErrSandboxNotFound},
		{name: "unknown reasons are refused", seed: func(f *fixture) { f.ready("r1", at(0)) }, run: mark("r1", "bored", now), wantErr: ErrInvalidArgument},
		{
			name:    "a stale leader changes nothing",
			seed:    func(f *fixture) { f.ready("r1", at(0)) },
			run:     func(f *fixture) error { return f.s.MarkDeleting(f.ctx, stranger, "r1", pool.ReasonScaleDown, now) },
			wantErr: pool.ErrNotLeader,
		},
	}...)
	runTransitionCases(t, cases)
}

func TestForgetAndAdopt(t *testing.T) {
	now := at(time.Hour)
	runTransitionCases(t, []transitionCase{
		{
			name: "forget drops a deleting record and balances the books",
			seed: func(f *fixture) {
				f.ready("r1", at(0))
				require.NoError(f.t, f.s.MarkDeleting(f.ctx, leader, "r1", pool.ReasonScaleDown, at(time.Minute)))
			},
			run: func(f *fixture) error { return f.s.Forget(f.ctx, leader, "r1", now) },
			changes: []change{
				set(":sb:r1", nil), set(":all", nil), set(":deleting", nil), set(kDeleting, nil),
				hset(kPool, "deletes", "1", "forgotten", "1"),
				event(EventSandboxDeleted, testPool, "r1", now, pool.ReasonScaleDown),
			},
		},
		{
			name:    "a live record is not forgotten",
			seed:    func(f *fixture) { f.ready("r1", at(0)) },
			run:     func(f *fixture) error { return f.s.Forget(f.ctx, leader, "r1", now) },
			wantErr: pool.ErrStateConflict,
		},
		{
			name:    "forgetting twice is not found",
			run:     func(f *fixture) error { return f.s.Forget(f.ctx, leader, "r1", now) },
			wantErr: pool.ErrSandboxNotFound,
		},
		{
			name: "an adopted orphan is recorded as deleting",
			run: func(f *fixture) error {
				return f.s.Adopt(f.ctx, leader, pool.Sandbox{ID: "o1", Pool: testPool, AppID: "app-o1", CreatedAt: at(-time.Hour)}, now)
			},
			changes: []change{
				set(":sb:o1", map[string]string{"id": "o1", "pool": testPool, "app_id": "app-o1", "url": "", "region": "",
					"instance_size": "", "created_at": msStr(at(-time.Hour)), "state": "deleting", "deleting_since": msStr(now),
					"delete_reason": pool.ReasonOrphan}),
				set(":all", zs("o1="+msStr(at(-time.Hour)))),
				set(":deleting", zs("o1="+msStr(now))),
				set(kDeleting, zs("o1="+msStr(now))),
				set(":pools", []string{testPool}),
				set(kPool, map[string]string{"activated_at": msStr(now), "created": "1", "adopted": "1", "orphans_deleted": "1"}),
			},
		},
		{
			name:    "an id with a record is not adopted",
			seed:    func(f *fixture) { f.ready("r1", at(0)) },
			run:     func(f *fixture) error { return f.s.Adopt(f.ctx, leader, pool.Sandbox{ID: "r1", Pool: testPool}, now) },
			wantErr: pool.ErrStateConflict,
		},
	})
}

func TestUpdatePoolTransitions(t *testing.T) {
	now := at(time.Hour)
	since := at(10 * time.Minute)
	zero := time.Time{}
	runTransitionCases(t, []transitionCase{
		{
			name: "bookkeeping and health results",
			seed: func(f *fixture) {
				f.ready("r1", at(0))
				f.ready("r2", at(0))
				f.leased()
			},
			run: func(f *fixture) error {
				return f.s.UpdatePool(f.ctx, leader, testPool, pool.PoolUpdate{
					LastScaleDownAt: &now, LastHealthCheckAt: &now, BelowTargetSince: &since,
					HealthResult: map[string]bool{"r1": false, "r2": false, "a": true, "nope": false},
				}, now)
			},
			changes: []change{
				hset(kPool, "last_scale_down_at", msStr(now), "last_health_check_at", msStr(now), "below_target_since", msStr(since)),
				// leased() took r1 (the oldest): only ready sandboxes are touched.
				hset(":sb:r2", "health_failures", "1"),
				hset(":sb:a", "last_healthy_at", msStr(now), "health_failures", "0"),
			},
		},
		{
			name: "back at target records a refill-lag sample",
			seed: func(f *fixture) {
				f.ready("r1", at(0))
				require.NoError(f.t, f.s.UpdatePool(f.ctx, leader, testPool, pool.PoolUpdate{BelowTargetSince: &since}, since))
			},
			run: func(f *fixture) error {
				return f.s.UpdatePool(f.ctx, leader, testPool, pool.PoolUpdate{BelowTargetSince: &zero}, now)
			},
			changes: []change{
				hdel(kPool, "below_target_since"),
				hset(kPool, "refill_lag_ms_sum", "3000000", "refill_lag_samples", "1"),
			},
		},
		{
			name:    "a stale leader changes nothing",
			run:     func(f *fixture) error { return f.s.UpdatePool(f.ctx, stranger, testPool, pool.PoolUpdate{}, now) },
			wantErr: pool.ErrNotLeader,
		},
	})
}

func TestShutdownTransitions(t *testing.T) {
	now := at(time.Hour)
	runTransitionCases(t, []transitionCase{
		{
			name: "shutting a pool down",
			seed: func(f *fixture) { f.ready("r1", at(0)) },
			run: func(f *fixture) error {
				return f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: now})
			},
			changes: []change{
				hset(kPool, "shutdown", "1", "shutdown_at", msStr(now)),
				event(EventPoolShutdown, testPool, "", now, ""),
			},
		},
		{
			name: "shutting an empty pool down drains it at once",
			seed: func(f *fixture) { f.leased() },
			run: func(f *fixture) error {
				return f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: now})
			},
			changes: []change{
				hset(kPool, "shutdown", "1", "shutdown_at", msStr(now)),
				event(EventPoolShutdown, testPool, "", now, ""),
				event(EventPoolDrained, testPool, "", now, ""),
			},
		},
		{
			name: "shutting down twice changes nothing",
			seed: func(f *fixture) {
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(0)}))
			},
			run: func(f *fixture) error {
				return f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: now})
			},
		},
		{
			name: "starting a pool again restarts its idle clock",
			seed: func(f *fixture) {
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(0)}))
			},
			run: func(f *fixture) error {
				return f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: false, Now: now})
			},
			changes: []change{
				hset(kPool, "shutdown", "0", "activated_at", msStr(now)),
				hdel(kPool, "shutdown_at"),
				event(EventPoolStarted, testPool, "", now, ""),
			},
		},
		{
			name: "the whole manager",
			seed: func(f *fixture) { f.ready("r1", at(0)) },
			run: func(f *fixture) error {
				return f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: "", Shutdown: true, Now: now})
			},
			changes: []change{
				set(":manager", map[string]string{"shutdown": "1", "shutdown_at": msStr(now)}),
				hset(kPool, "manager_shutdown", "1"),
				event(EventPoolShutdown, "", "", now, ""),
			},
		},
		{
			name: "starting the manager again clears every pool's copy",
			seed: func(f *fixture) {
				f.ready("r1", at(0))
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: "", Shutdown: true, Now: at(0)}))
			},
			run: func(f *fixture) error {
				return f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: "", Shutdown: false, Now: now})
			},
			changes: []change{
				set(":manager", map[string]string{"shutdown": "0"}),
				hset(kPool, "manager_shutdown", "0", "activated_at", msStr(now)),
				event(EventPoolStarted, "", "", now, ""),
			},
		},
		{
			name: "a pool that appears while the manager is shut down takes its flag",
			seed: func(f *fixture) {
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: "", Shutdown: true, Now: at(0)}))
			},
			run: func(f *fixture) error {
				return f.s.UpdatePool(f.ctx, leader, testPool, pool.PoolUpdate{}, now)
			},
			changes: []change{
				set(":pools", []string{testPool}),
				set(kPool, map[string]string{"activated_at": msStr(now), "manager_shutdown": "1"}),
			},
		},
	})
}

func TestActivateTransitions(t *testing.T) {
	now := at(time.Hour)
	runTransitionCases(t, []transitionCase{
		{
			name: "an idle pool is active again from now",
			seed: func(f *fixture) { f.ready("r1", at(0)) },
			run:  func(f *fixture) error { return f.s.Activate(f.ctx, []string{testPool}, now) },
			changes: []change{
				hset(kPool, "activated_at", msStr(now)),
			},
		},
		{
			name: "a shut-down pool is not started by it",
			seed: func(f *fixture) {
				f.ready("r1", at(0))
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(0)}))
			},
			run: func(f *fixture) error { return f.s.Activate(f.ctx, []string{testPool}, now) },
		},
		{
			name: "nor is a pool under a shut-down manager",
			seed: func(f *fixture) {
				f.ready("r1", at(0))
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: "", Shutdown: true, Now: at(0)}))
			},
			run: func(f *fixture) error { return f.s.Activate(f.ctx, []string{testPool}, now) },
		},
		{
			name: "a pool with no state yet gets its state",
			run:  func(f *fixture) error { return f.s.Activate(f.ctx, []string{testPool}, now) },
			changes: []change{
				set(":pools", []string{testPool}),
				set(kPool, map[string]string{"activated_at": msStr(now)}),
			},
		},
		{
			name:    "an empty pool name is refused",
			run:     func(f *fixture) error { return f.s.Activate(f.ctx, []string{""}, now) },
			wantErr: ErrInvalidArgument,
		},
	})
}

func TestLock(t *testing.T) {
	f := newFixture(t) // leader holds the lock for an hour
	ok, err := f.s.Lock(f.ctx, stranger, time.Minute, t0)
	require.NoError(t, err)
	require.False(t, ok, "another pass holds the lock")
	ok, err = f.s.Lock(f.ctx, leader, time.Minute, t0)
	require.NoError(t, err)
	require.True(t, ok, "the holder renews")
	ttl, err := f.rdb.PTTL(f.ctx, f.s.Keys().Lock()).Result()
	require.NoError(t, err)
	require.LessOrEqual(t, ttl, time.Minute)

	require.NoError(t, f.s.Unlock(f.ctx, stranger))
	require.Equal(t, leader.Token, f.rdb.Get(f.ctx, f.s.Keys().Lock()).Val(), "a stranger's unlock does nothing")
	require.NoError(t, f.s.Unlock(f.ctx, leader))
	ok, err = f.s.Lock(f.ctx, stranger, time.Minute, t0)
	require.NoError(t, err)
	require.True(t, ok, "free after unlock")
	require.ErrorIs(t, f.s.Reserve(f.ctx, leader, reserveParams("n1", t0)), pool.ErrNotLeader, "the old leader is fenced off")
	_, err = f.s.Lock(f.ctx, pool.Fence{}, time.Minute, t0)
	require.ErrorIs(t, err, ErrInvalidArgument)
}
