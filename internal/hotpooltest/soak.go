package hotpooltest

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

// Soak runs one soak: the fault phase for o.Duration, then convergence and
// the checks. The SoakReport holds every figure; the error wraps ErrViolation
// when a check failed, or says why the soak could not run.
func Soak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	if err := o.fill(); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	k := &soak{o: o, rep: &SoakReport{Clients: o.Clients, Seed: o.Seed, Duration: o.Duration},
		rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0xfa17)), led: newLedger(), fc: &faultCounts{}, caps: CapsOf(o.Config)}
	stop, err := k.start(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := k.faultPhase(ctx); err != nil {
		return k.rep, err
	}
	last, cerr := k.convergePhase(ctx)
	viol := k.check(ctx, last, cerr)
	k.rep.Violations = viol
	if len(viol) > 0 {
		return k.rep, fmt.Errorf("%w: %d violation(s), first: %s", ErrViolation, len(viol), viol[0])
	}
	return k.rep, nil
}

// soak is one soak's state across its phases.
type soak struct {
	o         SoakOptions
	rep       *SoakReport
	rng       *rand.Rand
	rd        *soakRedis
	s         *localserver.Server
	keyPrefix string
	led       *ledger
	fc        *faultCounts
	caps      map[string]pool.Caps
	mon       *monitor
	apiCalls0 int64
}

// start sets up Redis (setUpRedis) and the local server on it; stop takes
// both down, and deletes the soak's keys from a shared Redis.
func (k *soak) start(ctx context.Context) (stop func(), err error) {
	o := k.o
	k.rd, err = setUpRedis(ctx, &k.o, k.rng)
	if err != nil {
		return nil, err
	}
	o = k.o // setUpRedis may have given the config durability
	k.rep.Redis, k.rep.Durability = k.rd.desc, durabilityOf(o.Config)
	srvCtx, stopSrv := context.WithCancel(ctx)
	k.s, err = localserver.Start(srvCtx, localserver.Options{
		Addr: "127.0.0.1:0", Config: o.Config, Token: apiToken, RedisURL: k.rd.url, KeyPrefix: k.rd.keyPrefix,
		SimCreateDelay: simCreateDelay, SimSeed: o.Seed, ReconcileEvery: time.Second, Logger: o.Logger,
	})
	if err != nil {
		stopSrv()
		k.rd.close()
		return nil, fmt.Errorf("chaos: %w", err)
	}
	shared := k.rd.keyPrefix != ""
	k.keyPrefix = k.rd.keyPrefix
	if !shared {
		k.keyPrefix = o.Config.Deployment
	}
	fmt.Fprintf(o.Progress, "chaos: server %s, %s, %d clients, seed %d\n", k.s.BaseURL, k.rep.Redis, o.Clients, o.Seed)
	k.apiCalls0 = k.s.Provider.Calls()
	return func() {
		if shared {
			cleanPrefix(context.WithoutCancel(ctx), k.s.Redis, k.keyPrefix)
		}
		_ = k.s.Close()
		stopSrv()
		k.rd.close()
	}, nil
}

// faultPhase runs the clients, every fault and the monitor for o.Duration.
func (k *soak) faultPhase(ctx context.Context) error {
	o, s, fc := k.o, k.s, k.fc
	fmt.Fprintf(o.Progress, "chaos: fault phase %s\n", o.Duration)
	start := time.Now()
	faultCtx, endFaults := context.WithTimeout(ctx, o.Duration)
	defer endFaults()
	var wg sync.WaitGroup
	goRun := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	workers := make([]*worker, o.Clients)
	for i := range workers {
		w, err := newWorker(s.BaseURL, apiToken, o.Seed+uint64(i)+1, o.Config.PoolNames(), k.led, i%4 == 0)
		if err != nil {
			return fmt.Errorf("chaos: client: %w", err)
		}
		workers[i] = w
	}
	for _, w := range workers {
		goRun(func() { w.run(faultCtx) })
	}
	subRNG := func() *rand.Rand { return rand.New(rand.NewPCG(k.rng.Uint64(), k.rng.Uint64())) }
	simRNG, passRNG, redisRNG := subRNG(), subRNG(), subRNG()
	goRun(func() { platformFaults(faultCtx, s.Sim, simRNG, fc) })
	goRun(func() { killPasses(faultCtx, s.Reconciler, o.KillPassEvery, passRNG, fc) })
	if k.rd.pair != nil {
		goRun(func() { redisFaults(faultCtx, k.rd.pair, o.RestartEvery, k.rd.failovers, redisRNG, fc) })
	}
	if !o.NoFlush {
		goRun(func() { flushOnce(faultCtx, s.Redis, k.keyPrefix, o.Duration/2, fc) })
	}
	if !o.NoConfigChanges {
		goRun(func() { configChanges(faultCtx, s, o.Config, o.Duration, fc) })
	}
	k.mon = &monitor{rdb: s.Redis, store: s.Store, sim: s.Sim, prefix: k.keyPrefix, caps: k.caps, cfg: o.Config}
	goRun(func() { k.mon.run(faultCtx, time.Second) })
	wg.Wait()
	k.rep.FaultPhase = time.Since(start)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("chaos: interrupted: %w", err)
	}
	return nil
}

