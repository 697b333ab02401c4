// Package reconcile is hotpool's reconcile pass: it holds every pool at its
// target, cycles stale and unhealthy sandboxes, scales idle pools down, reaps
// expired leases, retries deletes until the platform confirms them and
// collects orphans in both directions.
//
// It is split in two. Plan is a pure function of (Observation, config, now)
// that returns the actions of one pass; it does no I/O and reads no clock.
// Reconciler is the thin executor around it: it takes the leader lock, reads
// Redis (pool.LeaderStore) and the platform (pool.Provider), asks Plan, and carries
// the actions out, every Redis write fenced by the lock's token. ListReason,
// pure too, decides whether a pass reads the platform's full list or only
// Gets the apps being created, so a steady pass costs no API call.
//
// The package owns the reconcile policy (README.md states it exactly). It
// does not own the state transitions themselves (internal/redisstate does,
// atomically) nor the platform calls (internal/appplatform does).
package reconcile
