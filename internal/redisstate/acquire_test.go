package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

const (
	kPool     = ":pool:" + testPool
	kReady    = kPool + ":ready"
	kCreating = kPool + ":creating"
	kInUse    = kPool + ":in_use"
	kDeleting = kPool + ":deleting"
)

func zs(members ...string) []string { return members }

func TestAcquireTransitions(t *testing.T) {
	now := at(time.Minute)
	leaseEnd := now.Add(15 * time.Minute)
	// expiredThenA is what an acquire changes when the first sandbox it finds
	// is past its warm deadline (or within the margin of it): that one goes to
	// deleting, and "a" behind it is leased.
	expiredThenA := func(expired string) []change {
		return []change{
			hset(":sb:"+expired, "state", "deleting", "deleting_since", msStr(now), "delete_reason", "warm_age"),
			set(":deleting", zs(expired+"="+msStr(now))),
			set(kDeleting, zs(expired+"="+msStr(now))),
			hset(":sb:a", "state", "in_use", "acquired_at", msStr(now), "lease_expires_at", msStr(leaseEnd),
				"lease_hash", "h1", "lease_handed", "1"),
			set(kReady, nil),
			set(kInUse, zs("a="+msStr(leaseEnd))),
			hset(kPool, "expired_warm", "1", "acquires_from_pool", "1", "warm_age_ms_sum", "60000",
				"last_acquire_at", msStr(now)),
			event(EventSandboxAcquired, testPool, "a", now, "pool"),
		}
	}
	twoReady := func(f *fixture) { f.ready("a", at(0)); f.ready("b", at(time.Second)) }
	warmHit := []change{
		hset(":sb:a", "state", "in_use", "acquired_at", msStr(now), "lease_expires_at", msStr(leaseEnd),
			"lease_hash", "h1", "lease_handed", "1"),
		set(kReady, []string{"b"}),
		set(kInUse, zs("a="+msStr(leaseEnd))),
		hset(kPool, "acquires_from_pool", "1", "warm_age_ms_sum", "60000", "last_acquire_at", msStr(now)),
		event(EventSandboxAcquired, testPool, "a", now, "pool"),
	}
	claimParams := func(p pool.AcquireParams) pool.AcquireParams {
		p.OnEmpty = pool.OnEmptyCreate
		p.ClaimHash = "c1"
		p.NewSandboxID = "cold1"
		p.CreateDeadline = now.Add(10 * time.Minute)
		return p
	}
	cases := []transitionCase{
		{
			name: "warm hit takes the oldest ready sandbox",
			seed: twoReady,
			run: func(f *fixture) error {
				res, err := f.s.Acquire(f.ctx, acquireParams(now, "h1"))
				require.NoError(f.t, err)
				require.Equal(f.t, "a", res.Sandbox.ID)
				require.Equal(f.t, pool.SourcePool, res.Source)
				require.False(f.t, res.Replayed)
				require.Nil(f.t, res.Claim)
				require.Equal(f.t, leaseEnd, res.LeaseExpiresAt)
				require.Equal(f.t, pool.Sandbox{ID: "a", Pool: testPool, State: pool.StateInUse, AppID: "app-a",
					URL: "https://a.example", Region: "nyc", InstanceSize: "apps-s-1vcpu-1gb", CreatedAt: at(0),
					ReadyAt: at(0), WarmDeadline: at(30 * time.Minute), AcquiredAt: now, LeaseExpiresAt: leaseEnd,
					LeaseHanded: true}, res.Sandbox)
				return err
			},
			changes: warmHit,
		},
		{
			name: "with an idempotency key the key is recorded for the lease",
			seed: twoReady,
			run: func(f *fixture) error {
				p := acquireParams(now, "h1")
				p.IdempotencyKey, p.IdempotencyNonce = "k1", "n1"
				_, err := f.s.Acquire(f.ctx, p)
				return err
			},
			changes: append(append([]change(nil), warmHit...),
				set(":idem:python:k1", map[string]any{"value": "a", "ttl": true}),
				hset(":sb:a", "idem_key", ":idem:python:k1", "idem_nonce", "n1")),
		},
		{
			name: "an idempotent repeat replays the lease and changes nothing",
			seed: func(f *fixture) {
				twoReady(f)
				p := acquireParams(now, "h1")
				p.IdempotencyKey, p.IdempotencyNonce = "k1", "n1"
				_, err := f.s.Acquire(f.ctx, p)
				require.NoError(f.t, err)
			},
			run: func(f *fixture) error {
				p := acquireParams(now.Add(time.Second), "h1")
				p.IdempotencyKey, p.IdempotencyNonce = "k1", "n1"
				res, err := f.s.Acquire(f.ctx, p)
				require.NoError(f.t, err)
				require.True(f.t, res.Replayed)
				require.Equal(f.t, "a", res.Sandbox.ID)
				require.Equal(f.t, leaseEnd, res.LeaseExpiresAt)
				return err
			},
		},
		{
			// The retry mints its own nonce and hash; the replay answers the
			// first acquisition's, for the service to derive its token from.
			name: "an idempotent repeat answers the first acquisition's nonce and hash",
			seed: func(f *fixture) {
				twoReady(f)
				p := acquireParams(now, "h1")
				p.IdempotencyKey, p.IdempotencyNonce = "k1", "n1"
				_, err := f.s.Acquire(f.ctx, p)
				require.NoError(f.t, err)
			},
			run: func(f *fixture) error {
				p := acquireParams(now, "h2")
				p.IdempotencyKey, p.IdempotencyNonce = "k1", "n2"
				res, err := f.s.Acquire(f.ctx, p)
				require.NoError(f.t, err)
				require.True(f.t, res.Replayed)
				require.Equal(f.t, "n1", res.IdempotencyNonce)
				require.Equal(f.t, "h1", res.LeaseTokenHash)
				return err
			},
		},
		{
			name: "an idempotency key without a nonce is refused before Redis",
			seed: twoReady,
			run: func(f *fixture) error {
				p := acquireParams(now, "h1")
				p.IdempotencyKey = "k1"
				_, err := f.s.Acquire(f.ctx, p)
				require.ErrorContains(f.t, err, "needs a nonce")
				return nil
			},
		},
		{
			// now is 60 s; "near"'s warm deadline is 90 s: 30 s away, inside
			// a 60 s margin, so a clock here 30+ s slow would hand it out late.
			name: "sandboxes within the warm margin of their deadline go to deleting, never out",
			seed: func(f *fixture) {
				f.reserve("near", at(0))
				require.NoError(f.t, f.s.MarkReady(f.ctx, leader, "near", "", "u", at(90*time.Second), at(0)))
				f.ready("a", at(0))
			},
			run: func(f *fixture) error {
				p := acquireParams(now, "h1")
				p.WarmMargin = pool.DefaultClockSkewTolerance
				res, err := f.s.Acquire(f.ctx, p)
				require.NoError(f.t, err)
				require.Equal(f.t, "a", res.Sandbox.ID)
				return err
			},
			changes: expiredThenA("near"),
		},
		{
			name: "sandboxes past their warm deadline go to deleting, never out",
			seed: func(f *fixture) {
				f.reserve("old", at(0))
				require.NoError(f.t, f.s.MarkReady(f.ctx, leader, "old", "", "u", at(30*time.Second), at(0)))
				f.ready("a", at(0))
			},
			run: func(f *fixture) error {
				res, err := f.s.Acquire(f.ctx, acquireParams(now, "h1"))
				require.NoError(f.t, err)
				require.Equal(f.t, "a", res.Sandbox.ID)
				return err
			},
			changes: expiredThenA("old"),
		},
		{
			name: "empty pool under on_empty fail is exhausted",
			seed: func(f *fixture) { f.reserve("c", at(0)) },
			run: func(f *fixture) error {
				_, err := f.s.Acquire(f.ctx, acquireParams(now, "h1"))
				return err
			},
			wantErr: pool.ErrPoolExhausted,
			changes: []change{hset(kPool, "misses_empty", "1", "activated_at", msStr(now)), hset(kPool, "exhausted_event_at", msStr(now)), event(EventPoolExhausted, testPool, "", now, "empty")},
		},
		{
			name: "a first acquire of a pool with no state (a default_pool_config image) makes it known and active",
			run: func(f *fixture) error {
				_, err := f.s.Acquire(f.ctx, acquireParams(now, "h1"))
				return err
			},
			wantErr: pool.ErrPoolExhausted,
			changes: []change{
				set(":pools", []string{testPool}),
				set(kPool, map[string]string{"activated_at": msStr(now), "misses_empty": "1"}),
				hset(kPool, "exhausted_event_at", msStr(now)), event(EventPoolExhausted, testPool, "", now, "empty"),
			},
		},
		{
			name: "empty pool inside a wait is exhausted with no miss counted",
			seed: func(f *fixture) { f.reserve("c", at(0)) },
			run: func(f *fixture) error {
				p := acquireParams(now, "h1")
				p.OnEmpty = pool.OnEmptyWait
				_, err := f.s.Acquire(f.ctx, p)
				return err
			},
			wantErr: pool.ErrPoolExhausted,
			changes: []change{hset(kPool, "activated_at", msStr(now))},
		},
		{
			name: "a shut-down pool answers shutdown",
			seed: func(f *fixture) {
				twoReady(f)
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(2 * time.Second)}))
			},
			run: func(f *fixture) error {
				_, err := f.s.Acquire(f.ctx, acquireParams(now, "h1"))
				return err
			},
			wantErr: pool.ErrPoolShutdown,
			changes: []change{hset(kPool, "misses_shutdown", "1")},
		},
		{
			name: "a shut-down manager answers shutdown",
			seed: func(f *fixture) {
				twoReady(f)
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: "", Shutdown: true, Now: at(2 * time.Second)}))
			},
			run: func(f *fixture) error {
				_, err := f.s.Acquire(f.ctx, acquireParams(now, "h1"))
				return err
			},
			wantErr: pool.ErrPoolShutdown,
			changes: []change{hset(kPool, "misses_shutdown", "1")},
		},
		{
			name: "empty pool under on_empty create reserves a cold claim, past max_ready",
			seed: func(f *fixture) {
				for _, id := range []string{"c1", "c2", "c3"} {
					f.reserve(id, at(0))
				}
			},
			run: func(f *fixture) error {
				p := claimParams(acquireParams(now, "h1"))
				p.Caps.MaxReady = 3 // full with the 3 creating: a claim is not pool stock
				res, err := f.s.Acquire(f.ctx, p)
				require.NoError(f.t, err)
				require.NotNil(f.t, res.Claim)
				require.Equal(f.t, pool.Claim{Hash: "c1", Pool: testPool, SandboxID: "cold1", Attempts: 1,
					CreatedAt: now, LeaseTTL: 15 * time.Minute}, *res.Claim)
				return err
			},
			changes: []change{
				hset(":sb:cold1", "id", "cold1", "pool", testPool, "state", "creating", "created_at", msStr(now),
					"create_deadline", msStr(now.Add(10*time.Minute)), "attempt", "1", "claim_hash", "c1"),
				func(t *testing.T, d map[string]any) {
					d[":all"] = append(append([]string(nil), d[":all"].([]string)...), "cold1="+msStr(now))
					d[":creating"] = append(append([]string(nil), d[":creating"].([]string)...), "cold1="+msStr(now.Add(10*time.Minute)))
					d[kCreating] = append(append([]string(nil), d[kCreating].([]string)...), "cold1="+msStr(now.Add(10*time.Minute)))
				},
				hset(kPool, "creates", "4", "created", "4", "claims_creating", "1", "activated_at", msStr(now)),
				set(":claim:c1", map[string]string{"hash": "c1", "pool": testPool, "sandbox_id": "cold1", "attempts": "1",
					"failed": "0", "created_at": msStr(now), "lease_ttl_ms": "900000"}),
				set(":claims", zs("c1="+msStr(now))),
			},
		},
		{
			name: "a cold claim over max_total_sandboxes is exhausted",
			seed: func(f *fixture) {
				for _, id := range []string{"c1", "c2", "c3", "c4"} {
					f.reserve(id, at(0))
					require.NoError(f.t, f.s.MarkFailed(f.ctx, leader, id, pool.FailParams{Now: at(0)}))
				}
				for _, id := range []string{"c5", "c6", "c7", "c8"} {
					f.reserve(id, at(0))
				}
			},
			run: func(f *fixture) error {
				_, err := f.s.Acquire(f.ctx, claimParams(acquireParams(now, "h1")))
				return err
			},
			wantErr: pool.ErrPoolExhausted,
			changes: []change{hset(kPool, "misses_capacity", "1", "activated_at", msStr(now)), hset(kPool, "exhausted_event_at", msStr(now)), event(EventPoolExhausted, testPool, "", now, "capacity")},
		},
		{
			// max_concurrent_creates paces the creates; it refuses nobody.
			// The claim waits with no sandbox and no attempt made, and
			// reconcile reserves one for it first when a slot frees.
			name: "a cold claim over max_concurrent_creates is queued without a sandbox",
			seed: func(f *fixture) {
				for _, id := range []string{"c1", "c2", "c3", "c4"} {
					f.reserve(id, at(0))
				}
			},
			run: func(f *fixture) error {
				res, err := f.s.Acquire(f.ctx, claimParams(acquireParams(now, "h1")))
				require.NoError(f.t, err)
				require.NotNil(f.t, res.Claim)
				require.Equal(f.t, pool.Claim{Hash: "c1", Pool: testPool, CreatedAt: now, LeaseTTL: 15 * time.Minute}, *res.Claim)
				return err
			},
			changes: []change{
				hset(kPool, "activated_at", msStr(now)),
				set(":claim:c1", map[string]string{"hash": "c1", "pool": testPool, "sandbox_id": "", "attempts": "0",
					"failed": "0", "created_at": msStr(now), "lease_ttl_ms": "900000", "next_try_at": "0"}),
				set(":claims", zs("c1="+msStr(now))),
			},
		},
		{
			name: "no cold claim while the circuit is open",
			seed: func(f *fixture) {
				f.reserve("c1", at(0))
				require.NoError(f.t, f.s.MarkFailed(f.ctx, leader, "c1", pool.FailParams{Now: at(0),
					CircuitOpenUntil: at(5 * time.Minute), CircuitReason: "3 failures"}))
			},
			run: func(f *fixture) error {
				_, err := f.s.Acquire(f.ctx, claimParams(acquireParams(now, "h1")))
				return err
			},
			wantErr: pool.ErrPoolExhausted,
			changes: []change{hset(kPool, "misses_circuit", "1", "activated_at", msStr(now)), hset(kPool, "exhausted_event_at", msStr(now)), event(EventPoolExhausted, testPool, "", now, "circuit_open")},
		},
	}
	runTransitionCases(t, cases)
}

func TestAcquireRejectsBadArguments(t *testing.T) {
	f := newFixture(t)
	for _, p := range []pool.AcquireParams{
		{LeaseTTL: time.Minute, LeaseTokenHash: "h"},
		{Pool: testPool, LeaseTokenHash: "h"},
		{Pool: testPool, LeaseTTL: time.Minute},
	} {
		_, err := f.s.Acquire(f.ctx, p)
		require.ErrorIs(t, err, ErrInvalidArgument)
	}
}
