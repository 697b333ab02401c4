package hotpooltest

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/reconcile"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/redis/go-redis/v9"
)

// faultCounts is what the injectors did.
type faultCounts struct {
	mu              sync.Mutex
	storms          int // platform fault storms started
	redisRestarts   int
	failovers       int
	restartFailures int // restarts and failovers that failed
	flushes         int
	configChanges   int
	reloadErrors    []string
	passesStarted   int // passes started only to be killed
	passesKilled    int // of those, cancelled before they finished
}

// storm is one setting of the simulated platform's faults. Storms alternate
// with calm spells, so work gets done between them, as in a real outage.
func storm(rng *rand.Rand) (appsim.Faults, float64) {
	delays := []time.Duration{0, 50 * time.Millisecond, 300 * time.Millisecond}
	return appsim.Faults{
		Rate429:    0.05 + 0.15*rng.Float64(),
		Rate500:    0.1 * rng.Float64(),
		Rate503:    0.1 * rng.Float64(),
		DropRate:   0.05 * rng.Float64(),
		Delay:      delays[rng.IntN(len(delays))],
		RetryAfter: time.Second,
	}, 0.1 + 0.3*rng.Float64()
}

// platformFaults switches storms and calm spells of 1-3 s until ctx ends,
// then turns every fault off.
func platformFaults(ctx context.Context, sim *appsim.Server, rng *rand.Rand, fc *faultCounts) {
	defer func() {
		sim.SetFaults(appsim.Faults{})
		sim.SetFailRate(0)
	}()
	for on := true; ; on = !on {
		if on {
			f, failRate := storm(rng)
			sim.SetFaults(f)
			sim.SetFailRate(failRate)
			fc.mu.Lock()
			fc.storms++
			fc.mu.Unlock()
		} else {
			sim.SetFaults(appsim.Faults{})
			sim.SetFailRate(0)
		}
		if pool.Sleep(ctx, time.Duration(1000+rng.IntN(2000))*time.Millisecond) != nil {
			return
		}
	}
}

// redisFaults takes Redis down every `every`, for 200-800 ms each time:
// with failovers, first a failover to the replica, then a restart of the
// primary, and so on; without, restarts only. It returns with Redis up.
func redisFaults(ctx context.Context, pair *redisPair, every time.Duration, failovers bool, rng *rand.Rand, fc *faultCounts) {
	for i := 0; pool.Sleep(ctx, every) == nil; i++ {
		down := time.Duration(200+rng.IntN(600)) * time.Millisecond
		fail := failovers && i%2 == 0
		var err error
		if fail {
			err = pair.failover(ctx, down)
		} else {
			err = pair.restartPrimary(ctx, down)
		}
		fc.mu.Lock()
		if fail {
			fc.failovers++
		} else {
			fc.redisRestarts++
		}
		if err != nil {
			fc.restartFailures++
		}
		fc.mu.Unlock()
	}
}

// configChanges redeploys the server with a changed config at a quarter of
// the fault phase (variant) and back to the soak's own at 60 %, so the
// checks after convergence hold against the config the soak began with. A
// soak cut short still ends under its own config.
func configChanges(ctx context.Context, s *localserver.Server, base *pool.Config, phase time.Duration, fc *faultCounts) {
	if pool.Sleep(ctx, phase/4) != nil {
		return
	}
	reload(ctx, s, variant(base), fc)
	_ = pool.Sleep(ctx, phase*6/10-phase/4)
	reload(ctx, s, base, fc)
}

// reload puts cfg in force as an operator's redeploy would: retried while
// Redis is down (a restart or failover under way), for at most 15 s.
func reload(ctx context.Context, s *localserver.Server, cfg *pool.Config, fc *faultCounts) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var err error
	for {
		if err = s.Reload(rctx, cfg); err == nil || pool.Sleep(rctx, 200*time.Millisecond) != nil {
			break
		}
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if err != nil {
		fc.reloadErrors = append(fc.reloadErrors, err.Error())
		return
	}
	fc.configChanges++
}

// variant is base redeployed with every pool's target one higher (within
// max_ready), create_retries lowered to 1 (below the attempts of claims
// waiting for a retry) and, when there are several pools, the last one
// removed: its claims must fail, its sandboxes go, and it must fill again
// when the next change brings it back. The caps stay, so the monitor's
// checks hold across the change.
func variant(base *pool.Config) *pool.Config {
	c := *base
	c.Pools = make(map[string]*pool.PoolConfig, len(base.Pools))
	names := base.PoolNames()
	for i, name := range names {
		if len(names) > 1 && i == len(names)-1 {
			continue
		}
		pc := *base.Pools[name]
		pc.TargetReady = min(pc.TargetReady+1, pc.MaxReady)
		pc.CreateRetries = 1
		c.Pools[name] = &pc
	}
	return &c
}

// killPasses starts a reconcile pass every `every` and cancels its context
// 0-10 ms in (a leader's pass takes tens of milliseconds: lock, snapshot,
// list, actions): wherever it stops, the next pass must complete its work.
func killPasses(ctx context.Context, r *reconcile.Reconciler, every time.Duration, rng *rand.Rand, fc *faultCounts) {
	for pool.Sleep(ctx, every) == nil {
		pctx, cancel := context.WithCancel(ctx)
		t := time.AfterFunc(time.Duration(rng.IntN(10))*time.Millisecond, cancel)
		_, _ = r.Reconcile(pctx)
		killed := !t.Stop() // the cancel fired before the pass returned
		cancel()
		fc.mu.Lock()
		fc.passesStarted++
		if killed {
			fc.passesKilled++
		}
		fc.mu.Unlock()
	}
}

// flushOnce empties the deployment's keys once, after `after`: every record,
// lease, claim and counter is gone while the apps live on, as after a
// failover to an empty replica. The next passes must count the live apps
// against the caps and delete them after orphan_grace, never adopt them.
func flushOnce(ctx context.Context, rdb *redis.Client, prefix string, after time.Duration, fc *faultCounts) {
	if pool.Sleep(ctx, after) != nil {
		return
	}
	// Redis may be down (a restart or failover under way): try again for
	// a few seconds rather than skip the fault.
	for range 20 {
		if flush(ctx, rdb, prefix) {
			fc.mu.Lock()
			fc.flushes++
			fc.mu.Unlock()
			return
		}
		if pool.Sleep(ctx, 250*time.Millisecond) != nil {
			return
		}
	}
}

// flush deletes every key of the deployment, reporting whether it could.
func flush(ctx context.Context, rdb *redis.Client, prefix string) bool {
	iter := rdb.Scan(ctx, 0, redisstate.NewKeys(prefix).Tag()+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return iter.Err() == nil && len(keys) > 0 && rdb.Del(ctx, keys...).Err() == nil
}
