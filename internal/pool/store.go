package pool

import (
	"context"
	"time"
)

// Caps are the global limits a reservation checks atomically.
type Caps struct {
	MaxReady             int // this pool: ready + creating
	MaxTotal             int // all pools: ready + creating + in_use + deleting; -1 unlimited
	MaxConcurrentCreates int // all pools: creating
}

// CapsFor builds the caps of one pool under cfg.
func CapsFor(cfg *Config, p PoolConfig) Caps {
	return Caps{MaxReady: p.MaxReady, MaxTotal: cfg.TotalCap(), MaxConcurrentCreates: cfg.MaxConcurrentCreates}
}

// AcquireParams asks for a ready sandbox of one pool. Tokens are minted by the
// caller (the service); the store only ever sees and keeps their hashes.
type AcquireParams struct {
	Pool           string
	OnEmpty        OnEmpty
	Caps           Caps // for a cold claim's reservation
	LeaseTTL       time.Duration
	LeaseTokenHash string // sha256 hex of the lease token that goes to the caller
	IdempotencyKey string // optional; the same key within the lease replays the same sandbox and lease
	// IdempotencyNonce is this acquisition's random nonce, kept with its
	// idempotency record (the sandbox record) when a key is given: the lease
	// token is derived from it, so a later acquisition with the same key gets
	// another token.
	IdempotencyNonce string
	// For on_empty "create": the claim to reserve if the pool is empty.
	ClaimHash      string // sha256 hex of the claim id that goes to the caller
	NewSandboxID   string // the id the claim's sandbox gets
	CreateDeadline time.Time
	// Dynamic: default_pool_config serves the pool. A dynamic pool the Store
	// does not know yet is persisted only when this acquire leaves it holding
	// a sandbox (a cold claim) or, when Fills, to be filled by reconcile; and
	// never more than MaxDynamicPools of them (ErrTooManyPools).
	Dynamic         bool
	MaxDynamicPools int
	Fills           bool // the pool's config has a target_ready
	// WarmMargin: a sandbox is handed out only while its warm deadline is at
	// least this far away (WarmMargin of the pool's config).
	WarmMargin time.Duration
	// Auto: the pool's target_ready is "auto"; the acquire updates its rates.
	Auto bool
	// Now is when the acquire happens. The acquire latency is not the
	// Store's: the Service measures it and records it off the caller's path
	// through LatencyRecorder.
	Now time.Time
}

// AcquireResult is a lease on a sandbox (Source set) or a pending claim (Claim set).
type AcquireResult struct {
	Sandbox        Sandbox
	LeaseExpiresAt time.Time
	Source         Source
	Replayed       bool   // an idempotent repeat: the lease token is the one minted before
	Claim          *Claim // a cold claim is pending
	// For a replay: the nonce the first acquisition kept ("" for a record
	// written before nonces) and the lease token hash it holds, so the
	// service derives the same token and checks it against the record.
	IdempotencyNonce string
	LeaseTokenHash   string
}

// ShutdownParams asks Store.SetShutdown to shut a pool down or start it.
type ShutdownParams struct {
	Pool     string // "" is the whole manager
	Shutdown bool   // false: start
	// Dynamic: default_pool_config serves the pool (see AcquireParams).
	Dynamic         bool
	MaxDynamicPools int
	Now             time.Time
}

// PollClaimParams polls a cold claim; when its sandbox is ready the lease is
// handed out (once; repeated polls with the same lease token replay it).
type PollClaimParams struct {
	ClaimHash      string
	LeaseTokenHash string
	LeaseTTL       time.Duration // 0: the lease_seconds the claim's acquire asked for
	Now            time.Time
}

// ReserveParams reserves capacity for one sandbox of a pool, before any
// platform call. Fenced: only the reconcile leader reserves.
type ReserveParams struct {
	Pool           string
	SandboxID      string
	Caps           Caps
	Attempt        int
	ClaimHash      string // a retry for a cold claim
	Region         string
	InstanceSize   string
	CreateDeadline time.Time
	Now            time.Time
}

// Fence is the reconcile leader's lock token. Every reconcile write carries it
// and changes nothing (ErrNotLeader) once another pass holds the lock.
type Fence struct {
	Token string
}

