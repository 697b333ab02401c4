package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "http://h/?q=1"} {
		_, err := New(u, "t")
		require.Error(t, err, u)
	}
	c, err := New("http://127.0.0.1:8080/", "t")
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080", c.BaseURL())
}

func TestAcquireWarmHit(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		w.Header().Set("Idempotent-Replay", "true")
		writeJSON(w, 200, okAcquire("sb1", "https://sb1.example"))
	})
	c, slept := f.client()
	sb, err := c.Acquire(context.Background(), "python", AcquireOptions{Lease: 1500 * time.Millisecond, Wait: 3 * time.Second})
	require.NoError(t, err)
	require.Equal(t, "sb1", sb.ID)
	require.Equal(t, "python", sb.Image)
	require.Equal(t, "app-sb1", sb.AppID)
	require.Equal(t, "https://sb1.example", sb.URL)
	require.Equal(t, "pool", sb.Source)
	require.Equal(t, "lease-tok-sb1", sb.LeaseToken)
	require.Equal(t, "agent-tok-sb1", sb.AgentToken)
	require.Equal(t, time.Date(2026, 1, 2, 3, 20, 5, 0, time.UTC), sb.LeaseExpiresAt.UTC())
	require.True(t, sb.Replayed)
	require.Empty(t, *slept)

	reqs := f.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "Bearer "+testToken, reqs[0].Auth)
	require.Equal(t, "python", reqs[0].Body["image"])
	require.EqualValues(t, 2, reqs[0].Body["lease_seconds"], "lease rounds up to whole seconds")
	require.EqualValues(t, 3, reqs[0].Body["wait_seconds"])
	require.NotEmpty(t, reqs[0].Body["idempotency_key"], "a key is generated when none is given")
	require.NotEmpty(t, reqs[0].ReqID)
}

func TestAcquireGeneratesAFreshKeyPerCallAndKeepsAGivenOne(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		writeJSON(w, 200, okAcquire("sb", "https://sb.example"))
	})
	c, _ := f.client()
	ctx := context.Background()
	_, err := c.Acquire(ctx, "python", AcquireOptions{})
	require.NoError(t, err)
	_, err = c.Acquire(ctx, "python", AcquireOptions{})
	require.NoError(t, err)
	_, err = c.Acquire(ctx, "python", AcquireOptions{IdempotencyKey: "job-42"})
	require.NoError(t, err)
	reqs := f.requests()
	require.Len(t, reqs, 3)
	require.NotEqual(t, reqs[0].Body["idempotency_key"], reqs[1].Body["idempotency_key"])
	require.Equal(t, "job-42", reqs[2].Body["idempotency_key"])
	_, hasLease := reqs[0].Body["lease_seconds"]
	require.False(t, hasLease, "zero options are left to the server's defaults")
}

func TestAcquireFollowsAColdClaim(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "5")
			writeJSON(w, 202, map[string]any{"claim": map[string]any{"id": "claim-1", "status": "creating", "retry_after_seconds": 5}})
		case 2:
			writeJSON(w, 202, map[string]any{"claim": map[string]any{"id": "claim-1", "status": "creating", "retry_after_seconds": 0}})
		default:
			a := okAcquire("cold1", "https://cold1.example")
			a["source"] = "cold"
			writeJSON(w, 200, a)
		}
	})
	c, slept := f.client(WithBackoff(200*time.Millisecond, 10*time.Second))
	coldStarts := 0
	sb, err := c.Acquire(context.Background(), "python", AcquireOptions{OnColdStart: func() { coldStarts++ }})
	require.NoError(t, err)
	require.Equal(t, "cold1", sb.ID)
	require.Equal(t, "cold", sb.Source)
	require.Equal(t, 1, coldStarts, "told once, not per poll")

	require.Len(t, *slept, 2)
	require.Equal(t, 5*time.Second, (*slept)[0], "retry_after_seconds is honoured")
	require.GreaterOrEqual(t, (*slept)[1], 200*time.Millisecond, "no retry_after: backoff")
	require.LessOrEqual(t, (*slept)[1], 400*time.Millisecond)

	reqs := f.requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs[1:] {
		require.Equal(t, map[string]any{"claim_id": "claim-1"}, r.Body, "a claim poll carries the claim id alone")
	}
}

