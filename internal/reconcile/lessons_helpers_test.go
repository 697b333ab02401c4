package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/hotpooltest"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// lessonConfig is one pool "py" (target, max) that never idles unless a
// test says so, with health checks on the app's URL.
func lessonConfig(target, maxReady int) *pool.Config {
	c := pool.DefaultConfig()
	py := pool.DefaultPool()
	py.TargetReady, py.MaxReady = target, maxReady
	py.IdleTimeout = pool.Duration(24 * time.Hour)
	py.OnEmpty = pool.OnEmptyFail
	py.Template.Repository = "sandbox-python-service" // "py" names its image
	c.Pools = map[string]*pool.PoolConfig{"py": &py}
	c.CreateTimeout = pool.Duration(3 * time.Minute)
	c.OrphanGrace = pool.Duration(2 * time.Minute)
	c.CircuitOpenFor = pool.Duration(2 * time.Minute)
	c.HealthCheckURL = true
	return &c
}

func py(c *pool.Config) *pool.PoolConfig { return c.Pools["py"] }

type lessonEnv struct {
	*hotpooltest.Harness
	rdb *redis.Client
	pv  *faultyProvider
}

func newLesson(t *testing.T, cfg *pool.Config, o hotpooltest.HarnessOptions) *lessonEnv {
	t.Helper()
	rdb, prefix := redistest.Client(t)
	o.Config = cfg
	if o.CreateDelay == 0 {
		o.CreateDelay = 40 * time.Second
	}
	fp := &faultyProvider{}
	o.WrapProvider = func(p pool.Provider) pool.Provider { fp.Provider = p; return fp }
	h, err := hotpooltest.NewHarness(rdb, prefix, o)
	require.NoError(t, err)
	fp.clock = h.Clock
	t.Cleanup(func() { _ = h.Close() })
	return &lessonEnv{Harness: h, rdb: rdb, pv: fp}
}

func (e *lessonEnv) noViolations(t *testing.T) {
	t.Helper()
	require.Empty(t, e.Stats.Violations, strings.Join(e.Stats.Violations, "\n"))
}

func (e *lessonEnv) metrics(t *testing.T) pool.PoolMetrics {
	t.Helper()
	snap, err := e.Store.Metrics(context.Background(), []string{"py"}, e.Now())
	require.NoError(t, err)
	return snap.Pools["py"]
}

func (e *lessonEnv) apps(t *testing.T) []pool.App {
	t.Helper()
	apps, err := e.Apps(context.Background())
	require.NoError(t, err)
	return apps
}

func (e *lessonEnv) readyIDs(t *testing.T) []string {
	t.Helper()
	obs, err := e.Store.Observe(context.Background(), e.Now())
	require.NoError(t, err)
	var ids []string
	for _, sb := range obs.Sandboxes {
		if sb.State == pool.StateReady {
			ids = append(ids, sb.ID)
		}
	}
	return ids
}

// faultyProvider injects what the simulator does not model: definite
// create refusals, lost create responses, unknown health answers. It also
// logs the (simulated) time of every create call.
type faultyProvider struct {
	pool.Provider
	clock              pool.Clock
	refuseCreates      atomic.Bool
	loseCreateResponse atomic.Bool
	healthUnknown      atomic.Bool
	onCreate           func(n int) // called before the n-th create call (1-based)
	onDelete           func()      // called before each delete call
	hideFromList       string      // an app id List leaves out (a page shifted by a delete)

	mu          sync.Mutex
	createTimes []time.Time
}

func (f *faultyProvider) Create(ctx context.Context, spec pool.CreateSpec) (pool.App, error) {
	f.mu.Lock()
	f.createTimes = append(f.createTimes, f.clock.Now())
	n, hook := len(f.createTimes), f.onCreate
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if f.refuseCreates.Load() {
		return pool.App{}, errors.New("422: image not found")
	}
	app, err := f.Provider.Create(ctx, spec)
	if err == nil && f.loseCreateResponse.Load() {
		return pool.App{}, fmt.Errorf("create: connection reset after the request was sent: %w", pool.ErrProviderUnknown)
	}
	return app, err
}

func (f *faultyProvider) List(ctx context.Context) ([]pool.App, error) {
	apps, err := f.Provider.List(ctx)
	f.mu.Lock()
	hide := f.hideFromList
	f.mu.Unlock()
	if err != nil || hide == "" {
		return apps, err
	}
	var out []pool.App
	for _, a := range apps {
		if a.ID != hide {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *faultyProvider) Delete(ctx context.Context, appID string) error {
	f.mu.Lock()
	hook := f.onDelete
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.Provider.Delete(ctx, appID)
}

func (f *faultyProvider) Health(ctx context.Context, app pool.App, path string) error {
	if f.healthUnknown.Load() {
		return fmt.Errorf("health: timeout: %w", pool.ErrProviderUnknown)
	}
	return f.Provider.Health(ctx, app, path)
}

func (f *faultyProvider) creates() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.createTimes...)
}

// Calls passes the real provider's request counter through the wrapper.
func (f *faultyProvider) Calls() int64 {
	if c, ok := f.Provider.(interface{ Calls() int64 }); ok {
		return c.Calls()
	}
	return 0
}
