package pool

import (
	"time"

	"github.com/hotpool/hotpool/api"
)

// State is where a sandbox is in its life (ARCHITECTURE.md, "The life of a sandbox").
type State string

// The states a sandbox record can be in. A forgotten sandbox has no record.
const (
	StateCreating State = "creating" // capacity reserved; the app is being (or about to be) created
	StateReady    State = "ready"    // seen ACTIVE (and healthy); waiting in the FIFO ready list
	StateInUse    State = "in_use"   // leased to one caller (or held for its cold claim)
	StateDeleting State = "deleting" // to be destroyed; reconcile deletes the app until the platform confirms
)

// Source says how an acquire was served.
type Source string

// Warm hit or cold start.
const (
	SourcePool Source = "pool"
	SourceCold Source = "cold"
)

// Delete reasons, recorded on the record and in metrics and events.
const (
	ReasonReleased     = "released"
	ReasonExpired      = "warm_age"      // ready past its jittered max_warm_age
	ReasonUnhealthy    = "unhealthy"     // the provider says it is not ACTIVE, or /health failed
	ReasonScaleDown    = "scale_down"    // idle pool shrinking
	ReasonShutdown     = "shutdown"      // pool or manager shut down
	ReasonLeaseExpired = "lease_expired" // reaped: the holder never released
	ReasonCreateFailed = "create_failed" // ERROR/CANCELED, or create deadline passed
	ReasonOverCapacity = "over_capacity" // above max_ready (config lowered)
	ReasonOrphan       = "orphan"        // adopted from the platform with no usable record
	// Why a cold claim between attempts fails without another (FailClaim).
	ReasonPoolRetired   = "pool_retired"   // its pool left the config
	ReasonRetriesSpent  = "retries_spent"  // create_retries fell to its attempts
	ReasonClaimDeadline = "claim_deadline" // older than ClaimDeadline
)

// EventTypes are the outbox's event types: every state change worth knowing,
// appended by the script that makes it (internal/redisstate).
var EventTypes = []string{
	"sandbox.ready", "sandbox.acquired", "sandbox.released", "sandbox.reaped",
	"sandbox.failed", "sandbox.deleted", "pool.exhausted", "pool.circuit_open",
	"pool.circuit_closed", "pool.drained", "pool.shutdown", "pool.started",
}

// Sandbox is one sandbox record. Zero times mean "not set".
type Sandbox struct {
	ID           string `json:"id"`
	Pool         string `json:"pool"` // the image name
	State        State  `json:"state"`
	AppID        string `json:"app_id,omitempty"`
	URL          string `json:"url,omitempty"`
	Region       string `json:"region,omitempty"`
	InstanceSize string `json:"instance_size,omitempty"`

	CreatedAt      time.Time `json:"created_at"`                // when capacity was reserved
	CreateDeadline time.Time `json:"create_deadline,omitzero"`  // creating: give up after
	ReadyAt        time.Time `json:"ready_at,omitzero"`         // entered ready (or its claim)
	WarmDeadline   time.Time `json:"warm_deadline,omitzero"`    // ready: jittered max_warm_age, only ever early
	AcquiredAt     time.Time `json:"acquired_at,omitzero"`      // in_use: lease handed out
	LeaseExpiresAt time.Time `json:"lease_expires_at,omitzero"` // in_use: reaped after
	DeletingSince  time.Time `json:"deleting_since,omitzero"`   // deleting: since when
	DeleteReason   string    `json:"delete_reason,omitempty"`   // deleting: why
	DeleteAttempts int       `json:"delete_attempts,omitempty"` // deleting: provider deletes tried
	Attempt        int       `json:"attempt,omitempty"`         // creation attempt number for its slot, 1-based
	ClaimHash      string    `json:"claim_hash,omitempty"`      // set when it serves a cold claim
	LeaseHanded    bool      `json:"lease_handed,omitempty"`    // in_use: the lease token went out
	LastHealthyAt  time.Time `json:"last_healthy_at,omitzero"`  // ready: last definite ACTIVE/healthy answer
	HealthFailures int       `json:"health_failures,omitempty"` // ready: consecutive definite failures
	CreateCalledAt time.Time `json:"create_called_at,omitzero"` // creating: when Apps.Create was sent
}

