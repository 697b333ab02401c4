package redisstate

import (
	"context"
	"strconv"
	"time"
)

// SetShutdown shuts a pool down or starts it again; pool "" is the manager.
func (s *Store) SetShutdown(ctx context.Context, poolName string, shutdown bool, now time.Time) error {
	const op = "set shutdown"
	flag := "0"
	if shutdown {
		flag = "1"
	}
	keys := s.poolKeys(poolName)
	_, err := s.run(ctx, op, scriptSetShutdown, keys, poolName, flag, msArg(now))
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
