package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook delivery's signature:
//
//	X-Hotpool-Signature: t=<unix seconds>,r=<receiver>,v2=<hex HMAC-SHA256(secret, "<t>.<receiver>.<body>")>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The signed text is the timestamp as written in the header, a dot, (for v2)
// the receiver's name and a dot, and the raw request body. r is the
// receiver's name query-escaped; the body's "receiver" field names it too.
// v2 names the receiver, so VerifyWebhook refuses a delivery signed for
// another one; v1 is the earlier form, which VerifySignature checks. More
// than one v1 or v2 may appear (a secret being rotated); any one matching is
// enough.
const SignatureHeader = "X-Hotpool-Signature"

// Signature errors, matched with errors.Is.
var (
	// ErrSignatureInvalid: the header is missing, malformed, or no v1 matches.
	ErrSignatureInvalid = errors.New("hotpool: webhook signature invalid")
	// ErrSignatureStale: the signature matches but its timestamp is further
	// from now than the tolerance (a replay, or a badly skewed clock).
	ErrSignatureStale = errors.New("hotpool: webhook signature timestamp outside tolerance")
)

// WebhookPayload is the JSON body of one delivery: a small batch of events in
// outbox order. Delivery is at-least-once, so a receiver dedupes by ID; the
// events of one sandbox never arrive out of order for the first time.
type WebhookPayload struct {
	Deployment string `json:"deployment"`
	// Receiver is the name of the webhook this delivery is for (config
	// webhooks[].name, by default its URL without query or credentials).
	Receiver string         `json:"receiver"`
	Events   []WebhookEvent `json:"events"`
}

// WebhookEvent is one domain event.
type WebhookEvent struct {
	ID        string    `json:"id"`   // unique and increasing within a deployment
	Type      string    `json:"type"` // sandbox.ready, sandbox.acquired, pool.exhausted, …
	Pool      string    `json:"pool,omitempty"`
	SandboxID string    `json:"sandbox_id,omitempty"`
	At        time.Time `json:"at"`
	Reason    string    `json:"reason,omitempty"`
}

// VerifyWebhook checks a delivery meant for the receiver named receiver
// (config webhooks[].name, by default the webhook's URL without its query
// and credentials): header is the X-Hotpool-Signature value, body the raw
// request body (read it before decoding). It checks the v2 signature, which
// covers the receiver's name, so a delivery signed for another receiver is
// refused even if the two were given one secret. It compares in constant
// time and rejects a timestamp more than tolerance away from now (a
// tolerance <= 0 means 5 minutes). It never echoes the secret or the
// signature in its errors.
func VerifyWebhook(secret, receiver, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if receiver == "" {
		return fmt.Errorf("%w: empty receiver name", ErrSignatureInvalid)
	}
	h, err := parseSignature(secret, header, "v2")
	if err != nil {
		return err
	}
	if h.receiver != receiver {
		// Checked before the MAC: the name is not secret, and naming it in
		// the error tells an operator which receiver the delivery was for.
		return fmt.Errorf("%w: signed for receiver %q, not %q", ErrSignatureInvalid, h.receiver, receiver)
	}
	return h.check(secret, body, now, tolerance, h.ts, receiver)
}

// VerifySignature checks a delivery's v1 signature, which does not name the
// receiver: prefer VerifyWebhook. Arguments and errors are VerifyWebhook's.
func VerifySignature(secret string, header string, body []byte, now time.Time, tolerance time.Duration) error {
	h, err := parseSignature(secret, header, "v1")
	if err != nil {
		return err
	}
	return h.check(secret, body, now, tolerance, h.ts)
}

// signature is a parsed X-Hotpool-Signature header.
type signature struct {
	ts       string
	unix     int64
	receiver string
	sigs     [][]byte // the candidates of the version asked for
}

func parseSignature(secret, header, version string) (signature, error) {
	var h signature
	if secret == "" {
		return h, fmt.Errorf("%w: empty secret", ErrSignatureInvalid)
	}
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			h.ts = v
		case "r":
			if r, err := url.QueryUnescape(v); err == nil {
				h.receiver = r
			}
		case version:
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				h.sigs = append(h.sigs, b)
			}
		}
	}
	if h.ts == "" || len(h.sigs) == 0 {
		return h, fmt.Errorf("%w: want t=<unix>,%s=<hex>", ErrSignatureInvalid, version)
	}
	unix, err := strconv.ParseInt(h.ts, 10, 64)
	if err != nil {
		return h, fmt.Errorf("%w: timestamp is not a unix time", ErrSignatureInvalid)
	}
	h.unix = unix
	return h, nil
}

// check computes the HMAC of parts (each followed by a dot) and body, and
// matches it against every candidate, then checks the timestamp.
func (h signature) check(secret string, body []byte, now time.Time, tolerance time.Duration, parts ...string) error {
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{'.'})
	}
	m.Write(body)
	want := m.Sum(nil)
	matched := false
	for _, s := range h.sigs {
		// Check every candidate so the time taken does not say which matched.
		if hmac.Equal(s, want) {
			matched = true
		}
	}
	if !matched {
		return fmt.Errorf("%w: no signature matches", ErrSignatureInvalid)
	}
	// Checked after the MAC so a forged header cannot probe the tolerance.
	skew := now.Sub(time.Unix(h.unix, 0))
	if skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: signed %s away from now", ErrSignatureStale, skew.Round(time.Second))
	}
	return nil
}
