package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of a Client.
const (
	DefaultMaxAttempts = 4                      // tries of one retryable request
	DefaultMinBackoff  = 100 * time.Millisecond // first wait when the server gives no Retry-After
	DefaultMaxBackoff  = 5 * time.Second        // longest wait between two polls or tries
	// DefaultRequestTimeout bounds one try of an API request, and an agent
	// call that sets no timeout of its own. An Exec with a Timeout is bounded
	// by that timeout instead, so a long command is not cut short.
	DefaultRequestTimeout = 60 * time.Second
	maxResponseBytes      = 8 << 20
)

// Client talks to one hotpool deployment. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	hc        *http.Client
	userAgent string
	// reqTimeout bounds one API try and an agent call without its own
	// timeout (through the context: the HTTP client has no overall timeout).
	reqTimeout  time.Duration
	maxAttempts int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	// sleep waits d or until ctx ends, and now reads the clock; the only two
	// places time enters the client, so tests can replace them.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for the API and the sandbox agents.
// Its own Timeout, if set, caps every call, an Exec's too.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithMaxAttempts sets how many times a retryable request is tried (>= 1).
func WithMaxAttempts(n int) Option {
	return func(c *Client) {
		if n >= 1 {
			c.maxAttempts = n
		}
	}
}

// WithBackoff sets the first and the longest wait between tries and claim
// polls. The server's Retry-After wins when it is longer than min, and max
// caps it.
func WithBackoff(min, max time.Duration) Option {
	return func(c *Client) {
		if min > 0 {
			c.minBackoff = min
		}
		if max >= c.minBackoff {
			c.maxBackoff = max
		}
	}
}

// New returns a client of the deployment at baseURL: the local server
// ("http://127.0.0.1:8080") or the DigitalOcean functions' package URL
// (".../api/v1/web/<namespace>/hotpool"). token is HOTPOOL_API_TOKEN.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(baseURL), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hotpool: base URL %q must be an http(s) URL such as http://127.0.0.1:8080", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("hotpool: base URL %q must not carry a query or fragment", baseURL)
	}
	// A function's own URL (…/hotpool/acquire) is not the base: every call
	// would go to …/acquire/metrics and the like.
	for _, fn := range []string{"acquire", "release", "metrics", "reconcile"} {
		if base, ok := strings.CutSuffix(u.Path, "/"+fn); ok {
			return nil, fmt.Errorf("hotpool: base URL %q is the %s function's URL; use the deployment's base URL, %s", baseURL, fn, u.Scheme+"://"+u.Host+base)
		}
	}
	c := &Client{
		base:        u,
		token:       token,
		hc:          &http.Client{},
		userAgent:   "hotpool-go-client/1",
		reqTimeout:  DefaultRequestTimeout,
		maxAttempts: DefaultMaxAttempts,
		minBackoff:  DefaultMinBackoff,
		maxBackoff:  DefaultMaxBackoff,
		sleep:       sleepCtx,
		now:         time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the deployment's URL the client was built with.
func (c *Client) BaseURL() string { return c.base.String() }

// call is one API request and how it may be retried.
type call struct {
	method string
	path   string // "/acquire", "/metrics?format=prometheus"
	body   any    // JSON-encoded when not nil
	accept string
	// idempotent: repeating it cannot do anything twice, so transport errors
	// and gateway errors are retried too (not only 503 unavailable).
	idempotent bool
}

// response is a 2xx answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a call, retrying what is safe to retry, and returns a 2xx answer or
// an error (an *APIError for an error answer).
func (c *Client) do(ctx context.Context, cl call) (*response, error) {
	var payload []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("hotpool: encode request: %w", err)
		}
		payload = b
	}
	reqID := newRequestID()
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, cl, payload, reqID)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if ctx.Err() != nil || attempt >= c.maxAttempts {
			return nil, lastErr
		}
		wait, retry := c.retryable(cl, err, attempt)
		if !retry || !c.fitsDeadline(ctx, wait) {
			return nil, lastErr
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, lastErr
		}
	}
}

// retryable says whether err may be retried and after how long.
func (c *Client) retryable(cl call, err error, attempt int) (time.Duration, bool) {
	var ae *APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusServiceUnavailable && ae.Code == "unavailable":
			// The server did not act; any request may be sent again.
			return c.backoff(attempt, ae.RetryAfter), true
		case cl.idempotent && (ae.Status == http.StatusBadGateway || ae.Status == http.StatusGatewayTimeout) && ae.Code == "unavailable":
			// A gateway in front of the server failed (not a hotpool code).
			return c.backoff(attempt, ae.RetryAfter), true
		}
		return 0, false
	}
	if cl.idempotent && errors.Is(err, ErrUnavailable) {
		return c.backoff(attempt, 0), true
	}
	return 0, false
}

// backoff is the wait before try attempt+1: exponential from minBackoff with
// full jitter in its upper half, at least the server's Retry-After, at most
// maxBackoff.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := c.minBackoff << min(attempt-1, 16)
	if d > c.maxBackoff || d <= 0 {
		d = c.maxBackoff
	}
	d = d/2 + jitter(d/2)
	if retryAfter > d {
		d = retryAfter
	}
	if d > c.maxBackoff {
		d = c.maxBackoff
	}
	return d
}

// once sends one request.
func (c *Client) once(ctx context.Context, cl call, payload []byte, reqID string) (*response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	tryCtx, cancel := context.WithTimeout(ctx, c.reqTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(tryCtx, cl.method, c.base.String()+cl.path, body)
	if err != nil {
		return nil, fmt.Errorf("hotpool: build request: %w", err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	accept := cl.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("X-Request-Id", reqID)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The URL holds no secret; the error names the endpoint only.
		return nil, fmt.Errorf("%w: %s %s: %v", ErrUnavailable, cl.method, c.base.String()+pathOnly(cl.path), unwrapURLError(err))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: reading the answer of %s %s: %v", ErrUnavailable, cl.method, pathOnly(cl.path), err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		ae := decodeAPIError(res.StatusCode, res.Header, data)
		ae.URL = cl.method + " " + c.base.String() + pathOnly(cl.path)
		return nil, ae
	}
	return &response{status: res.StatusCode, header: res.Header, body: data}, nil
}

// decodeJSON reads a 2xx body into v, naming the endpoint on failure.
func decodeJSON(r *response, what string, v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("hotpool: %s: unexpected answer (%v): %s", what, err, snippet(r.body))
	}
	return nil
}

func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// unwrapURLError drops *url.Error's "Post \"…\":" prefix; the caller names
// the request itself.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// fitsDeadline says whether waiting d still leaves ctx time to try again.
func (c *Client) fitsDeadline(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || dl.Sub(c.now()) > d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	var n uint64
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	return time.Duration(n % uint64(d))
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRequestID() string { return "hpc-" + randomHex(8) }
