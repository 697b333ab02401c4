package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/hotpool/hotpool/api"
)

// AcquireOptions tune one acquire. The zero value uses the server's defaults.
type AcquireOptions struct {
	// Lease is how long the sandbox is yours before reconcile reaps it
	// (rounded up to whole seconds); 0 means the server's default_lease.
	Lease time.Duration
	// Wait lets the server wait up to this long (at most 25 s) for a ready
	// sandbox before falling back to the pool's on_empty policy.
	Wait time.Duration
	// IdempotencyKey makes a repeated acquire answer the same sandbox and
	// lease. When empty, one is generated per Acquire call, so the client's own
	// retries are always safe.
	IdempotencyKey string
	// OnColdStart, when set, is called once when the server answers with a
	// claim on a cold sandbox (the pool was empty): the wait that follows
	// takes as long as a deployment, so a tool can say so.
	OnColdStart func()
}

// Sandbox is a leased, single-use sandbox. Release it when done (or use
// WithSandbox, which always does).
type Sandbox struct {
	ID           string
	Image        string
	AppID        string
	URL          string // the sandbox app's public URL; its agent answers under /api/
	Region       string
	InstanceSize string
	CreatedAt    time.Time
	ReadyAt      time.Time
	// Source is "pool" for a warm hit and "cold" for a sandbox created for
	// this caller.
	Source string
	// LeaseToken proves you hold the lease: release and renew need it.
	LeaseToken     string
	LeaseExpiresAt time.Time
	// AgentToken is the bearer token of the sandbox's agent (Exec, WriteFile,
	// ReadFile). Handed to the lease holder alone and never stored by hotpool.
	AgentToken string
	// Replayed is true when the answer was an idempotent replay of an earlier
	// acquire with the same key.
	Replayed bool

	c *Client
}

// String names the sandbox without its secrets.
func (s *Sandbox) String() string {
	return fmt.Sprintf("sandbox %s (%s, %s)", s.ID, s.Image, s.Source)
}

// LogValue keeps the lease and agent tokens out of slog output.
func (s *Sandbox) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("sandbox_id", s.ID),
		slog.String("image", s.Image),
		slog.String("app_id", s.AppID),
		slog.String("source", s.Source),
	)
}

// Release destroys the sandbox (see Client.Release).
func (s *Sandbox) Release(ctx context.Context) (*ReleaseResult, error) {
	return s.c.Release(ctx, s.ID, s.LeaseToken)
}

// Renew extends the lease by d from now (0: the server's default_lease) and
// records the new expiry on s.
func (s *Sandbox) Renew(ctx context.Context, d time.Duration) error {
	exp, err := s.c.Renew(ctx, s.ID, s.LeaseToken, d)
	if err != nil {
		return err
	}
	s.LeaseExpiresAt = exp
	return nil
}

// The wire forms of POST /acquire.
// MaxWait is the longest server-side wait an acquire may ask for.
const MaxWait = 25 * time.Second

// Acquire leases a ready sandbox of image. When the pool is empty and its
// on_empty is "create", the server answers with a claim on a cold sandbox;
// Acquire polls it (honouring retry_after_seconds, with backoff) until the
// sandbox is ready, the claim fails (ErrSandboxCreation) or ctx ends.
// With on_empty "fail" an empty pool is ErrPoolExhausted at once.
func (c *Client) Acquire(ctx context.Context, image string, opts AcquireOptions) (*Sandbox, error) {
	if image == "" {
		return nil, fmt.Errorf("%w: image is required", ErrInvalidRequest)
	}
	if opts.Lease < 0 || opts.Wait < 0 || opts.Wait > MaxWait {
		return nil, fmt.Errorf("%w: lease must be >= 0 and wait 0-%s", ErrInvalidRequest, MaxWait)
	}
	if !validIdempotencyKey(opts.IdempotencyKey) {
		return nil, fmt.Errorf("%w: idempotency key must be 1-%d printable ASCII characters", ErrInvalidRequest, maxIdempotencyKeyLen)
	}
	key := opts.IdempotencyKey
	if key == "" {
		key = "hpc-" + randomHex(16)
	}
	req := api.AcquireRequest{
		Image:          image,
		LeaseSeconds:   ceilSeconds(opts.Lease),
		WaitSeconds:    ceilSeconds(opts.Wait),
		IdempotencyKey: key,
	}
	started := c.now()
	for poll := 0; ; poll++ {
		resp, err := c.do(ctx, call{method: http.MethodPost, path: "/acquire", body: req, idempotent: true})
		if err != nil {
			if req.ClaimID != "" && ctx.Err() != nil {
				return nil, c.giveUp(ctx, image, req.ClaimID, started, ctx.Err())
			}
			return nil, err
		}
		var ar api.AcquireResponse
		if err := decodeJSON(resp, "acquire", &ar); err != nil {
			return nil, err
		}
		switch {
		case resp.status == http.StatusOK && ar.Sandbox != nil && ar.Lease != nil:
			return c.sandboxFrom(ar, resp.header.Get("Idempotent-Replay") == "true"), nil
		case resp.status == http.StatusAccepted && ar.Claim != nil && ar.Claim.ID != "":
			// From now on poll the claim: the claim id alone, as the contract asks.
			if req.ClaimID == "" && opts.OnColdStart != nil {
				opts.OnColdStart()
			}
			req = api.AcquireRequest{ClaimID: ar.Claim.ID}
			wait := c.backoff(poll+1, time.Duration(ar.Claim.RetryAfterSeconds)*time.Second)
			if err := c.sleep(ctx, wait); err != nil {
				return nil, c.giveUp(ctx, image, req.ClaimID, started, err)
			}
		default:
			return nil, fmt.Errorf("hotpool: acquire: unexpected answer (HTTP %d): %s", resp.status, snippet(resp.body))
		}
	}
}

