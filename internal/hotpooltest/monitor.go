package hotpooltest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

// monitor checks the Store's invariants (indexes, books, caps) every tick
// while the faults run, not only at the end: a cap broken for a moment and
// repaired later is still a bug. A tick that cannot reach Redis (it is being
// restarted) is skipped and counted.
type monitor struct {
	rdb    *redis.Client
	store  *redisstate.Store
	sim    *appsim.Server // nil on the real platform
	prefix string
	caps   map[string]pool.Caps
	cfg    *pool.Config

	checks, skips, maxTotal, maxApps int
	violations                       []string
}

func (m *monitor) run(ctx context.Context, every time.Duration) {
	for pool.Sleep(ctx, every) == nil {
		m.tick(ctx)
	}
}

func (m *monitor) tick(ctx context.Context) {
	if m.sim != nil {
		// The platform's own count: apps Redis lost (a flush, a failover)
		// still cost, and must still fit the cap.
		n := m.sim.AppCount()
		m.maxApps = max(m.maxApps, n)
		if c := m.cfg.TotalCap(); c >= 0 && n > c {
			m.violate(fmt.Sprintf("max_total_sandboxes exceeded on the platform: %d apps > %d", n, c))
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := redistest.CheckInvariants(cctx, m.rdb, redisstate.NewKeys(m.prefix), m.caps)
	switch {
	case err == nil:
	case unreachable(err):
		m.skips++
		return
	default:
		m.violate("invariants during the faults: " + oneLine(err))
	}
	m.checks++
	snap, err := m.store.Metrics(cctx, m.cfg.PoolNames(), pool.SystemClock{}.Now())
	if err != nil {
		return
	}
	m.maxTotal = max(m.maxTotal, snap.Total)
	if c := m.cfg.TotalCap(); c >= 0 && snap.Total > c {
		m.violate(fmt.Sprintf("max_total_sandboxes exceeded: %d > %d", snap.Total, c))
	}
	if snap.CreatingTotal > m.cfg.MaxConcurrentCreates {
		m.violate(fmt.Sprintf("max_concurrent_creates exceeded: %d > %d", snap.CreatingTotal, m.cfg.MaxConcurrentCreates))
	}
}

func (m *monitor) violate(msg string) {
	if len(m.violations) < 50 {
		m.violations = append(m.violations, msg)
	}
}

// unreachable tells a failed read of the state (Redis down, loading its
// AOF, a timeout) from a broken invariant, which CheckInvariants reports as
// plain joined errors.
func unreachable(err error) bool {
	return errors.Is(err, redistest.ErrUnreadable) || errors.Is(err, context.DeadlineExceeded)
}
