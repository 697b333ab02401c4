package appplatform_test

import (
	"context"
	"testing"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
	"github.com/stretchr/testify/require"
)

// BenchmarkBudgetTake is one Take on the real redis-server: the cost the
// shared budget adds to every API call.
func BenchmarkBudgetTake(b *testing.B) {
	c, prefix := redistest.Client(b)
	// Limits far above b.N so the benchmark measures the script, not waiting.
	budget, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: c, Key: redisstate.NewKeys(prefix).Budget(), Limits: pool.APIBudget{PerMinute: 1 << 30, PerHour: 1 << 30}})
	require.NoError(b, err)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := budget.Take(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProviderGet is one Get through godo, the budget and the simulator.
func BenchmarkProviderGet(b *testing.B) {
	c, prefix := redistest.Client(b)
	budget, err := appplatform.NewBudget(appplatform.BudgetOptions{Redis: c, Key: redisstate.NewKeys(prefix).Budget(), Limits: pool.APIBudget{PerMinute: 1 << 30, PerHour: 1 << 30}})
	require.NoError(b, err)
	_, base := startSim(b, appsim.Options{})
	p := newProvider(b, base, func(o *appplatform.Options) { o.Budget = budget })
	ctx := context.Background()
	app, err := p.Create(ctx, spec(pool.NewSandboxID()))
	require.NoError(b, err)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Get(ctx, app.ID); err != nil {
			b.Fatal(err)
		}
	}
}
