// Package redisstate is the pool.Store on Redis (go-redis v9): the key layout
// (keys.go), one embedded Lua script per state transition (scripts/*.lua), the
// mapping of the scripts' return codes to the domain errors (codes.go) and
// the events outbox the scripts append to (events.go). The invariant checker
// the tests and simulations run over this layout is redistest's.
//
// It owns every byte hotpool keeps in Redis and nothing else: policy (when to
// create, reap or scale down) lives in internal/pool; the platform lives in
// the provider. Every transition is one script, takes now from its caller as
// unix milliseconds, and never reads the Redis clock. Tokens reach it only as
// sha256 hashes.
package redisstate
