package httpapi

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// fakeStore keeps pool state in memory with the Store's semantics for the
// operations the service calls (acquire, claims, leases, metrics, shutdown),
// so the handler tests run without Redis. The reconcile-side methods are not
// implemented: the embedded nil interface makes any call to one fail loudly.
type fakeStore struct {
	pool.Store

	mu        sync.Mutex
	ready     map[string][]string // pool → FIFO of sandbox ids
	sandboxes map[string]*fakeSandbox
	claims    map[string]*fakeClaim // claim hash → claim
	idem      map[string]string     // pool+key → sandbox id
	shutdown  map[string]bool       // "" is the manager
	stats     map[string]*pool.PoolStats
	failWith  error // every call answers it (a Redis outage)
	panicNext bool  // the next Acquire panics (a bug in a handler's path)
}

type fakeSandbox struct {
	sb        pool.Sandbox
	leaseHash string
	idemNonce string
}

type fakeClaim struct {
	c         pool.Claim
	leaseHash string
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		ready: map[string][]string{}, sandboxes: map[string]*fakeSandbox{}, claims: map[string]*fakeClaim{},
		idem: map[string]string{}, shutdown: map[string]bool{}, stats: map[string]*pool.PoolStats{},
	}
}

// addReady puts a ready sandbox at the tail of its pool.
func (f *fakeStore) addReady(p, id string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sandboxes[id] = &fakeSandbox{sb: pool.Sandbox{
		ID: id, Pool: p, State: pool.StateReady, AppID: "app-" + id, URL: "https://" + id + ".example",
		Region: "nyc", InstanceSize: "apps-s-1vcpu-1gb", CreatedAt: at, ReadyAt: at,
	}}
	f.ready[p] = append(f.ready[p], id)
}

// readyClaims marks every pending claim's sandbox ready for its claimant.
func (f *fakeStore) readyClaims(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.claims {
		if s := f.sandboxes[c.c.SandboxID]; s != nil && s.sb.State == pool.StateCreating {
			s.sb.State, s.sb.ReadyAt, s.sb.AppID, s.sb.URL = pool.StateInUse, at, "app-"+s.sb.ID, "https://"+s.sb.ID+".example"
		}
	}
}

func (f *fakeStore) statsOf(p string) *pool.PoolStats {
	if f.stats[p] == nil {
		f.stats[p] = &pool.PoolStats{}
	}
	return f.stats[p]
}

func (f *fakeStore) Acquire(_ context.Context, p pool.AcquireParams) (pool.AcquireResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicNext {
		f.panicNext = false
		panic("fake store: injected panic")
	}
	if f.failWith != nil {
		return pool.AcquireResult{}, f.failWith
	}
	if f.shutdown[""] || f.shutdown[p.Pool] {
		return pool.AcquireResult{}, pool.ErrPoolShutdown
	}
	if p.IdempotencyKey != "" {
		// As acquire.lua: only a lease still held replays.
		if id, ok := f.idem[p.Pool+"\x00"+p.IdempotencyKey]; ok && f.sandboxes[id] != nil &&
			f.sandboxes[id].sb.State == pool.StateInUse && f.sandboxes[id].sb.LeaseExpiresAt.After(p.Now) {
			s := f.sandboxes[id]
			return pool.AcquireResult{Sandbox: s.sb, LeaseExpiresAt: s.sb.LeaseExpiresAt, Source: pool.SourcePool, Replayed: true,
				IdempotencyNonce: s.idemNonce, LeaseTokenHash: s.leaseHash}, nil
		}
	}
	if ids := f.ready[p.Pool]; len(ids) > 0 {
		f.ready[p.Pool] = ids[1:]
		s := f.sandboxes[ids[0]]
		s.sb.State, s.sb.AcquiredAt, s.sb.LeaseExpiresAt, s.leaseHash = pool.StateInUse, p.Now, p.Now.Add(p.LeaseTTL), p.LeaseTokenHash
		if p.IdempotencyKey != "" {
			f.idem[p.Pool+"\x00"+p.IdempotencyKey] = s.sb.ID
			s.idemNonce = p.IdempotencyNonce
		}
		st := f.statsOf(p.Pool)
		st.TotalAcquires++
		st.AcquiresFromPool++
		return pool.AcquireResult{Sandbox: s.sb, LeaseExpiresAt: s.sb.LeaseExpiresAt, Source: pool.SourcePool}, nil
	}
	f.statsOf(p.Pool).MissesEmpty++
	if p.OnEmpty != pool.OnEmptyCreate {
		return pool.AcquireResult{}, pool.ErrPoolExhausted
	}
	f.sandboxes[p.NewSandboxID] = &fakeSandbox{sb: pool.Sandbox{ID: p.NewSandboxID, Pool: p.Pool, State: pool.StateCreating, Region: "nyc", InstanceSize: "apps-s-1vcpu-1gb", CreatedAt: p.Now, ClaimHash: p.ClaimHash}}
	c := pool.Claim{Hash: p.ClaimHash, Pool: p.Pool, SandboxID: p.NewSandboxID, Attempts: 1, CreatedAt: p.Now, LeaseTTL: p.LeaseTTL}
	f.claims[p.ClaimHash] = &fakeClaim{c: c}
	return pool.AcquireResult{Claim: &c}, nil
}