// Observed is everything Redis knows, read in one consistent snapshot.
type Observed struct {
	At              time.Time
	ManagerShutdown bool
	Pools           map[string]Record // every pool with state, configured or not
	Sandboxes       []Sandbox
	Claims          []Claim
	// Untracked and UntrackedCreating are the apps with no record inside
	// their orphan grace (and those still deploying) as the last pass noted
	// them (Store.NoteUntracked); every capacity check counts them.
	Untracked, UntrackedCreating int
}

// Store is the pool state: what the Service needs and what reconcile needs.
// Every method is one atomic transition (one Lua script) and takes now from
// its caller. redisstate.Store is the one implementation.
type Store interface {
	LeaseStore
	LeaderStore
}

// MetricsReader reads pools' counts and counters; both roles need it.
type MetricsReader interface {
	// Metrics reads every named pool (and any pool with state) in one round trip.
	Metrics(ctx context.Context, pools []string, now time.Time) (Snapshot, error)
}

// LeaseStore is the part of the Store the Service uses: what a caller's
// request changes (leases, claims, shutdown) and what it reads. Failures
// that are not the domain's (Redis unreachable, a timeout) come wrapped in
// ErrUnavailable by the Store itself.
type LeaseStore interface {
	MetricsReader
	// Acquire pops the oldest ready, unexpired sandbox of a pool and leases it;
	// expired ones found on the way go to deleting. On an empty pool it reserves
	// a cold claim (on_empty "create") or answers ErrPoolExhausted; either way
	// the empty pool becomes active (Record.ActivatedAt = now), so an idle
	// pool refills. ErrPoolShutdown when the pool or the manager is shut down.
	Acquire(ctx context.Context, p AcquireParams) (AcquireResult, error)
	// PollClaim answers a pending claim (Claim set), the lease (Source cold),
	// ErrSandboxCreation when every attempt failed, ErrPoolShutdown (on every
	// poll) when a shutdown failed the claim, ErrSandboxNotFound.
	PollClaim(ctx context.Context, p PollClaimParams) (AcquireResult, error)
	// Renew extends a lease; ErrLeaseMismatch, ErrSandboxNotFound, ErrLeaseExpired.
	Renew(ctx context.Context, sandboxID, leaseTokenHash string, ttl time.Duration, now time.Time) (time.Time, error)
	// Release moves in_use → deleting. Repeating it with the same token answers
	// the current state (deleting, or deleted once forgotten).
	Release(ctx context.Context, sandboxID, leaseTokenHash string, now time.Time) (State, error)
	// CancelClaim gives up a cold claim for its claimant: the claim fails
	// (its polls answer not found) and its sandbox, never handed out, goes to
	// the pool's ready list (now, or once ready); it reports whether one did.
	// ErrSandboxNotFound for an unknown claim, ErrStateConflict for a claim
	// whose lease was already handed out.
	CancelClaim(ctx context.Context, claimHash string, now time.Time) (bool, error)
	// SetShutdown shuts a pool down (or starts it again); pool "" is the whole
	// manager. A dynamic pool with no state is not created by a start, and a
	// shutdown creates it only within MaxDynamicPools (ErrTooManyPools).
	SetShutdown(ctx context.Context, p ShutdownParams) error
}

