package hotpooltest

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/reconcile"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
	"github.com/hotpool/hotpool/internal/stack"
)

// HarnessOptions shape one simulation.
type HarnessOptions struct {
	Config *pool.Config // required, validated
	Seed   uint64
	Start  time.Time // default 2026-01-01T00:00:00Z
	// Step is the simulated time of one step (default 5s); a reconcile pass
	// runs every PassEvery (default 5s, the cadence of RunFor).
	Step      time.Duration
	PassEvery time.Duration
	// Schedule says when passes run: ScheduleEvery (default) every
	// PassEvery; ScheduleCron as the functions' scheduled trigger does, a run
	// each minute that passes every PassEvery while work is in flight, for
	// up to pool.RunBudget; ScheduleCronKicked the same, plus a run at the
	// next step after an acquire or a release kicked one (fnenv's kicker).
	Schedule Schedule
	// CreateDelay is how long a deployment takes to go ACTIVE (default 40s);
	// FailRate the share of deployments that end in ERROR.
	CreateDelay time.Duration
	FailRate    float64
	// CreateJitter spreads each deployment's time over CreateDelay ×
	// [1-CreateJitter, 1+CreateJitter] (appsim.Options.CreateJitter).
	CreateJitter float64
	// AcquiresPerMinute is each pool's mean acquire rate.
	AcquiresPerMinute map[string]float64
	// A lease is held for a uniform time in [HoldMin, HoldMax] (default
	// 30s-5m) and then released, except a share AbandonRate of them that is
	// never released and must be reaped when the lease (LeaseTTL, default
	// 10m) expires.
	HoldMin, HoldMax time.Duration
	AbandonRate      float64
	LeaseTTL         time.Duration
	// WrapProvider, when set, wraps the provider the reconciler uses (to
	// inject faults the simulator does not model, or to count calls).
	WrapProvider func(pool.Provider) pool.Provider
	// CheckEvery runs the costly checks (the Store's invariants, a probe of
	// every lease's URL) every CheckEvery steps rather than every step (0 or
	// 1: every step); caps and counts are still checked every step.
	CheckEvery int
	// CountsAfterWrites reads the counts again only at a step after the
	// harness itself wrote to Redis (an acquire, a claim poll, a release, a
	// pass, a flush) and otherwise reuses the last read, which is exact when
	// nothing else writes (a replay): the counts are plain cardinalities,
	// with nothing in them that changes with the clock alone.
	CountsAfterWrites bool
	// ReconcileSkew sets the reconciler's clock this far ahead of the
	// service's (negative: behind), as between two functions' hosts.
	ReconcileSkew time.Duration
	// ReconcilerOptions are added to the reconciler's.
	ReconcilerOptions []reconcile.Option
}

// Schedule is when the harness runs passes (HarnessOptions.Schedule).
type Schedule int

// The schedules a simulation can follow.
const (
	ScheduleEvery Schedule = iota
	ScheduleCron
	ScheduleCronKicked
)

// Stats counts what a run did. Violations lists every broken invariant.
type Stats struct {
	Steps, Passes                    int
	Acquires, WarmHits, ColdClaims   int
	ClaimsServed, ClaimsFailed       int
	Exhausted, Shutdown, OtherErrors int
	TooManyPools                     int // of Exhausted: refused by max_dynamic_pools
	// Refused counts the requests that were never served, by why: an
	// exhausted pool's reason ("empty", "capacity", "circuit_open"),
	// "too_many_pools", "shutdown", or "claim_failed" for a cold claim
	// whose sandbox could not be made.
	Refused                          map[string]int
	Released, Abandoned              int
	PassErrors                       int
	APICalls                         int
	MaxTotal, MaxCreating            int
	Violations                       []string
	StepsBelowTarget, PoolStepsTotal int
	StepsEmpty                       int // pool-steps with no ready sandbox
	// BilledSteps sums, over steps, the sandboxes that exist and cost
	// (creating, ready, in use); ReadySteps the ready ones (idle stock).
	// Multiplied by HarnessOptions.Step they are sandbox-time.
	BilledSteps, ReadySteps int
	// Held is the leases' time held (acquire to release or expiry);
	// ColdWaits each served claim's wait from its acquire.
	Held      time.Duration
	ColdWaits []time.Duration
}

type lease struct {
	acquired  time.Time
	pool      string
	sandbox   pool.Sandbox
	token     string
	expiresAt time.Time
	releaseAt time.Time // zero: abandoned
}

