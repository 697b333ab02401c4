package httpapi

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

// seeder puts state into a store the way reconcile would.
type seeder interface {
	addReady(pool, id string, at time.Time)
	readyClaims(at time.Time)
}

// storeKinds are the stores the integration tests run on: redisstate on
// miniredis (what `hotpool serve` embeds) and on the real redis-server. There
// is no third, hand-written model of the scripts' semantics.
var storeKinds = []string{"miniredis", "redis"}

// newStore returns a store of kind and its seeder.
func newStore(t testing.TB, kind string, cfg *pool.Config) (pool.Store, seeder) {
	t.Helper()
	switch kind {
	case "down":
		// A Redis that refuses every connection: an outage, as the Store sees it.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
		t.Cleanup(func() { _ = rdb.Close() })
		return redisstate.New(rdb, "down"), nil
	case "miniredis":
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		return redisSeeded(t, rdb, redistest.Prefix(t), cfg)
	default:
		rdb, prefix := redistest.Client(t)
		return redisSeeded(t, rdb, prefix, cfg)
	}
}

// redisSeeder drives redisstate through reserve → created → ready under a
// leader lock, as a reconcile pass does.
type redisSeeder struct {
	t     testing.TB
	s     *redisstate.Store
	cfg   *pool.Config
	fence pool.Fence
}

func redisSeeded(t testing.TB, rdb *redis.Client, prefix string, cfg *pool.Config) (pool.Store, seeder) {
	s := redisstate.New(rdb, prefix)
	ctx := context.Background()
	require.NoError(t, s.Preload(ctx))
	fence := pool.Fence{Token: "test-leader"}
	ok, err := s.Lock(ctx, fence, 24*time.Hour, t0)
	require.NoError(t, err)
	require.True(t, ok)
	return s, &redisSeeder{t: t, s: s, cfg: cfg, fence: fence}
}

func (r *redisSeeder) addReady(p, id string, at time.Time) {
	ctx := context.Background()
	pc, err := r.cfg.Pool(p)
	require.NoError(r.t, err)
	require.NoError(r.t, r.s.Reserve(ctx, r.fence, pool.ReserveParams{
		Pool: p, SandboxID: id, Caps: pool.CapsFor(r.cfg, pc), Attempt: 1, Region: "nyc",
		InstanceSize: "apps-s-1vcpu-1gb", CreateDeadline: at.Add(10 * time.Minute), Now: at,
	}))
	r.created(id, at)
}

func (r *redisSeeder) created(id string, at time.Time) {
	ctx := context.Background()
	require.NoError(r.t, r.s.CreateCalled(ctx, r.fence, id, "app-"+id, at))
	require.NoError(r.t, r.s.MarkReady(ctx, r.fence, id, "app-"+id, "https://"+id+".example", at.Add(time.Hour), at))
}

func (r *redisSeeder) readyClaims(at time.Time) {
	obs, err := r.s.Observe(context.Background(), at)
	require.NoError(r.t, err)
	for _, c := range obs.Claims {
		if !c.Failed {
			r.created(c.SandboxID, at)
		}
	}
}

// onEveryStore runs a test on each store kind.
func onEveryStore(t *testing.T, test func(t *testing.T, kind string)) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) { test(t, kind) })
	}
}
