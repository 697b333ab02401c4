// Package pool is hotpool's domain: the configuration (the seed SandboxManager's
// names and defaults), its validation, the domain errors, the sandbox and pool
// records, and the interfaces the rest of the code is written against (Store,
// Provider, Clock).
//
// It owns no I/O. Redis lives in internal/redisstate, the App Platform in
// internal/appplatform; both implement the interfaces declared here.
package pool
