package redisstate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Acquire leases the oldest fresh ready sandbox of p.Pool, or reserves a cold
// claim (on_empty "create"), in one EVALSHA (scripts/acquire.lua). It counts
// no latency: the service records that afterwards (RecordAcquireLatency).
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
	if p.Dynamic && p.MaxDynamicPools < 1 {
		return pool.AcquireResult{}, invalid(op, "a dynamic pool needs max_dynamic_pools")
	}
	if p.IdempotencyKey != "" && p.IdempotencyNonce == "" {
		return pool.AcquireResult{}, invalid(op, "an idempotency key needs a nonce")
	}
	keys := s.acquireKeys(p.Pool)
	idem := "0"
	if p.IdempotencyKey != "" || p.ClaimHash != "" {
		keys = append([]string(nil), keys...)
		if p.IdempotencyKey != "" {
			idem = "1"
			keys[acquireIdem] = s.keys.Idempotency(p.Pool, p.IdempotencyKey)
		}
		keys[acquireClaim] = s.keys.Claim(p.ClaimHash)
		keys[acquireSandbox] = s.keys.Sandbox(p.NewSandboxID)
	}
	arr, err := s.runKeys(ctx, op, scriptAcquire, keys,
		p.Pool, msArg(p.Now), durMs(p.LeaseTTL), p.LeaseTokenHash, idem, string(p.OnEmpty), strconv.Itoa(p.Caps.MaxTotal), strconv.Itoa(p.Caps.MaxConcurrentCreates),
		p.ClaimHash, p.NewSandboxID, msArg(p.CreateDeadline), p.IdempotencyNonce,
		flag(p.Dynamic), strconv.Itoa(p.MaxDynamicPools), flag(p.Fills), durMs(p.WarmMargin), flag(p.Auto))
	if err != nil {
		return pool.AcquireResult{}, err
	}
	if str(arr, 1) == "pool" {
		return warmReply(op, arr, p)
	}
	return leaseReply(op, arr)
}

// warmReply decodes acquire.lua's positional warm lease.
func warmReply(op string, arr []any, p pool.AcquireParams) (pool.AcquireResult, error) {
	if len(arr) < 11 {
		return pool.AcquireResult{}, fmt.Errorf("%w: %s: short warm reply", ErrInternal, op)
	}
	sb := pool.Sandbox{
		ID: str(arr, 2), Pool: p.Pool, State: pool.StateInUse, AppID: str(arr, 3), URL: str(arr, 4),
		Region: str(arr, 5), InstanceSize: str(arr, 6), CreatedAt: fromMs(str(arr, 7)), ReadyAt: fromMs(str(arr, 8)),
		WarmDeadline: fromMs(str(arr, 9)), AcquiredAt: fromMs(msArg(p.Now)), LeaseExpiresAt: fromMs(str(arr, 10)),
		LeaseHanded: true,
	}
	return pool.AcquireResult{Sandbox: sb, LeaseExpiresAt: sb.LeaseExpiresAt, Source: pool.SourcePool}, nil
}

// The positions in acquire.lua's KEYS of the keys that change per call.
var (
	acquireIdem    = slices.Index(scriptAcquire.keys, "idem")
	acquireClaim   = slices.Index(scriptAcquire.keys, "claim")
	acquireSandbox = slices.Index(scriptAcquire.keys, "sandbox")
)

// acquireKeys are acquire.lua's KEYS for a pool, built once: the pool's
// keys, the shared ones, and in place of the idempotency key, the claim and
// its sandbox (unused when no idempotency key or claim is given) the pool's
// hash. Shared: copy before changing.
func (s *Store) acquireKeys(poolName string) []string {
	if v, ok := s.hotKeys.Load(poolName); ok {
		return v.([]string)
	}
	pk := s.poolKeys(poolName)
	keys, _ := s.keysFor("acquire", scriptAcquire, append(pk, pk[0], pk[0], pk[0]))
	s.hotKeys.Store(poolName, keys)
	return keys
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

// CancelClaim gives a cold claim up for its claimant
// (scripts/cancelclaim.lua). It reports whether the claim's sandbox goes to
// the pool (now, or when it is ready).
func (s *Store) CancelClaim(ctx context.Context, claimHash string, now time.Time) (bool, error) {
	const op = "cancel claim"
	if claimHash == "" {
		return false, invalid(op, "empty claim hash")
	}
	arr, err := s.run(ctx, op, scriptCancelClaim, []string{s.keys.Claim(claimHash)}, msArg(now))
	if err != nil {
		return false, err
	}
	return str(arr, 1) == "to_pool", nil
}

// leaseReply decodes {0, kind, fields}: a lease ("cold", "replay") or a
// pending claim ("claim").
func leaseReply(op string, arr []any) (pool.AcquireResult, error) {
	if len(arr) < 3 {
		return pool.AcquireResult{}, fmt.Errorf("%w: %s: short reply", ErrInternal, op)
	}
	m, err := fields(arr[2])
	if err != nil {
		return pool.AcquireResult{}, fmt.Errorf("%s: %w", op, err)
	}
	kind := str(arr, 1)
	switch kind {
	case "claim":
		c := claimFrom(m)
		return pool.AcquireResult{Claim: &c}, nil
	case "claim_replay":
		c := claimFrom(m)
		return pool.AcquireResult{Claim: &c, Replayed: true, IdempotencyNonce: m["idem_nonce"]}, nil
	}
	sb := sandboxFrom(m)
	res := pool.AcquireResult{Sandbox: sb, LeaseExpiresAt: sb.LeaseExpiresAt}
	switch kind {
	case "cold":
		res.Source = pool.SourceCold
	case "replay":
		res.Replayed = true
		res.IdempotencyNonce, res.LeaseTokenHash = m["idem_nonce"], m["lease_hash"]
		res.Source = pool.SourcePool
		if sb.ClaimHash != "" {
			res.Source = pool.SourceCold
		}
	default:
		return pool.AcquireResult{}, fmt.Errorf("%w: %s: kind %q", ErrInternal, op, kind)
	}
	return res, nil
}

// flag is a script's boolean argument: "1" or "0".
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
