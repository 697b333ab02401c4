package redisstate

import (
	"context"
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
