package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

func TestSmokeLifecycle(t *testing.T) {
	f := newFixture(t)
	f.ready("a", at(0))
	f.ready("b", at(time.Second))
	f.check(map[string]pool.Caps{testPool: testCaps})
	res, err := f.s.Acquire(f.ctx, acquireParams(at(time.Minute), "h1"))
	require.NoError(t, err)
	require.Equal(t, "a", res.Sandbox.ID)
	require.Equal(t, pool.SourcePool, res.Source)
	st, err := f.s.Release(f.ctx, "a", "h1", at(2*time.Minute))
	require.NoError(t, err)
	require.Equal(t, pool.StateDeleting, st)
	require.NoError(t, f.s.Forget(f.ctx, leader, "a", at(3*time.Minute)))
	st, err = f.s.Release(f.ctx, "a", "h1", at(4*time.Minute))
	require.NoError(t, err)
	require.Equal(t, StateDeleted, st)
	f.check(map[string]pool.Caps{testPool: testCaps})
	obs, err := f.s.Observe(f.ctx, at(5*time.Minute))
	require.NoError(t, err)
	require.Len(t, obs.Sandboxes, 1)
	snap, err := f.s.Metrics(f.ctx, []string{testPool}, at(5*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, snap.Pools[testPool].Ready)
	t.Logf("%+v", snap.Pools[testPool].State.Stats)
	t.Logf("%v", f.dumpAll())
}
