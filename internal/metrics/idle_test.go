package metrics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/reconcile"
)

// TestIdleAgreesWithReconcile: the metric says idle exactly when reconcile
// treats the pool as idle and scales it down.
func TestIdleAgreesWithReconcile(t *testing.T) {
	times := []time.Time{{}, t0.Add(-time.Hour), t0.Add(-90 * time.Second), t0.Add(-30 * time.Second), t0}
	durations := []time.Duration{0, time.Minute, 2 * time.Minute}
	checked, idleSeen := 0, 0
	for _, activated := range times {
		for _, last := range times {
			for _, timeout := range durations {
				for _, cooldown := range durations {
					st := pool.PoolState{ActivatedAt: activated, LastAcquireAt: last}
					pc := pool.DefaultPool()
					pc.IdleTimeout, pc.CooldownAfterAcquire = pool.Duration(timeout), pool.Duration(cooldown)
					want := reconcile.IsIdle(st, pc, t0)
					require.Equal(t, want, idle(st, pc, t0), "activated %v last %v timeout %v cooldown %v", activated, last, timeout, cooldown)
					checked++
					if want {
						idleSeen++
					}
				}
			}
		}
	}
	require.Positive(t, idleSeen, "the table covers idle pools")
	require.Less(t, idleSeen, checked, "and busy ones")
}