func TestAcquireClaimThatFailsIsSandboxCreationError(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		if n == 1 {
			writeJSON(w, 202, map[string]any{"claim": map[string]any{"id": "c", "status": "creating", "retry_after_seconds": 1}})
			return
		}
		writeErr(w, 502, "sandbox_creation_failed", "sandbox failed 3 times", 0)
	})
	c, _ := f.client()
	_, err := c.Acquire(context.Background(), "python", AcquireOptions{})
	require.ErrorIs(t, err, ErrSandboxCreation)
	require.Len(t, f.requests(), 2, "a failed creation is not retried")
}

func TestAcquireClaimStopsWhenContextEnds(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		writeJSON(w, 202, map[string]any{"claim": map[string]any{"id": "c", "status": "creating", "retry_after_seconds": 5}})
	})
	c, _ := f.client()
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}
	_, err := c.Acquire(ctx, "python", AcquireOptions{})
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, err.Error(), `"python"`)
}

func TestAcquirePoolExhaustedIsNotRetried(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		writeErr(w, 503, "pool_exhausted", `no ready sandbox in pool "python"`, 5)
	})
	c, slept := f.client()
	_, err := c.Acquire(context.Background(), "python", AcquireOptions{})
	require.ErrorIs(t, err, ErrPoolExhausted)
	var ae *APIError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, 503, ae.Status)
	require.Equal(t, 5*time.Second, ae.RetryAfter)
	require.Equal(t, "srv-req-1", ae.RequestID)
	require.Equal(t, `hotpool: pool_exhausted: no ready sandbox in pool "python" (retry after 5s)`, err.Error())
	require.Len(t, f.requests(), 1)
	require.Empty(t, *slept)
}

func TestAcquireRetriesUnavailableWithTheSameKey(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		if n == 1 {
			writeErr(w, 503, "unavailable", "redis down", 2)
			return
		}
		writeJSON(w, 200, okAcquire("sb2", "https://sb2.example"))
	})
	c, slept := f.client()
	sb, err := c.Acquire(context.Background(), "python", AcquireOptions{})
	require.NoError(t, err)
	require.Equal(t, "sb2", sb.ID)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, reqs[0].Body["idempotency_key"], reqs[1].Body["idempotency_key"])
	require.Equal(t, reqs[0].ReqID, reqs[1].ReqID, "one logical request, one request id")
	require.Equal(t, []time.Duration{2 * time.Second}, *slept, "Retry-After is honoured")
}

func TestAcquireRetriesATransportErrorWithTheSameKey(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		if n == 1 {
			// Drop the connection without an answer: the client cannot know
			// whether the server acted, and the idempotency key makes that safe.
			hj, ok := w.(http.Hijacker)
			require.True(t, ok)
			conn, _, err := hj.Hijack()
			require.NoError(t, err)
			_ = conn.Close()
			return
		}
		writeJSON(w, 200, okAcquire("sb3", "https://sb3.example"))
	})
	c, _ := f.client()
	sb, err := c.Acquire(context.Background(), "python", AcquireOptions{})
	require.NoError(t, err)
	require.Equal(t, "sb3", sb.ID)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, reqs[0].Body["idempotency_key"], reqs[1].Body["idempotency_key"])
}

func TestAcquireGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		writeErr(w, 503, "unavailable", "redis down", 1)
	})
	c, _ := f.client(WithMaxAttempts(3))
	_, err := c.Acquire(context.Background(), "python", AcquireOptions{})
	require.ErrorIs(t, err, ErrUnavailable)
	require.Len(t, f.requests(), 3)
}