// LeaderStore is the part of the Store a reconcile pass uses: the leader
// lock, the whole state in one read, and the fenced writes only the holder
// of the lock may make (ErrNotLeader otherwise).
type LeaderStore interface {
	MetricsReader
	// Lock takes or renews the reconcile leader lock; false when another holds it.
	Lock(ctx context.Context, f Fence, ttl time.Duration, now time.Time) (bool, error)
	// Unlock gives the lock up if f still holds it.
	Unlock(ctx context.Context, f Fence) error
	// Observe reads the whole state for a reconcile pass.
	Observe(ctx context.Context, now time.Time) (Observed, error)

	// Reserve records a creating sandbox after checking max_ready,
	// max_total_sandboxes, max_concurrent_creates and shutdown
	// (ErrPoolExhausted / ErrPoolShutdown).
	Reserve(ctx context.Context, f Fence, p ReserveParams) error
	// CreateCalled records the app id (when known) after Apps.Create.
	CreateCalled(ctx context.Context, f Fence, sandboxID, appID string, now time.Time) error
	// MarkReady moves creating → ready at the FIFO tail with warmDeadline, or
	// straight to its claim (in_use, lease not yet handed). Closes the circuit.
	MarkReady(ctx context.Context, f Fence, sandboxID, appID, url string, warmDeadline, now time.Time) error
	// MarkFailed moves creating → deleting (ReasonCreateFailed), counts the
	// failure and sets the pool's next create time and, when given, opens the
	// circuit until circuitOpenUntil. A claim is retried or marked failed.
	MarkFailed(ctx context.Context, f Fence, sandboxID string, p FailParams) error
	// MarkDeleting moves ready or in_use → deleting with a reason. An in_use
	// sandbox moves only when reason is ReasonLeaseExpired and its lease has
	// expired at now, or reason is ReasonOrphan. A creating sandbox moves for
	// any reason but ReasonLeaseExpired (reconcile uses it for shutdown: not a
	// failed attempt, so no backoff; a claim it served fails).
	MarkDeleting(ctx context.Context, f Fence, sandboxID, reason string, now time.Time) error
	// DeleteAttempted counts a failed provider delete.
	DeleteAttempted(ctx context.Context, f Fence, sandboxID string, now time.Time) error
	// Forget drops a deleting record once the platform confirmed the delete.
	Forget(ctx context.Context, f Fence, sandboxID string, now time.Time) error
	// Adopt records an app found on the platform with no record (Redis was
	// emptied) straight into deleting with ReasonOrphan.
	Adopt(ctx context.Context, f Fence, sb Sandbox, now time.Time) error
	// UpdatePool records a pass's per-pool bookkeeping.
	UpdatePool(ctx context.Context, f Fence, pool string, u PoolUpdate, now time.Time) error
	// NoteUntracked records how many apps a full list found with no record,
	// inside their orphan grace, and how many of those still deploy: acquire
	// and Reserve count them against max_total_sandboxes and
	// max_concurrent_creates.
	NoteUntracked(ctx context.Context, f Fence, apps, deploying int) error
	// FailClaim fails a cold claim between attempts that can make no
	// further one (its pool left the config, create_retries fell to its
	// attempts, or it outlived its deadline): its next poll answers
	// ErrSandboxCreation. ErrStateConflict when its sandbox is still on its way.
	FailClaim(ctx context.Context, f Fence, claimHash, reason string, now time.Time) error
	// CollectPool forgets a pool no config names once nothing is left of it
	// (no sandbox in any state, not shut down); it reports whether it did.
	CollectPool(ctx context.Context, f Fence, pool string) (bool, error)
}

// LatencyRecorder is what a Store may also implement to keep the acquire
// latency histogram. The Service finds it by a type assertion on its Store
// (test fakes need not implement it) and calls it after a warm acquire, off
// the caller's path: the warm acquire itself stays one round trip.
type LatencyRecorder interface {
	// RecordAcquireLatency counts one acquire of pool from source that took d,
	// server side (request arrival to the Store's answer).
	RecordAcquireLatency(ctx context.Context, pool string, source Source, d time.Duration) error
}

// FailParams describes a failed creation.
type FailParams struct {
	Reason           string
	NextCreateAt     time.Time // pool backoff
	CircuitOpenUntil time.Time // zero: the circuit stays as it is
	CircuitReason    string
	MaxAttempts      int       // create_retries: a claim past it is failed
	ClaimNextTryAt   time.Time // backoff for a claim's next attempt
	Now              time.Time
}

// PoolUpdate is the bookkeeping a reconcile pass writes for a pool. Nil fields
// are left as they are.
type PoolUpdate struct {
	LastScaleDownAt   *time.Time
	LastHealthCheckAt *time.Time
	BelowTargetSince  *time.Time      // zero time clears it and records a refill-lag sample
	HealthResult      map[string]bool // sandbox id → healthy (definite answers only)
	// An auto pool's deploy-time p90 (nil: leave) and the target chosen
	// with its reason (nil: leave).
	DeployP90  *time.Duration
	AutoTarget *int
	AutoWhy    string
	// MaxReady records the pool's max_ready in Redis (nil: leave), where
	// the scripts that put a claim's sandbox back in the pool (a cancel, a
	// claim that failed while its sandbox deployed) read it, so that no
	// script leaves more ready than max_ready.
	MaxReady *int
	// Dynamic puts the pool in the dynamic pools (default_pool_config serves
	// it: max_dynamic_pools counts it) or takes it out (a config lists it);
	// nil: leave.
	Dynamic *bool
}

// Activator is implemented by stores that can make pools active now without
// starting shut-down ones (the seed's start(): a pool fills to target_ready).
// Warm-up and the local server's start use it when the Store has it.
type Activator interface {
	Activate(ctx context.Context, pools []string, now time.Time) error
}
