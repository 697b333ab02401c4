package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// BenchmarkPlan plans a pass over 20 pools and 1,000 sandboxes in every
// state: the planner's share of a pass must stay far below one API call.
func BenchmarkPlan(b *testing.B) {
	cfg := pool.DefaultConfig()
	w := &world{obs: Observation{ListOK: true, State: pool.Observed{At: t0, Pools: map[string]pool.Record{}}}}
	states := []pool.State{pool.StateReady, pool.StateReady, pool.StateInUse, pool.StateCreating, pool.StateDeleting}
	for p := range 20 {
		name := fmt.Sprintf("img%d", p)
		pc := pool.DefaultPool()
		pc.TargetReady, pc.MaxReady = 20, 60
		cfg.Pools[name] = &pc
		w.obs.State.Pools[name] = pool.Record{Name: name, ActivatedAt: t0.Add(-time.Minute)}
		for i := range 50 {
			id := fmt.Sprintf("%s-%d", name, i)
			st := states[i%len(states)]
			w.record(pool.Sandbox{ID: id, Pool: name, State: st, AppID: "app-" + id, ReadyAt: t0.Add(-time.Duration(i) * time.Second),
				WarmDeadline: t0.Add(time.Duration(i) * time.Minute), LeaseExpiresAt: t0.Add(time.Duration(i-25) * time.Minute),
				CreateDeadline: t0.Add(time.Minute), CreateCalledAt: t0.Add(-time.Minute)})
			w.app(pool.App{ID: "app-" + id, SandboxID: id, Pool: name, Phase: pool.PhaseActive})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(Plan(w.obs, &cfg, t0)) == 0 {
			b.Fatal("empty plan")
		}
	}
}
