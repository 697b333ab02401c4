package reconcile

import (
	"context"
	"sync/atomic"

	"github.com/hotpool/hotpool/internal/pool"
)

// countingProvider counts the DigitalOcean API calls of the reconciler, so
// each pass reports what it spent of the shared budget. Health requests go
// to the apps themselves, not to the API, and are not counted. When the
// provider counts its own HTTP attempts (appplatform's Calls, retries
// included), that finer count is used instead.
type countingProvider struct {
	inner pool.Provider
	n     atomic.Int64
}

// callCounter is implemented by providers that count their API requests.
type callCounter interface{ Calls() int64 }

func (c *countingProvider) calls() int {
	if cc, ok := c.inner.(callCounter); ok {
		return int(cc.Calls())
	}
	return int(c.n.Load())
}

func (c *countingProvider) Create(ctx context.Context, spec pool.CreateSpec) (pool.App, error) {
	c.n.Add(1)
	return c.inner.Create(ctx, spec)
}

func (c *countingProvider) Get(ctx context.Context, appID string) (pool.App, error) {
	c.n.Add(1)
	return c.inner.Get(ctx, appID)
}

func (c *countingProvider) List(ctx context.Context) ([]pool.App, error) {
	c.n.Add(1)
	return c.inner.List(ctx)
}

func (c *countingProvider) Delete(ctx context.Context, appID string) error {
	c.n.Add(1)
	return c.inner.Delete(ctx, appID)
}

func (c *countingProvider) Health(ctx context.Context, app pool.App, path string) error {
	return c.inner.Health(ctx, app, path)
}
