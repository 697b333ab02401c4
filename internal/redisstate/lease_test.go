package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// claim reserves cold claim "c1" (sandbox "cold1") on the empty test pool.
func (f *fixture) claim(now time.Time) {
	f.t.Helper()
	p := acquireParams(now, "unused")
	p.OnEmpty, p.ClaimHash, p.NewSandboxID, p.CreateDeadline = pool.OnEmptyCreate, "c1", "cold1", now.Add(10*time.Minute)
	res, err := f.s.Acquire(f.ctx, p)
	require.NoError(f.t, err)
	require.NotNil(f.t, res.Claim)
}

// leased makes "a" ready and leases it with hash "h1" at t0+1m for 15m.
func (f *fixture) leased() {
	f.t.Helper()
	f.ready("a", at(0))
	_, err := f.s.Acquire(f.ctx, acquireParams(at(time.Minute), "h1"))
	require.NoError(f.t, err)
}

func poll(now time.Time, hash string) pool.PollClaimParams {
	return pool.PollClaimParams{ClaimHash: "c1", LeaseTokenHash: hash, LeaseTTL: 10 * time.Minute, Now: now}
}

func TestPollClaimTransitions(t *testing.T) {
	readyAt := at(time.Minute)
	now := at(2 * time.Minute)
	served := func(f *fixture) {
		f.claim(at(0))
		require.NoError(f.t, f.s.MarkReady(f.ctx, leader, "cold1", "app-cold1", "https://cold1", readyAt.Add(30*time.Minute), readyAt))
	}
	runTransitionCases(t, []transitionCase{
		{
			name: "a creating claim is pending",
			seed: func(f *fixture) { f.claim(at(0)) },
			run: func(f *fixture) error {
				res, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				require.NoError(f.t, err)
				require.NotNil(f.t, res.Claim)
				require.Equal(f.t, "cold1", res.Claim.SandboxID)
				return err
			},
		},
		{
			name: "a claim waiting for its retry is pending",
			seed: func(f *fixture) {
				f.claim(at(0))
				require.NoError(f.t, f.s.MarkFailed(f.ctx, leader, "cold1", pool.FailParams{MaxAttempts: 3, ClaimNextTryAt: at(time.Minute), Now: at(0)}))
			},
			run: func(f *fixture) error {
				res, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				require.NoError(f.t, err)
				require.NotNil(f.t, res.Claim)
				require.Equal(f.t, "", res.Claim.SandboxID)
				require.Equal(f.t, at(time.Minute), res.Claim.NextTryAt)
				return err
			},
		},
		{
			name: "a ready claim hands its lease out once and counts the cold acquire",
			seed: served,
			run: func(f *fixture) error {
				res, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				require.NoError(f.t, err)
				require.Equal(f.t, pool.SourceCold, res.Source)
				require.Equal(f.t, "cold1", res.Sandbox.ID)
				require.Equal(f.t, now.Add(10*time.Minute), res.LeaseExpiresAt)
				return err
			},
			changes: []change{
				hset(":sb:cold1", "acquired_at", msStr(now), "lease_expires_at", msStr(now.Add(10*time.Minute)),
					"lease_hash", "h1", "lease_handed", "1"),
				set(kInUse, zs("cold1="+msStr(now.Add(10*time.Minute)))),
				// 120 s from the claim: the 120000 ms bucket (index 11).
				hset(kPool, "acquires_cold_start", "1",
					"cold_latency_us_sum", "120000000", "cold_lat_11", "1", "last_acquire_at", msStr(now)),
				hset(":claim:c1", "lease_hash", "h1"),
				event(EventSandboxAcquired, testPool, "cold1", now, "cold"),
			},
		},
		{
			name: "a repeat with the same lease hash replays",
			seed: func(f *fixture) {
				served(f)
				_, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				require.NoError(f.t, err)
			},
			run: func(f *fixture) error {
				res, err := f.s.PollClaim(f.ctx, poll(now.Add(time.Second), "h1"))
				require.NoError(f.t, err)
				require.True(f.t, res.Replayed)
				require.Equal(f.t, pool.SourceCold, res.Source)
				return err
			},
		},
		{
			name: "another lease hash is a mismatch",
			seed: func(f *fixture) {
				served(f)
				_, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				require.NoError(f.t, err)
			},
			run: func(f *fixture) error {
				_, err := f.s.PollClaim(f.ctx, poll(now, "h2"))
				return err
			},
			wantErr: pool.ErrLeaseMismatch,
		},
		{
			name: "a claim between attempts in a shut-down pool fails as shut down",
			seed: func(f *fixture) {
				f.claim(at(0))
				require.NoError(f.t, f.s.MarkFailed(f.ctx, leader, "cold1", pool.FailParams{MaxAttempts: 3, ClaimNextTryAt: at(time.Minute), Now: at(0)}))
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(time.Second)}))
			},
			run: func(f *fixture) error {
				_, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				return err
			},
			wantErr: pool.ErrPoolShutdown,
			changes: []change{
				// No attempt will come: the claim is failed now, not pending forever.
				hset(":claim:c1", "failed", "1", "fail_reason", pool.ReasonShutdown),
				set(":claims", nil),
			},
		},
		{
			name: "a claim the shutdown failed answers shut down again on the next poll",
			seed: func(f *fixture) {
				f.claim(at(0))
				require.NoError(f.t, f.s.MarkFailed(f.ctx, leader, "cold1", pool.FailParams{MaxAttempts: 3, ClaimNextTryAt: at(time.Minute), Now: at(0)}))
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(time.Second)}))
				_, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				require.ErrorIs(f.t, err, pool.ErrPoolShutdown)
			},
			run: func(f *fixture) error {
				_, err := f.s.PollClaim(f.ctx, poll(now.Add(time.Second), "h1"))
				return err
			},
			wantErr: pool.ErrPoolShutdown,
		},
		{
			name: "a claim whose creating sandbox the shutdown condemned answers shut down",
			seed: func(f *fixture) {
				f.claim(at(0))
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(time.Second)}))
				require.NoError(f.t, f.s.MarkDeleting(f.ctx, leader, "cold1", pool.ReasonShutdown, at(time.Second)))
			},
			run: func(f *fixture) error {
				_, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				return err
			},
			wantErr: pool.ErrPoolShutdown,
		},
		{
			name: "a claim whose attempts all failed answers creation failed",
			seed: func(f *fixture) {
				f.claim(at(0))
				require.NoError(f.t, f.s.MarkFailed(f.ctx, leader, "cold1", pool.FailParams{MaxAttempts: 1, Now: at(0)}))
			},
			run: func(f *fixture) error {
				_, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				return err
			},
			wantErr: pool.ErrSandboxCreation,
		},
		{
			name: "an unknown claim is not found",
			run: func(f *fixture) error {
				_, err := f.s.PollClaim(f.ctx, poll(now, "h1"))
				return err
			},
			wantErr: pool.ErrSandboxNotFound,
		},
	})
}

