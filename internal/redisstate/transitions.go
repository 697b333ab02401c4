package redisstate

import (
	"context"
	"strconv"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// The fenced reconcile writes that follow a sandbox through its life after
// Reserve. Each is one script that first checks the fence token.

// CreateCalled records that Apps.Create was sent, and the app id when known.
func (s *Store) CreateCalled(ctx context.Context, f pool.Fence, sandboxID, appID string, now time.Time) error {
	const op = "create called"
	if err := fenceAndID(op, f, sandboxID); err != nil {
		return err
	}
	_, err := s.run(ctx, op, scriptCreateCalled, []string{s.keys.Sandbox(sandboxID)}, f.Token, sandboxID, appID, msArg(now))
	return err
}

// MarkReady moves creating → ready (or to its claim) (scripts/markready.lua).
func (s *Store) MarkReady(ctx context.Context, f pool.Fence, sandboxID, appID, url string, warmDeadline, now time.Time) error {
	const op = "mark ready"
	if err := fenceAndID(op, f, sandboxID); err != nil {
		return err
	}
	if warmDeadline.IsZero() {
		return invalid(op, "zero warm deadline")
	}
	_, err := s.run(ctx, op, scriptMarkReady, []string{s.keys.Sandbox(sandboxID)}, f.Token, sandboxID, appID, url, msArg(warmDeadline), msArg(now))
	return err
}

// MarkFailed moves creating → deleting (create_failed) (scripts/markfailed.lua).
func (s *Store) MarkFailed(ctx context.Context, f pool.Fence, sandboxID string, p pool.FailParams) error {
	const op = "mark failed"
	if err := fenceAndID(op, f, sandboxID); err != nil {
		return err
	}
	maxAttempts := p.MaxAttempts
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	reason := p.Reason
	if reason == "" {
		reason = pool.ReasonCreateFailed
	}
	_, err := s.run(ctx, op, scriptMarkFailed, []string{s.keys.Sandbox(sandboxID)}, f.Token, sandboxID, reason,
		msArg(p.NextCreateAt), msArg(p.CircuitOpenUntil), p.CircuitReason,
		maxAttempts, msArg(p.ClaimNextTryAt), msArg(p.Now))
	return err
}

// deleteReasons are the reasons MarkDeleting accepts.
var deleteReasons = map[string]bool{
	pool.ReasonExpired: true, pool.ReasonUnhealthy: true, pool.ReasonScaleDown: true,
	pool.ReasonShutdown: true, pool.ReasonLeaseExpired: true, pool.ReasonOverCapacity: true,
	pool.ReasonOrphan: true, pool.ReasonCreateFailed: true,
}

// MarkDeleting condemns a sandbox (scripts/markdeleting.lua): ready or
// creating for any reason, in_use only for an expired lease or an orphan.
// A record already deleting is left as it is.
func (s *Store) MarkDeleting(ctx context.Context, f pool.Fence, sandboxID, reason string, now time.Time) error {
	const op = "mark deleting"
	if err := fenceAndID(op, f, sandboxID); err != nil {
		return err
	}
	if !deleteReasons[reason] {
		return invalid(op, "unknown reason %q", reason)
	}
	_, err := s.run(ctx, op, scriptMarkDeleting, []string{s.keys.Sandbox(sandboxID)}, f.Token, sandboxID, reason, msArg(now), durMs(s.releasedTTL),
		durMs(s.skew))
	return err
}

// DeleteAttempted counts a provider delete that did not succeed.
func (s *Store) DeleteAttempted(ctx context.Context, f pool.Fence, sandboxID string, now time.Time) error {
	const op = "delete attempted"
	if err := fenceAndID(op, f, sandboxID); err != nil {
		return err
	}
	_, err := s.run(ctx, op, scriptDeleteAttempted, []string{s.keys.Sandbox(sandboxID)}, f.Token, sandboxID, msArg(now))
	return err
}

// Forget drops a deleting record once the platform confirmed the delete.
func (s *Store) Forget(ctx context.Context, f pool.Fence, sandboxID string, now time.Time) error {
	const op = "forget"
	if err := fenceAndID(op, f, sandboxID); err != nil {
		return err
	}
	_, err := s.run(ctx, op, scriptForget, []string{s.keys.Sandbox(sandboxID)}, f.Token, sandboxID, msArg(now))
	return err
}

// Adopt records an unknown platform app straight into deleting (orphan).
func (s *Store) Adopt(ctx context.Context, f pool.Fence, sb pool.Sandbox, now time.Time) error {
	const op = "adopt"
	if err := fenceAndID(op, f, sb.ID); err != nil {
		return err
	}
	if sb.Pool == "" {
		return invalid(op, "empty pool")
	}
	created := sb.CreatedAt
	if created.IsZero() {
		created = now
	}
	_, err := s.run(ctx, op, scriptAdopt, append(s.poolKeys(sb.Pool), s.keys.Sandbox(sb.ID)), f.Token, sb.ID, sb.Pool, sb.AppID, sb.URL,
		sb.Region, sb.InstanceSize, msArg(created), msArg(now))
	return err
}

// UpdatePool records a pass's bookkeeping for a pool (scripts/updatepool.lua).
func (s *Store) UpdatePool(ctx context.Context, f pool.Fence, poolName string, u pool.PoolUpdate, now time.Time) error {
	const op = "update pool"
	if err := needFence(op, f); err != nil {
		return err
	}
	if poolName == "" {
		return invalid(op, "empty pool")
	}
	opt := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return msArg(*t)
	}
	args := []any{f.Token, poolName, msArg(now), opt(u.LastScaleDownAt), opt(u.LastHealthCheckAt), opt(u.BelowTargetSince), "", "", u.AutoWhy, "", ""}
	if u.MaxReady != nil {
		args[9] = strconv.Itoa(*u.MaxReady)
	}
	if u.Dynamic != nil {
		args[10] = map[bool]string{true: "1", false: "0"}[*u.Dynamic]
	}
	if u.DeployP90 != nil {
		args[6] = durMs(*u.DeployP90)
	}
	if u.AutoTarget != nil {
		args[7] = strconv.Itoa(*u.AutoTarget)
	}
	for id, ok := range u.HealthResult {
		v := "0"
		if ok {
			v = "1"
		}
		args = append(args, id, v)
	}
	_, err := s.run(ctx, op, scriptUpdatePool, s.poolKeys(poolName), args...)
	return err
}

