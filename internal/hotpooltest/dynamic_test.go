package hotpooltest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

// dynamicConfig serves any image from default_pool_config (its own registry,
// so unpublished names are accepted) and names no pool itself.
func dynamicConfig(onEmpty pool.OnEmpty, target, maxDynamic int) *pool.Config {
	c := pool.DefaultConfig()
	d := pool.DefaultPool()
	d.OnEmpty, d.TargetReady, d.MaxReady = onEmpty, target, max(target, 1)
	d.IdleTimeout = pool.Duration(time.Minute)
	d.ScaleDownDelay = pool.Duration(10 * time.Second)
	d.CooldownAfterAcquire = pool.Duration(30 * time.Second)
	d.Template.Registry = "example" // its own registry: sandbox-<image>-service there
	c.DefaultPoolConfig = &d
	c.MaxDynamicPools = maxDynamic
	total := 12
	c.MaxTotalSandboxes = &total
	c.MaxConcurrentCreates = 6
	return &c
}

// poolKeys counts the keys of pool state: pool records and their indexes,
// and the pools sets. Sandbox records, claims and tombstones are bounded by
// the caps and their TTLs, not by the number of image names.
func poolKeys(t *testing.T, rdb *redis.Client, k redisstate.Keys) (keys, pools, dynamic int) {
	t.Helper()
	ctx := context.Background()
	all, err := rdb.Keys(ctx, k.Tag()+"*").Result()
	require.NoError(t, err)
	for _, key := range all {
		if strings.HasPrefix(key, k.PoolPrefix()) || key == k.Pools() || key == k.DynamicPools() {
			keys++
		}
	}
	return keys, int(rdb.SCard(ctx, k.Pools()).Val()), int(rdb.SCard(ctx, k.DynamicPools()).Val())
}

func distinctImage(i int) string { return fmt.Sprintf("img%05d", i) }

// 3,000 acquires of distinct unknown images: with on_empty "fail" and no
// target they write no pool state at all; with cold claims and a target the
// pools are capped at max_dynamic_pools (the rest refused too_many_pools),
// and once demand stops every empty one is collected.
func TestDistinctImagesKeepRedisBounded(t *testing.T) {
	const n = 3000
	t.Run("misses write nothing", func(t *testing.T) {
		rdb, prefix := redistest.Client(t)
		ctx := context.Background()
		h, err := NewHarness(rdb, prefix, HarnessOptions{Config: dynamicConfig(pool.OnEmptyFail, 0, 5), Seed: 1})
		require.NoError(t, err)
		defer h.Close()
		h.SetTraffic(false)
		// This deployment's keys only: other tests share the server.
		count := func() int {
			keys, err := rdb.Keys(ctx, h.Store.Keys().Tag()+"*").Result()
			require.NoError(t, err)
			return len(keys)
		}
		before := count()
		for i := range n {
			h.Acquire(ctx, distinctImage(i))
		}
		require.Equal(t, n, h.Stats.Exhausted)
		keys, pools, _ := poolKeys(t, rdb, h.Store.Keys())
		require.Zero(t, keys, "no pool state for %d misses", n)
		require.Zero(t, pools)
		require.Equal(t, before, count(), "nothing written at all")
		require.NoError(t, h.Run(ctx, time.Minute), "passes run over nothing")
	})

	t.Run("claims and targets are capped, then collected", func(t *testing.T) {
		rdb, prefix := redistest.Client(t)
		ctx := context.Background()
		const maxDynamic = 8
		h, err := NewHarness(rdb, prefix, HarnessOptions{Config: dynamicConfig(pool.OnEmptyCreate, 1, maxDynamic), Seed: 2,
			CreateDelay: 20 * time.Second, HoldMin: 10 * time.Second, HoldMax: 40 * time.Second})
		require.NoError(t, err)
		defer h.Close()
		h.SetTraffic(false)
		maxKeys, maxPools := 0, 0
		for i := range n {
			h.Acquire(ctx, distinctImage(i))
			if i%3 == 2 {
				require.NoError(t, h.Step(ctx))
			}
			if i%100 == 0 {
				keys, pools, dynamic := poolKeys(t, rdb, h.Store.Keys())
				require.LessOrEqual(t, dynamic, maxDynamic)
				require.LessOrEqual(t, pools, maxDynamic)
				maxKeys, maxPools = max(maxKeys, keys), max(maxPools, pools)
			}
		}
		require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
		require.Positive(t, h.Stats.ColdClaims, "some images got their sandbox")
		require.Positive(t, h.Stats.TooManyPools, "refused with its own code beyond max_dynamic_pools")
		require.LessOrEqual(t, maxKeys, 5*maxDynamic+2, "a pool is at most its record, four indexes; plus the two sets")

		// Demand stops: each pool scales down after idle_timeout, and is collected once empty.
		require.NoError(t, h.Run(ctx, 10*time.Minute))
		keys, pools, dynamic := poolKeys(t, rdb, h.Store.Keys())
		require.Zero(t, pools, "every empty dynamic pool is collected")
		require.Zero(t, dynamic)
		require.Zero(t, keys)
		require.NoError(t, h.CheckConsistency(ctx))
		t.Logf("%d acquires of distinct images: %d cold claims, %d too_many_pools, %d other exhausted; at most %d pools and %d pool keys at once; %d after demand stopped",
			n, h.Stats.ColdClaims, h.Stats.TooManyPools, h.Stats.Exhausted-h.Stats.TooManyPools, maxPools, maxKeys, keys)
	})
}

// Targets that sum above max_total_sandboxes are accepted, as the seed's
// manager accepts them: the pools share the cap, filled exactly to it (never
// past it, never one short), and a warm-up ends once it is.
func TestTargetsAboveTheCapFillExactlyToIt(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	cfg := simConfig() // py 4 + node 2 = 6
	total := 5
	cfg.MaxTotalSandboxes = &total
	require.NoError(t, cfg.Validate())
	require.Len(t, cfg.Warnings(), 1)
	h, err := NewHarness(rdb, prefix, HarnessOptions{Config: cfg, Seed: 3, CreateDelay: 20 * time.Second})
	require.NoError(t, err)
	defer h.Close()
	_, err = h.Converge(ctx, ConvergePasses)
	require.NoError(t, err)
	for range 12 { // a minute more of passes: the fill holds
		h.Clock.Advance(5 * time.Second)
		rep, err := h.Pass(ctx)
		require.NoError(t, err)
		py, node := rep.Pools["py"], rep.Pools["node"]
		require.Equal(t, 5, py.Ready+node.Ready, "exactly the cap: py %d, node %d", py.Ready, node.Ready)
		require.Positive(t, node.Ready, "round-robin: no pool starves")
		require.Zero(t, py.Creating+node.Creating)
	}
	st, err := h.Service.WarmUp(ctx, 0)
	require.NoError(t, err, "warm-up is done when the cap is filled")
	require.True(t, st.Done)
	require.True(t, st.Capped)
	require.LessOrEqual(t, h.Stats.MaxTotal, 5)
	require.Empty(t, h.Stats.Violations, strings.Join(h.Stats.Violations, "\n"))
}
