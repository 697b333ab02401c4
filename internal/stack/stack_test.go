package stack

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/pool"
)

type nopProvider struct{ pool.Provider }

func TestBuildWiresWhatTheOptionsAskFor(t *testing.T) {
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 1}}}`))
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // Build dials nothing
	t.Cleanup(func() { _ = rdb.Close() })

	_, err = Build(Options{Config: cfg, Clock: pool.SystemClock{}})
	require.Error(t, err, "no Redis")

	api, err := Build(Options{Config: cfg, Redis: rdb, Clock: pool.SystemClock{}, Secret: "s", Token: "t"})
	require.NoError(t, err)
	require.Nil(t, api.Reconciler, "no platform: the API alone, as a function without DIGITALOCEAN_TOKEN")
	require.NotNil(t, api.Handler)
	require.Equal(t, "{hotpool:"+cfg.Deployment+"}", api.Keys.Tag(), "the deployment's prefix by default")

	var budgetSeen *appplatform.Budget
	wrapped := false
	var hookedWith pool.Reconciler
	full, err := Build(Options{
		Config: cfg, Redis: rdb, Clock: pool.SystemClock{}, Secret: "s", KeyPrefix: "other", KickReconciler: true,
		NewProvider:  func(b *appplatform.Budget) (pool.Provider, error) { budgetSeen = b; return nopProvider{}, nil },
		WrapProvider: func(p pool.Provider) pool.Provider { wrapped = true; return p },
		Service: func(so *pool.ServiceOptions) {
			require.NotNil(t, so.Kick, "KickReconciler set the Service's Kick before the hook ran")
			hookedWith = so.Reconciler
		},
	})
	require.NoError(t, err)
	require.NotNil(t, full.Reconciler)
	require.Same(t, full.Budget, budgetSeen, "the platform is built on the stack's one budget")
	require.True(t, wrapped)
	require.Equal(t, pool.Reconciler(full.Reconciler), hookedWith, "the Service runs the stack's own Reconciler")
	require.Nil(t, full.Handler, "no token: no handler")
	require.Equal(t, "{hotpool:other}", full.Keys.Tag())

	svc, _, err := full.Front(cfg)
	require.NoError(t, err)
	require.NotSame(t, full.Service, svc, "a reload's front is a new Service over the same backends")
	require.Equal(t, cfg, svc.Config())
}
