package appplatform_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// maxInWindow is the most calls any window of length w holds.
func maxInWindow(calls []appsim.Call, w time.Duration) int {
	best, j := 0, 0
	for i := range calls {
		for calls[i].At.Sub(calls[j].At) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func apiCalls(log []appsim.Call) []appsim.Call {
	var out []appsim.Call
	for _, c := range log {
		if c.Endpoint != "GET /live/{id}/health" && c.Endpoint != "POST /live/{id}/api/exec" {
			out = append(out, c)
		}
	}
	return out
}

// Eight function instances, each with its own Provider and Budget over one
// Redis key, hammer the API; the simulator's own log shows that no minute and
// no hour ever held more calls than the budget, and that the budget was used
// in full (the last call is barely past the hour).
func TestSharedBudgetHoldsWithEightConcurrentCallers(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.Scripter, key string) {
		const workers, each = 8, 10
		limits := pool.APIBudget{PerMinute: 20, PerHour: 50}
		vt := newVTime(epoch)
		sim, base := startSim(t, appsim.Options{Clock: vt.clock, RateLimitPerMinute: 250, RateLimitPerHour: 5000})
		seed := newProvider(t, base, nil)
		app, err := seed.Create(ctxT(t), spec(pool.NewSandboxID()))
		require.NoError(t, err)
		sim.ResetCalls()

		providers := make([]*appplatform.Provider, workers)
		for i := range providers {
			b, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: rdb, Key: key, Limits: limits, Clock: vt.clock, Sleep: vt.sleep})
			require.NoError(t, err)
			providers[i] = newProvider(t, base, func(o *appplatform.Options) { o.Budget, o.Clock = b, vt.clock })
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errs := make(chan error, workers*each)
		var wg sync.WaitGroup
		for _, p := range providers {
			vt.enter()
			wg.Add(1)
			go func(p *appplatform.Provider) {
				defer wg.Done()
				defer vt.exit()
				for i := 0; i < each; i++ {
					got, err := p.Get(ctx, app.ID)
					if err == nil && got.Phase != pool.PhaseActive {
						err = context.DeadlineExceeded
					}
					errs <- err
				}
			}(p)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		calls := apiCalls(sim.CallLog())
		require.Len(t, calls, workers*each, "every call once: no 429, no retry")
		perMinute, perHour := maxInWindow(calls, time.Minute), maxInWindow(calls, time.Hour)
		require.LessOrEqual(t, perMinute, limits.PerMinute)
		require.LessOrEqual(t, perHour, limits.PerHour)
		elapsed := vt.clock.Now().Sub(epoch)
		require.Less(t, elapsed, time.Hour+2*time.Minute, "the budget is used in full, not paced")
		t.Logf("%d callers x %d calls: busiest minute %d/%d, busiest hour %d/%d, all done after %s of simulated time",
			workers, each, perMinute, limits.PerMinute, perHour, limits.PerHour, elapsed)
	})
}

// A 429's Retry-After pauses the whole deployment: the provider that got it
// and a second one sharing the budget both wait, and neither calls the API
// before the pause ends.
func TestRetryAfterPausesTheWholeDeployment(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.Scripter, key string) {
		clock := pool.NewManualClock(epoch)
		sl := &sleeper{clock: clock}
		sim, base := startSim(t, appsim.Options{Clock: clock})
		sim.SetFaults(appsim.Faults{RetryAfter: 30 * time.Second})
		mk := func(retryMax int) *appplatform.Provider {
			b, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: rdb, Key: key, Limits: pool.APIBudget{PerMinute: 200, PerHour: 4000}, Clock: clock, Sleep: sl.sleep})
			require.NoError(t, err)
			return newProvider(t, base, func(o *appplatform.Options) { o.Budget, o.Clock, o.RetryMax = b, clock, retryMax })
		}
		a, b := mk(-1), mk(0)
		ctx := shortCtx(t)
		app, err := a.Create(ctx, spec(pool.NewSandboxID()))
		require.NoError(t, err)

		// A gets a 429 (no retries): unknown, rate limited; the budget pauses.
		sim.QueueFaults(429)
		got, err := a.Get(ctx, app.ID)
		require.ErrorIs(t, err, appplatform.ErrRateLimited)
		require.ErrorIs(t, err, pool.ErrProviderUnknown)
		require.ErrorIs(t, err, pool.ErrProviderNotSent, "a 429 was not processed: reconcile sends a create again without counting a failure")
		require.Equal(t, pool.PhaseUnknown, got.Phase)
		pausedAt := clock.Now()

		// B, with a deadline shorter than the pause, fails fast without calling.
		sim.ResetCalls()
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err = b.Get(dctx, app.ID)
		require.ErrorIs(t, err, appplatform.ErrBudget)
		require.ErrorIs(t, err, pool.ErrProviderUnknown)
		require.ErrorIs(t, err, pool.ErrProviderNotSent)
		require.Zero(t, sim.APICalls())

		// B with time to wait: it waits out the pause, then calls once.
		got, err = b.Get(ctx, app.ID)
		require.NoError(t, err)
		require.Equal(t, pool.PhaseActive, got.Phase)
		log := sim.CallLog()
		require.Len(t, log, 1)
		require.Equal(t, pausedAt.Add(30*time.Second), log[0].At)

		// With retries, the provider that gets the 429 waits the pause and succeeds.
		sim.ResetCalls()
		sim.QueueFaults(429)
		start := clock.Now()
		got, err = b.Get(ctx, app.ID)
		require.NoError(t, err)
		require.Equal(t, pool.PhaseActive, got.Phase)
		log = sim.CallLog()
		require.Len(t, log, 2)
		require.Equal(t, start, log[0].At)
		require.Equal(t, start.Add(30*time.Second), log[1].At)
	})
}
