package client

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReleaseSendsIDAndTokenAndRetriesSafely(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/release", func(w http.ResponseWriter, r recorded, n int) {
		if n == 1 {
			writeErr(w, 503, "unavailable", "redis down", 1)
			return
		}
		writeJSON(w, 200, map[string]any{"sandbox_id": r.Body["sandbox_id"], "state": "deleting"})
	})
	c, _ := f.client()
	res, err := c.Release(context.Background(), "sb1", "lease-tok")
	require.NoError(t, err)
	require.Equal(t, &ReleaseResult{SandboxID: "sb1", State: "deleting"}, res)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		require.Equal(t, map[string]any{"sandbox_id": "sb1", "lease_token": "lease-tok"}, r.Body)
	}
}

func TestReleaseMismatchAndNotFound(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/release", func(w http.ResponseWriter, r recorded, n int) {
		if r.Body["sandbox_id"] == "nope" {
			writeErr(w, 404, "sandbox_not_found", "no sandbox nope", 0)
			return
		}
		writeErr(w, 403, "lease_mismatch", "not the holder's lease token", 0)
	})
	c, _ := f.client()
	_, err := c.Release(context.Background(), "sb1", "stolen")
	require.ErrorIs(t, err, ErrLeaseMismatch)
	require.NotContains(t, err.Error(), "stolen")
	_, err = c.Release(context.Background(), "nope", "t")
	require.ErrorIs(t, err, ErrSandboxNotFound)
	_, err = c.Release(context.Background(), "", "t")
	require.ErrorIs(t, err, ErrInvalidRequest)
	require.Len(t, f.requests(), 2)
}

func TestRenew(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire/renew", func(w http.ResponseWriter, r recorded, n int) {
		writeJSON(w, 200, map[string]any{"sandbox_id": "sb1", "lease": map[string]any{"expires_at": "2026-01-02T04:00:00Z"}})
	})
	c, _ := f.client()
	exp, err := c.Renew(context.Background(), "sb1", "lease-tok", 10*time.Minute)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), exp.UTC())
	require.Equal(t, map[string]any{"sandbox_id": "sb1", "lease_token": "lease-tok", "lease_seconds": float64(600)}, f.requests()[0].Body)
}

func TestRenewIsNotRetriedAfterATransportError(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire/renew", func(w http.ResponseWriter, r recorded, n int) {
		hj, ok := w.(http.Hijacker)
		require.True(t, ok)
		conn, _, err := hj.Hijack()
		require.NoError(t, err)
		_ = conn.Close()
	})
	c, _ := f.client()
	_, err := c.Renew(context.Background(), "sb1", "t", 0)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Len(t, f.requests(), 1)
}

func TestRenewExpiredLease(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire/renew", func(w http.ResponseWriter, r recorded, n int) {
		writeErr(w, 409, "lease_expired", "the lease ended", 0)
	})
	c, _ := f.client()
	sb := &Sandbox{ID: "sb1", LeaseToken: "t", c: c}
	err := sb.Renew(context.Background(), time.Minute)
	require.ErrorIs(t, err, ErrLeaseExpired)
}
