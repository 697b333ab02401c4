package redisstate

import (
	"context"
	"strconv"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// SetShutdown shuts a pool down or starts it again; pool "" is the manager.
func (s *Store) SetShutdown(ctx context.Context, p pool.ShutdownParams) error {
	const op = "set shutdown"
	if p.Dynamic && (p.Pool == "" || p.MaxDynamicPools < 1) {
		return invalid(op, "a dynamic pool needs a name and max_dynamic_pools")
	}
	keys := s.poolKeys(p.Pool)
	_, err := s.run(ctx, op, scriptSetShutdown, keys, p.Pool, flag(p.Shutdown), msArg(p.Now),
		flag(p.Dynamic), strconv.Itoa(p.MaxDynamicPools))
	return err
}

// Activate makes each named pool active at now (its idle clock restarts, so
// reconcile fills it to target_ready), except pools that are shut down. It
// implements pool.Activator.
func (s *Store) Activate(ctx context.Context, pools []string, now time.Time) error {
	const op = "activate"
	if len(pools) == 0 {
		return nil
	}
	keys := make([]string, len(pools))
	args := make([]any, 0, 2+len(pools))
	args = append(args, msArg(now), strconv.Itoa(len(pools)))
	for i, name := range pools {
		if name == "" {
			return invalid(op, "empty pool name")
		}
		keys[i] = s.keys.Pool(name)
		args = append(args, name)
	}
	_, err := s.run(ctx, op, scriptActivate, keys, args...)
	return err
}
