package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

var stranger = pool.Fence{Token: "fence-old"}

func reserveParams(id string, now time.Time) pool.ReserveParams {
	return pool.ReserveParams{Pool: testPool, SandboxID: id, Caps: testCaps, Attempt: 1, Region: "nyc",
		InstanceSize: "s", CreateDeadline: now.Add(10 * time.Minute), Now: now}
}

func TestReserveTransitions(t *testing.T) {
	now := at(time.Minute)
	deadline := now.Add(10 * time.Minute)
	reserve := func(p pool.ReserveParams) func(f *fixture) error {
		return func(f *fixture) error { return f.s.Reserve(f.ctx, leader, p) }
	}
	runTransitionCases(t, []transitionCase{
		{
			name: "the record exists as creating with its deadline",
			run:  reserve(reserveParams("n1", now)),
			changes: []change{
				set(":sb:n1", map[string]string{"id": "n1", "pool": testPool, "state": "creating", "created_at": msStr(now),
					"create_deadline": msStr(deadline), "attempt": "1", "region": "nyc", "instance_size": "s"}),
				set(":all", zs("n1="+msStr(now))),
				set(":creating", zs("n1="+msStr(deadline))),
				set(kCreating, zs("n1="+msStr(deadline))),
				set(":pools", []string{testPool}),
				set(kPool, map[string]string{"activated_at": msStr(now), "creates": "1", "created": "1"}),
			},
		},
		{
			name: "max_ready counts ready and creating",
			seed: func(f *fixture) {
				f.ready("r1", at(0))
				f.ready("r2", at(0))
				f.reserve("c1", at(0))
			},
			run: func(f *fixture) error {
				p := reserveParams("n1", now)
				p.Caps.MaxReady = 3
				return f.s.Reserve(f.ctx, leader, p)
			},
			wantErr: pool.ErrPoolExhausted,
		},
		{
			name: "max_ready does not count a cold claim's sandbox",
			seed: func(f *fixture) { f.claim(at(0)) },
			run: func(f *fixture) error {
				p := reserveParams("n1", now)
				p.Caps.MaxReady = 1
				return f.s.Reserve(f.ctx, leader, p)
			},
			changes: []change{
				set(":sb:n1", map[string]string{"id": "n1", "pool": testPool, "state": "creating", "created_at": msStr(now),
					"create_deadline": msStr(deadline), "attempt": "1", "region": "nyc", "instance_size": "s"}),
				set(":all", zs("cold1="+msStr(at(0)), "n1="+msStr(now))),
				set(":creating", zs("cold1="+msStr(at(10*time.Minute)), "n1="+msStr(deadline))),
				set(kCreating, zs("cold1="+msStr(at(10*time.Minute)), "n1="+msStr(deadline))),
				hset(kPool, "creates", "2", "created", "2"),
			},
		},
		{
			name: "max_total_sandboxes counts every record of every pool",
			seed: func(f *fixture) {
				f.leased()
				require.NoError(f.t, f.s.Reserve(f.ctx, leader, pool.ReserveParams{Pool: "node", SandboxID: "o1", Caps: testCaps,
					CreateDeadline: at(time.Hour), Now: at(0)}))
			},
			run: func(f *fixture) error {
				p := reserveParams("n1", now)
				p.Caps.MaxTotal = 2
				return f.s.Reserve(f.ctx, leader, p)
			},
			wantErr: pool.ErrPoolExhausted,
		},
		{
			name: "max_concurrent_creates counts creating of every pool",
			seed: func(f *fixture) {
				require.NoError(f.t, f.s.Reserve(f.ctx, leader, pool.ReserveParams{Pool: "node", SandboxID: "o1", Caps: testCaps,
					CreateDeadline: at(time.Hour), Now: at(0)}))
			},
			run: func(f *fixture) error {
				p := reserveParams("n1", now)
				p.Caps.MaxConcurrentCreates = 1
				return f.s.Reserve(f.ctx, leader, p)
			},
			wantErr: pool.ErrPoolExhausted,
		},
		{
			name: "a shut-down pool reserves nothing",
			seed: func(f *fixture) {
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(0)}))
			},
			run: reserve(reserveParams("n1", now)), wantErr: pool.ErrPoolShutdown,
		},
		{
			name: "a stale leader changes nothing",
			run: func(f *fixture) error {
				return f.s.Reserve(f.ctx, stranger, reserveParams("n1", now))
			},
			wantErr: pool.ErrNotLeader,
		},
		{
			name:    "an id is reserved once",
			seed:    func(f *fixture) { f.reserve("n1", at(0)) },
			run:     reserve(reserveParams("n1", now)),
			wantErr: pool.ErrStateConflict,
		},
		{
			name: "a claim's retry links the claim and counts its attempt",
			seed: func(f *fixture) {
				f.claim(at(0))
				require.NoError(f.t, f.s.MarkFailed(f.ctx, leader, "cold1", pool.FailParams{MaxAttempts: 3, ClaimNextTryAt: at(30 * time.Second), Now: at(0)}))
			},
			run: func(f *fixture) error {
				p := reserveParams("n2", now)
				p.ClaimHash = "c1"
				p.Caps.MaxReady = 0
				return f.s.Reserve(f.ctx, leader, p)
			},
			changes: []change{
				set(":sb:n2", map[string]string{"id": "n2", "pool": testPool, "state": "creating", "created_at": msStr(now),
					"create_deadline": msStr(deadline), "attempt": "2", "region": "nyc", "instance_size": "s", "claim_hash": "c1"}),
				set(":all", zs("cold1="+msStr(at(0)), "n2="+msStr(now))),
				set(":creating", zs("n2="+msStr(deadline))),
				set(kCreating, zs("n2="+msStr(deadline))),
				hset(kPool, "creates", "2", "created", "2", "claims_creating", "1"),
				hset(":claim:c1", "sandbox_id", "n2", "attempts", "2", "next_try_at", "0"),
			},
		},
	})
}