// giveUp cancels a claim whose caller stopped waiting (POST /acquire/cancel),
// so its sandbox joins the pool instead of being held for nobody, and says
// so in the error. The cancel gets its own few seconds: ctx has ended.
func (c *Client) giveUp(ctx context.Context, image, claimID string, started time.Time, cause error) error {
	e := &ColdStartError{Image: image, ClaimID: claimID, Waited: c.now().Sub(started), err: cause}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := c.do(cctx, call{method: http.MethodPost, path: "/acquire/cancel", body: api.CancelRequest{ClaimID: claimID}, idempotent: true})
	e.Cancelled = err == nil
	return e
}

func (c *Client) sandboxFrom(ar api.AcquireResponse, replayed bool) *Sandbox {
	s := ar.Sandbox
	return &Sandbox{
		ID: s.ID, Image: s.Image, AppID: s.AppID, URL: s.URL,
		Region: s.Region, InstanceSize: s.InstanceSize,
		CreatedAt: s.CreatedAt.Time, ReadyAt: s.ReadyAt.Time,
		Source:     ar.Source,
		LeaseToken: ar.Lease.Token, LeaseExpiresAt: ar.Lease.ExpiresAt.Time,
		AgentToken: s.AgentToken,
		Replayed:   replayed,
		c:          c,
	}
}

// SandboxRef names a sandbox an earlier acquire handed out, as far as its
// holder kept it: its id, its URL, its agent token and its lease token
// (either token may be empty when what follows does not need it).
type SandboxRef struct {
	ID         string
	URL        string
	AgentToken string
	LeaseToken string
}

// Attach returns a Sandbox bound to c from what an earlier acquire handed
// out (for instance in another process: `hotpool acquire --env`), so its
// agent can be used and its lease released or renewed.
func (c *Client) Attach(ref SandboxRef) *Sandbox {
	return &Sandbox{ID: ref.ID, URL: ref.URL, AgentToken: ref.AgentToken, LeaseToken: ref.LeaseToken, c: c}
}

// ReleaseTimeout bounds the release WithSandbox makes after fn.
const ReleaseTimeout = 15 * time.Second

// WithSandbox acquires a sandbox of image (with opts, at most one; none:
// the server's defaults), runs fn with it and always releases it
// afterwards: when fn returns an error, when it panics, and when ctx is
// cancelled (the release then uses a fresh short context). This is the
// seed's context-manager pattern; sandboxes are single-use.
func (c *Client) WithSandbox(ctx context.Context, image string, fn func(*Sandbox) error, opts ...AcquireOptions) (err error) {
	if len(opts) > 1 {
		return fmt.Errorf("%w: WithSandbox takes at most one AcquireOptions", ErrInvalidRequest)
	}
	var o AcquireOptions
	if len(opts) == 1 {
		o = opts[0]
	}
	sb, err := c.Acquire(ctx, image, o)
	if err != nil {
		return err
	}
	defer func() {
		// WithoutCancel keeps ctx's values but not its cancellation, so a
		// cancelled caller still gets its sandbox destroyed.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ReleaseTimeout)
		defer cancel()
		if _, rerr := sb.Release(rctx); rerr != nil {
			err = errors.Join(err, fmt.Errorf("release %s: %w", sb.ID, rerr))
		}
	}()
	return fn(sb)
}

// ceilSeconds rounds d up to whole seconds, the unit of the wire.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	s := math.Ceil(d.Seconds())
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}

const maxIdempotencyKeyLen = 128

// validIdempotencyKey mirrors the server's rule, so a bad key fails here with
// a clear message instead of as a 400 (empty means "generate one").
func validIdempotencyKey(k string) bool {
	if len(k) > maxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// ColdStartError: the caller's context ended while its sandbox was still
// being created. errors.Is matches the context's error (DeadlineExceeded or
// Canceled); the message says what became of the sandbox.
type ColdStartError struct {
	Image   string
	ClaimID string
	Waited  time.Duration
	// Cancelled: the claim was cancelled (POST /acquire/cancel), so its
	// sandbox joins the pool when ready; false when the cancel failed too.
	Cancelled bool
	err       error
}

func (e *ColdStartError) Error() string {
	fate := "the claim is cancelled and its sandbox joins the pool when ready"
	if !e.Cancelled {
		fate = "cancelling the claim failed too, so its sandbox stays leased to it until its lease ends and is then destroyed"
	}
	return fmt.Sprintf("hotpool: gave up after %s waiting for a new sandbox of %q, which is still deploying (claim %s): "+
		"%s; a deployment takes 30-90 s, so wait longer (hotpool acquire --timeout)",
		e.Waited.Round(time.Second), e.Image, e.ClaimID, fate)
}

func (e *ColdStartError) Unwrap() error { return e.err }
