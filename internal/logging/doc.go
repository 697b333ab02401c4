// Package logging builds hotpool's slog logger: JSON lines whose secrets are
// redacted before they are written, and the two line shapes every component
// shares, one per request and one per reconcile pass (op, pool, sandbox_id,
// duration_ms, outcome).
//
// Redaction is a last line of defence, not a licence: callers still never
// pass a token on purpose. It works on attribute keys (anything named like a
// token, secret, password or authorization) and on string values (bearer
// headers, hotpool's 256-bit tokens, DigitalOcean tokens), wherever they sit.
package logging