func TestCreateCalledAndDeleteAttempted(t *testing.T) {
	now := at(time.Minute)
	runTransitionCases(t, []transitionCase{
		{
			name: "create called records the app id",
			seed: func(f *fixture) { f.reserve("n1", at(0)) },
			run: func(f *fixture) error {
				return f.s.CreateCalled(f.ctx, leader, "n1", "app-1", now)
			},
			changes: []change{hset(":sb:n1", "app_id", "app-1", "create_called_at", msStr(now))},
		},
		{
			name:    "create called of a ready sandbox conflicts",
			seed:    func(f *fixture) { f.ready("n1", at(0)) },
			run:     func(f *fixture) error { return f.s.CreateCalled(f.ctx, leader, "n1", "app-1", now) },
			wantErr: pool.ErrStateConflict,
		},
		{
			name:    "create called by a stale leader",
			seed:    func(f *fixture) { f.reserve("n1", at(0)) },
			run:     func(f *fixture) error { return f.s.CreateCalled(f.ctx, stranger, "n1", "app-1", now) },
			wantErr: pool.ErrNotLeader,
		},
		{
			name: "a failed delete is counted",
			seed: func(f *fixture) {
				f.ready("n1", at(0))
				require.NoError(f.t, f.s.MarkDeleting(f.ctx, leader, "n1", pool.ReasonScaleDown, at(0)))
			},
			run:     func(f *fixture) error { return f.s.DeleteAttempted(f.ctx, leader, "n1", now) },
			changes: []change{hset(":sb:n1", "delete_attempts", "1", "last_delete_at", msStr(now))},
		},
		{
			name:    "a delete attempt of a live sandbox conflicts",
			seed:    func(f *fixture) { f.ready("n1", at(0)) },
			run:     func(f *fixture) error { return f.s.DeleteAttempted(f.ctx, leader, "n1", now) },
			wantErr: pool.ErrStateConflict,
		},
		{
			name:    "unknown ids are not found",
			run:     func(f *fixture) error { return f.s.DeleteAttempted(f.ctx, leader, "nope", now) },
			wantErr: pool.ErrSandboxNotFound,
		},
	})
}