func TestRenewTransitions(t *testing.T) {
	now := at(5 * time.Minute)
	runTransitionCases(t, []transitionCase{
		{
			name: "the holder extends the lease",
			seed: func(f *fixture) { f.leased() },
			run: func(f *fixture) error {
				exp, err := f.s.Renew(f.ctx, "a", "h1", time.Hour, now)
				require.NoError(f.t, err)
				require.Equal(f.t, now.Add(time.Hour), exp)
				return err
			},
			changes: []change{
				hset(":sb:a", "lease_expires_at", msStr(now.Add(time.Hour))),
				set(kInUse, zs("a="+msStr(now.Add(time.Hour)))),
			},
		},
		{
			name: "an idempotent lease's key lives as long as the renewed lease",
			seed: func(f *fixture) {
				f.ready("a", at(0))
				p := acquireParams(at(time.Minute), "h1")
				p.IdempotencyKey, p.IdempotencyNonce = "k1", "n1"
				_, err := f.s.Acquire(f.ctx, p)
				require.NoError(f.t, err)
			},
			run: func(f *fixture) error {
				_, err := f.s.Renew(f.ctx, "a", "h1", time.Hour, now)
				require.NoError(f.t, err)
				// The key was set for the 15-minute lease; the renew made it an hour's.
				ttl, terr := f.rdb.PTTL(f.ctx, f.s.Keys().Idempotency(testPool, "k1")).Result()
				require.NoError(f.t, terr)
				require.Greater(f.t, ttl, 30*time.Minute)
				return err
			},
			changes: []change{
				hset(":sb:a", "lease_expires_at", msStr(now.Add(time.Hour))),
				set(kInUse, zs("a="+msStr(now.Add(time.Hour)))),
			},
		},
		{
			name: "another token is a mismatch",
			seed: func(f *fixture) { f.leased() },
			run: func(f *fixture) error {
				_, err := f.s.Renew(f.ctx, "a", "h2", time.Hour, now)
				return err
			},
			wantErr: pool.ErrLeaseMismatch,
		},
		{
			name: "an expired lease cannot be renewed",
			seed: func(f *fixture) { f.leased() },
			run: func(f *fixture) error {
				_, err := f.s.Renew(f.ctx, "a", "h1", time.Hour, at(16*time.Minute))
				return err
			},
			wantErr: pool.ErrLeaseExpired,
		},
		{
			name: "a released lease cannot be renewed",
			seed: func(f *fixture) {
				f.leased()
				_, err := f.s.Release(f.ctx, "a", "h1", at(2*time.Minute))
				require.NoError(f.t, err)
			},
			run: func(f *fixture) error {
				_, err := f.s.Renew(f.ctx, "a", "h1", time.Hour, now)
				return err
			},
			wantErr: pool.ErrLeaseReleased,
		},
		{
			name: "a released lease whose record is forgotten still says released (the tombstone)",
			seed: func(f *fixture) {
				f.leased()
				_, err := f.s.Release(f.ctx, "a", "h1", at(2*time.Minute))
				require.NoError(f.t, err)
				require.NoError(f.t, f.s.Forget(f.ctx, leader, "a", at(3*time.Minute)))
			},
			run: func(f *fixture) error {
				_, err := f.s.Renew(f.ctx, "a", "h1", time.Hour, now)
				return err
			},
			wantErr: pool.ErrLeaseReleased,
		},
		{
			name: "a never-existing id is not found",
			run: func(f *fixture) error {
				_, err := f.s.Renew(f.ctx, "nope", "h1", time.Hour, now)
				return err
			},
			wantErr: pool.ErrSandboxNotFound,
		},
	})
}

