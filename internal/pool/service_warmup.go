package pool

import (
	"context"
	"time"

	"github.com/hotpool/hotpool/api"
)

// WarmUpPool is one pool's progress towards its target.
type WarmUpPool = api.WarmUpPool

// WarmUpStatus is every configured pool's progress; Done once each has ready
// >= target, or (Capped) once max_total_sandboxes binds: every sandbox the cap
// allows exists and none is still deploying.
type WarmUpStatus = api.WarmUpStatus

// WarmUp waits up to timeout (0: just report) until every configured pool
// has target_ready ready sandboxes. On timeout the error is a *WarmUpError
// (wrapping ErrWarmUpTimeout) naming each pool's ready/target.
//
// Like the seed's start() before warm_up(), it makes every pool active (when
// the Store is an Activator) on each look, so a pool that went idle (no
// acquire for idle_timeout) fills again instead of waiting for an acquire;
// shut-down pools stay shut down.
func (s *Service) WarmUp(ctx context.Context, timeout time.Duration) (WarmUpStatus, error) {
	names := s.o.Config.PoolNames()
	deadline := s.o.Clock.Now().Add(timeout)
	backoff := waitBackoffFirst
	activator, _ := s.o.Store.(Activator)
	for {
		now := s.o.Clock.Now()
		if activator != nil {
			if err := activator.Activate(ctx, names, now); err != nil {
				return WarmUpStatus{}, err
			}
		}
		snap, err := s.o.Store.Metrics(ctx, names, now)
		if err != nil {
			return WarmUpStatus{}, err
		}
		st := WarmUpStatus{Done: true, Pools: make(map[string]WarmUpPool, len(names))}
		for _, n := range names {
			wp := WarmUpPool{Ready: snap.Pools[n].Ready, Target: EffectiveTarget(*s.o.Config.Pools[n], snap.Pools[n].State)}
			st.Pools[n] = wp
			if wp.Ready < wp.Target {
				st.Done = false
			}
		}
		if cp := s.o.Config.TotalCap(); !st.Done && cp >= 0 && snap.Total >= cp && snap.CreatingTotal == 0 {
			// Targets that sum above the cap: the cap is the fill.
			st.Done, st.Capped = true, true
		}
		if st.Done {
			return st, nil
		}
		if !now.Before(deadline) {
			return st, &WarmUpError{Pools: st.Pools}
		}
		wait := min(backoff, deadline.Sub(now))
		backoff = min(2*backoff, waitBackoffMax)
		if err := s.o.Sleep(ctx, wait); err != nil {
			return st, &WarmUpError{Pools: st.Pools}
		}
	}
}
