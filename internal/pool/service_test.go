package pool

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recStore records what the service hands the Store and answers what a test
// sets. Only the methods the service calls are implemented; the embedded nil
// interface makes any other call fail loudly.
type recStore struct {
	Store
	acquires  []AcquireParams
	polls     []PollClaimParams
	acquireFn func(p AcquireParams) (AcquireResult, error)
	pollFn    func(p PollClaimParams) (AcquireResult, error)
	ready     int
	err       error
	shutdowns []string
}

func (s *recStore) Acquire(_ context.Context, p AcquireParams) (AcquireResult, error) {
	s.acquires = append(s.acquires, p)
	return s.acquireFn(p)
}

func (s *recStore) PollClaim(_ context.Context, p PollClaimParams) (AcquireResult, error) {
	s.polls = append(s.polls, p)
	return s.pollFn(p)
}

func (s *recStore) Metrics(_ context.Context, pools []string, now time.Time) (Snapshot, error) {
	snap := Snapshot{At: now, Pools: map[string]PoolMetrics{}}
	for _, p := range pools {
		snap.Pools[p] = PoolMetrics{Ready: s.ready}
	}
	return snap, s.err
}

func (s *recStore) SetShutdown(_ context.Context, p ShutdownParams) error {
	if s.err != nil {
		return s.err
	}
	s.shutdowns = append(s.shutdowns, p.Pool)
	return nil
}

type countingReconciler struct {
	passes int
	err    error
}

func (r *countingReconciler) Reconcile(context.Context) (PassReport, error) {
	r.passes++
	return PassReport{Leader: true}, r.err
}

var st0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func newTestService(t *testing.T, s *recStore, o ServiceOptions) (*Service, *ManualClock) {
	t.Helper()
	cfg, err := ParseConfig([]byte(`{"pools":{"python":{"target_ready":2},"node":{"on_empty":"fail"}},"max_lease":3600}`))
	require.NoError(t, err)
	clock := NewManualClock(st0)
	o.Store, o.Config, o.Clock, o.Secrets = s, cfg, clock, NewSecrets("k")
	o.Sleep = func(_ context.Context, d time.Duration) error { clock.Advance(d); return nil }
	svc, err := NewService(o)
	require.NoError(t, err)
	return svc, clock
}

func TestNewServiceNeedsStoreConfigClockSecrets(t *testing.T) {
	_, err := NewService(ServiceOptions{})
	require.Error(t, err)
	cfg, err := ParseConfig([]byte(`{"pools":{"python":{}}}`))
	require.NoError(t, err)
	_, err = NewService(ServiceOptions{Store: &recStore{}, Config: cfg, Clock: NewManualClock(st0)})
	require.ErrorContains(t, err, "Secrets", "unkeyed token derivations would be public")
}

func TestAcquireHandsTheStoreOnlyHashes(t *testing.T) {
	s := &recStore{acquireFn: func(p AcquireParams) (AcquireResult, error) {
		return AcquireResult{Sandbox: Sandbox{ID: "sb1", Pool: p.Pool}, LeaseExpiresAt: p.Now.Add(p.LeaseTTL), Source: SourcePool}, nil
	}}
	kicks := 0
	svc, _ := newTestService(t, s, ServiceOptions{Kick: func() { kicks++ }})
	a, err := svc.Acquire(context.Background(), AcquireRequest{Image: "python", LeaseSeconds: 60})
	require.NoError(t, err)
	require.Len(t, s.acquires, 1)
	p := s.acquires[0]
	require.Equal(t, HashToken(a.LeaseToken), p.LeaseTokenHash)
	require.NotEqual(t, a.LeaseToken, p.LeaseTokenHash)
	require.Len(t, p.ClaimHash, 64, "the claim id goes to the Store hashed")
	require.Equal(t, time.Minute, p.LeaseTTL)
	require.Equal(t, OnEmptyCreate, p.OnEmpty)
	require.Equal(t, st0.Add(DefaultCreateTimeout), p.CreateDeadline)
	require.Equal(t, NewSecrets("k").AgentToken("sb1"), a.AgentToken)
	require.Equal(t, 1, kicks, "a pool with a target is refilled at once")

	// With an idempotency key the token is derived from a fresh nonce, which
	// goes to the Store to keep with the record.
	b, err := svc.Acquire(context.Background(), AcquireRequest{Image: "python", IdempotencyKey: "job-1"})
	require.NoError(t, err)
	nonce := s.acquires[1].IdempotencyNonce
	require.Len(t, nonce, 43, "256 random bits")
	require.Equal(t, NewSecrets("k").IdempotentLeaseToken("python", "job-1", nonce), b.LeaseToken)
	require.Equal(t, HashToken(b.LeaseToken), s.acquires[1].LeaseTokenHash)
	require.Equal(t, DefaultLease, s.acquires[1].LeaseTTL)
}

