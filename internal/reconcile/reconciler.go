package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/logging"
	"github.com/hotpool/hotpool/internal/pool"
)

// DefaultLockTTL bounds one pass: the pass's context ends with its lock, so
// a pass never writes after another could have taken over (and if it tried,
// the fence would refuse it).
const DefaultLockTTL = 60 * time.Second

// Reconciler runs reconcile passes: Plan between the Store and the Provider.
// It implements pool.Reconciler. Safe for concurrent use; concurrent passes
// (here or in other processes) are serialized by the Store's leader lock.
type Reconciler struct {
	store    pool.LeaderStore
	provider *countingProvider
	// cfg is read once at the start of each pass, so SetConfig takes effect
	// at the next pass and never in the middle of one.
	cfg     atomic.Pointer[pool.Config]
	clock   pool.Clock
	secrets *pool.Secrets
	newID   func() string
	lockTTL time.Duration
	log     *slog.Logger
	healthN int
	sleep   func(ctx context.Context, d time.Duration) error
	kick    chan struct{}
	// lastOutcome is the previous pass's outcome, so a pass that did nothing
	// and ended as the one before logs at debug (serve ran 387 info lines in
	// 28 minutes, most of them "actions": 0).
	lastOutcome atomic.Value // string
}

// Option configures a Reconciler.
type Option func(*Reconciler)

// WithSecrets makes every create carry SANDBOX_API_TOKEN, the sandbox's
// agent token derived from the deployment secret.
func WithSecrets(s pool.Secrets) Option { return func(r *Reconciler) { r.secrets = &s } }

// WithIDs replaces the sandbox id generator (pool.NewSandboxID); the
// simulation harness uses a seeded one so its runs repeat exactly.
func WithIDs(f func() string) Option { return func(r *Reconciler) { r.newID = f } }

// WithLockTTL sets the leader lock's TTL, which is also each pass's time limit.
func WithLockTTL(d time.Duration) Option { return func(r *Reconciler) { r.lockTTL = d } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(r *Reconciler) { r.log = l } }

// WithHealthConcurrency bounds concurrent /health requests (default 8).
func WithHealthConcurrency(n int) Option { return func(r *Reconciler) { r.healthN = n } }

// WithSleep replaces the wait between RunFor's passes (tests move a
// ManualClock instead of sleeping).
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(r *Reconciler) { r.sleep = f }
}

// New builds a Reconciler over a store, a provider, a validated config and a clock.
func New(store pool.LeaderStore, provider pool.Provider, cfg *pool.Config, clock pool.Clock, opts ...Option) *Reconciler {
	r := &Reconciler{
		store:    store,
		provider: &countingProvider{inner: provider},
		clock:    clock,
		newID:    pool.NewSandboxID,
		lockTTL:  DefaultLockTTL,
		log:      slog.New(slog.DiscardHandler),
		healthN:  8,
		sleep:    pool.Sleep,
		kick:     make(chan struct{}, 1),
	}
	r.cfg.Store(cfg)
	for _, o := range opts {
		o(r)
	}
	return r
}

// SetConfig replaces the config (validated) from the next pass on: a pass
// running meanwhile finishes under the one it started with, as a function
// activation does across a redeploy.
func (r *Reconciler) SetConfig(cfg *pool.Config) { r.cfg.Store(cfg) }

var _ pool.Reconciler = (*Reconciler)(nil)

// Reconcile runs one pass. It answers Leader=false and does nothing when
// another pass holds the lock. An error is returned only when the pass could
// not run at all (Redis unreachable, lock lost); failures of single items are
// listed in the report's Errors and never stop the pass.
func (r *Reconciler) Reconcile(ctx context.Context) (rep pool.PassReport, err error) {
	now := r.clock.Now()
	cfg := r.cfg.Load()
	rep = pool.PassReport{StartedAt: now, Pools: map[string]api.PoolPassReport{}}
	calls0 := r.provider.calls()
	passLog := r.log
	// One line per pass, whatever its outcome (the shared pass shape:
	// outcome, duration, API calls, per-pool counts, item errors).
	defer func(ctx context.Context) {
		rep.APICalls = r.provider.calls() - calls0
		outcome := logging.PassOutcome(rep, err)
		prev, _ := r.lastOutcome.Swap(outcome).(string)
		logging.LogPass(ctx, passLog, rep, err, prev == outcome && !logging.PassActed(rep))
	}(ctx)

	ctx, cancel := context.WithTimeout(ctx, r.lockTTL)
	defer cancel()
	fence := pool.Fence{Token: pool.NewToken()}
	held, err := r.store.Lock(ctx, fence, r.lockTTL, now)
	if err != nil {
		rep.FinishedAt = r.clock.Now()
		return rep, fmt.Errorf("reconcile: lock: %w", err)
	}
	if !held {
		rep.FinishedAt = r.clock.Now()
		return rep, nil
	}
	rep.Leader = true
	defer func() {
		// The lock is given up even when the pass's context has ended.
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer ucancel()
		if err := r.store.Unlock(uctx, fence); err != nil {
			r.log.Warn("reconcile unlock failed", "op", "unlock", "err", err)
		}
	}()

	obs, observed, err := r.observe(ctx, cfg, now, &rep)
	if err != nil {
		rep.FinishedAt = r.clock.Now()
		return rep, err
	}
	actions := Plan(obs, cfg, now)
	ex := &executor{r: r, cfg: cfg, fence: fence, now: now, rep: &rep}
	runErr := ex.run(ctx, actions)
	r.summarize(ctx, cfg, obs, now, &rep)
	rep.FinishedAt = r.clock.Now()
	passLog = r.log.With("observed", observed, "actions", len(actions))
	if errors.Is(runErr, pool.ErrNotLeader) {
		return rep, fmt.Errorf("reconcile: lost the leader lock mid-pass: %w", runErr)
	}
	return rep, nil
}

