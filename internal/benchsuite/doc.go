// Package benchsuite holds the cross-package benchmarks, all run
// against the real redis-server at REDIS_URL (`make bench`):
//
//   - acquire + release through the Store, the service and the HTTP handler
//     in-process (no sockets), so each layer's cost is a ratio;
//   - the local server over loopback with N concurrent clients: throughput,
//     p50 and p99;
//   - the cost of one reconcile pass (App Platform API calls and time) at
//     10, 100, 1,000 and 10,000 sandboxes, steady and with one change;
//   - a function's cold start: exec of the built function binary to its
//     first answered event, and its peak RSS.
//
// docs/BENCHMARKS.md explains what each one includes and records a run. The
// package has no production code; it exists so benchmarks that wire several
// packages have one home.
package benchsuite