type claim struct {
	id   string
	pool string
	at   time.Time     // its acquire
	hold time.Duration // the lease's hold once served (0: the harness draws one)
}

// Harness is one simulated deployment.
type Harness struct {
	Clock      *pool.ManualClock
	Sim        *appsim.Server
	Store      *redisstate.Store
	Provider   *appplatform.Provider
	Reconciler *reconcile.Reconciler
	Service    *pool.Service
	Config     *pool.Config
	Stats      Stats

	o        HarnessOptions
	rdb      redis.Scripter
	prefix   string
	rng      *rand.Rand
	tokens   *rand.Rand // lease and claim tokens, apart from rng so ids stay as they were
	http     *http.Client
	lastPass time.Time
	// statsFrom is when Stats last started afresh (ResetStats).
	statsFrom time.Time
	// The functions' schedules: a run under way since runStart, the minute
	// whose cron run has fired, and a kick waiting for the next step.
	running  bool
	runStart time.Time
	lastCron time.Time
	kicked   bool
	traffic  bool
	handed   map[string]bool
	leases   map[string]*lease
	claims   []claim
	// counts is Check's last read of the counts, stale once wrote is set
	// (HarnessOptions.CountsAfterWrites).
	counts *pool.Snapshot
	wrote  bool
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewHarness starts the simulator and wires everything over rdb under prefix.
// Close stops the simulator.
func NewHarness(rdb *redis.Client, prefix string, o HarnessOptions) (*Harness, error) {
	if o.Config == nil {
		return nil, errors.New("harness: HarnessOptions.Config is required")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Step <= 0 {
		o.Step = 5 * time.Second
	}
	if o.PassEvery <= 0 {
		o.PassEvery = 5 * time.Second
	}
	if o.CreateDelay <= 0 {
		o.CreateDelay = 40 * time.Second
	}
	if o.HoldMin <= 0 {
		o.HoldMin = 30 * time.Second
	}
	if o.HoldMax < o.HoldMin {
		o.HoldMax = max(5*time.Minute, o.HoldMin)
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10 * time.Minute
	}
	h := &Harness{
		Clock: pool.NewManualClock(o.Start), Config: o.Config, o: o, rdb: rdb, prefix: prefix,
		rng:     rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed)),
		tokens:  rand.New(rand.NewPCG(o.Seed, o.Seed^0x70c3)),
		http:    &http.Client{Timeout: 5 * time.Second},
		traffic: true, handed: map[string]bool{}, leases: map[string]*lease{},
	}
	h.Sim = appsim.New(appsim.Options{Token: "sim-token", Clock: h.Clock, CreateDelay: o.CreateDelay,
		CreateJitter: o.CreateJitter, FailRate: o.FailRate, Seed: o.Seed})
	base, err := h.Sim.Start()
	if err != nil {
		return nil, err
	}
	var rclock pool.Clock = h.Clock
	if o.ReconcileSkew != 0 {
		rclock = skewedClock{h.Clock, o.ReconcileSkew}
	}
	st, err := stack.Build(stack.Options{
		Config: o.Config, Redis: rdb, KeyPrefix: prefix, Clock: h.Clock, ReconcileClock: rclock,
		Secret: "sim-secret", NoWebhooks: true, WrapProvider: o.WrapProvider,
		NewProvider: func(*appplatform.Budget) (pool.Provider, error) {
			// No API budget and no client-side retries: a retry waits in
			// real time, and the reconciler's next pass is the retry that
			// matters here.
			return appplatform.New(appplatform.Options{
				Token: "sim-token", BaseURL: base, Deployment: o.Config.Deployment, Clock: h.Clock,
				RetryMax:   -1,
				HTTPClient: &http.Client{Timeout: 5 * time.Second},
			})
		},
		ReconcilerOptions: append([]reconcile.Option{reconcile.WithIDs(h.newID)}, o.ReconcilerOptions...),
		Service: func(so *pool.ServiceOptions) {
			so.NewSandboxID = h.newID
			// Seeded tokens: a claim's hash orders the claims queued in
			// the same millisecond (planCreates), so a replay repeats.
			so.NewToken = h.newToken
			so.Kick = func() { h.kicked = true }
			so.Sleep = func(ctx context.Context, d time.Duration) error {
				h.Clock.Advance(d)
				return ctx.Err()
			}
		},
	})
	if err != nil {
		_ = h.Sim.Close()
		return nil, err
	}
	h.Store, h.Reconciler, h.Service = st.Store, st.Reconciler, st.Service
	h.Provider = st.Provider.(*appplatform.Provider) // what NewProvider built
	return h, nil
}

