package client

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func withSandboxAPI(t *testing.T) *fakeAPI {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		writeJSON(w, 200, okAcquire("sb1", "https://sb1.example"))
	})
	f.on("/release", func(w http.ResponseWriter, r recorded, n int) {
		writeJSON(w, 200, map[string]any{"sandbox_id": r.Body["sandbox_id"], "state": "deleting"})
	})
	return f
}

func releases(f *fakeAPI) []recorded {
	var out []recorded
	for _, r := range f.requests() {
		if r.Path == "/release" {
			out = append(out, r)
		}
	}
	return out
}

func TestWithSandboxReleasesAfterSuccess(t *testing.T) {
	f := withSandboxAPI(t)
	c, _ := f.client()
	var got string
	err := c.WithSandbox(context.Background(), "python", func(sb *Sandbox) error {
		got = sb.ID
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "sb1", got)
	rel := releases(f)
	require.Len(t, rel, 1)
	require.Equal(t, map[string]any{"sandbox_id": "sb1", "lease_token": "lease-tok-sb1"}, rel[0].Body)
}

func TestWithSandboxReleasesAfterAnError(t *testing.T) {
	f := withSandboxAPI(t)
	c, _ := f.client()
	boom := errors.New("boom")
	err := c.WithSandbox(context.Background(), "python", func(*Sandbox) error { return boom })
	require.ErrorIs(t, err, boom)
	require.Len(t, releases(f), 1)
}

func TestWithSandboxReleasesAfterAPanic(t *testing.T) {
	f := withSandboxAPI(t)
	c, _ := f.client()
	require.PanicsWithValue(t, "kaboom", func() {
		_ = c.WithSandbox(context.Background(), "python", func(*Sandbox) error { panic("kaboom") })
	})
	require.Len(t, releases(f), 1)
}

func TestWithSandboxReleasesWhenTheContextIsCancelled(t *testing.T) {
	f := withSandboxAPI(t)
	c, _ := f.client()
	ctx, cancel := context.WithCancel(context.Background())
	err := c.WithSandbox(ctx, "python", func(*Sandbox) error {
		cancel()
		return ctx.Err()
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, releases(f), 1, "the release uses a fresh context")
}

func TestWithSandboxJoinsAFailedRelease(t *testing.T) {
	f := withSandboxAPI(t)
	f.on("/release", func(w http.ResponseWriter, r recorded, n int) {
		writeErr(w, 403, "lease_mismatch", "not yours", 0)
	})
	c, _ := f.client()
	err := c.WithSandbox(context.Background(), "python", func(*Sandbox) error { return nil })
	require.ErrorIs(t, err, ErrLeaseMismatch)
	require.Contains(t, err.Error(), "release sb1")
}

func TestWithSandboxDoesNotCallFnWhenAcquireFails(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		writeErr(w, 503, "pool_shutdown", "pool python is shut down", 0)
	})
	c, _ := f.client()
	called := false
	err := c.WithSandbox(context.Background(), "python", func(*Sandbox) error { called = true; return nil })
	require.ErrorIs(t, err, ErrPoolShutdown)
	require.False(t, called)
	require.Empty(t, releases(f))
}

func TestWithSandboxTakesItsAcquireOptions(t *testing.T) {
	f := withSandboxAPI(t)
	c, _ := f.client()
	err := c.WithSandbox(context.Background(), "python", func(*Sandbox) error { return nil },
		AcquireOptions{IdempotencyKey: "job-7", Lease: 90 * time.Second})
	require.NoError(t, err)
	acq := f.requests()[0]
	require.Equal(t, "/acquire", acq.Path)
	require.Equal(t, "job-7", acq.Body["idempotency_key"])
	require.EqualValues(t, 90, acq.Body["lease_seconds"])
	require.Len(t, releases(f), 1)

	called := false
	err = c.WithSandbox(context.Background(), "python", func(*Sandbox) error { called = true; return nil }, AcquireOptions{}, AcquireOptions{})
	require.ErrorIs(t, err, ErrInvalidRequest)
	require.False(t, called, "two option sets are refused before anything is acquired")
	_, err = c.WarmUp(context.Background(), time.Second, WarmUpOptions{}, WarmUpOptions{})
	require.ErrorIs(t, err, ErrInvalidRequest)
}