// Claim is a cold-start claim: acquire found the pool empty under
// on_empty "create" and reserved a sandbox for this caller alone.
type Claim struct {
	Hash      string        `json:"hash"` // sha256 of the claim id; the id itself is never stored
	Pool      string        `json:"pool"`
	SandboxID string        `json:"sandbox_id"` // the current attempt's sandbox
	Attempts  int           `json:"attempts"`
	Failed    bool          `json:"failed"` // create_retries attempts all failed
	CreatedAt time.Time     `json:"created_at"`
	LeaseTTL  time.Duration `json:"lease_ttl"`
	NextTryAt time.Time     `json:"next_try_at,omitzero"` // backoff before the next attempt
}

// Record is what Redis holds about one pool besides its sandboxes: its
// flags, policy state, learned rates and counters.
type Record struct {
	Name     string `json:"name"`
	Shutdown bool   `json:"shutdown"`
	// ActivatedAt is when the pool was first seen, last started, or last
	// found empty by an acquire (demand wakes an idle pool); with
	// LastAcquireAt it starts the idle clock, so a pool that never saw an
	// acquire still scales down.
	ActivatedAt         time.Time `json:"activated_at,omitzero"`
	LastAcquireAt       time.Time `json:"last_acquire_at,omitzero"`
	LastScaleDownAt     time.Time `json:"last_scale_down_at,omitzero"`
	LastHealthCheckAt   time.Time `json:"last_health_check_at,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	NextCreateAt        time.Time `json:"next_create_at,omitzero"`     // create backoff
	CircuitOpenUntil    time.Time `json:"circuit_open_until,omitzero"` // no creates before this
	CircuitReason       string    `json:"circuit_reason,omitempty"`
	BelowTargetSince    time.Time `json:"below_target_since,omitzero"` // for refill lag
	// target_ready "auto" (auto.go): the acquire rates (a minute) as of
	// RateAt, the deploy time's running p90, and the target the last pass
	// chose with its reason.
	RateFast  float64   `json:"rate_fast,omitempty"`
	RateSlow  float64   `json:"rate_slow,omitempty"`
	RateAt    time.Time `json:"rate_at,omitzero"`
	RateSince time.Time `json:"rate_since,omitzero"` // the first acquire counted
	// Recent are the times of the last acquires, newest first (AutoRecent).
	Recent []time.Time `json:"recent,omitempty"`
	// Clock is the acquires by minute of the hour (ClockRate), indexed by
	// the minute, and Day by hour of the day (DayRate); nil before any.
	Clock []ClockSlot `json:"-"`
	Day   []ClockSlot `json:"-"`

	DeployP90 time.Duration `json:"deploy_p90,omitempty"`
	// MaxReady is the max_ready a pass last recorded (-1: none yet).
	MaxReady int `json:"max_ready_recorded"`
	// Dynamic: the pool is in the dynamic pools SET (max_dynamic_pools).
	Dynamic    bool      `json:"dynamic_member"`
	AutoTarget int       `json:"auto_target,omitempty"`
	AutoWhy    string    `json:"auto_why,omitempty"`
	Stats      PoolStats `json:"stats"`
}

// Idle reports whether the pool is in the seed's IDLE state at now under pc:
// no acquire for idle_timeout (counted from the later of the last acquire and
// the pool's activation) and none within cooldown_after_acquire. An
// idle_timeout of 0 turns scale-down, and so idleness, off. Reconcile scales
// an idle pool down; metrics report it.
func (p Record) Idle(pc PoolConfig, now time.Time) bool {
	if pc.IdleTimeout <= 0 {
		return false
	}
	since := p.ActivatedAt
	if p.LastAcquireAt.After(since) {
		since = p.LastAcquireAt
	}
	if since.IsZero() || now.Sub(since) < pc.IdleTimeout.D() {
		return false
	}
	return p.LastAcquireAt.IsZero() || now.Sub(p.LastAcquireAt) >= pc.CooldownAfterAcquire.D()
}

// CircuitOpen reports whether creates are suspended at now.
func (p Record) CircuitOpen(now time.Time) bool { return now.Before(p.CircuitOpenUntil) }

// PoolStats are the counters kept per pool. The seed's metrics come first.
type PoolStats struct {
	TotalAcquires     int64   `json:"total_acquires"`
	AcquiresFromPool  int64   `json:"acquires_from_pool"`
	AcquiresColdStart int64   `json:"acquires_cold_start"`
	AcquireLatencyMs  float64 `json:"acquire_latency_ms_sum"` // sum over the latency samples kept (warm + cold histogram counts)

	MissesEmpty    int64 `json:"misses_empty"`
	MissesShutdown int64 `json:"misses_shutdown"`
	MissesCapacity int64 `json:"misses_capacity"`
	MissesCircuit  int64 `json:"misses_circuit"`

	Creates          int64   `json:"creates"`
	CreatesFailed    int64   `json:"creates_failed"`
	Deletes          int64   `json:"deletes"`
	Released         int64   `json:"released"`
	HealthRemovals   int64   `json:"health_removals"`
	LeasesReaped     int64   `json:"leases_reaped"`
	OrphansDeleted   int64   `json:"orphans_deleted"`
	ExpiredWarm      int64   `json:"expired_warm"`
	ScaledDown       int64   `json:"scaled_down"`
	WarmAgeMsSum     float64 `json:"warm_age_ms_sum"`   // over warm hits
	RefillLagMsSum   float64 `json:"refill_lag_ms_sum"` // below target → back at target
	RefillLagSamples int64   `json:"refill_lag_samples"`
	// Latency histograms: bucket upper bounds in LatencyBucketsMs, counts
	// cumulative-free (one count per bucket; the last is +Inf).
	WarmLatencyBuckets []int64 `json:"warm_latency_buckets,omitempty"`
	ColdLatencyBuckets []int64 `json:"cold_latency_buckets,omitempty"`
	// Per-source latency sums (ms), so each histogram has its own _sum; their
	// total is AcquireLatencyMs.
	WarmLatencyMsSum float64 `json:"warm_latency_ms_sum"`
	ColdLatencyMsSum float64 `json:"cold_latency_ms_sum"`
}

// LatencyBucketsMs are the upper bounds of the acquire latency histogram
// buckets, in milliseconds; a last bucket holds everything above.
var LatencyBucketsMs = []float64{1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000, 30000, 120000}

// PoolMetrics is one pool's row of a metrics snapshot.
type PoolMetrics struct {
	Ready    int    `json:"ready"`
	Creating int    `json:"creating"`
	InUse    int    `json:"in_use"`
	Deleting int    `json:"deleting"`
	State    Record `json:"-"`
}

// Snapshot is every pool's metrics, read in one round trip.
type Snapshot struct {
	At              time.Time              `json:"at"`
	ManagerShutdown bool                   `json:"manager_shutdown"`
	Pools           map[string]PoolMetrics `json:"pools"`
	Total           int                    `json:"total_sandboxes"` // ready+creating+in_use+deleting, all pools
	CreatingTotal   int                    `json:"creating_total"`
	Outbox          OutboxStats            `json:"outbox"`
}

// OutboxStats is the webhook outbox's backlog.
type OutboxStats = api.Outbox

// ClaimDeadline bounds how long a cold claim may wait for its sandbox: every
// attempt's create_timeout, plus the circuit's window. Past it a claim
// between attempts fails, so no poll answers "creating" forever.
func ClaimDeadline(cfg *Config, pc PoolConfig) time.Duration {
	return time.Duration(max(pc.CreateRetries, 1))*cfg.CreateTimeout.D() + cfg.CircuitOpenFor.D()
}

// DefaultClockSkewTolerance is clock_skew_tolerance's default: the clock
// skew between functions hotpool tolerates. Each function takes its time from
// its own clock (so the deterministic harness's virtual clock works), and the
// two decisions a skew would make unsafe keep this margin instead:
//   - reconcile reaps a lease only this long after it expired by its own
//     clock, so a reconcile clock ahead of acquire's never reaps a live lease;
//   - acquire hands out a sandbox only while its warm deadline is at least
//     WarmMargin away by acquire's clock, so a slow acquire clock never hands
//     one out past max_warm_age.
const DefaultClockSkewTolerance = 60 * time.Second

// WarmMargin is how far from its warm deadline a sandbox must still be for
// acquire to hand it out: clock_skew_tolerance, but at most a quarter of
// max_warm_age (a very short warm age keeps most of its life).
func WarmMargin(c *Config, pc PoolConfig) time.Duration {
	return min(c.ClockSkewTolerance.D(), pc.MaxWarmAge.D()/4)
}
