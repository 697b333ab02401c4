package benchsuite

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/reconcile"
	"github.com/hotpool/hotpool/internal/redisstate"
)

// deployment is a filled pool of n sandboxes: the simulated App Platform
// holding n ACTIVE apps, the real provider over HTTP, the Store on the real
// redis-server and the reconciler. It is built once per size and kept across
// the b.N rounds of a benchmark (filling 10,000 takes a while).
type deployment struct {
	n          int
	sim        *appsim.Server
	provider   *appplatform.Provider
	store      *redisstate.Store
	reconciler *reconcile.Reconciler
	cfg        *pool.Config
	fillPasses int
	scanAhead  time.Duration // how far ahead the scan benchmark's clock has run
}

var deployments = map[int]*deployment{}

// poolConfig is one pool of n, with nothing time-driven in a steady state:
// no scale-down (idle_timeout 0), no periodic health check (interval 0; it
// would GET every ready app's health path each interval, which is traffic to
// the apps, not API calls), a warm age far beyond the benchmark.
func poolConfig(n int) (*pool.Config, error) {
	return pool.ParseConfig([]byte(fmt.Sprintf(`{
	  "deployment": "bench",
	  "pools": {"python": {"target_ready": %d, "max_ready": %d, "on_empty": "fail", "idle_timeout": 0,
	                       "health_check_interval": 0, "max_warm_age": "24h"}},
	  "max_total_sandboxes": %d, "max_concurrent_creates": %d}`, n, n, n+10, n)))
}

func filled(b *testing.B, n int) *deployment {
	b.Helper()
	if d := deployments[n]; d != nil {
		return d
	}
	rdb, prefix := sharedClient(b)
	ctx := context.Background()
	cfg, err := poolConfig(n)
	if err != nil {
		b.Fatal(err)
	}
	sim := appsim.New(appsim.Options{Token: "sim-token"}) // deployments are ACTIVE at once
	base, err := sim.Start()
	if err != nil {
		b.Fatal(err)
	}
	provider, err := appplatform.New(appplatform.Options{Token: "sim-token", BaseURL: base, Deployment: cfg.Deployment,
		RetryMax: -1, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		b.Fatal(err)
	}
	store := redisstate.New(rdb, prefix)
	if err := store.Preload(ctx); err != nil {
		b.Fatal(err)
	}
	d := &deployment{n: n, sim: sim, provider: provider, store: store, cfg: cfg,
		reconciler: reconcile.New(store, provider, cfg, pool.SystemClock{}, reconcile.WithLockTTL(10*time.Minute))}
	for d.fillPasses = 1; ; d.fillPasses++ {
		rep, err := d.reconciler.Reconcile(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Errors) > 0 {
			b.Fatalf("fill pass: %v", rep.Errors[0])
		}
		if p := rep.Pools[benchPool]; p.Ready == n && p.Creating == 0 && p.Deleting == 0 {
			break
		}
		if d.fillPasses > 20 {
			b.Fatalf("pool of %d not filled after 20 passes", n)
		}
	}
	deployments[n] = d
	return d
}

var reconcileSizes = []int{10, 100, 1000, 10000}

// BenchmarkReconcilePass is one reconcile pass over a filled pool of 10 to
// 10,000 sandboxes:
//
//	steady   nothing changed since the last pass and no scan is due: the
//	         pass reads Redis and calls no API;
//	churn=1  one sandbox was acquired and released before the pass (outside
//	         the timer), so the pass deletes its app, creates a replacement
//	         and Gets the previous replacement, which it marks ready;
//	scan     steady, but the periodic full list is due (each pass runs
//	         ScanEvery later than the last, by its clock): what a steady
//	         pool pays once per max(orphan_grace/2, 60 s), or per
//	         health_check_interval when that is shorter.
//
// It reports App Platform API calls per pass (the provider's count of /v2
// requests: creates, deletes, gets, and one GET /v2/apps per page of 200)
// and the time per pass (ns/op), which includes reading the whole state
// from Redis (one script) and, when listing, the list over HTTP from the
// simulator.
func BenchmarkReconcilePass(b *testing.B) {
	for _, n := range reconcileSizes {
		for _, mode := range []string{"steady", "churn=1", "scan"} {
			b.Run(fmt.Sprintf("sandboxes=%d/%s", n, mode), func(b *testing.B) {
				if testing.Short() && n > 1000 {
					b.Skip("10,000 sandboxes take a while to fill")
				}
				d := filled(b, n)
				passBench(b, d, mode)
			})
		}
	}
}

// laterClock is the system clock moved ahead, so a pass finds the scan due
// without the benchmark waiting minutes for it.
type laterClock struct{ ahead time.Duration }

func (c *laterClock) Now() time.Time { return pool.SystemClock{}.Now().Add(c.ahead) }

func passBench(b *testing.B, d *deployment, mode string) {
	ctx := context.Background()
	cfg := d.cfg
	pc, _ := cfg.Pool(benchPool)
	hash := pool.HashToken("lease")
	rec := d.reconciler
	clock := pool.SystemClock{}
	var before func()
	switch mode {
	case "churn=1":
		before = func() {
			now := clock.Now()
			res, err := d.store.Acquire(ctx, pool.AcquireParams{Pool: benchPool, OnEmpty: pool.OnEmptyFail, Caps: pool.CapsFor(cfg, pc),
				LeaseTTL: time.Minute, LeaseTokenHash: hash, Now: now})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := d.store.Release(ctx, res.Sandbox.ID, hash, now); err != nil {
				b.Fatal(err)
			}
		}
	case "scan":
		// A reconciler of its own whose clock runs ScanEvery past the last
		// full list at each pass. It runs last for its size, so the steady
		// and churn passes never see the dates it writes ahead.
		later := &laterClock{ahead: d.scanAhead}
		defer func() { d.scanAhead = later.ahead }()
		rec = reconcile.New(d.store, d.provider, cfg, later, reconcile.WithLockTTL(10*time.Minute))
		before = func() { later.ahead += reconcile.ScanEvery(cfg) + time.Second }
	}
	calls := 0
	var changes int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if before != nil {
			b.StopTimer()
			before()
			b.StartTimer()
		}
		rep, err := rec.Reconcile(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if !rep.Leader || len(rep.Errors) > 0 {
			b.Fatalf("pass: leader %v, errors %v", rep.Leader, rep.Errors)
		}
		calls += rep.APICalls
		p := rep.Pools[benchPool]
		changes += p.Created + p.Deleted + p.MarkedReady + p.Forgotten
	}
	b.StopTimer()
	b.ReportMetric(float64(calls)/float64(b.N), "api-calls/pass")
	b.ReportMetric(float64(changes)/float64(b.N), "changes/pass")
	b.ReportMetric(float64((d.n+appplatform.ListPageSize-1)/appplatform.ListPageSize), "list-pages")
	b.ReportMetric(float64(d.fillPasses), "fill-passes")
	// Where a pass's time goes, measured once after the loop: the Store's
	// snapshot (one script over every record) and the provider's list
	// (which only a scan pays).
	t0 := clock.Now()
	if _, err := d.store.Observe(ctx, t0); err != nil {
		b.Fatal(err)
	}
	t1 := clock.Now()
	if _, err := d.provider.List(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(ms(t1.Sub(t0)), "observe-ms")
	b.ReportMetric(ms(clock.Now().Sub(t1)), "list-ms")
	if mode == "churn=1" {
		// Leave the pool settled for the next benchmark of this size.
		for range 3 {
			if _, err := d.reconciler.Reconcile(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}
