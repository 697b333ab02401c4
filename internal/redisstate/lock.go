package redisstate

import (
	"context"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Lock takes the reconcile leader lock, or renews it when f holds it.
func (s *Store) Lock(ctx context.Context, f pool.Fence, ttl time.Duration, now time.Time) (bool, error) {
	const op = "lock"
	if err := needFence(op, f); err != nil {
		return false, err
	}
	if ttl < time.Millisecond {
		return false, invalid(op, "TTL %v", ttl)
	}
	arr, err := s.run(ctx, op, scriptLock, nil, f.Token, durMs(ttl))
	if err != nil {
		return false, err
	}
	return integer(arr, 1) == 1, nil
}

// Unlock gives the lock up if f still holds it; otherwise it does nothing.
func (s *Store) Unlock(ctx context.Context, f pool.Fence) error {
	const op = "unlock"
	if err := needFence(op, f); err != nil {
		return err
	}
	_, err := s.run(ctx, op, scriptUnlock, nil, f.Token)
	return err
}