func TestMarkReadyTransitions(t *testing.T) {
	now := at(time.Minute)
	warm := now.Add(25 * time.Minute)
	runTransitionCases(t, []transitionCase{
		{
			name: "creating -> ready at the FIFO tail",
			seed: func(f *fixture) { f.ready("r1", at(0)); f.reserve("n1", at(0)) },
			run:  func(f *fixture) error { return f.s.MarkReady(f.ctx, leader, "n1", "app-n1", "https://n1", warm, now) },
			changes: []change{
				hset(":sb:n1", "state", "ready", "app_id", "app-n1", "url", "https://n1", "ready_at", msStr(now),
					"warm_deadline", msStr(warm), "last_healthy_at", msStr(now)),
				set(kReady, []string{"r1", "n1"}),
				set(":creating", nil),
				set(kCreating, nil),
				event(EventSandboxReady, testPool, "n1", now, "ready"),
			},
		},
		{
			name: "a ready creation closes an open circuit and ends the backoff",
			seed: func(f *fixture) {
				f.reserve("bad", at(0))
				require.NoError(f.t, f.s.MarkFailed(f.ctx, leader, "bad", pool.FailParams{Now: at(0), NextCreateAt: at(time.Minute),
					CircuitOpenUntil: at(time.Hour), CircuitReason: "r"}))
				f.reserve("n1", at(0))
			},
			run: func(f *fixture) error { return f.s.MarkReady(f.ctx, leader, "n1", "", "https://n1", warm, now) },
			changes: []change{
				hset(":sb:n1", "state", "ready", "url", "https://n1", "ready_at", msStr(now),
					"warm_deadline", msStr(warm), "last_healthy_at", msStr(now)),
				set(kReady, []string{"n1"}),
				set(":creating", nil),
				set(kCreating, nil),
				hset(kPool, "consecutive_failures", "0"),
				hdel(kPool, "circuit_open_until", "circuit_reason", "next_create_at"),
				event(EventPoolCircuitClosed, testPool, "n1", now, ""),
				event(EventSandboxReady, testPool, "n1", now, "ready"),
			},
		},
		{
			name: "a claim's sandbox goes to its claimant, not the ready list",
			seed: func(f *fixture) { f.claim(at(0)) },
			run:  func(f *fixture) error { return f.s.MarkReady(f.ctx, leader, "cold1", "app-c", "https://c", warm, now) },
			changes: []change{
				hset(":sb:cold1", "state", "in_use", "app_id", "app-c", "url", "https://c", "ready_at", msStr(now),
					"warm_deadline", msStr(warm), "last_healthy_at", msStr(now), "lease_expires_at", msStr(now.Add(15*time.Minute)),
					"lease_handed", "0"),
				set(kInUse, zs("cold1="+msStr(now.Add(15*time.Minute)))),
				set(":creating", nil),
				set(kCreating, nil),
				set(":claims", nil),
				hset(kPool, "claims_creating", "0", "consecutive_failures", "0"),
				event(EventSandboxReady, testPool, "cold1", now, "claimed"),
			},
		},
		{
			name: "a sandbox that is no longer creating conflicts",
			seed: func(f *fixture) {
				f.reserve("n1", at(0))
				require.NoError(f.t, f.s.MarkDeleting(f.ctx, leader, "n1", pool.ReasonShutdown, at(0)))
			},
			run:     func(f *fixture) error { return f.s.MarkReady(f.ctx, leader, "n1", "", "u", warm, now) },
			wantErr: pool.ErrStateConflict,
		},
		{
			name:    "a stale leader changes nothing",
			seed:    func(f *fixture) { f.reserve("n1", at(0)) },
			run:     func(f *fixture) error { return f.s.MarkReady(f.ctx, stranger, "n1", "", "u", warm, now) },
			wantErr: pool.ErrNotLeader,
		},
	})
}