func TestRetryStopsWhenTheWaitOutlivesTheDeadline(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		writeErr(w, 503, "unavailable", "redis down", 30)
	})
	c, slept := f.client(WithBackoff(time.Second, time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Acquire(ctx, "python", AcquireOptions{})
	require.ErrorIs(t, err, ErrUnavailable)
	require.Len(t, f.requests(), 1, "a 30 s Retry-After does not fit a 5 s deadline")
	require.Empty(t, *slept)
}

func TestAcquireValidatesInput(t *testing.T) {
	f := newFakeAPI(t)
	c, _ := f.client()
	ctx := context.Background()
	_, err := c.Acquire(ctx, "", AcquireOptions{})
	require.ErrorIs(t, err, ErrInvalidRequest)
	_, err = c.Acquire(ctx, "python", AcquireOptions{Wait: 26 * time.Second})
	require.ErrorIs(t, err, ErrInvalidRequest)
	_, err = c.Acquire(ctx, "python", AcquireOptions{Lease: -time.Second})
	require.ErrorIs(t, err, ErrInvalidRequest)
	_, err = c.Acquire(ctx, "python", AcquireOptions{IdempotencyKey: "tab\there"})
	require.ErrorIs(t, err, ErrInvalidRequest)
	_, err = c.Acquire(ctx, "python", AcquireOptions{IdempotencyKey: strings.Repeat("k", 129)})
	require.ErrorIs(t, err, ErrInvalidRequest)
	require.Empty(t, f.requests())
}

func TestWrongTokenIsUnauthorizedAndNeverEchoed(t *testing.T) {
	f := newFakeAPI(t)
	c, err := New(f.srv.URL, "wrong-token-value")
	require.NoError(t, err)
	_, err = c.Acquire(context.Background(), "python", AcquireOptions{})
	require.ErrorIs(t, err, ErrUnauthorized)
	require.NotContains(t, err.Error(), "wrong-token-value")
}

func TestUnreachableServerIsUnavailableWithoutTheToken(t *testing.T) {
	f := newFakeAPI(t)
	url := f.srv.URL
	f.srv.Close()
	c, err := New(url, testToken, WithMaxAttempts(2))
	require.NoError(t, err)
	c.sleep = func(ctx context.Context, d time.Duration) error { return nil }
	_, err = c.Metrics(context.Background())
	require.ErrorIs(t, err, ErrUnavailable)
	require.False(t, strings.Contains(err.Error(), testToken))
	require.Contains(t, err.Error(), "/metrics")
}

func TestSandboxStringHidesSecrets(t *testing.T) {
	sb := &Sandbox{ID: "sb1", Image: "python", Source: "pool", LeaseToken: "lease-secret", AgentToken: "agent-secret"}
	for _, s := range []string{sb.String(), sb.LogValue().String()} {
		require.Contains(t, s, "sb1")
		require.NotContains(t, s, "lease-secret")
		require.NotContains(t, s, "agent-secret")
	}
}

func TestAcquireToleratesAnUnsetTime(t *testing.T) {
	f := newFakeAPI(t)
	f.on("/acquire", func(w http.ResponseWriter, r recorded, n int) {
		a := okAcquire("sb1", "https://sb1.example")
		a["sandbox"].(map[string]any)["ready_at"] = ""
		writeJSON(w, 200, a)
	})
	c, _ := f.client()
	sb, err := c.Acquire(context.Background(), "python", AcquireOptions{})
	require.NoError(t, err)
	require.True(t, sb.ReadyAt.IsZero())
	require.False(t, sb.CreatedAt.IsZero())
}

// Running out of time on a cold start cancels the claim (so its sandbox
// joins the pool), says what became of the sandbox in the user's words, and
// is still a deadline for errors.Is.
func TestColdStartTimeoutSaysWhatHappened(t *testing.T) {
	var mu sync.Mutex
	var cancelled []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/acquire/cancel" {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			cancelled = append(cancelled, string(b))
			mu.Unlock()
			_, _ = w.Write([]byte(`{"claim": {"id": "claim-1", "status": "cancelled", "sandbox_to_pool": true}}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"claim": {"id": "claim-1", "status": "creating", "retry_after_seconds": 1}}`))
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "t")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.Acquire(ctx, "python", AcquireOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var ce *ColdStartError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "claim-1", ce.ClaimID)
	require.NotContains(t, err.Error(), "context deadline exceeded")
	require.Contains(t, err.Error(), `waiting for a new sandbox of "python", which is still deploying (claim claim-1)`)
	require.True(t, ce.Cancelled)
	require.Contains(t, err.Error(), "the claim is cancelled and its sandbox joins the pool when ready")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{`{"claim_id":"claim-1"}`}, cancelled, "the claim is cancelled once, by id alone")
}
