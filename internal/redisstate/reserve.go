package redisstate

import (
	"context"
	"strconv"

	"github.com/hotpool/hotpool/internal/pool"
)

// Reserve records a creating sandbox after checking shutdown and the caps
// (scripts/reserve.lua). With p.ClaimHash it is the claim's next attempt and
// skips max_ready.
func (s *Store) Reserve(ctx context.Context, f pool.Fence, p pool.ReserveParams) error {
	const op = "reserve"
	if err := needFence(op, f); err != nil {
		return err
	}
	if err := needID(op, p.SandboxID); err != nil {
		return err
	}
	if p.Pool == "" || p.CreateDeadline.IsZero() {
		return invalid(op, "empty pool or create deadline")
	}
	extra := append(s.poolKeys(p.Pool), s.keys.Claim(p.ClaimHash), s.keys.Sandbox(p.SandboxID))
	_, err := s.run(ctx, op, scriptReserve, extra,
		f.Token, p.Pool, p.SandboxID, strconv.Itoa(p.Caps.MaxReady), strconv.Itoa(p.Caps.MaxTotal),
		strconv.Itoa(p.Caps.MaxConcurrentCreates), strconv.Itoa(p.Attempt), p.ClaimHash,
		p.Region, p.InstanceSize, msArg(p.CreateDeadline), msArg(p.Now))
	return err
}
