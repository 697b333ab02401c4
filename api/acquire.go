package api

import (
	"encoding/json"
	"time"
)

// Time is a contract timestamp: RFC 3339 in UTC with milliseconds, "" for
// unset. It reads "", null and any RFC 3339 time.
type Time struct{ time.Time }

// TimeFormat is how the server writes every timestamp.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the time in TimeFormat, "" when zero.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(t.UTC().Format(TimeFormat))
}

// UnmarshalJSON reads "", null or an RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" || string(b) == `""` {
		t.Time = time.Time{}
		return nil
	}
	return json.Unmarshal(b, &t.Time)
}

// AcquireRequest is the POST /acquire body: an image to lease from, or
// claim_id alone to poll a cold claim.
type AcquireRequest struct {
	Image          string `json:"image,omitempty"`
	LeaseSeconds   int    `json:"lease_seconds,omitempty"`
	WaitSeconds    int    `json:"wait_seconds,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	ClaimID        string `json:"claim_id,omitempty"`
}

// AcquireResponse is the answer of POST /acquire: a lease (200: Sandbox,
// Lease and Source) or a pending cold claim (202: Claim alone).
type AcquireResponse struct {
	Sandbox *Sandbox `json:"sandbox,omitempty"`
	Lease   *Lease   `json:"lease,omitempty"`
	Source  string   `json:"source,omitempty"` // "pool" (warm) or "cold"
	Claim   *Claim   `json:"claim,omitempty"`
}

// Sandbox is a leased sandbox.
type Sandbox struct {
	ID           string `json:"id"`
	Image        string `json:"image"`
	AppID        string `json:"app_id"`
	URL          string `json:"url"`
	Region       string `json:"region"`
	InstanceSize string `json:"instance_size"`
	CreatedAt    Time   `json:"created_at"`
	ReadyAt      Time   `json:"ready_at,omitzero"`
	// AgentToken is the bearer token of the sandbox's agent.
	AgentToken string `json:"agent_token"`
}

// Lease is the proof of holding a sandbox: release and renew need Token.
type Lease struct {
	Token     string `json:"token"`
	ExpiresAt Time   `json:"expires_at"`
}

// Claim is a pending cold start: poll with its id after RetryAfterSeconds.
type Claim struct {
	ID                string `json:"id"`
	Status            string `json:"status"` // "creating"
	RetryAfterSeconds int    `json:"retry_after_seconds"`
}

// CancelRequest is the POST /acquire/cancel body.
type CancelRequest struct {
	ClaimID string `json:"claim_id"`
}

// CancelResponse is the answer of POST /acquire/cancel.
type CancelResponse struct {
	Claim CancelledClaim `json:"claim"`
}

// CancelledClaim is a claim given up by its claimant.
type CancelledClaim struct {
	ID            string `json:"id"`
	Status        string `json:"status"`          // "cancelled"
	SandboxToPool bool   `json:"sandbox_to_pool"` // its sandbox joins (or will join) the ready list
}

// RenewRequest is the POST /acquire/renew body; LeaseSeconds 0 is default_lease.
type RenewRequest struct {
	SandboxID    string `json:"sandbox_id"`
	LeaseToken   string `json:"lease_token"`
	LeaseSeconds int    `json:"lease_seconds,omitempty"`
}

// RenewResponse is the answer of POST /acquire/renew.
type RenewResponse struct {
	SandboxID string      `json:"sandbox_id"`
	Lease     LeaseExpiry `json:"lease"`
}

// LeaseExpiry is a renewed lease's new expiry.
type LeaseExpiry struct {
	ExpiresAt Time `json:"expires_at"`
}

// ReleaseRequest is the POST /release body.
type ReleaseRequest struct {
	SandboxID  string `json:"sandbox_id"`
	LeaseToken string `json:"lease_token"`
}

// ReleaseResponse is the answer of POST /release.
type ReleaseResponse struct {
	SandboxID string `json:"sandbox_id"`
	// State is "deleting" until reconcile has destroyed the app, then "deleted".
	State string `json:"state"`
}