func TestReleaseTransitions(t *testing.T) {
	now := at(5 * time.Minute)
	released := func(f *fixture) {
		f.leased()
		_, err := f.s.Release(f.ctx, "a", "h1", now)
		require.NoError(f.t, err)
	}
	forgotten := func(f *fixture) {
		released(f)
		require.NoError(f.t, f.s.Forget(f.ctx, leader, "a", now.Add(time.Minute)))
	}
	release := func(hash string, want pool.State) func(f *fixture) error {
		return func(f *fixture) error {
			st, err := f.s.Release(f.ctx, "a", hash, now.Add(2*time.Minute))
			if err == nil {
				require.Equal(f.t, want, st)
			}
			return err
		}
	}
	runTransitionCases(t, []transitionCase{
		{
			name: "the holder releases: in_use -> deleting, with a tombstone",
			seed: func(f *fixture) { f.leased() },
			run: func(f *fixture) error {
				st, err := f.s.Release(f.ctx, "a", "h1", now)
				require.NoError(f.t, err)
				require.Equal(f.t, pool.StateDeleting, st)
				return err
			},
			changes: []change{
				hset(":sb:a", "state", "deleting", "deleting_since", msStr(now), "delete_reason", "released"),
				set(kInUse, nil),
				set(":deleting", zs("a="+msStr(now))),
				set(kDeleting, zs("a="+msStr(now))),
				hset(kPool, "released", "1"),
				set(":released:a", map[string]any{"value": "h1:released", "ttl": true}),
				event(EventSandboxReleased, testPool, "a", now, "released"),
			},
		},
		{name: "a repeat by the holder answers deleting", seed: released, run: release("h1", pool.StateDeleting)},
		{name: "a repeat after forget answers deleted", seed: forgotten, run: release("h1", StateDeleted)},
		{name: "anyone else gets a mismatch", seed: func(f *fixture) { f.leased() }, run: release("h2", ""), wantErr: pool.ErrLeaseMismatch},
		{name: "anyone else gets a mismatch after release", seed: released, run: release("h2", ""), wantErr: pool.ErrLeaseMismatch},
		{name: "anyone else gets a mismatch after forget", seed: forgotten, run: release("h2", ""), wantErr: pool.ErrLeaseMismatch},
		{name: "a ready sandbox has no holder", seed: func(f *fixture) { f.ready("a", at(0)) }, run: release("h1", ""), wantErr: pool.ErrLeaseMismatch},
		{name: "a never-existing id is not found", run: release("h1", ""), wantErr: pool.ErrSandboxNotFound},
	})
}

// A poll that names no TTL leases for the lease_seconds the caller gave at
// acquire (kept on the claim), so a cold lease lasts as long as a warm one.
func TestPollClaimWithoutTTLUsesTheClaimsLease(t *testing.T) {
	for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
		f := open(t)
		f.claim(at(0)) // acquireParams: a 15-minute lease
		require.NoError(t, f.s.MarkReady(f.ctx, leader, "cold1", "app-cold1", "https://cold1", at(time.Hour), at(time.Minute)))
		p := poll(at(2*time.Minute), "h1")
		p.LeaseTTL = 0
		res, err := f.s.PollClaim(f.ctx, p)
		require.NoError(t, err)
		require.Equal(t, at(2*time.Minute).Add(15*time.Minute), res.LeaseExpiresAt)
		f.check(nil)
	}
}

// A reaped lease is expired, never "released", before and after its record
// is forgotten; ErrLeaseReleased is an ErrLeaseExpired for every caller that
// only knows that one.
func TestRenewTellsReapedFromReleased(t *testing.T) {
	now := at(20 * time.Minute)
	for name, newF := range map[string]func(*testing.T) *fixture{"redis-server": newFixture, "miniredis": newMiniFixture} {
		t.Run(name, func(t *testing.T) {
			f := newF(t)
			f.leased()
			require.NoError(t, f.s.MarkDeleting(f.ctx, leader, "a", pool.ReasonLeaseExpired, at(16*time.Minute).Add(pool.DefaultClockSkewTolerance)))
			for _, forget := range []bool{false, true} {
				if forget {
					require.NoError(t, f.s.Forget(f.ctx, leader, "a", at(18*time.Minute)))
				}
				_, err := f.s.Renew(f.ctx, "a", "h1", time.Hour, now)
				require.ErrorIs(t, err, pool.ErrLeaseExpired)
				require.NotErrorIs(t, err, pool.ErrLeaseReleased, "forgotten: %v", forget)
			}
		})
	}
	require.ErrorIs(t, pool.ErrLeaseReleased, pool.ErrLeaseExpired)
}