// Close stops the simulator.
func (h *Harness) Close() error { return h.Sim.Close() }

// newID is a sandbox id from the seeded generator.
func (h *Harness) newID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h.rng.Uint64())
	return idEncoding.EncodeToString(b[:])
}

// newToken is a lease or claim token from the seeded generator, shaped as
// pool.NewToken's (32 bytes, base64url).
func (h *Harness) newToken() string {
	var b [32]byte
	for i := 0; i < len(b); i += 8 {
		binary.BigEndian.PutUint64(b[i:], h.tokens.Uint64())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// SetTraffic turns the simulated acquires on or off (leases already held are
// still released on schedule).
func (h *Harness) SetTraffic(on bool) { h.traffic = on }

// Now is the simulated time.
func (h *Harness) Now() time.Time { return h.Clock.Now() }

// Run steps for d of simulated time; it stops at the first step error (an
// infrastructure failure, not a violation: those are collected in Stats).
func (h *Harness) Run(ctx context.Context, d time.Duration) error {
	end := h.Clock.Now().Add(d)
	for h.Clock.Now().Before(end) {
		if err := h.Step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Step advances the clock one step: traffic, releases, claim polls, a pass
// when due, and then every check.
func (h *Harness) Step(ctx context.Context) error {
	h.Clock.Advance(h.o.Step)
	h.Stats.Steps++
	if h.traffic {
		for _, name := range h.Config.PoolNames() {
			k := h.o.AcquiresPerMinute[name] * h.o.Step.Minutes()
			n := int(k)
			if h.rng.Float64() < k-float64(n) {
				n++
			}
			for range n {
				h.Acquire(ctx, name)
			}
		}
	}
	h.pollClaims(ctx)
	h.releaseDue(ctx)
	if err := h.schedule(ctx); err != nil {
		return err
	}
	return h.Check(ctx)
}

// schedule runs the passes HarnessOptions.Schedule has due at this step.
func (h *Harness) schedule(ctx context.Context) error {
	now := h.Clock.Now()
	due := !now.Before(h.lastPass.Add(h.o.PassEvery))
	if h.o.Schedule == ScheduleEvery {
		if due {
			_, err := h.Pass(ctx)
			return err
		}
		return nil
	}
	kicked := h.kicked && h.o.Schedule == ScheduleCronKicked
	h.kicked = false
	if minute := now.Truncate(time.Minute); !h.running && (minute.After(h.lastCron) || kicked) {
		if minute.After(h.lastCron) {
			h.lastCron = minute
		}
		h.running, h.runStart, due = true, now, true
	}
	if !h.running || !due {
		return nil
	}
	rep, err := h.Pass(ctx)
	if err != nil || !rep.Busy() {
		h.running = false
	} else if now.Add(h.o.PassEvery).Sub(h.runStart) >= pool.RunBudget {
		// Out of budget with work in flight: pool.Service.Run hands over
		// through a kick where kicks exist.
		h.running = false
		h.kicked = h.o.Schedule == ScheduleCronKicked
	}
	return err
}

// Pass runs one reconcile pass now.
func (h *Harness) Pass(ctx context.Context) (pool.PassReport, error) {
	h.lastPass = h.Clock.Now()
	h.wrote = true
	rep, err := h.Reconciler.Reconcile(ctx)
	h.Stats.Passes++
	h.Stats.APICalls += rep.APICalls
	h.Stats.PassErrors += len(rep.Errors)
	if err != nil {
		return rep, fmt.Errorf("harness: pass: %w", err)
	}
	if !rep.Leader {
		h.violate("a pass was not leader with no other reconciler running")
	}
	return rep, nil
}

// Acquire leases one sandbox of a pool through the service, as a caller
// would, and holds it for a random time in [HoldMin, HoldMax].
func (h *Harness) Acquire(ctx context.Context, name string) { h.AcquireFor(ctx, name, 0) }

// AcquireFor is Acquire with the hold given (0: drawn as Acquire does). A
// cold claim's hold starts when it is served.
func (h *Harness) AcquireFor(ctx context.Context, name string, hold time.Duration) {
	h.Stats.Acquires++
	h.wrote = true
	a, err := h.Service.Acquire(ctx, pool.AcquireRequest{Image: name, LeaseSeconds: int(h.o.LeaseTTL / time.Second)})
	switch {
	case err == nil && a.Claim != nil:
		h.Stats.ColdClaims++
		h.claims = append(h.claims, claim{id: a.Claim.ID, pool: name, at: h.Clock.Now(), hold: hold})
	case err == nil:
		h.Stats.WarmHits++
		h.holdFor(name, a, hold)
	case errors.Is(err, pool.ErrTooManyPools):
		h.Stats.Exhausted++
		h.Stats.TooManyPools++
		h.refused("too_many_pools")
	case errors.Is(err, pool.ErrPoolExhausted):
		h.Stats.Exhausted++
		h.refused(exhaustedWhy(err))
	case errors.Is(err, pool.ErrPoolShutdown):
		h.Stats.Shutdown++
		h.refused("shutdown")
	default:
		h.Stats.OtherErrors++
		h.violate("acquire %s: unexpected error: %v", name, err)
	}
}

// refused counts one request that will never be served.
func (h *Harness) refused(why string) {
	if h.Stats.Refused == nil {
		h.Stats.Refused = map[string]int{}
	}
	h.Stats.Refused[why]++
}

// exhaustedWhy is the reason an exhausted pool gave ("empty", "capacity",
// "circuit_open": the script's detail, last in the error's words).
func exhaustedWhy(err error) string {
	msg := err.Error()
	if i := strings.LastIndexByte(msg, '('); i >= 0 && strings.HasSuffix(msg, ")") {
		return msg[i+1 : len(msg)-1]
	}
	return "exhausted"
}

func (h *Harness) holdFor(name string, a pool.Acquired, hold time.Duration) {
	id := a.Sandbox.ID
	if h.handed[id] {
		h.violate("sandbox %s handed out twice", id)
	}
	h.handed[id] = true
	now := h.Clock.Now()
	l := &lease{acquired: now, pool: name, sandbox: a.Sandbox, token: a.LeaseToken, expiresAt: a.ExpiresAt}
	switch {
	case hold > 0:
		l.releaseAt = now.Add(hold)
	case h.rng.Float64() < h.o.AbandonRate:
		h.Stats.Abandoned++
	default:
		span := h.o.HoldMax - h.o.HoldMin
		l.releaseAt = now.Add(h.o.HoldMin + time.Duration(h.rng.Int64N(int64(span)+1)))
	}
	h.leases[id] = l
}

func (h *Harness) pollClaims(ctx context.Context) {
	var left []claim
	h.wrote = h.wrote || len(h.claims) > 0
	for _, c := range h.claims {
		a, err := h.Service.Acquire(ctx, pool.AcquireRequest{ClaimID: c.id})
		switch {
		case err == nil && a.Claim != nil:
			left = append(left, c)
		case err == nil:
			if !c.at.Before(h.statsFrom) { // a claim made before ResetStats is not this count's
				h.Stats.ClaimsServed++
				h.Stats.ColdWaits = append(h.Stats.ColdWaits, h.Clock.Now().Sub(c.at))
			}
			h.holdFor(c.pool, a, c.hold)
		case errors.Is(err, pool.ErrSandboxCreation), errors.Is(err, pool.ErrSandboxNotFound), errors.Is(err, pool.ErrPoolShutdown):
			h.Stats.ClaimsFailed++
			if !c.at.Before(h.statsFrom) {
				h.refused("claim_failed")
			}
		default:
			h.violate("poll claim: unexpected error: %v", err)
		}
	}
	h.claims = left
}

func (h *Harness) releaseDue(ctx context.Context) {
	now := h.Clock.Now()
	for _, id := range h.leaseIDs() {
		l := h.leases[id]
		switch {
		case !l.releaseAt.IsZero() && !now.Before(l.releaseAt) && now.Before(l.expiresAt):
			h.wrote = true
			if _, err := h.Service.Release(ctx, id, l.token); err != nil {
				h.violate("release %s within its lease: %v", id, err)
			}
			h.Stats.Released++
			h.Stats.Held += now.Sub(h.counted(l.acquired))
			delete(h.leases, id)
		case !now.Before(l.expiresAt):
			h.Stats.Held += l.expiresAt.Sub(h.counted(l.acquired))
			delete(h.leases, id) // expired: reconcile reaps it
		}
	}
}

// ResetStats starts the counts afresh at now: what follows is counted, and a
// lease or claim from before counts only its time held from now.
func (h *Harness) ResetStats() {
	h.Stats = Stats{}
	h.statsFrom = h.Clock.Now()
}

// counted is when a lease acquired at t starts to count as held.
func (h *Harness) counted(t time.Time) time.Time {
	if t.Before(h.statsFrom) {
		return h.statsFrom
	}
	return t
}

func (h *Harness) leaseIDs() []string {
	ids := make([]string, 0, len(h.leases))
	for id := range h.leases {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (h *Harness) violate(format string, args ...any) {
	msg := fmt.Sprintf("t=%s: ", h.Clock.Now().Sub(h.o.Start)) + fmt.Sprintf(format, args...)
	if len(h.Stats.Violations) < 100 {
		h.Stats.Violations = append(h.Stats.Violations, msg)
	}
}

// Caps are the caps CheckInvariants checks, per pool.
func (h *Harness) Caps() map[string]pool.Caps { return CapsOf(h.Config) }

// Check runs every per-step check: the Store's invariants (indexes, books,
// caps), no sandbox handed out twice (checked on every acquire), and every
// live lease's app still answering at its URL.
func (h *Harness) Check(ctx context.Context) error {
	full := h.o.CheckEvery <= 1 || h.Stats.Steps%h.o.CheckEvery == 0
	if full {
		if err := redistest.CheckInvariants(ctx, h.rdb, redisstate.NewKeys(h.prefix), h.Caps()); err != nil {
			h.violate("invariants: %v", err)
		}
	}
	snap, err := h.Counts(ctx)
	if err != nil {
		return err
	}
	h.Stats.MaxTotal = max(h.Stats.MaxTotal, snap.Total)
	h.Stats.MaxCreating = max(h.Stats.MaxCreating, snap.CreatingTotal)
	if c := h.Config.TotalCap(); c >= 0 && snap.Total > c {
		h.violate("max_total_sandboxes exceeded: %d > %d", snap.Total, c)
	}
	if snap.CreatingTotal > h.Config.MaxConcurrentCreates {
		h.violate("max_concurrent_creates exceeded: %d > %d", snap.CreatingTotal, h.Config.MaxConcurrentCreates)
	}
	for _, m := range snap.Pools {
		h.Stats.BilledSteps += m.Ready + m.Creating + m.InUse
		h.Stats.ReadySteps += m.Ready
	}
	for _, name := range h.Config.PoolNames() {
		pc, _ := h.Config.Pool(name)
		h.Stats.PoolStepsTotal++
		if snap.Pools[name].Ready < pc.TargetReady {
			h.Stats.StepsBelowTarget++
		}
		if snap.Pools[name].Ready == 0 && pc.TargetReady > 0 {
			h.Stats.StepsEmpty++
		}
	}
	if !full {
		return nil
	}
	now := h.Clock.Now()
	for _, id := range h.leaseIDs() {
		l := h.leases[id]
		if !now.Before(l.expiresAt) {
			continue
		}
		if code := h.probe(ctx, l.sandbox.URL); code == http.StatusNotFound {
			h.violate("leased sandbox %s (app %s) destroyed before its lease expired", id, l.sandbox.AppID)
		}
	}
	return nil
}

// Counts is the pools' counts now (Store.Metrics): a fresh read, or under
// HarnessOptions.CountsAfterWrites the last one while the harness has not written.
func (h *Harness) Counts(ctx context.Context) (pool.Snapshot, error) {
	if h.o.CountsAfterWrites && h.counts != nil && !h.wrote {
		return *h.counts, nil
	}
	snap, err := h.Store.Metrics(ctx, h.Config.PoolNames(), h.Clock.Now())
	if err != nil {
		return pool.Snapshot{}, fmt.Errorf("harness: metrics: %w", err)
	}
	h.counts, h.wrote = &snap, false
	return snap, nil
}

// probe is what the lease holder sees at its sandbox's health path.
func (h *Harness) probe(ctx context.Context, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
	if err != nil {
		return 0
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// Converge runs passes (with traffic off and every lease released) until
// every configured, active pool holds exactly target ready with nothing
// creating or deleting, and returns how many passes that took; an error
// after maxPasses.
func (h *Harness) Converge(ctx context.Context, maxPasses int) (int, error) {
	h.SetTraffic(false)
	for n := 1; n <= maxPasses; n++ {
		// Callers give everything back: pending claims are still polled and
		// what they are served is released at once.
		h.pollClaims(ctx)
		h.releaseAll(ctx)
		h.Clock.Advance(h.o.PassEvery)
		rep, err := h.Pass(ctx)
		if err != nil {
			return n, err
		}
		if err := h.Check(ctx); err != nil {
			return n, err
		}
		if h.settled(rep) {
			return n, nil
		}
	}
	return maxPasses, fmt.Errorf("harness: not converged after %d passes", maxPasses)
}

func (h *Harness) releaseAll(ctx context.Context) {
	for _, id := range h.leaseIDs() {
		l := h.leases[id]
		if h.Clock.Now().Before(l.expiresAt) {
			h.wrote = true
			if _, err := h.Service.Release(ctx, id, l.token); err != nil {
				h.violate("release %s: %v", id, err)
			}
			h.Stats.Released++
		}
		delete(h.leases, id)
	}
}

// settled: the pass is Settled and no claim is still waiting.
func (h *Harness) settled(rep pool.PassReport) bool {
	return Settled(h.Config, rep) && len(h.claims) == 0
}

// CheckConsistency compares the platform and Redis in both directions:
// every app has a record and every record an app (call after Converge, with
// faults off).
func (h *Harness) CheckConsistency(ctx context.Context) error {
	found, _, err := Inconsistencies(ctx, h.Provider, h.Store, h.Clock.Now())
	if err != nil {
		return err
	}
	errs := make([]error, len(found))
	for i, f := range found {
		errs[i] = errors.New(f)
	}
	return errors.Join(errs...)
}

// Burst acquires n sandboxes of a pool at once and returns how many came
// warm from the pool.
func (h *Harness) Burst(ctx context.Context, name string, n int) int {
	warm := h.Stats.WarmHits
	for range n {
		h.Acquire(ctx, name)
	}
	return h.Stats.WarmHits - warm
}

// RefillLag steps (traffic off) until the pool is back at target ready and
// returns the simulated time that took and the passes it spent.
func (h *Harness) RefillLag(ctx context.Context, name string, limit time.Duration) (time.Duration, int, error) {
	h.SetTraffic(false)
	pc, err := h.Config.Pool(name)
	if err != nil {
		return 0, 0, err
	}
	start, passes0 := h.Clock.Now(), h.Stats.Passes
	for h.Clock.Now().Sub(start) < limit {
		if err := h.Step(ctx); err != nil {
			return 0, 0, err
		}
		snap, err := h.Store.Metrics(ctx, []string{name}, h.Clock.Now())
		if err != nil {
			return 0, 0, err
		}
		if snap.Pools[name].Ready >= pc.TargetReady {
			return h.Clock.Now().Sub(start), h.Stats.Passes - passes0, nil
		}
	}
	return limit, h.Stats.Passes - passes0, fmt.Errorf("harness: %s not refilled within %v", name, limit)
}

// Apps lists the platform's apps of this deployment (faults permitting).
func (h *Harness) Apps(ctx context.Context) ([]pool.App, error) { return h.Provider.List(ctx) }

// FlushRedis deletes every key of this deployment, as if Redis had been
// emptied (a failover to an empty replica, a FLUSHALL).
func (h *Harness) FlushRedis(ctx context.Context, rdb *redis.Client) error {
	h.wrote = true
	iter := rdb.Scan(ctx, 0, redisstate.NewKeys(h.prefix).Tag()+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	return rdb.Del(ctx, keys...).Err()
}

// Lease is a lease the simulated caller holds.
type Lease struct {
	Sandbox   pool.Sandbox
	Token     string
	ExpiresAt time.Time
}

// PendingClaims is how many cold claims callers are still polling.
func (h *Harness) PendingClaims() int { return len(h.claims) }

// Leases returns the leases the simulated callers hold now.
func (h *Harness) Leases() []Lease {
	out := make([]Lease, 0, len(h.leases))
	for _, id := range h.leaseIDs() {
		l := h.leases[id]
		out = append(out, Lease{Sandbox: l.sandbox, Token: l.token, ExpiresAt: l.expiresAt})
	}
	return out
}

// Abandon makes every lease held now never be released (its holder vanished).
func (h *Harness) Abandon() {
	for _, l := range h.leases {
		l.releaseAt = time.Time{}
	}
}

// skewedClock is another host's clock: the harness's, off by d.
type skewedClock struct {
	base pool.Clock
	d    time.Duration
}

func (c skewedClock) Now() time.Time { return c.base.Now().Add(c.d) }
