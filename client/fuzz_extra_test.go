package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

// answerFunc answers every request of a client with one fixed response,
// without a socket, so a fuzz target can run thousands of calls a second.
type answerFunc func(*http.Request) (*http.Response, error)

func (f answerFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzResponses decodes any answer the server (or a proxy in front of it)
// might send to each call of the client. A call returns a result or an
// error, never a panic or a hang; an error status is always an *APIError
// carrying that status (or, for a warm-up, its *WarmUpError), so callers can
// rely on errors.As.
func FuzzResponses(f *testing.F) {
	f.Add(uint8(0), 200, []byte(`{"sandbox":{"id":"sb","url":"https://x","created_at":"2026-01-01T00:00:00Z","ready_at":""},"lease":{"token":"t","expires_at":"2026-01-01T00:15:00Z"},"source":"pool"}`))
	f.Add(uint8(0), 202, []byte(`{"claim":{"id":"c1","status":"creating","retry_after_seconds":5}}`))
	f.Add(uint8(0), 200, []byte(`{"sandbox":{"created_at":"yesterday"},"lease":{}}`))
	f.Add(uint8(0), 503, []byte(`{"error":{"code":"pool_exhausted","message":"empty"}}`))
	f.Add(uint8(1), 200, []byte(`{"sandbox_id":"sb","state":"deleting"}`))
	f.Add(uint8(2), 200, []byte(`{"sandbox_id":"sb","lease":{"expires_at":null}}`))
	f.Add(uint8(2), 409, []byte(`{"error":{"code":"lease_expired"}}`))
	f.Add(uint8(3), 200, []byte(`{"pools":{"python":{"ready":1,"acquire_latency_ms":{"warm":{"bounds":[1,2],"counts":[0,1,0]}}}},"total_sandboxes":1}`))
	f.Add(uint8(4), 200, []byte(`{"leader":true,"pools":{"python":{"ready":1}},"api_calls":2}`))
	f.Add(uint8(5), 504, []byte(`{"error":{"code":"warm_up_timeout","details":{"pools":{"python":{"ready":0,"target":2}}}}}`))
	f.Add(uint8(5), 200, []byte(`{"done":true,"pools":{}}`))
	f.Add(uint8(3), 200, []byte(`<html>proxy</html>`))
	f.Fuzz(func(t *testing.T, which uint8, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		hc := &http.Client{Transport: answerFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})}
		c, err := New("http://hotpool.invalid", "tok", WithHTTPClient(hc), WithMaxAttempts(1), WithBackoff(time.Millisecond, 2*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var callErr error
		switch which % 6 {
		case 0:
			var sb *Sandbox
			sb, callErr = c.Acquire(ctx, "python", AcquireOptions{})
			if callErr == nil && (sb == nil || status != http.StatusOK) {
				t.Fatalf("acquire succeeded on HTTP %d: %+v", status, sb)
			}
		case 1:
			_, callErr = c.Release(ctx, "sb", "tok")
		case 2:
			_, callErr = c.Renew(ctx, "sb", "tok", time.Minute)
		case 3:
			_, callErr = c.Metrics(ctx)
		case 4:
			_, callErr = c.Reconcile(ctx)
		case 5:
			_, callErr = c.WarmUp(ctx, 20*time.Millisecond)
		}
		if status >= 400 && !errors.Is(callErr, ErrWarmUpTimeout) { // warm-up's own typed error
			var ae *APIError
			if !errors.As(callErr, &ae) || ae.Status != status {
				t.Fatalf("HTTP %d answered %v, want an *APIError with that status", status, callErr)
			}
		}
	})
}

// FuzzParseRetryAfter: any header reads as 0..1h, never negative.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"5", "0", "-3", "", "abc", "99999999999", " 12 ", "Wed, 21 Oct 2015 07:28:00 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v); d < 0 || d > time.Hour {
			t.Fatalf("Retry-After %q read as %v", v, d)
		}
	})
}
