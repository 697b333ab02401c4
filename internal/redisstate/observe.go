package redisstate

import (
	"context"
	"fmt"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Observe reads the whole state in one script (scripts/observe.lua): the
// manager flag, every pool with state, every record, every pending claim.
func (s *Store) Observe(ctx context.Context, now time.Time) (pool.Observed, error) {
	const op = "observe"
	arr, err := s.run(ctx, op, scriptObserve, nil)
	if err != nil {
		return pool.Observed{}, err
	}
	if len(arr) < 5 {
		return pool.Observed{}, fmt.Errorf("%w: %s: short reply", ErrInternal, op)
	}
	obs := pool.Observed{At: now, ManagerShutdown: str(arr, 1) == "1", Pools: map[string]pool.Record{}}
	for _, row := range list(arr[2]) {
		r := list(row)
		if len(r) < 2 {
			return pool.Observed{}, fmt.Errorf("%w: %s: pool row", ErrInternal, op)
		}
		m, err := fields(r[1])
		if err != nil {
			return pool.Observed{}, err
		}
		name := str(r, 0)
		obs.Pools[name] = poolStateFrom(name, m)
	}
	for _, row := range list(arr[3]) {
		m, err := fields(row)
		if err != nil {
			return pool.Observed{}, err
		}
		obs.Sandboxes = append(obs.Sandboxes, sandboxFrom(m))
	}
	for _, row := range list(arr[4]) {
		m, err := fields(row)
		if err != nil {
			return pool.Observed{}, err
		}
		obs.Claims = append(obs.Claims, claimFrom(m))
	}
	obs.Untracked, obs.UntrackedCreating = int(integer(arr, 5)), int(integer(arr, 6))
	return obs, nil
}

// Metrics reads every named pool and every pool with state in one script
// (scripts/metrics.lua).
func (s *Store) Metrics(ctx context.Context, pools []string, now time.Time) (pool.Snapshot, error) {
	const op = "metrics"
	args := make([]any, 0, len(pools))
	for _, p := range pools {
		if p == "" {
			return pool.Snapshot{}, invalid(op, "empty pool name")
		}
		args = append(args, p)
	}
	arr, err := s.run(ctx, op, scriptMetrics, nil, args...)
	if err != nil {
		return pool.Snapshot{}, err
	}
	if len(arr) < 7 {
		return pool.Snapshot{}, fmt.Errorf("%w: %s: short reply", ErrInternal, op)
	}
	snap := pool.Snapshot{
		At:              now,
		ManagerShutdown: str(arr, 1) == "1",
		Pools:           make(map[string]pool.PoolMetrics, len(arr)),
		Total:           int(integer(arr, 2)),
		CreatingTotal:   int(integer(arr, 3)),
		Outbox:          pool.OutboxStats{Entries: int(integer(arr, 4)), DeadLetters: int(integer(arr, 5)), TrimmedTo: str(arr, 6)},
	}
	for _, row := range arr[7:] {
		r := list(row)
		if len(r) < 6 {
			return pool.Snapshot{}, fmt.Errorf("%w: %s: pool row", ErrInternal, op)
		}
		m, err := fields(r[5])
		if err != nil {
			return pool.Snapshot{}, err
		}
		name := str(r, 0)
		snap.Pools[name] = pool.PoolMetrics{
			Ready:    int(integer(r, 1)),
			Creating: int(integer(r, 2)),
			InUse:    int(integer(r, 3)),
			Deleting: int(integer(r, 4)),
			State:    poolStateFrom(name, m),
		}
	}
	return snap, nil
}

func list(v any) []any {
	arr, _ := v.([]any)
	return arr
}