// An idempotency key scopes a retry, not an identity: two acquisitions with
// one key (the first released in between) get different lease tokens, and a
// replay answers the first acquisition's token, derived from the nonce its
// record kept and checked against the hash the record holds.
func TestIdempotentAcquisitionsAreBoundToTheirNonce(t *testing.T) {
	var record AcquireResult // what the "Redis" record holds after the first acquisition
	replay := false
	s := &recStore{acquireFn: func(p AcquireParams) (AcquireResult, error) {
		if replay {
			return record, nil
		}
		record = AcquireResult{Sandbox: Sandbox{ID: "sb1", Pool: p.Pool}, LeaseExpiresAt: p.Now.Add(p.LeaseTTL), Source: SourcePool,
			Replayed: true, IdempotencyNonce: p.IdempotencyNonce, LeaseTokenHash: p.LeaseTokenHash}
		return AcquireResult{Sandbox: record.Sandbox, LeaseExpiresAt: record.LeaseExpiresAt, Source: SourcePool}, nil
	}}
	svc, _ := newTestService(t, s, ServiceOptions{})
	ctx := context.Background()
	req := AcquireRequest{Image: "python", IdempotencyKey: "job-1"}

	first, err := svc.Acquire(ctx, req)
	require.NoError(t, err)
	second, err := svc.Acquire(ctx, req) // the first was released: a new acquisition
	require.NoError(t, err)
	require.NotEqual(t, first.LeaseToken, second.LeaseToken, "the same key, another acquisition, another token")
	require.NotEqual(t, s.acquires[0].IdempotencyNonce, s.acquires[1].IdempotencyNonce)

	replay = true
	again, err := svc.Acquire(ctx, req)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, second.LeaseToken, again.LeaseToken, "a retry answers the acquisition it repeats")
	require.NotEqual(t, HashToken(again.LeaseToken), s.acquires[2].LeaseTokenHash, "the retry's own nonce is not used")

	// A record whose hash does not match its nonce is not handed over.
	record.LeaseTokenHash = HashToken("someone else's token")
	_, err = svc.Acquire(ctx, req)
	require.ErrorIs(t, err, ErrLeaseMismatch)

	// A record written before nonces replays the token of the pool and key alone.
	record.IdempotencyNonce = ""
	record.LeaseTokenHash = HashToken(NewSecrets("k").IdempotentLeaseToken("python", "job-1", ""))
	legacy, err := svc.Acquire(ctx, req)
	require.NoError(t, err)
	require.Equal(t, NewSecrets("k").IdempotentLeaseToken("python", "job-1", ""), legacy.LeaseToken)
}

func TestAcquireRefusesBadRequestsBeforeTheStore(t *testing.T) {
	s := &recStore{}
	svc, _ := newTestService(t, s, ServiceOptions{})
	ctx := context.Background()
	for _, c := range []struct {
		r     AcquireRequest
		want  error
		field string
	}{
		{AcquireRequest{}, ErrInvalidRequest, "image"},
		{AcquireRequest{Image: "ruby"}, ErrUnknownImage, ""},
		{AcquireRequest{Image: "python", LeaseSeconds: 3601}, ErrInvalidRequest, "lease_seconds"},
		{AcquireRequest{Image: "python", LeaseSeconds: -1}, ErrInvalidRequest, "lease_seconds"},
		{AcquireRequest{Image: "python", WaitSeconds: 26}, ErrInvalidRequest, "wait_seconds"},
		{AcquireRequest{Image: "python", IdempotencyKey: "\n"}, ErrInvalidRequest, "idempotency_key"},
	} {
		_, err := svc.Acquire(ctx, c.r)
		require.ErrorIs(t, err, c.want, "%+v", c.r)
		var fe *FieldError
		if c.field != "" {
			require.ErrorAs(t, err, &fe)
			require.Equal(t, c.field, fe.Field)
		}
	}
	require.Empty(t, s.acquires)
}