// observe reads Redis, then the platform: the full list when ListReason
// asks for one, else one Get per creating app (a partial pass), and then the
// health answers. A steady pool with nothing creating costs no API call.
func (r *Reconciler) observe(ctx context.Context, cfg *pool.Config, now time.Time, rep *pool.PassReport) (Observation, string, error) {
	st, err := r.store.Observe(ctx, now)
	if err != nil {
		return Observation{}, "", fmt.Errorf("reconcile: observe: %w", err)
	}
	obs := Observation{State: st}
	why := ListReason(st, cfg, now)
	if why != "" {
		apps, err := r.provider.List(ctx)
		if err != nil {
			rep.Errors = append(rep.Errors, "list apps: "+err.Error()+" (nothing condemned on its basis)")
			r.log.Warn("list apps failed", "op", "list", "err", err)
		} else {
			obs.Apps, obs.ListOK = r.confirmAbsent(ctx, st, apps, &obs, rep), true
		}
	} else {
		obs.Partial = true
		for _, id := range GetTargets(st) {
			app, err := r.provider.Get(ctx, id)
			if err != nil {
				// Unknown: the app is simply not in the observation, which
				// condemns nothing.
				rep.Errors = append(rep.Errors, "get app "+id+": "+err.Error()+" (nothing condemned on its basis)")
				r.log.Warn("get app failed", "op", "get", "app_id", id, "err", err)
				continue
			}
			app.ID = id
			obs.Apps = append(obs.Apps, app)
		}
		why = "partial"
	}
	obs.Health = r.checkHealth(ctx, HealthTargets(obs, cfg, now))
	return obs, why, nil
}

// confirmAbsent makes sure a full list's silence is a definite answer before
// anything is dropped on its basis. A list is fetched page by page, so an app
// deleted between two fetches shifts the next page and an app that exists
// can be missing. For each ready or in-use record whose app the list lacks
// (the states where a wrong "absent" destroys a sandbox that serves), it asks
// with a Get: an app that exists joins the list, a 404 proves the absence,
// and an unknown answer leaves the record unconfirmed, which condemns
// nothing. Deleting and creating records are not asked for: forgetting a
// deleting one whose app still exists only makes it an orphan collected
// later, and a creating one is failed only after orphan_grace.
func (r *Reconciler) confirmAbsent(ctx context.Context, st pool.Observed, apps []pool.App, obs *Observation, rep *pool.PassReport) []pool.App {
	listed := make(map[string]bool, 2*len(apps))
	for _, a := range apps {
		listed[a.ID] = true
		if a.SandboxID != "" {
			listed["sb:"+a.SandboxID] = true
		}
	}
	for _, sb := range st.Sandboxes {
		if (sb.State != pool.StateReady && sb.State != pool.StateInUse) || sb.AppID == "" ||
			listed[sb.AppID] || listed["sb:"+sb.ID] {
			continue
		}
		app, err := r.provider.Get(ctx, sb.AppID)
		if err != nil {
			if obs.Unconfirmed == nil {
				obs.Unconfirmed = map[string]bool{}
			}
			obs.Unconfirmed[sb.ID] = true
			rep.Errors = append(rep.Errors, "get app "+sb.AppID+" missing from the list: "+err.Error()+" (nothing condemned on its basis)")
			continue
		}
		app.ID = sb.AppID
		apps = append(apps, app)
	}
	return apps
}

// summarize fills the per-pool counts from one metrics read after the pass.
func (r *Reconciler) summarize(ctx context.Context, cfg *pool.Config, obs Observation, now time.Time, rep *pool.PassReport) {
	names := cfg.PoolNames()
	snap, err := r.store.Metrics(ctx, names, now)
	if err != nil {
		rep.Errors = append(rep.Errors, "metrics after pass: "+err.Error())
		snap.ManagerShutdown = obs.State.ManagerShutdown
		snap.Pools = map[string]pool.PoolMetrics{}
		for name, st := range obs.State.Pools {
			snap.Pools[name] = pool.PoolMetrics{State: st}
		}
	}
	for name, m := range snap.Pools {
		pr := rep.Pools[name]
		pr.Ready, pr.Creating, pr.InUse, pr.Deleting = m.Ready, m.Creating, m.InUse, m.Deleting
		st := m.State
		if pc, err := cfg.Pool(name); err == nil {
			pr.Target = pool.EffectiveTarget(pc, st)
			if snap.ManagerShutdown || st.Shutdown {
				// A shut pool is held at nothing: it is not below its
				// target, so it keeps no RunFor or Run loop polling.
				pr.Target = 0
			}
			pr.Idle = st.Idle(pc, now)
		}
		pr.Circuit = "closed"
		if st.CircuitOpen(now) {
			pr.Circuit = "open: " + st.CircuitReason
		}
		rep.Pools[name] = pr
	}
}
