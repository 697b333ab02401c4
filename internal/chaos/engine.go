package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/reconcile"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

// ErrViolation is returned (wrapped) when a soak found a broken invariant.
var ErrViolation = errors.New("chaos: invariant violated")

// apiToken is the soak's bearer token between its clients and its server;
// both live in this process only.
const apiToken = "hotpool-chaos-token"

// Run runs one soak: the fault phase for o.Duration, then convergence and
// the checks. The Report holds every figure; the error wraps ErrViolation
// when a check failed, or says why the soak could not run.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.fill(); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	rep := &Report{Clients: o.Clients, Seed: o.Seed, Duration: o.Duration}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0xfa17))
	clock := pool.SystemClock{}

	rd, err := setUpRedis(ctx, &o, rng)
	if err != nil {
		return nil, err
	}
	defer rd.close()
	rep.Redis, rep.Durability = rd.desc, durabilityOf(o.Config)
	redisURL, keyPrefix := rd.url, rd.keyPrefix

	srvCtx, stopSrv := context.WithCancel(ctx)
	defer stopSrv()
	s, err := localserver.Start(srvCtx, localserver.Options{
		Addr: "127.0.0.1:0", Config: o.Config, Token: apiToken, RedisURL: redisURL, KeyPrefix: keyPrefix,
		SimCreateDelay: simCreateDelay, SimSeed: o.Seed, ReconcileEvery: time.Second, Logger: o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	shared := keyPrefix != ""
	if !shared {
		keyPrefix = o.Config.Deployment
	}
	defer func() {
		if shared {
			cleanPrefix(context.WithoutCancel(ctx), s.Redis, keyPrefix)
		}
		_ = s.Close()
	}()
	fmt.Fprintf(o.Progress, "chaos: server %s, %s, %d clients, seed %d\n", s.BaseURL, rep.Redis, o.Clients, o.Seed)

	led := newLedger()
	fc := &faultCounts{}
	caps := capsOf(o.Config)
	apiCalls0 := s.Provider.Calls()

	// The fault phase.
	fmt.Fprintf(o.Progress, "chaos: fault phase %s\n", o.Duration)
	start := clock.Now()
	faultCtx, endFaults := context.WithTimeout(ctx, o.Duration)
	defer endFaults()
	var wg sync.WaitGroup
	goRun := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	workers := make([]*worker, o.Clients)
	for i := range workers {
		w, err := newWorker(s.BaseURL, apiToken, o.Seed+uint64(i)+1, o.Config.PoolNames(), led, i%4 == 0)
		if err != nil {
			return nil, fmt.Errorf("chaos: client: %w", err)
		}
		workers[i] = w
	}
	for _, w := range workers {
		goRun(func() { w.run(faultCtx) })
	}
	subRNG := func() *rand.Rand { return rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())) }
	simRNG, passRNG, redisRNG := subRNG(), subRNG(), subRNG()
	goRun(func() { platformFaults(faultCtx, s.Sim, simRNG, fc) })
	goRun(func() { killPasses(faultCtx, s.Reconciler, o.KillPassEvery, passRNG, fc) })
	if rd.pair != nil {
		goRun(func() { redisFaults(faultCtx, rd.pair, o.RestartEvery, rd.failovers, redisRNG, fc) })
	}
	if !o.NoFlush {
		goRun(func() { flushOnce(faultCtx, s.Redis, keyPrefix, o.Duration/2, fc) })
	}
	if !o.NoConfigChanges {
		goRun(func() { configChanges(faultCtx, s, o.Config, o.Duration, fc) })
	}
	mon := &monitor{rdb: s.Redis, store: s.Store, sim: s.Sim, prefix: keyPrefix, caps: caps, cfg: o.Config}
	goRun(func() { mon.run(faultCtx, time.Second) })
	wg.Wait()
	rep.FaultPhase = clock.Now().Sub(start)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("chaos: interrupted: %w", err)
	}

	// Convergence, with every fault off and every client gone.
	fmt.Fprintf(o.Progress, "chaos: faults off; converging (at most %s)\n", o.ConvergeTimeout)
	cstart := clock.Now()
	passes, last, cerr := converge(ctx, s.Reconciler, o.ConvergeTimeout)
	rep.ConvergePasses, rep.ConvergeTime = passes, clock.Now().Sub(cstart)

	// The checks.
	var viol []string
	viol = append(viol, led.violations...)
	viol = append(viol, mon.violations...)
	if cerr != nil {
		viol = append(viol, cerr.Error())
	}
	if err := redistest.CheckInvariants(ctx, s.Redis, redisstate.NewKeys(keyPrefix), caps); err != nil {
		viol = append(viol, "invariants after convergence: "+oneLine(err))
	}
	leaks, err := checkLeaks(ctx, s, o.Config, clock.Now())
	if err != nil {
		viol = append(viol, "leak check: "+err.Error())
	}
	rep.Leaks = len(leaks)
	viol = append(viol, leaks...)
	for _, name := range o.Config.PoolNames() {
		p := last.Pools[name]
		rep.Pools = append(rep.Pools, PoolResult{Name: name, Ready: p.Ready, Target: p.Target})
		if p.Ready != p.Target {
			viol = append(viol, fmt.Sprintf("pool %s: %d ready, target %d", name, p.Ready, p.Target))
		}
	}

	led.mu.Lock()
	rep.AcquireOK, rep.AcquireErr = cloneMap(led.acquireOK), cloneMap(led.acquireErr)
	rep.ReleaseOK, rep.ReleaseErr, rep.Abandoned = led.releaseOK, cloneMap(led.releaseErr), led.abandoned
	rep.HandedOut = len(led.handed)
	led.mu.Unlock()
	rep.Doubles = led.doubles()
	fc.mu.Lock()
	rep.Storms, rep.RedisRestarts, rep.PassesKilled, rep.KilledStarted = fc.storms, fc.redisRestarts, fc.passesKilled, fc.passesStarted
	rep.Flushes, rep.Failovers, rep.ConfigChanges = fc.flushes, fc.failovers, fc.configChanges
	if fc.restartFailures > 0 {
		viol = append(viol, fmt.Sprintf("%d redis-server restarts or failovers failed", fc.restartFailures))
	}
	for _, e := range fc.reloadErrors {
		viol = append(viol, "config change refused: "+e)
	}
	fc.mu.Unlock()
	if snap, err := s.Store.Metrics(ctx, o.Config.PoolNames(), clock.Now()); err != nil {
		viol = append(viol, "metrics after convergence: "+err.Error())
	} else {
		for _, pm := range snap.Pools {
			st := pm.State.Stats
			rep.Creates += st.Creates
			rep.CreatesFailed += st.CreatesFailed
			rep.Deletes += st.Deletes
			rep.LeasesReaped += st.LeasesReaped
			rep.OrphansDeleted += st.OrphansDeleted
		}
		// Nobody released the abandoned sandboxes: only reaping can have
		// ended their leases, and nothing is in use after convergence. A
		// flush empties the counters (and turns leased apps into orphans).
		if rep.Flushes == 0 && rep.LeasesReaped < int64(rep.Abandoned) {
			viol = append(viol, fmt.Sprintf("%d leases reaped, but %d sandboxes were abandoned", rep.LeasesReaped, rep.Abandoned))
		}
	}
	rep.Injected = s.Sim.Injected()
	rep.APICalls = int(s.Provider.Calls() - apiCalls0)
	rep.Checks, rep.CheckSkips, rep.MaxTotal, rep.MaxApps = mon.checks, mon.skips, mon.maxTotal, mon.maxApps
	rep.Violations = viol
	if len(viol) > 0 {
		return rep, fmt.Errorf("%w: %d violation(s), first: %s", ErrViolation, len(viol), viol[0])
	}
	return rep, nil
}

