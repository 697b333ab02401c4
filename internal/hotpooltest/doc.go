// Package hotpooltest is hotpool's one simulation and test-support package,
// as net/http/httptest is net/http's. Two drivers share its checks (caps,
// settled, the platform-against-Redis consistency, the invariant checker of
// redistest):
//
//   - Harness: the deterministic simulation of a whole deployment on a
//     pool.ManualClock: the simulated App Platform (appsim) behind the real
//     provider over HTTP, the real Store on a real redis-server (or
//     miniredis), the real Service and Reconciler, wired by internal/stack.
//     It runs hours of simulated traffic in seconds and checks the
//     invariants after every step; `hotpool simulate` and the tests drive
//     it. Everything random comes from HarnessOptions.Seed.
//   - Soak (`hotpool chaos`): the local server in real time with concurrent
//     Go clients against a faulty simulated platform (429s, 5xx, slow calls,
//     dropped connections, ERROR deployments), Redis restarts and failovers
//     and reconcile passes killed mid-way; once the faults stop it converges
//     and checks that nothing leaked, nothing was handed out twice and every
//     pool is back at its target.
//
// It owns no production code path: every behaviour under test lives in the
// packages the drivers wire.
package hotpooltest
