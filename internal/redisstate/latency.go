package redisstate

import (
	"context"
	"strconv"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

var _ pool.LatencyRecorder = (*Store)(nil)

// RecordAcquireLatency counts one warm acquire latency sample in the pool's
// warm histogram and latency sum (scripts/recordlatency.lua). The service
// calls it after answering the acquire; cold latency is counted by PollClaim
// when the claim is served, so a cold source is refused here rather than
// counted twice. A pool with no state records nothing.
func (s *Store) RecordAcquireLatency(ctx context.Context, poolName string, source pool.Source, d time.Duration) error {
	const op = "record latency"
	if poolName == "" {
		return invalid(op, "empty pool")
	}
	if source != pool.SourcePool {
		return invalid(op, "source %q: only warm latency is recorded here (cold: PollClaim)", source)
	}
	if d < 0 {
		return invalid(op, "negative latency %v", d)
	}
	_, err := s.run(ctx, op, scriptRecordLatency, []string{s.keys.Pool(poolName)},
		strconv.FormatInt(d.Microseconds(), 10), strconv.Itoa(latencyBucket(d)))
	return err
}
