package pool

import (
	"context"
	"errors"
	"time"
)

// AcquireRequest is a decoded acquire: either Image (and options), or ClaimID
// alone to poll a cold claim.
type AcquireRequest struct {
	Image          string
	LeaseSeconds   int // 0: default_lease
	WaitSeconds    int // 0 … MaxWaitSeconds
	IdempotencyKey string
	ClaimID        string
	// ReceivedAt is when the request arrived (the transport stamps it before
	// auth and decoding); the warm acquire latency is counted from here. Zero
	// means "now", when the service starts on it.
	ReceivedAt time.Time
}

// Acquired is a lease on a sandbox, or (Claim set) a cold claim still pending.
type Acquired struct {
	Sandbox    Sandbox
	LeaseToken string // to the caller only; the Store holds its hash
	ExpiresAt  time.Time
	Source     Source
	Replayed   bool   // an idempotent repeat of an earlier acquire
	AgentToken string // the sandbox agent's bearer token, for the lease holder alone
	Claim      *PendingClaim
}

// PendingClaim is a cold claim to poll with POST /acquire {"claim_id": …}.
type PendingClaim struct {
	ID         string
	Pool       string
	Status     string // "creating"
	RetryAfter time.Duration
}

// waitBackoff bounds the polls of a waiting acquire or a warm-up: short at
// first, so a sandbox that turns ready is picked up quickly, then capped so a
// long wait costs few Redis round trips.
const (
	waitBackoffFirst = 50 * time.Millisecond
	waitBackoffMax   = time.Second
)

// Acquire leases a ready sandbox of r.Image (one Store round trip on a warm
// hit), waits up to r.WaitSeconds for one, then applies the pool's on_empty.
// A warm hit's latency (r.ReceivedAt to the Store's answer) is recorded after
// the answer is ready, off the caller's path (see recordLatency).
func (s *Service) Acquire(ctx context.Context, r AcquireRequest) (Acquired, error) {
	if r.ClaimID != "" {
		return s.pollClaim(ctx, r.ClaimID)
	}
	start := s.o.Clock.Now()
	received := r.ReceivedAt
	if received.IsZero() {
		received = start
	}
	if r.Image == "" {
		return Acquired{}, InvalidField("image", "is required")
	}
	pc, err := s.o.Config.Pool(r.Image)
	if err != nil {
		return Acquired{}, err
	}
	ttl, err := s.leaseTTL(r.LeaseSeconds)
	if err != nil {
		return Acquired{}, err
	}
	if r.WaitSeconds < 0 || r.WaitSeconds > MaxWaitSeconds {
		return Acquired{}, InvalidField("wait_seconds", "must be between 0 and %d", MaxWaitSeconds)
	}
	if r.IdempotencyKey != "" && !ValidIdempotencyKey(r.IdempotencyKey) {
		return Acquired{}, InvalidField("idempotency_key", "must be 1-%d printable ASCII characters", MaxIdempotencyKeyLen)
	}
	var leaseToken, claimID, nonce string
	if r.IdempotencyKey != "" {
		// Derived from a nonce the record keeps, never stored: a repeat
		// answers the same token and claim, a new acquisition with the key
		// another.
		nonce = s.o.NewToken()
		leaseToken = s.o.Secrets.IdempotentLeaseToken(r.Image, r.IdempotencyKey, nonce)
		claimID = s.o.Secrets.IdempotentClaimID(r.Image, r.IdempotencyKey, nonce)
	} else {
		leaseToken, claimID = s.o.NewToken(), s.o.NewToken()
	}
	p := AcquireParams{
		Pool:             r.Image,
		OnEmpty:          pc.OnEmpty,
		Caps:             CapsFor(s.o.Config, pc),
		LeaseTTL:         ttl,
		LeaseTokenHash:   HashToken(leaseToken),
		IdempotencyKey:   r.IdempotencyKey,
		IdempotencyNonce: nonce,
		ClaimHash:        HashToken(claimID),
		NewSandboxID:     s.o.NewSandboxID(),
		CreateDeadline:   start.Add(s.o.Config.CreateTimeout.D()),
		Dynamic:          s.o.Config.Dynamic(r.Image),
		MaxDynamicPools:  s.o.Config.MaxDynamicPools,
		Fills:            pc.TargetReady > 0 || pc.Auto,
		WarmMargin:       WarmMargin(s.o.Config, pc),
		Auto:             pc.Auto,
		Now:              start,
	}
	var res AcquireResult
	if r.WaitSeconds > 0 && s.startWaiting() {
		res, err = s.acquireWaiting(ctx, p, start.Add(time.Duration(r.WaitSeconds)*time.Second))
		s.doneWaiting()
	} else {
		// No wait asked, or MaxWaiting acquires already poll Redis: this one
		// answers at once, as on_empty says.
		res, err = s.o.Store.Acquire(ctx, p)
	}
	answered := s.o.Clock.Now()
	if err != nil {
		return Acquired{}, inPool(r.Image, err)
	}
	if s.o.Kick != nil && (res.Claim != nil || pc.TargetReady > 0 || pc.Auto) {
		s.o.Kick()
	}
	if res.Claim != nil {
		if res.Replayed {
			// The claim the first acquisition made, its id derived again
			// from the nonce the claim kept.
			claimID = s.o.Secrets.IdempotentClaimID(r.Image, r.IdempotencyKey, res.IdempotencyNonce)
			if err := matchesRecord(r.Image, claimID, res.Claim.Hash); err != nil {
				return Acquired{}, err
			}
		}
		return Acquired{Claim: &PendingClaim{ID: claimID, Pool: r.Image, Status: string(StateCreating), RetryAfter: ClaimRetryAfter},
			Replayed: res.Replayed}, nil
	}
	if res.Replayed {
		// The first acquisition's token, from the nonce its record kept,
		// checked against the hash the record holds.
		leaseToken = s.o.Secrets.IdempotentLeaseToken(r.Image, r.IdempotencyKey, res.IdempotencyNonce)
		if err := matchesRecord(r.Image, leaseToken, res.LeaseTokenHash); err != nil {
			return Acquired{}, err
		}
	}
	a := s.lease(res, leaseToken)
	// A replay is the earlier acquire answered again, not a new one: only
	// fresh warm leases are samples, so the histogram counts warm acquires.
	if res.Source == SourcePool && !res.Replayed {
		s.recordLatency(ctx, r.Image, SourcePool, answered.Sub(received))
	}
	return a, nil
}

