package pool

import "errors"

// Domain errors. Every layer matches them with errors.Is; the HTTP layer maps
// each to a status and a stable code in exactly one table.
var (
	// ErrPoolExhausted: no ready sandbox and on_empty is "fail", or no capacity
	// is left (max_ready, max_total_sandboxes, max_concurrent_creates).
	ErrPoolExhausted = errors.New("pool: pool exhausted")
	// ErrTooManyPools: the image would be one pool more than
	// max_dynamic_pools lets default_pool_config serve at once. It is also an
	// ErrPoolExhausted (the manager's capacity for pools is spent).
	ErrTooManyPools error = tooManyPools{}
	// ErrPoolShutdown: the pool, or the whole manager, is shut down.
	ErrPoolShutdown = errors.New("pool: pool shut down")
	// ErrWarmUpTimeout: the pools did not reach target_ready in time.
	ErrWarmUpTimeout = errors.New("pool: warm-up timed out")
	// ErrSandboxCreation: a cold claim's sandbox could not be created after
	// create_retries attempts.
	ErrSandboxCreation = errors.New("pool: sandbox creation failed")
	// ErrLeaseMismatch: release or renew with a lease token that is not the holder's.
	ErrLeaseMismatch = errors.New("pool: lease token does not match")
	// ErrSandboxNotFound: the sandbox (or claim) id never existed, or is long forgotten.
	ErrSandboxNotFound = errors.New("pool: sandbox not found")
	// ErrUnknownImage: no pool for the image and no default_pool_config.
	ErrUnknownImage = errors.New("pool: unknown image")
	// ErrLeaseExpired: renew of a lease that has already expired (the sandbox is
	// being reaped).
	ErrLeaseExpired = errors.New("pool: lease expired")
	// ErrLeaseReleased: renew of a lease its holder released. It is also an
	// ErrLeaseExpired (the API's lease_expired, 409): only the words differ.
	ErrLeaseReleased error = leaseReleased{}
	// ErrNotLeader: a fenced reconcile write whose leader-lock token is no longer
	// the current one; the write changed nothing.
	ErrNotLeader = errors.New("pool: not the reconcile leader")
	// ErrInvalidConfig wraps every configuration validation failure.
	ErrInvalidConfig = errors.New("pool: invalid config")
	// ErrInternal: a bug (a store got arguments it cannot use, or answered
	// something its caller does not know). Never caused by bad input: the
	// API answers 500 "internal".
	ErrInternal = errors.New("pool: internal error")
	// ErrUnavailable: Redis or the platform cannot be reached; try again later.
	ErrUnavailable = errors.New("pool: backend unavailable")
)

// leaseReleased is ErrLeaseReleased: its own words, and errors.Is matches
// ErrLeaseExpired too, so every caller that handles an ended lease still does.
type leaseReleased struct{}

func (leaseReleased) Error() string {
	return "pool: lease released: its holder released the sandbox, which is being destroyed; acquire another"
}

func (leaseReleased) Is(target error) bool { return target == ErrLeaseExpired }

// tooManyPools is ErrTooManyPools, which errors.Is matches to ErrPoolExhausted too.
type tooManyPools struct{}

func (tooManyPools) Error() string {
	return "pool: too many pools: default_pool_config already serves max_dynamic_pools pools; empty ones are collected after their idle_timeout"
}

func (tooManyPools) Is(target error) bool { return target == ErrPoolExhausted }
