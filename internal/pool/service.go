package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Limits of the request fields the service checks itself (docs/api.md).
const (
	MaxWaitSeconds       = 25  // a web function must answer well before its own timeout
	MaxIdempotencyKeyLen = 128 // printable ASCII
	// ClaimRetryAfter is what a 202 tells the caller to wait before polling a cold claim.
	ClaimRetryAfter = 5 * time.Second
)

// ServiceOptions wires a Service. Store, Config, Clock and Secrets are required.
type ServiceOptions struct {
	Store   LeaseStore
	Config  *Config
	Clock   Clock
	Secrets Secrets
	// Reconciler runs a pass for Reconcile, and after Shutdown/Start. Nil until
	// the engine is wired: Reconcile then answers ErrUnavailable.
	Reconciler Reconciler
	// Kick, when set, is called (it must not block) after an acquire that may
	// have taken a pool below its target and after a release, so a pass
	// starts at once instead of at the next tick or cron minute (the local
	// server's loop; a function's asynchronous call of reconcile).
	Kick func()
	// Handover, when set, is called (it must not block) when a run ends at
	// its deadline with work still in flight, so the next run starts at once
	// rather than at the next cron minute; unlike Kick it must not be
	// coalesced away, since the runs it would coalesce with have ended.
	Handover func()
	// AfterPass, when set, runs after every pass the service ran (webhook
	// delivery of the events the pass appended).
	AfterPass func(ctx context.Context)
	// NewToken mints lease tokens and claim ids; nil means pool.NewToken.
	NewToken func() string
	// NewSandboxID names a cold claim's sandbox; nil means pool.NewSandboxID.
	NewSandboxID func() string
	// Sleep waits between polls (wait_seconds, warm-up); nil waits on a real
	// timer. Tests on a ManualClock pass one that advances the clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger reports what the service does off a caller's path (a latency
	// sample the Store refused); nil means slog.Default().
	Logger *slog.Logger
	// MaxWaiting caps the acquires of this process that wait (wait_seconds)
	// at once, each polling Redis; past it an acquire answers at once.
	// 0 means DefaultMaxWaiting.
	MaxWaiting int
}

// DefaultMaxWaiting: 500 waiting acquires drove Redis to about 9,800
// commands a second; 64 keep it near a thousand.
const DefaultMaxWaiting = 64

// Service is the transport-neutral API: what acquire, release, metrics and
// reconcile do, whatever carried the request. It holds no pool state of its
// own, only the latency samples still being recorded (Flush waits for them).
type Service struct {
	o ServiceOptions
	// recorder is the Store's LatencyRecorder; nil when it keeps no latency.
	recorder  LatencyRecorder
	recording inflight
	waiting   chan struct{} // a slot per waiting acquire (MaxWaiting)
}

