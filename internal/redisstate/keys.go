package redisstate

// Keys builds every Redis key of one deployment. All keys share one hash tag,
// {hotpool:<prefix>}, so every script touches a single slot and works on Redis
// Cluster as on a single node. Nothing else assembles key names.
type Keys struct {
	tag string // "{hotpool:<prefix>}"
}

// NewKeys returns the key builder for a deployment prefix (config.Deployment,
// or a per-test prefix).
func NewKeys(prefix string) Keys { return Keys{tag: "{hotpool:" + prefix + "}"} }

// Tag is the shared hash tag, "{hotpool:<prefix>}".
func (k Keys) Tag() string { return k.tag }

// Sandbox is a HASH: one sandbox record. Times are unix ms; absent is unset.
//
//	id, pool, state (creating|ready|in_use|deleting), app_id, url, region,
//	instance_size, created_at, create_deadline, create_called_at, attempt,
//	claim_hash (serves a cold claim), ready_at, warm_deadline, last_healthy_at,
//	health_failures, acquired_at, lease_expires_at, lease_hash (sha256 hex of
//	the lease token), lease_handed (0|1), idem_key (the idempotency key's
//	name, when the lease has one), idem_nonce (that acquisition's random
//	nonce, from which its lease token is derived), deleting_since, delete_reason,
//	delete_attempts, last_delete_at, fail_reason (free text of a failed create)
func (k Keys) Sandbox(id string) string { return k.tag + ":sb:" + id }

// SandboxPrefix is the prefix of every Sandbox key; scripts append an id they
// read from an index (an id is data, not a key name chosen in Lua).
func (k Keys) SandboxPrefix() string { return k.tag + ":sb:" }

// All is a ZSET: every sandbox id with a record, scored by created_at (ms).
func (k Keys) All() string { return k.tag + ":all" }

// CreatingAll is a ZSET: every creating sandbox id, all pools, scored by its deadline (ms).
func (k Keys) CreatingAll() string { return k.tag + ":creating" }

// Deleting is a ZSET: every deleting sandbox id, all pools, scored by deleting_since (ms).
func (k Keys) Deleting() string { return k.tag + ":deleting" }

// Pools is a SET: every pool name that has state.
func (k Keys) Pools() string { return k.tag + ":pools" }

// DynamicPools is a SET: the pools of Pools that default_pool_config serves
// (named in no config's pools), counted against max_dynamic_pools. Acquire
// adds one only when it will hold a sandbox; reconcile removes it with the
// pool once nothing is left of it (collectpool.lua).
func (k Keys) DynamicPools() string { return k.tag + ":pools:dynamic" }

// Pool is a HASH: one pool's state and counters. Times are unix ms.
//
//	flags:    shutdown (0|1), shutdown_at, manager_shutdown (0|1, a copy of the
//	          manager's flag for the warm acquire), activated_at (first seen,
//	          last started or activated, or last found empty by an acquire)
//	policy:   last_acquire_at, last_scale_down_at, last_health_check_at,
//	          consecutive_failures, next_create_at, circuit_open_until,
//	          circuit_reason, below_target_since
//	stats:    acquires_from_pool, acquires_cold_start (total_acquires is their
//	          sum), warm_latency_us_sum, cold_latency_us_sum (the acquire
//	          latency sum is theirs), warm_lat_<i>, cold_lat_<i> (histogram
//	          counts, bucket i of pool.LatencyBucketsMs, the last is +Inf;
//	          the warm ones are written by recordlatency.lua after the
//	          acquire answered, so a lost sample leaves the warm count below
//	          acquires_from_pool),
//	          warm_age_ms_sum, misses_empty, misses_shutdown, misses_capacity,
//	          misses_circuit, creates (reservations), creates_failed, deletes
//	          (forgotten records), released, health_removals, leases_reaped,
//	          orphans_deleted, expired_warm, scaled_down, refill_lag_ms_sum,
//	          refill_lag_samples
//	books:    created (records ever made: reservations + adoptions), forgotten,
//	          adopted, claims_creating (creating records serving a claim);
//	          created = ready + creating + in_use + deleting + forgotten
func (k Keys) Pool(name string) string { return k.tag + ":pool:" + name }