func TestMarkFailedTransitions(t *testing.T) {
	now := at(time.Minute)
	failed := []change{
		hset(":sb:n1", "state", "deleting", "deleting_since", msStr(now), "delete_reason", "create_failed", "fail_reason", "phase ERROR"),
		set(":creating", nil),
		set(kCreating, nil),
		set(":deleting", zs("n1="+msStr(now))),
		set(kDeleting, zs("n1="+msStr(now))),
		hset(kPool, "creates_failed", "1", "consecutive_failures", "1", "next_create_at", msStr(now.Add(time.Minute))),
	}
	params := pool.FailParams{Reason: "phase ERROR", NextCreateAt: now.Add(time.Minute), MaxAttempts: 2, ClaimNextTryAt: now.Add(10 * time.Second), Now: now}
	runTransitionCases(t, []transitionCase{
		{
			name:    "creating -> deleting, counted, with backoff",
			seed:    func(f *fixture) { f.reserve("n1", at(0)) },
			run:     func(f *fixture) error { return f.s.MarkFailed(f.ctx, leader, "n1", params) },
			changes: append(append([]change(nil), failed...), event(EventSandboxFailed, testPool, "n1", now, "phase ERROR")),
		},
		{
			name: "opening the circuit is an event",
			seed: func(f *fixture) { f.reserve("n1", at(0)) },
			run: func(f *fixture) error {
				p := params
				p.CircuitOpenUntil, p.CircuitReason = now.Add(5*time.Minute), "5 failures in a row"
				return f.s.MarkFailed(f.ctx, leader, "n1", p)
			},
			changes: append(append([]change(nil), failed...),
				hset(kPool, "circuit_open_until", msStr(now.Add(5*time.Minute)), "circuit_reason", "5 failures in a row"),
				event(EventPoolCircuitOpen, testPool, "", now, "5 failures in a row"),
				event(EventSandboxFailed, testPool, "n1", now, "phase ERROR")),
		},
		{
			name: "a claim with attempts left waits for its retry",
			seed: func(f *fixture) { f.claim(at(0)) },
			run:  func(f *fixture) error { return f.s.MarkFailed(f.ctx, leader, "cold1", params) },
			changes: []change{
				hset(":sb:cold1", "state", "deleting", "deleting_since", msStr(now), "delete_reason", "create_failed", "fail_reason", "phase ERROR"),
				set(":creating", nil),
				set(kCreating, nil),
				set(":deleting", zs("cold1="+msStr(now))),
				set(kDeleting, zs("cold1="+msStr(now))),
				hset(kPool, "claims_creating", "0", "creates_failed", "1", "consecutive_failures", "1", "next_create_at", msStr(now.Add(time.Minute))),
				hset(":claim:c1", "sandbox_id", "", "next_try_at", msStr(now.Add(10*time.Second))),
				event(EventSandboxFailed, testPool, "cold1", now, "phase ERROR"),
			},
		},
		{
			name: "a claim out of attempts fails",
			seed: func(f *fixture) {
				f.claim(at(0))
				require.NoError(f.t, f.s.MarkFailed(f.ctx, leader, "cold1", params))
				p := reserveParams("n2", now)
				p.ClaimHash = "c1"
				require.NoError(f.t, f.s.Reserve(f.ctx, leader, p))
			},
			run: func(f *fixture) error { return f.s.MarkFailed(f.ctx, leader, "n2", params) },
			changes: []change{
				hset(":sb:n2", "state", "deleting", "deleting_since", msStr(now), "delete_reason", "create_failed", "fail_reason", "phase ERROR"),
				set(":creating", nil),
				set(kCreating, nil),
				set(":deleting", zs("cold1="+msStr(now), "n2="+msStr(now))),
				set(kDeleting, zs("cold1="+msStr(now), "n2="+msStr(now))),
				hset(kPool, "claims_creating", "0", "creates_failed", "2", "consecutive_failures", "2"),
				hset(":claim:c1", "sandbox_id", "", "failed", "1", "fail_reason", pool.ReasonCreateFailed),
				set(":claims", nil),
				event(EventSandboxFailed, testPool, "n2", now, "phase ERROR"),
			},
		},
		{
			name: "the last creating sandbox of a shut-down pool drains it",
			seed: func(f *fixture) {
				f.reserve("n1", at(0))
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Now: at(0)}))
			},
			run: func(f *fixture) error { return f.s.MarkFailed(f.ctx, leader, "n1", params) },
			changes: append(append([]change(nil), failed...),
				event(EventSandboxFailed, testPool, "n1", now, "phase ERROR"),
				event(EventPoolDrained, testPool, "", now, "")),
		},
		{
			name:    "a ready sandbox cannot fail to be created",
			seed:    func(f *fixture) { f.ready("n1", at(0)) },
			run:     func(f *fixture) error { return f.s.MarkFailed(f.ctx, leader, "n1", params) },
			wantErr: pool.ErrStateConflict,
		},
		{
			name:    "a stale leader changes nothing",
			seed:    func(f *fixture) { f.reserve("n1", at(0)) },
			run:     func(f *fixture) error { return f.s.MarkFailed(f.ctx, stranger, "n1", params) },
			wantErr: pool.ErrNotLeader,
		},
	})
}

