package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook delivery's signature:
//
//	X-Hotpool-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The signed text is the timestamp as written in the header, a dot, and the
// raw request body. More than one v1 may appear (a secret being rotated);
// any one matching is enough.
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
	Deployment string         `json:"deployment"`
	Events     []WebhookEvent `json:"events"`
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

// VerifySignature checks a delivery: header is the X-Hotpool-Signature value,
// body the raw request body (read it before decoding). It compares in
// constant time and rejects a timestamp more than tolerance away from now (a
// tolerance <= 0 means 5 minutes). It never echoes the secret or the
// signature in its errors.
func VerifySignature(secret string, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return fmt.Errorf("%w: empty secret", ErrSignatureInvalid)
	}
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix>,v1=<hex>", ErrSignatureInvalid)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp is not a unix time", ErrSignatureInvalid)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	want := m.Sum(nil)
	matched := false
	for _, s := range sigs {
		// Check every candidate so the time taken does not say which matched.
		if hmac.Equal(s, want) {
			matched = true
		}
	}
	if !matched {
		return fmt.Errorf("%w: no signature matches", ErrSignatureInvalid)
	}
	// Checked after the MAC so a forged header cannot probe the tolerance.
	skew := now.Sub(time.Unix(unix, 0))
	if skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: signed %s away from now", ErrSignatureStale, skew.Round(time.Second))
	}
	return nil
}