// matchesRecord checks a token derived again for a replay against the hash
// its record holds: a record that does not match is handed to nobody.
func matchesRecord(image, token, hash string) error {
	if !TokensEqual(HashToken(token), hash) {
		return inPool(image, ErrLeaseMismatch)
	}
	return nil
}

func (s *Service) lease(res AcquireResult, leaseToken string) Acquired {
	return Acquired{
		Sandbox:    res.Sandbox,
		LeaseToken: leaseToken,
		ExpiresAt:  res.LeaseExpiresAt,
		Source:     res.Source,
		Replayed:   res.Replayed,
		AgentToken: s.o.Secrets.AgentToken(res.Sandbox.ID),
	}
}

// acquireWaiting tries the pool without its on_empty fallback until the
// deadline, looking at the ready count (cheap, and no miss is counted) between
// attempts; at the deadline the pool's on_empty applies.
func (s *Service) acquireWaiting(ctx context.Context, p AcquireParams, deadline time.Time) (AcquireResult, error) {
	onEmpty := p.OnEmpty
	p.OnEmpty = OnEmptyWait
	backoff := waitBackoffFirst
	tryNow := true
	for {
		now := s.o.Clock.Now()
		last := !now.Before(deadline)
		if tryNow || last {
			p.Now = now
			if last {
				p.OnEmpty = onEmpty
				p.CreateDeadline = now.Add(s.o.Config.CreateTimeout.D())
			}
			res, err := s.o.Store.Acquire(ctx, p)
			if last || !errors.Is(err, ErrPoolExhausted) {
				return res, err
			}
		}
		wait := min(backoff, deadline.Sub(now))
		backoff = min(2*backoff, waitBackoffMax)
		if err := s.o.Sleep(ctx, wait); err != nil {
			return AcquireResult{}, err
		}
		snap, err := s.o.Store.Metrics(ctx, []string{p.Pool}, s.o.Clock.Now())
		if err != nil {
			return AcquireResult{}, err
		}
		tryNow = snap.Pools[p.Pool].Ready > 0
	}
}

// pollClaim answers a cold claim: still creating (Claim set), the lease once
// its sandbox is ready, or ErrSandboxCreation when every attempt failed.
func (s *Service) pollClaim(ctx context.Context, claimID string) (Acquired, error) {
	leaseToken := s.o.Secrets.ClaimLeaseToken(claimID)
	res, err := s.o.Store.PollClaim(ctx, PollClaimParams{
		ClaimHash:      HashToken(claimID),
		LeaseTokenHash: HashToken(leaseToken),
		// Zero: the lease the caller asked for at acquire (the claim keeps
		// its lease_seconds); a poll carries no lease_seconds of its own.
		LeaseTTL: 0,
		Now:      s.o.Clock.Now(),
	})
	if errors.Is(err, ErrSandboxNotFound) {
		return Acquired{}, ErrClaimNotFound
	}
	if err != nil {
		return Acquired{}, err
	}
	if res.Claim != nil {
		return Acquired{Claim: &PendingClaim{ID: claimID, Pool: res.Claim.Pool, Status: string(StateCreating), RetryAfter: ClaimRetryAfter}}, nil
	}
	return s.lease(res, leaseToken), nil
}