// converge runs passes until one is leader and settled: every configured
// pool exactly at target with nothing creating, in use or deleting.
func converge(ctx context.Context, r *reconcile.Reconciler, timeout time.Duration) (int, pool.PassReport, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	passes := 0
	var last pool.PassReport
	for {
		rep, err := r.Reconcile(cctx)
		passes++
		if err == nil && rep.Leader {
			last = rep
			if settled(rep) {
				return passes, rep, nil
			}
		}
		// A pass a second, like the server's own loop while busy: a busy
		// pass Gets every creating app (or lists), and a faster loop would
		// spend the API budget (250 calls a minute) and then wait for it.
		if pool.Sleep(cctx, time.Second) != nil {
			return passes, last, fmt.Errorf("not converged after %s (%d passes): %s", timeout, passes, describe(last))
		}
	}
}

func settled(rep pool.PassReport) bool {
	for _, p := range rep.Pools {
		if p.Ready != p.Target || p.Creating != 0 || p.Deleting != 0 || p.InUse != 0 {
			return false
		}
	}
	return len(rep.Pools) > 0
}

func describe(rep pool.PassReport) string {
	var b strings.Builder
	for name, p := range rep.Pools {
		fmt.Fprintf(&b, "%s ready %d/%d creating %d in_use %d deleting %d circuit %s; ", name, p.Ready, p.Target, p.Creating, p.InUse, p.Deleting, p.Circuit)
	}
	return strings.TrimSuffix(b.String(), "; ")
}

