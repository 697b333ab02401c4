package httpapi

import (
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// The response bodies of docs/api.md, field for field.

type sandboxJSON struct {
	ID           string `json:"id"`
	Image        string `json:"image"`
	AppID        string `json:"app_id"`
	URL          string `json:"url"`
	Region       string `json:"region"`
	InstanceSize string `json:"instance_size"`
	CreatedAt    string `json:"created_at"`
	ReadyAt      string `json:"ready_at,omitempty"`
	AgentToken   string `json:"agent_token"`
}

type leaseJSON struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

type acquireJSON struct {
	Sandbox sandboxJSON `json:"sandbox"`
	Lease   leaseJSON   `json:"lease"`
	Source  string      `json:"source"`
}

type claimJSON struct {
	Claim claimBody `json:"claim"`
}

type claimBody struct {
	ID                string `json:"id"`
	Status            string `json:"status"`
	RetryAfterSeconds int    `json:"retry_after_seconds"`
}

type cancelJSON struct {
	Claim cancelledClaim `json:"claim"`
}

type cancelledClaim struct {
	ID            string `json:"id"`
	Status        string `json:"status"`          // "cancelled"
	SandboxToPool bool   `json:"sandbox_to_pool"` // its sandbox joins (or will join) the ready list
}

type leaseExpiry struct {
	ExpiresAt string `json:"expires_at"`
}

type renewJSON struct {
	SandboxID string      `json:"sandbox_id"`
	Lease     leaseExpiry `json:"lease"`
}

type releaseJSON struct {
	SandboxID string `json:"sandbox_id"`
	State     string `json:"state"`
}

type shutdownJSON struct {
	Shutdown bool   `json:"shutdown"`
	Pool     string `json:"pool,omitempty"`
}

func acquiredJSON(a pool.Acquired) acquireJSON {
	sb := a.Sandbox
	return acquireJSON{
		Sandbox: sandboxJSON{
			ID: sb.ID, Image: sb.Pool, AppID: sb.AppID, URL: sb.URL,
			Region: sb.Region, InstanceSize: sb.InstanceSize,
			CreatedAt: rfc3339(sb.CreatedAt), ReadyAt: rfc3339(sb.ReadyAt),
			AgentToken: a.AgentToken,
		},
		Lease:  leaseJSON{Token: a.LeaseToken, ExpiresAt: rfc3339(a.ExpiresAt)},
		Source: string(a.Source),
	}
}

// rfc3339 writes a time in UTC with milliseconds, "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