// PoolPrefix is the prefix of every per-pool key. Scripts that learn a pool
// only by name (read from a sandbox record or the Pools SET) build that pool's
// keys as PoolPrefix .. name .. suffix, with the suffixes below (":ready",
// ":creating", ":in_use", ":deleting"); TestKeyLayoutMatchesLua keeps the two
// layouts equal. Every such key carries the same hash tag, so the script still
// touches one slot.
func (k Keys) PoolPrefix() string { return k.tag + ":pool:" }

// Ready is a LIST: the pool's ready sandbox ids, oldest at the head (FIFO).
func (k Keys) Ready(name string) string { return k.tag + ":pool:" + name + ":ready" }

// Creating is a ZSET: the pool's creating sandbox ids, scored by deadline (ms).
func (k Keys) Creating(name string) string { return k.tag + ":pool:" + name + ":creating" }

// InUse is a ZSET: the pool's in_use sandbox ids, scored by lease expiry (ms).
func (k Keys) InUse(name string) string { return k.tag + ":pool:" + name + ":in_use" }

// PoolDeleting is a ZSET: the pool's deleting sandbox ids, scored by deleting_since (ms).
func (k Keys) PoolDeleting(name string) string { return k.tag + ":pool:" + name + ":deleting" }

// Manager is a HASH: manager-wide state: shutdown (0|1), shutdown_at (ms).
func (k Keys) Manager() string { return k.tag + ":manager" }

// Claim is a HASH: one cold claim, keyed by the claim id's hash: hash, pool,
// sandbox_id (the current attempt's; "" while waiting for a retry), attempts,
// failed (0|1), fail_reason (why it failed: "shutdown" is answered as the
// pool shut down, anything else as creation failed), created_at, lease_ttl_ms,
// next_try_at, lease_hash (once the lease went out). Pending claims have no
// TTL; served or failed ones expire.
func (k Keys) Claim(hash string) string { return k.tag + ":claim:" + hash }

// ClaimPrefix is the prefix of every Claim key; scripts append a claim hash
// read from a sandbox record.
func (k Keys) ClaimPrefix() string { return k.tag + ":claim:" }

// Claims is a ZSET: every pending claim hash (creating, or waiting for a
// retry), scored by created_at (ms).
func (k Keys) Claims() string { return k.tag + ":claims" }

// Idempotency is a STRING: the sandbox id a warm acquire with an idempotency
// key leased, with a TTL of the lease.
func (k Keys) Idempotency(pool, key string) string { return k.tag + ":idem:" + pool + ":" + key }

// Released is a STRING: a tombstone holding the lease hash of a released
// sandbox, with a TTL (24h by default), so a repeated release after the record
// was forgotten answers "deleted" to the holder and ErrLeaseMismatch to others.
func (k Keys) Released(id string) string { return k.tag + ":released:" + id }

// ReleasedPrefix is the prefix of every Released key.
func (k Keys) ReleasedPrefix() string { return k.tag + ":released:" }

// Lock is a STRING: the reconcile leader's fencing token, with a TTL.
func (k Keys) Lock() string { return k.tag + ":lock" }

// Events is a STREAM: the outbox of domain events, appended by the scripts
// that make each change.
func (k Keys) Events() string { return k.tag + ":events" }

// DeadEvents is a STREAM: events whose delivery gave up after the last attempt.
func (k Keys) DeadEvents() string { return k.tag + ":events:dead" }

// Webhooks is a HASH: per-webhook delivery cursors and attempt counts.
func (k Keys) Webhooks() string { return k.tag + ":webhooks" }

// Budget is a HASH: the shared DigitalOcean API rate limiter (GCRA/token
// bucket state, the pause until a 429's Retry-After, the last RateLimit-* seen).
func (k Keys) Budget() string { return k.tag + ":budget" }

// Kick is a STRING set (NX, with a TTL) by the function that asks the
// reconcile function for a run, so concurrent acquires kick once an interval.
func (k Keys) Kick() string { return k.tag + ":kick" }