func (f *fakeStore) PollClaim(_ context.Context, p pool.PollClaimParams) (pool.AcquireResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return pool.AcquireResult{}, f.failWith
	}
	c, ok := f.claims[p.ClaimHash]
	if !ok {
		return pool.AcquireResult{}, pool.ErrSandboxNotFound
	}
	s := f.sandboxes[c.c.SandboxID]
	if s.sb.State == pool.StateCreating {
		cc := c.c
		return pool.AcquireResult{Claim: &cc}, nil
	}
	if c.leaseHash == "" {
		c.leaseHash, s.leaseHash = p.LeaseTokenHash, p.LeaseTokenHash
		s.sb.AcquiredAt, s.sb.LeaseExpiresAt = p.Now, p.Now.Add(c.c.LeaseTTL)
		st := f.statsOf(s.sb.Pool)
		st.TotalAcquires++
		st.AcquiresColdStart++
	}
	return pool.AcquireResult{Sandbox: s.sb, LeaseExpiresAt: s.sb.LeaseExpiresAt, Source: pool.SourceCold}, nil
}

func (f *fakeStore) lease(id, hash string, now time.Time) (*fakeSandbox, error) {
	if f.failWith != nil {
		return nil, f.failWith
	}
	s, ok := f.sandboxes[id]
	if !ok {
		return nil, pool.ErrSandboxNotFound
	}
	if s.leaseHash == "" || !pool.TokensEqual(s.leaseHash, hash) {
		return nil, pool.ErrLeaseMismatch
	}
	return s, nil
}

func (f *fakeStore) Renew(_ context.Context, id, hash string, ttl time.Duration, now time.Time) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lease(id, hash, now)
	if err != nil {
		return time.Time{}, err
	}
	if s.sb.State != pool.StateInUse || !now.Before(s.sb.LeaseExpiresAt) {
		return time.Time{}, pool.ErrLeaseExpired
	}
	s.sb.LeaseExpiresAt = now.Add(ttl)
	return s.sb.LeaseExpiresAt, nil
}

func (f *fakeStore) Release(_ context.Context, id, hash string, now time.Time) (pool.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.lease(id, hash, now)
	if err != nil {
		return "", err
	}
	if s.sb.State == pool.StateInUse {
		s.sb.State, s.sb.DeletingSince, s.sb.DeleteReason = pool.StateDeleting, now, pool.ReasonReleased
	}
	return s.sb.State, nil
}

func (f *fakeStore) Metrics(_ context.Context, pools []string, now time.Time) (pool.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return pool.Snapshot{}, f.failWith
	}
	snap := pool.Snapshot{At: now, ManagerShutdown: f.shutdown[""], Pools: map[string]pool.PoolMetrics{}}
	for _, p := range pools {
		snap.Pools[p] = pool.PoolMetrics{}
	}
	ids := make([]string, 0, len(f.sandboxes))
	for id := range f.sandboxes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := f.sandboxes[id]
		m := snap.Pools[s.sb.Pool]
		switch s.sb.State {
		case pool.StateReady:
			m.Ready++
		case pool.StateCreating:
			m.Creating++
		case pool.StateInUse:
			m.InUse++
		case pool.StateDeleting:
			m.Deleting++
		}
		snap.Pools[s.sb.Pool] = m
		snap.Total++
	}
	for p, m := range snap.Pools {
		m.State = pool.PoolState{Name: p, Shutdown: f.shutdown[p], Stats: *f.statsOf(p)}
		snap.Pools[p] = m
	}
	return snap, nil
}

func (f *fakeStore) SetShutdown(_ context.Context, p pool.ShutdownParams) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return f.failWith
	}
	f.shutdown[p.Pool] = p.Shutdown
	return nil
}

// fakeReconciler counts passes and reports the state it was asked about.
type fakeReconciler struct {
	mu     sync.Mutex
	passes int
	err    error
	clock  pool.Clock
}

func (r *fakeReconciler) Reconcile(context.Context) (pool.PassReport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.passes++
	if r.err != nil {
		return pool.PassReport{}, r.err
	}
	now := r.clock.Now()
	return pool.PassReport{StartedAt: now, FinishedAt: now, Leader: true, Pools: map[string]pool.PoolPassReport{}}, nil
}

var errRedisDown = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

// CancelClaim: the fake keeps no ready list for claim sandboxes, so it only
// ends the claim (redisstate's cancelclaim.lua is the model; the HTTP cancel
// test runs on Redis).
func (f *fakeStore) CancelClaim(_ context.Context, hash string, _ time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return false, f.failWith
	}
	c, ok := f.claims[hash]
	if !ok {
		return false, pool.ErrSandboxNotFound
	}
	if c.leaseHash != "" {
		return false, pool.ErrStateConflict
	}
	delete(f.claims, hash)
	return false, nil
}
