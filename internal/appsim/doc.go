// Package appsim is a simulated DigitalOcean App Platform API: the /v2/apps
// subset that godo calls (create, get, list with pagination, delete), spoken in
// the real wire format of DigitalOcean's OpenAPI spec (JSON shapes, the error
// body {"id","message","request_id"}, RateLimit-* headers, 429 with
// Retry-After). Deployments walk PENDING_BUILD → BUILDING → PENDING_DEPLOY →
// DEPLOYING → ACTIVE (or ERROR) as the injected clock moves, and every live
// app answers its health path and a tiny fake service-mode agent under the
// simulator's own address (/live/<app-id>/...).
//
// Faults are injected at runtime (SetFaults, QueueFaults, SetHealthFailing)
// and every request is counted per endpoint and logged with its time, so
// tests can check rate limits from the server's side.
//
// It owns no hotpool state and never calls out; both the tests and
// `hotpool serve` use it.
package appsim
