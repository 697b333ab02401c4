package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// dynamicParams asks for testPool as a pool default_pool_config serves, with
// room for two such pools.
func dynamicParams(now time.Time, onEmpty pool.OnEmpty) pool.AcquireParams {
	p := acquireParams(now, "h1")
	p.OnEmpty, p.Dynamic, p.MaxDynamicPools = onEmpty, true, 2
	p.ClaimHash, p.NewSandboxID, p.CreateDeadline = "c1", "cold1", now.Add(10*time.Minute)
	return p
}

// A dynamic pool Redis does not know is written only when it will hold a
// sandbox, and never beyond max_dynamic_pools: a miss that leaves it empty
// writes nothing at all, so distinct image names cannot grow Redis.
func TestDynamicPoolMissesWriteNothing(t *testing.T) {
	now := at(time.Minute)
	full := func(f *fixture) {
		require.NoError(f.t, f.rdb.SAdd(f.ctx, f.s.Keys().DynamicPools(), "other1", "other2").Err())
	}
	runTransitionCases(t, []transitionCase{
		{
			name:    "on_empty fail, no target",
			run:     func(f *fixture) error { _, err := f.s.Acquire(f.ctx, dynamicParams(now, pool.OnEmptyFail)); return err },
			wantErr: pool.ErrPoolExhausted,
		},
		{
			name:    "a wait try",
			run:     func(f *fixture) error { _, err := f.s.Acquire(f.ctx, dynamicParams(now, pool.OnEmptyWait)); return err },
			wantErr: pool.ErrPoolExhausted,
		},
		{
			name: "on_empty create at capacity, no target",
			run: func(f *fixture) error {
				p := dynamicParams(now, pool.OnEmptyCreate)
				p.Caps.MaxTotal = 0
				_, err := f.s.Acquire(f.ctx, p)
				return err
			},
			wantErr: pool.ErrPoolExhausted,
		},
		{
			name: "a cold claim beyond max_dynamic_pools",
			seed: full,
			run: func(f *fixture) error {
				_, err := f.s.Acquire(f.ctx, dynamicParams(now, pool.OnEmptyCreate))
				require.ErrorContains(f.t, err, "(2)", "the cap is named")
				return err
			},
			wantErr: pool.ErrTooManyPools,
		},
		{
			name: "a pool to fill beyond max_dynamic_pools",
			seed: full,
			run: func(f *fixture) error {
				p := dynamicParams(now, pool.OnEmptyFail)
				p.Fills = true
				_, err := f.s.Acquire(f.ctx, p)
				return err
			},
			wantErr: pool.ErrTooManyPools,
		},
		{
			name: "a start of a pool that has no state",
			run: func(f *fixture) error {
				return f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Dynamic: true, MaxDynamicPools: 2, Now: now})
			},
		},
		{
			name: "a shutdown beyond max_dynamic_pools",
			seed: full,
			run: func(f *fixture) error {
				return f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Dynamic: true, MaxDynamicPools: 2, Now: now})
			},
			wantErr: pool.ErrTooManyPools,
		},
	})
}

func TestDynamicPoolIsKeptOnceItHoldsASandbox(t *testing.T) {
	for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
		f := open(t)
		now := at(time.Minute)
		dyn := f.s.Keys().DynamicPools()

		res, err := f.s.Acquire(f.ctx, dynamicParams(now, pool.OnEmptyCreate))
		require.NoError(t, err)
		require.NotNil(t, res.Claim, "a cold claim: the pool holds its sandbox")
		require.Equal(t, []string{testPool}, f.rdb.SMembers(f.ctx, dyn).Val())
		require.True(t, f.rdb.SIsMember(f.ctx, f.s.Keys().Pools(), testPool).Val())

		// Known now: its misses count as any pool's, and it is counted once.
		p := dynamicParams(now, pool.OnEmptyFail)
		_, err = f.s.Acquire(f.ctx, p)
		require.ErrorIs(t, err, pool.ErrPoolExhausted)
		require.Equal(t, "1", f.rdb.HGet(f.ctx, f.s.Keys().Pool(testPool), "misses_empty").Val())
		require.Equal(t, int64(1), f.rdb.SCard(f.ctx, dyn).Val())

		// A pool with a target is kept at its first miss, for reconcile to fill.
		p = dynamicParams(now, pool.OnEmptyFail)
		p.Pool, p.Fills = "filled", true
		_, err = f.s.Acquire(f.ctx, p)
		require.ErrorIs(t, err, pool.ErrPoolExhausted)
		require.ElementsMatch(t, []string{testPool, "filled"}, f.rdb.SMembers(f.ctx, dyn).Val())

		// And so is one an operator shuts down, within the cap.
		err = f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: "third", Shutdown: true, Dynamic: true, MaxDynamicPools: 3, Now: now})
		require.NoError(t, err)
		require.Equal(t, "1", f.rdb.HGet(f.ctx, f.s.Keys().Pool("third"), "shutdown").Val())
		require.Equal(t, int64(3), f.rdb.SCard(f.ctx, dyn).Val())
		f.check(nil)
	}
}

func TestCollectPoolTransitions(t *testing.T) {
	// A pool Redis knows but that holds nothing: a dynamic pool whose last
	// sandbox was destroyed.
	emptyPool := func(f *fixture) {
		p := dynamicParams(at(0), pool.OnEmptyFail)
		p.Fills = true
		_, err := f.s.Acquire(f.ctx, p)
		require.ErrorIs(f.t, err, pool.ErrPoolExhausted)
	}
	collect := func(want bool) func(f *fixture) error {
		return func(f *fixture) error {
			got, err := f.s.CollectPool(f.ctx, leader, testPool)
			require.Equal(f.t, want, got)
			return err
		}
	}
	runTransitionCases(t, []transitionCase{
		{
			name: "an empty pool is forgotten whole",
			seed: emptyPool,
			run:  collect(true),
			changes: []change{
				set(kPool, nil), set(":pools", nil), set(":pools:dynamic", nil),
			},
		},
		{
			name: "a pool holding a sandbox is kept",
			seed: func(f *fixture) { f.ready("a", at(0)) },
			run:  collect(false),
		},
		{
			name: "a shut-down pool keeps its flag",
			seed: func(f *fixture) {
				emptyPool(f)
				require.NoError(f.t, f.s.SetShutdown(f.ctx, pool.ShutdownParams{Pool: testPool, Shutdown: true, Dynamic: true, MaxDynamicPools: 2, Now: at(0)}))
			},
			run: collect(false),
		},
		{
			name:    "only the leader collects",
			seed:    emptyPool,
			run:     func(f *fixture) error { _, err := f.s.CollectPool(f.ctx, stranger, testPool); return err },
			wantErr: pool.ErrNotLeader,
		},
	})
}
