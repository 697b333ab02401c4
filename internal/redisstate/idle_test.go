package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// TestAnEmptyAcquireWakesAnIdlePool: an idle pool is scaled down to nothing,
// and only an acquire brings it back (the seed: "acquire() triggers
// scale-up"). That acquire finds the pool empty, so the miss itself must make
// the pool active, or reconcile never refills it and every later acquire
// misses too. A miss inside a wait counts as demand as well.
func TestAnEmptyAcquireWakesAnIdlePool(t *testing.T) {
	pc := pool.DefaultPool() // idle_timeout 60 s, cooldown 120 s
	for _, onEmpty := range []pool.OnEmpty{pool.OnEmptyFail, pool.OnEmptyWait} {
		for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
			f := open(t)
			f.ready("a", at(0))
			_, err := f.s.Acquire(f.ctx, acquireParams(at(time.Second), "h1"))
			require.NoError(t, err)

			later := at(time.Hour)
			obs, err := f.s.Observe(f.ctx, later)
			require.NoError(t, err)
			require.True(t, obs.Pools[testPool].Idle(pc, later), "an hour without an acquire is idle")

			p := acquireParams(later, "h2")
			p.OnEmpty = onEmpty
			_, err = f.s.Acquire(f.ctx, p)
			require.ErrorIs(t, err, pool.ErrPoolExhausted)
			obs, err = f.s.Observe(f.ctx, later)
			require.NoError(t, err)
			require.False(t, obs.Pools[testPool].Idle(pc, later), "on_empty %s: the miss made the pool active", onEmpty)
			f.check(nil)
		}
	}
}
