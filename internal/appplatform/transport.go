package appplatform

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// meter is the RoundTripper under godo's retries: it sees every attempt, so
// each one takes from the shared budget, is counted, and reports the
// RateLimit-* headers and a 429's Retry-After back to the budget.
type meter struct {
	base   http.RoundTripper
	budget *Budget // nil: no shared budget
	clock  pool.Clock
	log    *slog.Logger
	calls  atomic.Int64
}

func (m *meter) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if m.budget != nil {
		if err := m.budget.Take(ctx, 1); err != nil {
			return nil, err
		}
	}
	m.calls.Add(1)
	resp, err := m.base.RoundTrip(req)
	if err != nil && req.Method == http.MethodPost {
		// The create may have reached the API: never send it twice.
		return resp, &unsafeRetry{err}
	}
	if err != nil || m.budget == nil {
		return resp, err
	}
	m.observe(ctx, resp)
	return resp, nil
}

// observe records what the API said about the budget. A failure to record is
// logged, never fatal: the answer itself is still good.
func (m *meter) observe(ctx context.Context, resp *http.Response) {
	now := m.clock.Now()
	if rem, err := strconv.Atoi(resp.Header.Get("RateLimit-Remaining")); err == nil {
		reset, _ := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64)
		if err := m.budget.Observe(ctx, rem, time.Unix(reset, 0)); err != nil {
			m.log.WarnContext(ctx, "api budget: recording RateLimit headers failed", "err", err)
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		until := retryAfter(resp.Header.Get("Retry-After"), now)
		m.log.WarnContext(ctx, "api rate limited: pausing every caller of this deployment", "until", until)
		if err := m.budget.Pause(ctx, until); err != nil {
			m.log.WarnContext(ctx, "api budget: recording Retry-After failed", "err", err)
		}
	}
}

// defaultRetryAfter is the pause after a 429 that names none.
const defaultRetryAfter = 5 * time.Second

// maxRetryAfter caps the pause a Retry-After can ask for: the API's limits
// are per minute and per hour, so a longer one is a bad header, and a huge
// number of seconds would overflow time.Duration into a time in the past.
const maxRetryAfter = time.Hour

// retryAfter parses Retry-After: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Time {
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return now.Add(time.Duration(min(secs, int(maxRetryAfter/time.Second))) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		if limit := now.Add(maxRetryAfter); t.After(limit) {
			return limit
		}
		return t
	}
	return now.Add(defaultRetryAfter)
}

// checkRetry decides whether godo's retry loop tries again. It never retries
// past ctx, a budget refusal, or a create that may have reached the API (a
// POST is retried only on 429, which DigitalOcean answers before acting).
func checkRetry(minWait time.Duration) func(ctx context.Context, resp *http.Response, err error) (bool, error) {
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < minWait {
			return false, nil
		}
		if err != nil {
			var unsafe *unsafeRetry
			if errors.Is(err, ErrBudget) || errors.As(err, &unsafe) {
				return false, err
			}
			return true, nil
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			return true, nil
		case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
			return resp.Request == nil || resp.Request.Method != http.MethodPost, nil
		}
		return false, nil
	}
}

// unsafeRetry marks a transport error of a request that must not be resent.
type unsafeRetry struct{ err error }

func (e *unsafeRetry) Error() string { return e.err.Error() }
func (e *unsafeRetry) Unwrap() error { return e.err }

// backoff is exponential with full jitter between lo and hi. With a shared
// budget a 429's Retry-After is not slept here: the budget holds every caller
// until then, and a pause past the deadline fails fast instead of sleeping.
// Without one (budgeted false) the Retry-After is honoured, up to hi.
func backoff(budgeted bool, jitter func(time.Duration) time.Duration) func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	return func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
		d := lo << min(attempt, 16)
		if d > hi || d <= 0 {
			d = hi
		}
		wait := lo + jitter(d-lo)
		if !budgeted && resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
				wait = max(wait, min(time.Duration(secs)*time.Second, hi))
			}
		}
		return wait
	}
}

// CloseIdleConnections passes through, so retryablehttp's clean-up after a
// failed attempt reaches the real transport.
func (m *meter) CloseIdleConnections() {
	if c, ok := m.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
