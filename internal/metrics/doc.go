// Package metrics turns a pool.Snapshot into the GET /metrics document: the
// contract's JSON (docs/api.md "GET /metrics") and the same numbers as
// Prometheus text, names prefixed hotpool_.
//
// It owns the shape and the arithmetic (hit rate, averages, histogram
// buckets) and nothing else: it reads no Redis and keeps no state, so the
// metrics function stays one Store.Metrics round trip plus, optionally, one
// budget read. Prometheus labels are pool, reason and source only, so the
// series count grows with the number of pools and nothing else.
package metrics
