package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hotpool/hotpool/api"
)

// The wire types of POST /reconcile (package api), under the client's names.
type (
	// PassReport summarises one reconcile pass.
	PassReport = api.PassReport
	// PoolPassReport is what one pass did to one pool.
	PoolPassReport = api.PoolPassReport
	// ShutdownResult is the answer of the shutdown and start actions.
	ShutdownResult = api.ShutdownResponse
	// PoolProgress is one pool's warm-up progress.
	PoolProgress = api.WarmUpPool
	// WarmUpStatus is the answer of the warm_up action.
	WarmUpStatus = api.WarmUpStatus
)

// Reconcile runs one reconcile pass now (the cron trigger runs the same code).
// Passes are idempotent, so only a 503 unavailable is retried.
func (c *Client) Reconcile(ctx context.Context) (*PassReport, error) {
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/reconcile", body: api.ReconcileRequest{Action: "pass"}})
	if err != nil {
		return nil, err
	}
	var r PassReport
	if err := decodeJSON(resp, "reconcile", &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Shutdown shuts pool down ("" : the whole manager): acquire then answers
// ErrPoolShutdown and warm sandboxes are destroyed; leased ones stay until
// released or expired. Repeating it changes nothing, so it is retried.
func (c *Client) Shutdown(ctx context.Context, pool string) (*ShutdownResult, error) {
	return c.admin(ctx, "shutdown", pool)
}

// Start undoes Shutdown for pool ("" : the whole manager).
func (c *Client) Start(ctx context.Context, pool string) (*ShutdownResult, error) {
	return c.admin(ctx, "start", pool)
}

func (c *Client) admin(ctx context.Context, action, pool string) (*ShutdownResult, error) {
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/reconcile", body: api.ReconcileRequest{Action: action, Pool: pool}, idempotent: true})
	if err != nil {
		return nil, err
	}
	var r ShutdownResult
	if err := decodeJSON(resp, action, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// maxServerWait is the longest warm_up wait one request may ask the server
// for: a web function must answer well within its own time limit.
const maxServerWait = 25 * time.Second

// WarmUpOptions tune a WarmUp. The zero value polls as seldom as a server
// allows and reports nothing.
type WarmUpOptions struct {
	// Interval is the longest a poll waits on the server (at most 25 s; 0:
	// that most); each poll reports progress.
	Interval time.Duration
	// Progress, when set, is called after every poll with each pool's
	// ready/target.
	Progress func(map[string]PoolProgress)
}

// WarmUp waits until every pool has ready >= target_ready, or timeout passes
// (then the error is a *WarmUpError matching ErrWarmUpTimeout and naming the
// pools that lag). It long-polls the reconcile warm_up action; a server
// without it is polled through GET /metrics instead. opts: at most one.
func (c *Client) WarmUp(ctx context.Context, timeout time.Duration, opts ...WarmUpOptions) (*WarmUpStatus, error) {
	if len(opts) > 1 {
		return nil, fmt.Errorf("%w: WarmUp takes at most one WarmUpOptions", ErrInvalidRequest)
	}
	var o WarmUpOptions
	if len(opts) == 1 {
		o = opts[0]
	}
	interval, progress := o.Interval, o.Progress
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: warm-up timeout must be > 0", ErrInvalidRequest)
	}
	if interval <= 0 || interval > maxServerWait {
		interval = maxServerWait
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	useMetrics := false
	var last map[string]PoolProgress
	for {
		wait := interval
		if dl, ok := wctx.Deadline(); ok {
			wait = min(wait, dl.Sub(c.now()))
		}
		if last != nil && wait < c.minBackoff {
			// Too little time left for another useful poll: stop, do not spin.
			return nil, &WarmUpError{Timeout: timeout, Pools: last}
		}
		var (
			st    *WarmUpStatus
			err   error
			start = c.now()
		)
		if useMetrics {
			st, err = c.warmUpFromMetrics(wctx)
		} else {
			st, err = c.warmUpOnce(wctx, wait)
			var ae *APIError
			if errors.As(err, &ae) && (ae.Code == "invalid_request" || ae.Code == "not_found") {
				useMetrics = true
				continue
			}
		}
		if st != nil {
			last = st.Pools
			if progress != nil {
				progress(st.Pools)
			}
			if st.Done {
				return st, nil
			}
		}
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case wctx.Err() != nil:
			return nil, &WarmUpError{Timeout: timeout, Pools: last}
		case err != nil && !errors.Is(err, ErrWarmUpTimeout):
			return nil, err
		}
		// A server that answered early (timeout_seconds 0 only reports, and
		// metrics never wait) is paced here, so the loop never spins.
		pace := wait
		if useMetrics {
			pace = min(time.Second, interval)
		}
		if rest := pace - c.now().Sub(start); rest > pace/2 {
			_ = c.sleep(wctx, rest)
		}
	}
}

// warmUpOnce asks the server to wait up to wait for every pool to reach its
// target. A 504 warm_up_timeout still reports the progress from its details.
func (c *Client) warmUpOnce(ctx context.Context, wait time.Duration) (*WarmUpStatus, error) {
	secs := int(wait / time.Second)
	body := api.ReconcileRequest{Action: "warm_up", TimeoutSeconds: max(secs, 0)}
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/reconcile", body: body, idempotent: true})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == "warm_up_timeout" {
			var d WarmUpStatus
			if len(ae.Details) > 0 && json.Unmarshal(ae.Details, &d) == nil && d.Pools != nil {
				return &d, err
			}
		}
		return nil, err
	}
	var st WarmUpStatus
	if err := decodeJSON(resp, "warm-up", &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// warmUpFromMetrics derives warm-up progress from GET /metrics.
func (c *Client) warmUpFromMetrics(ctx context.Context) (*WarmUpStatus, error) {
	m, err := c.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	st := &WarmUpStatus{Done: true, Pools: map[string]PoolProgress{}}
	for name, p := range m.Pools {
		st.Pools[name] = PoolProgress{Ready: p.Ready, Target: p.TargetReady}
		if p.Ready < p.TargetReady {
			st.Done = false
		}
	}
	return st, nil
}
