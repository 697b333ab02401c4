package client

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hotpool/hotpool/api"
)

// ReleaseResult is the answer of a release: State is "deleting" until
// reconcile has destroyed the app, then "deleted".
type ReleaseResult = api.ReleaseResponse

// Release ends the lease and destroys the sandbox; it is never reused.
// Releasing again with the same token answers the same, so a failed release is
// retried safely.
func (c *Client) Release(ctx context.Context, sandboxID, leaseToken string) (*ReleaseResult, error) {
	if sandboxID == "" || leaseToken == "" {
		return nil, fmt.Errorf("%w: sandbox id and lease token are required", ErrInvalidRequest)
	}
	body := api.ReleaseRequest{SandboxID: sandboxID, LeaseToken: leaseToken}
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/release", body: body, idempotent: true})
	if err != nil {
		return nil, err
	}
	var r ReleaseResult
	if err := decodeJSON(resp, "release", &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Renew extends a lease to now + d (0: the server's default_lease) and
// returns the new expiry. ErrLeaseMismatch, ErrSandboxNotFound and
// ErrLeaseExpired are the caller's to handle.
func (c *Client) Renew(ctx context.Context, sandboxID, leaseToken string, d time.Duration) (time.Time, error) {
	if sandboxID == "" || leaseToken == "" {
		return time.Time{}, fmt.Errorf("%w: sandbox id and lease token are required", ErrInvalidRequest)
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("%w: lease must be >= 0", ErrInvalidRequest)
	}
	body := api.RenewRequest{SandboxID: sandboxID, LeaseToken: leaseToken, LeaseSeconds: ceilSeconds(d)}
	// Not idempotent by the client's rules: only a 503 unavailable (the server
	// did nothing) is retried.
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/acquire/renew", body: body})
	if err != nil {
		return time.Time{}, err
	}
	var r api.RenewResponse
	if err := decodeJSON(resp, "renew", &r); err != nil {
		return time.Time{}, err
	}
	return r.Lease.ExpiresAt.Time, nil
}
