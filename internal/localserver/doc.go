// Package localserver wires hotpool into one process for `hotpool serve`,
// tests, the chaos soak and benchmarks: the HTTP contract on net/http, Redis
// (embedded miniredis unless a URL is given), the App Platform (the simulator
// unless a DigitalOcean token is given) and the reconcile loop in-process,
// taking the cron trigger's role.
//
// It owns wiring and lifetimes only; every behaviour lives in the packages it
// wires.
package localserver