func capsOf(cfg *pool.Config) map[string]pool.Caps {
	caps := map[string]pool.Caps{}
	for _, name := range cfg.PoolNames() {
		pc, _ := cfg.Pool(name)
		caps[name] = pool.CapsFor(cfg, pc)
	}
	return caps
}

// checkLeaks compares the platform and Redis in both directions: every app
// has a record, every record an app, and no more of either than the targets.
func checkLeaks(ctx context.Context, s *localserver.Server, cfg *pool.Config, now time.Time) ([]string, error) {
	apps, err := s.Provider.List(ctx)
	if err != nil {
		return nil, err
	}
	obs, err := s.Store.Observe(ctx, now)
	if err != nil {
		return nil, err
	}
	var leaks []string
	recByApp := map[string]bool{}
	for _, sb := range obs.Sandboxes {
		recByApp[sb.AppID] = true
	}
	appByID := map[string]bool{}
	for _, a := range apps {
		appByID[a.ID] = true
		if !recByApp[a.ID] {
			leaks = append(leaks, fmt.Sprintf("leak: app %s (sandbox %s) has no record", a.ID, a.SandboxID))
		}
	}
	for _, sb := range obs.Sandboxes {
		if sb.AppID == "" || !appByID[sb.AppID] {
			leaks = append(leaks, fmt.Sprintf("leak: record %s (%s, app %q) has no app", sb.ID, sb.State, sb.AppID))
		}
	}
	want := 0
	for _, name := range cfg.PoolNames() {
		pc, _ := cfg.Pool(name)
		want += pc.TargetReady
	}
	if len(apps) > want {
		leaks = append(leaks, fmt.Sprintf("leak: %d apps exist for a total target of %d", len(apps), want))
	}
	return leaks, nil
}

// soakRedis is the Redis a soak runs on, and what may be done to it.
type soakRedis struct {
	pair      *redisPair // nil: nothing of ours to kill
	failovers bool       // the pair fails over, not only restarts
	url       string     // "" embeds miniredis
	keyPrefix string     // "" uses the deployment's own
	desc      string
}

func (r *soakRedis) close() {
	if r.pair != nil {
		r.pair.close()
	}
}

// setUpRedis starts a primary and a replica of redis-server when a binary
// is found, else uses o.RedisURL or an embedded miniredis. Failovers need
// durability, without which they may lose acknowledged acquires (as the
// README says): the soak's own config gets one replica's; a given config
// without it is soaked with restarts only.
func setUpRedis(ctx context.Context, o *Options, rng *rand.Rand) (*soakRedis, error) {
	bin := o.RedisServer
	if bin == "" && !o.NoRedisChild {
		bin, _ = exec.LookPath("redis-server")
	}
	if bin != "" && !o.NoRedisChild {
		pair, err := startRedisPair(ctx, bin)
		if err != nil {
			return nil, err
		}
		r := &soakRedis{pair: pair, url: pair.URL()}
		if o.defaultConfig && !o.NoFailover {
			o.Config.Durability = pool.Durability{Replicas: 1, Timeout: pool.Duration(soakDurabilityTimeout)}
		}
		r.failovers = !o.NoFailover && o.Config.Durability.Replicas >= 1
		switch {
		case r.failovers:
			r.desc = "redis-server primary and replica behind one endpoint (appendonly, appendfsync always; failed over and restarted mid-run)"
		case o.NoFailover:
			r.desc = "redis-server primary and replica (appendonly, appendfsync always; restarted mid-run, no failovers: asked)"
		default:
			r.desc = "redis-server primary and replica (appendonly, appendfsync always; restarted mid-run, no failovers: the config's durability is off)"
		}
		return r, nil
	}
	if o.RedisURL != "" && reachable(ctx, o.RedisURL) {
		return &soakRedis{url: o.RedisURL, keyPrefix: fmt.Sprintf("chaos%08x", rng.Uint32()),
			desc: "external redis at REDIS_URL (no restarts: it is not ours to kill)"}, nil
	}
	return &soakRedis{desc: "embedded miniredis (no restarts: no redis-server child)"}, nil
}

func durabilityOf(cfg *pool.Config) string {
	if cfg.Durability.Replicas == 0 {
		return "off"
	}
	return fmt.Sprintf("%d replica(s), %s", cfg.Durability.Replicas, cfg.Durability.Timeout.D())
}

func reachable(ctx context.Context, url string) bool {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return false
	}
	c := redis.NewClient(opt)
	defer c.Close()
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return c.Ping(pctx).Err() == nil
}

// cleanPrefix deletes a soak's keys from a shared Redis.
func cleanPrefix(ctx context.Context, rdb *redis.Client, prefix string) { flush(ctx, rdb, prefix) }

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func cloneMap(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