// CollectPool forgets a pool no config names once nothing is left of it
// (scripts/collectpool.lua). It reports whether it did: a pool that holds a
// sandbox again, or is shut down, is kept.
func (s *Store) CollectPool(ctx context.Context, f pool.Fence, poolName string) (bool, error) {
	const op = "collect pool"
	if err := needFence(op, f); err != nil {
		return false, err
	}
	if poolName == "" {
		return false, invalid(op, "empty pool")
	}
	arr, err := s.run(ctx, op, scriptCollectPool, s.poolKeys(poolName), f.Token, poolName)
	if err != nil {
		return false, err
	}
	return str(arr, 1) == "collected", nil
}

// NoteUntracked records the apps with no record inside their orphan grace
// (scripts/untracked.lua).
func (s *Store) NoteUntracked(ctx context.Context, f pool.Fence, apps, deploying int) error {
	const op = "note untracked"
	if err := needFence(op, f); err != nil {
		return err
	}
	if apps < 0 || deploying < 0 || deploying > apps {
		return invalid(op, "apps %d, deploying %d", apps, deploying)
	}
	_, err := s.run(ctx, op, scriptUntracked, nil, f.Token, strconv.Itoa(apps), strconv.Itoa(deploying))
	return err
}

// FailClaim fails a cold claim between attempts that can make no further
// one (scripts/failclaim.lua).
func (s *Store) FailClaim(ctx context.Context, f pool.Fence, claimHash, reason string, now time.Time) error {
	const op = "fail claim"
	if err := needFence(op, f); err != nil {
		return err
	}
	if claimHash == "" || reason == "" {
		return invalid(op, "empty claim hash or reason")
	}
	_, err := s.run(ctx, op, scriptFailClaim, []string{s.keys.Claim(claimHash)}, f.Token, reason, msArg(now))
	return err
}

func fenceAndID(op string, f pool.Fence, id string) error {
	if err := needFence(op, f); err != nil {
		return err
	}
	return needID(op, id)
}