func TestStoreErrorsPassThroughAsTheStoreClassedThem(t *testing.T) {
	// The Store wraps its own outages in ErrUnavailable (redisstate does, at
	// the one place a script call fails); the Service neither re-classes
	// them nor turns a bug into an outage.
	redisDown := fmt.Errorf("%w: redisstate: acquire: dial tcp: connection refused", ErrUnavailable)
	s := &recStore{acquireFn: func(AcquireParams) (AcquireResult, error) { return AcquireResult{}, redisDown }, err: redisDown}
	svc, _ := newTestService(t, s, ServiceOptions{})
	ctx := context.Background()
	_, err := svc.Acquire(ctx, AcquireRequest{Image: "python"})
	require.ErrorIs(t, err, ErrUnavailable)
	_, err = svc.Metrics(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
	_, err = svc.Shutdown(ctx, "")
	require.ErrorIs(t, err, ErrUnavailable)

	// Domain errors pass through as they are.
	s.acquireFn = func(AcquireParams) (AcquireResult, error) { return AcquireResult{}, ErrPoolShutdown }
	_, err = svc.Acquire(ctx, AcquireRequest{Image: "python"})
	require.ErrorIs(t, err, ErrPoolShutdown)
	require.NotErrorIs(t, err, ErrUnavailable)

	// A bug stays a bug: it must not read as an outage the caller retries.
	bug := fmt.Errorf("redisstate: invalid argument (%w)", ErrInternal)
	s.acquireFn = func(AcquireParams) (AcquireResult, error) { return AcquireResult{}, bug }
	_, err = svc.Acquire(ctx, AcquireRequest{Image: "python"})
	require.ErrorIs(t, err, ErrInternal)
	require.NotErrorIs(t, err, ErrUnavailable)
}

func TestWaitPollsThenAppliesOnEmpty(t *testing.T) {
	s := &recStore{acquireFn: func(p AcquireParams) (AcquireResult, error) { return AcquireResult{}, ErrPoolExhausted }}
	svc, clock := newTestService(t, s, ServiceOptions{})
	_, err := svc.Acquire(context.Background(), AcquireRequest{Image: "python", WaitSeconds: 2})
	require.ErrorIs(t, err, ErrPoolExhausted)
	require.Equal(t, st0.Add(2*time.Second), clock.Now())
	// The pool stayed empty: one try at the start (no fallback), one at the
	// deadline (the pool's on_empty); the polls in between only read metrics.
	require.Len(t, s.acquires, 2)
	require.Equal(t, OnEmptyWait, s.acquires[0].OnEmpty, "tries inside the wait count no miss")
	require.Equal(t, OnEmptyCreate, s.acquires[1].OnEmpty)
	require.Equal(t, st0.Add(2*time.Second).Add(DefaultCreateTimeout), s.acquires[1].CreateDeadline)
}

func TestPollClaimUsesTheClaimsDerivedLease(t *testing.T) {
	s := &recStore{pollFn: func(p PollClaimParams) (AcquireResult, error) {
		if p.ClaimHash == HashToken("known") {
			return AcquireResult{Sandbox: Sandbox{ID: "sb9", Pool: "python"}, Source: SourceCold}, nil
		}
		return AcquireResult{}, ErrSandboxNotFound
	}}
	svc, _ := newTestService(t, s, ServiceOptions{})
	a, err := svc.Acquire(context.Background(), AcquireRequest{ClaimID: "known"})
	require.NoError(t, err)
	require.Equal(t, NewSecrets("k").ClaimLeaseToken("known"), a.LeaseToken)
	require.Equal(t, HashToken(a.LeaseToken), s.polls[0].LeaseTokenHash)
	require.Zero(t, s.polls[0].LeaseTTL, "the claim's own lease_seconds, not default_lease, sets the cold lease")
	_, err = svc.Acquire(context.Background(), AcquireRequest{ClaimID: "unknown"})
	require.ErrorIs(t, err, ErrClaimNotFound)
}

func TestShutdownRunsAPassAndDeliversAfterIt(t *testing.T) {
	rec := &countingReconciler{}
	after := 0
	s := &recStore{}
	svc, _ := newTestService(t, s, ServiceOptions{Reconciler: rec, AfterPass: func(context.Context) { after++ }})
	res, err := svc.Shutdown(context.Background(), "python")
	require.NoError(t, err)
	require.Equal(t, ShutdownResult{Pool: "python", Shutdown: true}, res)
	require.Equal(t, 1, rec.passes)
	require.Equal(t, 1, after)

	rec.err = fmt.Errorf("%w: reconcile: lock: connection refused", ErrUnavailable) // as redisstate wraps it
	res, err = svc.Start(context.Background(), "")
	require.NoError(t, err, "the switch took effect; the pass is the next cron's")
	require.ErrorIs(t, res.PassErr, ErrUnavailable)
	require.Equal(t, []string{"python", ""}, s.shutdowns)

	_, err = svc.Shutdown(context.Background(), "ruby")
	require.ErrorIs(t, err, ErrUnknownImage)

	noRec, _ := newTestService(t, &recStore{}, ServiceOptions{})
	_, err = noRec.Reconcile(context.Background())
	require.ErrorIs(t, err, ErrUnavailable)
}

func TestWarmUpNamesEachPoolOnTimeout(t *testing.T) {
	s := &recStore{ready: 1}
	svc, clock := newTestService(t, s, ServiceOptions{})
	st, err := svc.WarmUp(context.Background(), 3*time.Second)
	var we *WarmUpError
	require.ErrorAs(t, err, &we)
	require.ErrorIs(t, err, ErrWarmUpTimeout)
	require.Equal(t, map[string]WarmUpPool{"python": {Ready: 1, Target: 2}, "node": {Ready: 1, Target: 0}}, we.Pools)
	require.Equal(t, "warm-up timed out: python 1/2", err.Error())
	require.False(t, st.Done)
	require.Equal(t, st0.Add(3*time.Second), clock.Now())

	s.ready = 2
	st, err = svc.WarmUp(context.Background(), 0)
	require.NoError(t, err)
	require.True(t, st.Done)
}

// activatingStore is a recStore that is also an Activator.
type activatingStore struct {
	*recStore
	activated [][]string
	err       error
}

func (a *activatingStore) Activate(_ context.Context, pools []string, _ time.Time) error {
	a.activated = append(a.activated, pools)
	return a.err
}

func TestWarmUpActivatesEveryPoolOnEachLook(t *testing.T) {
	// An idle pool (no acquire for idle_timeout) holds no sandboxes: without
	// activation warm-up would wait for it forever.
	a := &activatingStore{recStore: &recStore{ready: 2}}
	svc, _ := newTestService(t, a.recStore, ServiceOptions{})
	svc.o.Store = a
	st, err := svc.WarmUp(context.Background(), time.Second)
	require.NoError(t, err)
	require.True(t, st.Done)
	require.Equal(t, [][]string{{"node", "python"}}, a.activated)

	a.ready, a.activated = 0, nil
	_, err = svc.WarmUp(context.Background(), 3*time.Second)
	require.ErrorIs(t, err, ErrWarmUpTimeout)
	require.Greater(t, len(a.activated), 1, "every look re-activates, so a long warm-up keeps its pools active")

	a.err = fmt.Errorf("%w: redisstate: activate: connection refused", ErrUnavailable)
	_, err = svc.WarmUp(context.Background(), time.Second)
	require.ErrorIs(t, err, ErrUnavailable)
}

func (s *recStore) CancelClaim(context.Context, string, time.Time) (bool, error) { return false, s.err }