// TestEveryFencedWriteRefusesAStaleLeader: each of reconcile's writes, made
// with a token that no longer holds the lock, answers ErrNotLeader and leaves
// every key as it was, whatever state its sandbox is in.
func TestEveryFencedWriteRefusesAStaleLeader(t *testing.T) {
	now := at(time.Hour)
	seed := func(f *fixture) {
		f.reserve("c1", at(0))
		f.ready("r1", at(0))
		f.ready("d1", at(0))
		require.NoError(f.t, f.s.MarkDeleting(f.ctx, leader, "d1", pool.ReasonScaleDown, at(time.Minute)))
	}
	writes := map[string]func(f *fixture) error{
		"reserve":          func(f *fixture) error { return f.s.Reserve(f.ctx, stranger, reserveParams("n1", now)) },
		"create called":    func(f *fixture) error { return f.s.CreateCalled(f.ctx, stranger, "c1", "app-c1", now) },
		"mark ready":       func(f *fixture) error { return f.s.MarkReady(f.ctx, stranger, "c1", "", "u", now.Add(time.Hour), now) },
		"mark failed":      func(f *fixture) error { return f.s.MarkFailed(f.ctx, stranger, "c1", pool.FailParams{Now: now}) },
		"mark deleting":    func(f *fixture) error { return f.s.MarkDeleting(f.ctx, stranger, "r1", pool.ReasonExpired, now) },
		"delete attempted": func(f *fixture) error { return f.s.DeleteAttempted(f.ctx, stranger, "d1", now) },
		"forget":           func(f *fixture) error { return f.s.Forget(f.ctx, stranger, "d1", now) },
		"adopt": func(f *fixture) error {
			return f.s.Adopt(f.ctx, stranger, pool.Sandbox{ID: "o1", Pool: testPool, AppID: "app-o1"}, now)
		},
		"update pool": func(f *fixture) error {
			return f.s.UpdatePool(f.ctx, stranger, testPool, pool.PoolUpdate{HealthResult: map[string]bool{"r1": false}}, now)
		},
	}
	var cases []transitionCase
	for name, run := range writes {
		cases = append(cases, transitionCase{name: name, seed: seed, run: run, wantErr: pool.ErrNotLeader})
	}
	runTransitionCases(t, cases)
}