func (s *Service) startWaiting() bool {
	select {
	case s.waiting <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Service) doneWaiting() { <-s.waiting }

// NewService checks the options and fills the optional ones.
func NewService(o ServiceOptions) (*Service, error) {
	if o.Store == nil || o.Config == nil || o.Clock == nil {
		return nil, errors.New("pool: NewService needs a Store, a Config and a Clock")
	}
	if len(o.Secrets.key) == 0 {
		// A zero Secrets derives agent and idempotent lease tokens under no
		// key at all, so anyone could compute them.
		return nil, errors.New("pool: NewService needs Secrets (NewSecrets)")
	}
	if o.NewToken == nil {
		o.NewToken = NewToken
	}
	if o.NewSandboxID == nil {
		o.NewSandboxID = NewSandboxID
	}
	if o.Sleep == nil {
		o.Sleep = Sleep
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxWaiting <= 0 {
		o.MaxWaiting = DefaultMaxWaiting
	}
	s := &Service{o: o, waiting: make(chan struct{}, o.MaxWaiting)}
	s.recorder, _ = o.Store.(LatencyRecorder)
	return s, nil
}

// Config is the configuration the service runs with.
func (s *Service) Config() *Config { return s.o.Config }

// leaseTTL checks lease_seconds against max_lease; 0 means default_lease.
func (s *Service) leaseTTL(seconds int) (time.Duration, error) {
	if seconds == 0 {
		return s.o.Config.DefaultLease.D(), nil
	}
	maxS := int(s.o.Config.MaxLease.D() / time.Second)
	if seconds < 1 || seconds > maxS {
		return 0, InvalidField("lease_seconds", "must be between 1 and %d (max_lease)", maxS)
	}
	return time.Duration(seconds) * time.Second, nil
}

// ValidIdempotencyKey reports whether k is 1-128 printable ASCII characters.
func ValidIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > MaxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// Renew extends a lease by leaseSeconds (0: default_lease) from now.
func (s *Service) Renew(ctx context.Context, sandboxID, leaseToken string, leaseSeconds int) (time.Time, error) {
	ttl, err := s.leaseTTL(leaseSeconds)
	if err != nil {
		return time.Time{}, err
	}
	if sandboxID == "" {
		return time.Time{}, InvalidField("sandbox_id", "is required")
	}
	if leaseToken == "" {
		return time.Time{}, InvalidField("lease_token", "is required")
	}
	exp, err := s.o.Store.Renew(ctx, sandboxID, HashToken(leaseToken), ttl, s.o.Clock.Now())
	return exp, err
}

// CancelClaim gives up a cold claim for its claimant, who no longer waits:
// the claim ends (its polls answer ErrClaimNotFound) and its sandbox, which
// nobody was handed, joins the pool's ready list (now, or when it is ready)
// instead of being held for nobody. It reports whether one did.
// ErrClaimNotFound for an unknown claim; ErrStateConflict once the claim was
// served (release the sandbox instead).
func (s *Service) CancelClaim(ctx context.Context, claimID string) (bool, error) {
	if claimID == "" {
		return false, InvalidField("claim_id", "is required")
	}
	toPool, err := s.o.Store.CancelClaim(ctx, HashToken(claimID), s.o.Clock.Now())
	if errors.Is(err, ErrSandboxNotFound) {
		return false, ErrClaimNotFound
	}
	if err == nil && toPool && s.o.Kick != nil {
		s.o.Kick() // the pool gained a sandbox: a pass may trim or stop a create
	}
	return toPool, err
}

// Release hands a sandbox back for destruction; it is never reused. The
// answer is its state: deleting, or "deleted" once reconcile destroyed it.
func (s *Service) Release(ctx context.Context, sandboxID, leaseToken string) (State, error) {
	if sandboxID == "" {
		return "", InvalidField("sandbox_id", "is required")
	}
	if leaseToken == "" {
		return "", InvalidField("lease_token", "is required")
	}
	st, err := s.o.Store.Release(ctx, sandboxID, HashToken(leaseToken), s.o.Clock.Now())
	if err == nil && s.o.Kick != nil {
		// The released sandbox waits for its delete, and its pool may be
		// below target: a pass now does both.
		s.o.Kick()
	}
	return st, err
}

// Metrics reads every configured pool, and any pool with state, in one round trip.
func (s *Service) Metrics(ctx context.Context) (Snapshot, error) {
	snap, err := s.o.Store.Metrics(ctx, s.o.Config.PoolNames(), s.o.Clock.Now())
	return snap, err
}

// ShutdownResult is what Shutdown and Start did.
type ShutdownResult struct {
	Pool     string // "" for the whole manager
	Shutdown bool
	// PassErr is the follow-up pass's failure, if one ran and failed: the
	// switch itself took effect, and the next pass (cron) does the work.
	PassErr error
}

// Shutdown shuts a pool (or, with name "", the whole manager) down: acquire
// answers ErrPoolShutdown and a pass destroys its ready and creating sandboxes.
func (s *Service) Shutdown(ctx context.Context, name string) (ShutdownResult, error) {
	return s.setShutdown(ctx, name, true)
}

// Start undoes Shutdown; a pass then refills the pool.
func (s *Service) Start(ctx context.Context, name string) (ShutdownResult, error) {
	return s.setShutdown(ctx, name, false)
}

func (s *Service) setShutdown(ctx context.Context, name string, shutdown bool) (ShutdownResult, error) {
	if name != "" {
		if _, err := s.o.Config.Pool(name); err != nil {
			return ShutdownResult{}, err
		}
	}
	p := ShutdownParams{Pool: name, Shutdown: shutdown, Now: s.o.Clock.Now()}
	if name != "" && s.o.Config.Dynamic(name) {
		p.Dynamic, p.MaxDynamicPools = true, s.o.Config.MaxDynamicPools
	}
	if err := s.o.Store.SetShutdown(ctx, p); err != nil {
		return ShutdownResult{}, err
	}
	res := ShutdownResult{Pool: name, Shutdown: shutdown}
	if s.o.Reconciler != nil {
		_, res.PassErr = s.Reconcile(ctx)
	}
	return res, nil
}

// Runner is a Reconciler that can keep passing while work is in flight
// (reconcile.Reconciler.RunFor).
type Runner interface {
	RunFor(ctx context.Context, budget, every time.Duration) ([]PassReport, error)
}

// Run timing: a run passes every RunEvery while work is in flight, until
// RunMargin before ctx's deadline (RunBudget when ctx has none), so the
// function answers before its platform kills it; with no room for a second
// pass it runs one.
const (
	RunEvery  = 5 * time.Second
	RunMargin = 5 * time.Second
	RunBudget = 55 * time.Second
)

// RunBudgetFor is how long a run started now may pass under ctx.
func RunBudgetFor(ctx context.Context, now time.Time) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return RunBudget
	}
	return max(dl.Sub(now)-RunMargin, 0)
}

// Run is what a scheduled or kicked reconcile does: passes every RunEvery
// while sandboxes are deploying or a pool is below target, within the
// context's deadline (RunBudgetFor). It returns the last pass's report. A
// Reconciler that is not a Runner runs one pass.
func (s *Service) Run(ctx context.Context) (PassReport, error) {
	if s.o.Reconciler == nil {
		return PassReport{}, fmt.Errorf("%w: no reconcile engine is wired", ErrUnavailable)
	}
	runner, ok := s.o.Reconciler.(Runner)
	if !ok {
		return s.Reconcile(ctx)
	}
	reps, err := runner.RunFor(ctx, RunBudgetFor(ctx, s.o.Clock.Now()), RunEvery)
	if s.o.AfterPass != nil {
		s.o.AfterPass(ctx)
	}
	var last PassReport
	if len(reps) > 0 {
		last = reps[len(reps)-1]
	}
	if err == nil && last.Leader && last.Busy() && s.o.Handover != nil {
		// Out of time with deployments in flight: a kick that came during
		// this run found the lock taken and ended, so nothing else would
		// finish them before the next cron minute.
		s.o.Handover()
	}
	return last, err
}

// Reconcile runs one pass; every entry point (cron, POST /reconcile, the
// local loop) comes through here, so webhook delivery follows every pass.
func (s *Service) Reconcile(ctx context.Context) (PassReport, error) {
	if s.o.Reconciler == nil {
		return PassReport{}, fmt.Errorf("%w: no reconcile engine is wired", ErrUnavailable)
	}
	rep, err := s.o.Reconciler.Reconcile(ctx)
	if s.o.AfterPass != nil {
		s.o.AfterPass(ctx)
	}
	return rep, err
}