// convergePhase reconciles, with every fault off and every client gone,
// until the pools settle or o.ConvergeTimeout passes.
func (k *soak) convergePhase(ctx context.Context) (pool.PassReport, error) {
	fmt.Fprintf(k.o.Progress, "chaos: faults off; converging (at most %s)\n", k.o.ConvergeTimeout)
	cstart := time.Now()
	passes, last, cerr := converge(ctx, k.s.Reconciler, k.o.Config, k.o.ConvergeTimeout)
	k.rep.ConvergePasses, k.rep.ConvergeTime = passes, time.Since(cstart)
	return last, cerr
}

// check makes the final checks and fills the report's figures; it answers
// every violation found, the clients' and the monitor's included.
func (k *soak) check(ctx context.Context, last pool.PassReport, cerr error) []string {
	o, s, rep := k.o, k.s, k.rep
	var viol []string
	viol = append(viol, k.led.violations...)
	viol = append(viol, k.mon.violations...)
	if cerr != nil {
		viol = append(viol, cerr.Error())
	}
	if err := redistest.CheckInvariants(ctx, s.Redis, redisstate.NewKeys(k.keyPrefix), k.caps); err != nil {
		viol = append(viol, "invariants after convergence: "+oneLine(err))
	}
	leaks, err := checkLeaks(ctx, s, o.Config, pool.SystemClock{}.Now())
	if err != nil {
		viol = append(viol, "leak check: "+err.Error())
	}
	rep.Leaks = len(leaks)
	viol = append(viol, leaks...)
	for _, name := range o.Config.PoolNames() {
		p := last.Pools[name]
		rep.Pools = append(rep.Pools, SoakPool{Name: name, Ready: p.Ready, Target: p.Target})
		if p.Ready != p.Target {
			viol = append(viol, fmt.Sprintf("pool %s: %d ready, target %d", name, p.Ready, p.Target))
		}
	}
	viol = append(viol, k.tally()...)
	viol = append(viol, k.countersAfter(ctx)...)
	rep.Injected = s.Sim.Injected()
	rep.APICalls = int(s.Provider.Calls() - k.apiCalls0)
	rep.Checks, rep.CheckSkips, rep.MaxTotal, rep.MaxApps = k.mon.checks, k.mon.skips, k.mon.maxTotal, k.mon.maxApps
	return viol
}

// tally copies the clients' ledger and the fault counts into the report.
func (k *soak) tally() []string {
	rep, led, fc := k.rep, k.led, k.fc
	var viol []string
	led.mu.Lock()
	rep.AcquireOK, rep.AcquireErr = cloneMap(led.acquireOK), cloneMap(led.acquireErr)
	rep.ReleaseOK, rep.ReleaseErr, rep.Abandoned = led.releaseOK, cloneMap(led.releaseErr), led.abandoned
	rep.HandedOut = len(led.handed)
	led.mu.Unlock()
	rep.Doubles = led.doubles()
	fc.mu.Lock()
	defer fc.mu.Unlock()
	rep.Storms, rep.RedisRestarts, rep.PassesKilled, rep.KilledStarted = fc.storms, fc.redisRestarts, fc.passesKilled, fc.passesStarted
	rep.Flushes, rep.Failovers, rep.ConfigChanges = fc.flushes, fc.failovers, fc.configChanges
	if fc.restartFailures > 0 {
		viol = append(viol, fmt.Sprintf("%d redis-server restarts or failovers failed", fc.restartFailures))
	}
	for _, e := range fc.reloadErrors {
		viol = append(viol, "config change refused: "+e)
	}
	return viol
}

// countersAfter sums the pools' counters after convergence, and checks that
// every abandoned lease was reaped.
func (k *soak) countersAfter(ctx context.Context) []string {
	rep := k.rep
	snap, err := k.s.Store.Metrics(ctx, k.o.Config.PoolNames(), pool.SystemClock{}.Now())
	if err != nil {
		return []string{"metrics after convergence: " + err.Error()}
	}
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
		return []string{fmt.Sprintf("%d leases reaped, but %d sandboxes were abandoned", rep.LeasesReaped, rep.Abandoned)}
	}
	return nil
}

// converge runs passes until one is leader and settled: every configured
// pool exactly at target with nothing creating, in use or deleting.
func converge(ctx context.Context, r *reconcile.Reconciler, cfg *pool.Config, timeout time.Duration) (int, pool.PassReport, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	passes := 0
	var last pool.PassReport
	for {
		rep, err := r.Reconcile(cctx)
		passes++
		if err == nil && rep.Leader {
			last = rep
			if Settled(cfg, rep) {
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

func describe(rep pool.PassReport) string {
	var b strings.Builder
	for name, p := range rep.Pools {
		fmt.Fprintf(&b, "%s ready %d/%d creating %d in_use %d deleting %d circuit %s; ", name, p.Ready, p.Target, p.Creating, p.InUse, p.Deleting, p.Circuit)
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// checkLeaks compares the platform and Redis in both directions
// (Inconsistencies), and demands no more apps than the targets.
func checkLeaks(ctx context.Context, s *localserver.Server, cfg *pool.Config, now time.Time) ([]string, error) {
	found, apps, err := Inconsistencies(ctx, s.Provider, s.Store, now)
	if err != nil {
		return nil, err
	}
	leaks := make([]string, 0, len(found)+1)
	for _, f := range found {
		leaks = append(leaks, "leak: "+f)
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
func setUpRedis(ctx context.Context, o *SoakOptions, rng *rand.Rand) (*soakRedis, error) {
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
