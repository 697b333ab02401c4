// Package pool is hotpool's domain: the configuration (the seed SandboxManager's
// names and defaults), its validation, the domain errors, the sandbox and pool
// records, tokens and their derivations (Secrets), the interfaces the rest of
// the code is written against (Store, Provider, Reconciler, Clock), and the
// transport-neutral Service (acquire, claim polls, renew, release, metrics,
// warm-up, shutdown and start, reconcile) that every entry point calls.
//
// Its only I/O is reading the config (LoadConfig, ConfigFromEnv). Redis lives
// in internal/redisstate, the App Platform in internal/appplatform; both
// implement the interfaces declared here, and the Service reaches them only
// through those.
package pool
