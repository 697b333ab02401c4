package redisstate

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Acquire leases the oldest fresh ready sandbox of p.Pool, or reserves a cold
// claim (on_empty "create"), in one EVALSHA (scripts/acquire.lua).
func (s *Store) Acquire(ctx context.Context, p pool.AcquireParams) (pool.AcquireResult, error) {
	const op = "acquire"
	if p.Pool == "" {
		return pool.AcquireResult{}, invalid(op, "empty pool")
	}
	if p.LeaseTTL < time.Millisecond {
		return pool.AcquireResult{}, invalid(op, "lease TTL %v", p.LeaseTTL)
	}
	if p.LeaseTokenHash == "" {
		return pool.AcquireResult{}, invalid(op, "empty lease token hash")
	}
	latency := p.Now.Sub(p.RequestStart)
	if p.RequestStart.IsZero() || latency < 0 {
		latency = 0
	}
	idem := "0"
	idemKey := s.keys.Lock() // any key; unused when idem is "0"
	if p.IdempotencyKey != "" {
		idem = "1"
		idemKey = s.keys.Idempotency(p.Pool, p.IdempotencyKey)
	}
	k := s.keys
	extra := []string{k.Pool(p.Pool), k.Ready(p.Pool), k.Creating(p.Pool), k.InUse(p.Pool), k.PoolDeleting(p.Pool), idemKey, k.Claim(p.ClaimHash)}
	arr, err := s.run(ctx, op, scriptAcquire, extra,
		p.Pool, msArg(p.Now), durMs(p.LeaseTTL), p.LeaseTokenHash, idem,
		strconv.FormatInt(latency.Microseconds(), 10), strconv.Itoa(latencyBucket(latency)),
		string(p.OnEmpty), strconv.Itoa(p.Caps.MaxTotal), strconv.Itoa(p.Caps.MaxConcurrentCreates),
		p.ClaimHash, p.NewSandboxID, msArg(p.CreateDeadline))
	if err != nil {
		return pool.AcquireResult{}, err
	}
	return leaseReply(op, arr)
}

// PollClaim answers a cold claim (scripts/pollclaim.lua).
func (s *Store) PollClaim(ctx context.Context, p pool.PollClaimParams) (pool.AcquireResult, error) {
	const op = "poll claim"
	if p.ClaimHash == "" || p.LeaseTokenHash == "" {
		return pool.AcquireResult{}, invalid(op, "empty claim or lease token hash")
	}
	if p.LeaseTTL < 0 {
		return pool.AcquireResult{}, invalid(op, "lease TTL %v", p.LeaseTTL)
	}
	arr, err := s.run(ctx, op, scriptPollClaim, []string{s.keys.Claim(p.ClaimHash)},
		p.LeaseTokenHash, durMs(p.LeaseTTL), msArg(p.Now), s.bounds)
	if err != nil {
		return pool.AcquireResult{}, err
	}
	return leaseReply(op, arr)
}

// leaseReply decodes {0, kind, fields}: a lease ("pool", "cold", "replay") or
// a pending claim ("claim").
func leaseReply(op string, arr []any) (pool.AcquireResult, error) {
	if len(arr) < 3 {
		return pool.AcquireResult{}, fmt.Errorf("%w: %s: short reply", ErrInternal, op)
	}
	m, err := fields(arr[2])
	if err != nil {
		return pool.AcquireResult{}, fmt.Errorf("%s: %w", op, err)
	}
	kind := str(arr, 1)
	if kind == "claim" {
		c := claimFrom(m)
		return pool.AcquireResult{Claim: &c}, nil
	}
	sb := sandboxFrom(m)
	res := pool.AcquireResult{Sandbox: sb, LeaseExpiresAt: sb.LeaseExpiresAt}
	switch kind {
	case "pool":
		res.Source = pool.SourcePool
	case "cold":
		res.Source = pool.SourceCold
	case "replay":
		res.Replayed = true
		res.Source = pool.SourcePool
		if sb.ClaimHash != "" {
			res.Source = pool.SourceCold
		}
	default:
		return pool.AcquireResult{}, fmt.Errorf("%w: %s: kind %q", ErrInternal, op, kind)
	}
	return res, nil
}
