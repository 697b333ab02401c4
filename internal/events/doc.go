// Package events delivers the outbox to webhooks.
//
// The outbox is the Redis stream redisstate.Keys.Events, appended by the same
// Lua script that makes each state change, so an event exists exactly when
// its change happened. This package owns what happens next: each configured
// webhook has a cursor (the last stream id it acknowledged) in
// Keys.Webhooks; Deliver, called after each reconcile pass, POSTs the events
// past each cursor as small signed JSON batches in stream order, moves the
// cursor on a 2xx, and otherwise records the attempt and a backoff time so a
// later pass retries. After webhook_max_attempts attempts a batch goes to
// Keys.DeadEvents and the cursor moves past it. Entries every webhook has
// passed are trimmed from the stream.
//
// Guarantees:
//   - At least once: the cursor moves only after a 2xx (or a dead letter), so
//     a receiver dedupes by event id.
//   - Order: a webhook's head blocks everything behind it, so no event reaches
//     a receiver for the first time before an earlier one (which keeps each
//     sandbox's events in order).
//   - Overlap: cursor moves are compare-and-set Lua scripts on the cursor a
//     deliverer read. Two overlapping deliverers (a pass that outlived its
//     lock, a manual POST /reconcile) can each send a batch, so a receiver may
//     see a duplicate, but a cursor never skips or goes back, and an event is
//     first sent only after every earlier one was acknowledged.
//   - Deadlines: Deliver stops when its context ends; a POST cut short by the
//     deadline does not count as an attempt, and the rest waits for the next pass.
//
// Signature: every POST carries
//
//	X-Hotpool-Signature: t=<unix>,r=<receiver>,v2=<hex HMAC-SHA256(secret, "<t>.<receiver>.<body>")>,v1=<…>
//
// with the secret read from the environment variable the webhook names (each
// webhook its own: the config refuses a shared variable, and Deliver refuses
// to sign for two webhooks whose variables hold one value). The receiver is
// the webhook's name (by default its URL without query or credentials), and
// the body names it too; client.VerifyWebhook checks v2 and that name, so a
// delivery signed for one receiver is refused by every other. v1 (without the
// receiver) stays for earlier verifiers. Secrets and webhook URLs' query strings
// and credentials are never logged or stored.
package events
