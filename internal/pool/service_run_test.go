package pool

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/api"
)

// runner is a Runner whose run ends with the given report.
type runner struct {
	last   PassReport
	budget time.Duration
}

func (r *runner) Reconcile(context.Context) (PassReport, error) { return r.last, nil }

func (r *runner) RunFor(_ context.Context, budget, _ time.Duration) ([]PassReport, error) {
	r.budget = budget
	return []PassReport{r.last}, nil
}

// A run that ends with deployments in flight hands them over (a kick that
// is never coalesced); a quiet run, or one that lost the lock, does not.
func TestRunHandsOverWorkStillInFlight(t *testing.T) {
	busy := PassReport{Leader: true, Pools: map[string]api.PoolPassReport{"python": {Creating: 2, Target: 2, Circuit: "closed"}}}
	quiet := PassReport{Leader: true, Pools: map[string]api.PoolPassReport{"python": {Ready: 2, Target: 2, Circuit: "closed"}}}
	for _, c := range []struct {
		name string
		last PassReport
		want int
	}{
		{"busy", busy, 1},
		{"quiet", quiet, 0},
		{"not leader", PassReport{Pools: busy.Pools}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &runner{last: c.last}
			handovers := 0
			svc, clock := newTestService(t, &recStore{}, ServiceOptions{Reconciler: r, Handover: func() { handovers++ }})
			ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(20*time.Second))
			defer cancel()
			_, err := svc.Run(ctx)
			require.NoError(t, err)
			require.Equal(t, c.want, handovers)
			require.Equal(t, 15*time.Second, r.budget, "the run ends RunMargin before the deadline")
		})
	}
}

// Past MaxWaiting waiting acquires, one more answers at once as on_empty
// says, instead of polling Redis for its wait_seconds too.
func TestWaitingAcquiresAreCapped(t *testing.T) {
	s := &recStore{acquireFn: func(AcquireParams) (AcquireResult, error) { return AcquireResult{}, ErrPoolExhausted }}
	svc, _ := newTestService(t, s, ServiceOptions{MaxWaiting: 1})
	svc.waiting <- struct{}{} // another acquire is waiting
	_, err := svc.Acquire(context.Background(), AcquireRequest{Image: "node", WaitSeconds: 5})
	require.ErrorIs(t, err, ErrPoolExhausted)
	require.Len(t, s.acquires, 1, "one try, no polling")
	require.Equal(t, OnEmptyFail, s.acquires[0].OnEmpty, "the pool's own on_empty, not wait")

	<-svc.waiting
	s.acquires = nil
	_, err = svc.Acquire(context.Background(), AcquireRequest{Image: "node", WaitSeconds: 5})
	require.ErrorIs(t, err, ErrPoolExhausted)
	require.Greater(t, len(s.acquires), 1, "with a slot free it waits, trying again")
	require.Empty(t, svc.waiting, "the slot is given back")
}
