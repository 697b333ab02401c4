package reconcile

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Policy constants that the config does not expose. Each is explained in
// README.md.
const (
	// WarmJitter is the fraction of max_warm_age a warm deadline may come
	// early: deadlines are uniform in [1-WarmJitter, 1) × max_warm_age after
	// ready, so a pool filled at once does not expire at once.
	WarmJitter = 0.2
	// BackoffBase is the pool's create backoff after its first failure; it
	// doubles with each consecutive failure, capped at circuit_open_for.
	BackoffBase = 10 * time.Second
	// ClaimBackoffBase is the backoff before a cold claim's next attempt: a
	// caller is waiting, so it is short.
	ClaimBackoffBase = 2 * time.Second
	// HealthFailThreshold is how many consecutive definite /health failures
	// condemn a ready sandbox; one ERROR phase in the provider's list is enough.
	HealthFailThreshold = 2
	// MaxRefreshLead is how long before its warm deadline a ready sandbox's
	// replacement starts deploying: about one App Platform deployment.
	MaxRefreshLead = 90 * time.Second
)

// RefreshLead is MaxRefreshLead, but at most a quarter of max_warm_age, so a
// short-lived pool is not replaced as soon as it is filled.
func RefreshLead(pc pool.PoolConfig) time.Duration {
	return min(MaxRefreshLead, pc.MaxWarmAge.D()/4)
}

// unit maps parts to a number in [0, 1). The planner is pure, so its jitter
// comes from hashing ids (which are random) rather than from a random source;
// the same inputs plan the same actions.
func unit(parts ...string) float64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return float64(h.Sum64()>>11) / float64(1<<53)
}

// WarmDeadline is when a sandbox that becomes ready at now stops being
// handed out: jitter only shortens max_warm_age.
func WarmDeadline(pc pool.PoolConfig, sandboxID string, now time.Time) time.Time {
	f := 1 - WarmJitter*unit("warm", sandboxID)
	return now.Add(time.Duration(float64(pc.MaxWarmAge.D()) * f))
}

// Backoff is the wait after the n-th consecutive failure (n >= 1):
// BackoffBase·2^(n-1) capped at max, then jittered down into [½, 1) of it.
func Backoff(base, max time.Duration, n int, key string) time.Duration {
	if n < 1 {
		n = 1
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return time.Duration(float64(d) * (1 - 0.5*unit("backoff", key)))
}

// FailureParams computes the pool bookkeeping of a failed creation: the
// failures-th consecutive failure of the pool (counting this one). The pool
// backs off exponentially; at create_retries consecutive failures its circuit
// opens for circuit_open_for with the reason given.
func FailureParams(cfg *pool.Config, pc pool.PoolConfig, failures int, sandboxID, reason, detail string, now time.Time) pool.FailParams {
	open := cfg.CircuitOpenFor.D()
	fp := pool.FailParams{
		Reason:         reason,
		NextCreateAt:   now.Add(Backoff(BackoffBase, open, failures, sandboxID)),
		MaxAttempts:    pc.CreateRetries,
		ClaimNextTryAt: now.Add(Backoff(ClaimBackoffBase, open, failures, "claim"+sandboxID)),
		Now:            now,
	}
	if pc.CreateRetries > 0 && failures >= pc.CreateRetries {
		fp.CircuitOpenUntil = now.Add(open)
		fp.CircuitReason = fmt.Sprintf("%d consecutive create failures, last: %s", failures, detail)
	}
	return fp
}
