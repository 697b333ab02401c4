package redisstate

import (
	"context"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Renew extends a lease for its holder (scripts/renew.lua).
func (s *Store) Renew(ctx context.Context, sandboxID, leaseTokenHash string, ttl time.Duration, now time.Time) (time.Time, error) {
	const op = "renew"
	if err := needID(op, sandboxID); err != nil {
		return time.Time{}, err
	}
	if leaseTokenHash == "" || ttl < time.Millisecond {
		return time.Time{}, invalid(op, "empty lease token hash or TTL %v", ttl)
	}
	arr, err := s.run(ctx, op, scriptRenew, []string{s.keys.Sandbox(sandboxID), s.keys.Released(sandboxID)},
		sandboxID, leaseTokenHash, durMs(ttl), msArg(now))
	if err != nil {
		return time.Time{}, err
	}
	return fromMs(str(arr, 1)), nil
}

// Release moves in_use → deleting for the holder; a repeat answers the
// current state (scripts/release.lua).
func (s *Store) Release(ctx context.Context, sandboxID, leaseTokenHash string, now time.Time) (pool.State, error) {
	const op = "release"
	if err := needID(op, sandboxID); err != nil {
		return "", err
	}
	if leaseTokenHash == "" {
		return "", invalid(op, "empty lease token hash")
	}
	arr, err := s.run(ctx, op, scriptRelease, []string{s.keys.Sandbox(sandboxID), s.keys.Released(sandboxID)},
		sandboxID, leaseTokenHash, msArg(now), durMs(s.releasedTTL))
	if err != nil {
		return "", err
	}
	if str(arr, 1) == "deleted" {
		return StateDeleted, nil
	}
	return pool.StateDeleting, nil
}

// StateDeleted is what Release answers once the record is forgotten: the
// sandbox is gone. It is not a record state (a forgotten sandbox has none).
const StateDeleted pool.State = "deleted"
