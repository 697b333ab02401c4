package hotpooltest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// The soak's checks must be able to fail: each test below breaks what one
// check guards and shows the check sees it.

func TestLedgerCatchesADoubleHandOut(t *testing.T) {
	l := newLedger()
	require.True(t, l.handOut(&client.Sandbox{ID: "sb1", Source: "pool"}))
	require.True(t, l.handOut(&client.Sandbox{ID: "sb2", Source: "cold"}))
	require.Zero(t, l.doubles())
	require.False(t, l.handOut(&client.Sandbox{ID: "sb1", Source: "pool"}))
	require.Equal(t, 1, l.doubles())
	require.Equal(t, map[string]int{"pool": 2, "cold": 1}, l.acquireOK)
}

func TestLeakCheckSeesAnAppWithoutARecordAndTooManyApps(t *testing.T) {
	cfg, err := SoakConfig()
	require.NoError(t, err)
	ctx := context.Background()
	s, err := localserver.Start(ctx, localserver.Options{Addr: "127.0.0.1:0", Config: cfg, Token: apiToken, ReconcileEvery: -1})
	require.NoError(t, err)
	defer s.Close()
	now := pool.SystemClock{}.Now()
	leaks, err := checkLeaks(ctx, s, cfg, now)
	require.NoError(t, err)
	require.Empty(t, leaks, "nothing exists yet")

	// An app created behind the Store's back: a leak, in both counts.
	pc, err := cfg.Pool("python")
	require.NoError(t, err)
	for i := range 7 {
		_, err := s.Provider.Create(ctx, pool.CreateSpec{SandboxID: fmt.Sprintf("leakleakleak%c", 'a'+i), Pool: "python", Template: cfg.Template("python", pc)})
		require.NoError(t, err)
	}
	leaks, err = checkLeaks(ctx, s, cfg, now)
	require.NoError(t, err)
	require.Len(t, leaks, 8, "seven apps without records, and 7 apps > 6 targeted")
	require.Contains(t, leaks[0], "has no record")
	require.Contains(t, leaks[7], "for a total target of 6")
}

func TestSettledNeedsEveryPoolExactlyAtTarget(t *testing.T) {
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 2, "max_ready": 4}, "node": {"target_ready": 2, "max_ready": 4}}, "max_total_sandboxes": 10}`))
	require.NoError(t, err)
	at := api.PoolPassReport{Ready: 2, Target: 2, Circuit: "closed"}
	both := func(b api.PoolPassReport) pool.PassReport {
		return pool.PassReport{Pools: map[string]api.PoolPassReport{"python": at, "node": b}}
	}
	require.True(t, Settled(cfg, both(at)))
	require.False(t, Settled(cfg, pool.PassReport{}), "a pass that saw no pool proves nothing")
	require.False(t, Settled(cfg, pool.PassReport{Pools: map[string]api.PoolPassReport{"python": at}}), "nor one that missed a pool")
	for _, p := range []api.PoolPassReport{
		{Ready: 1, Target: 2}, {Ready: 3, Target: 2}, {Ready: 2, Target: 2, Creating: 1},
		{Ready: 2, Target: 2, InUse: 1}, {Ready: 2, Target: 2, Deleting: 1},
	} {
		require.False(t, Settled(cfg, both(p)), "%+v", p)
	}
	require.True(t, Settled(cfg, both(api.PoolPassReport{Ready: 0, Target: 2, Idle: true})), "an idle pool rests empty")

	capped, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 2, "max_ready": 4}, "node": {"target_ready": 2, "max_ready": 4}}, "max_total_sandboxes": 3}`))
	require.NoError(t, err)
	require.True(t, Settled(capped, both(api.PoolPassReport{Ready: 1, Target: 2})), "targets above the cap: the cap filled exactly")
	require.False(t, Settled(capped, both(api.PoolPassReport{Ready: 0, Target: 2})), "one short of the cap")
}

func TestUnreachableTellsOutagesFromViolations(t *testing.T) {
	require.True(t, unreachable(fmt.Errorf("%w: %w", redistest.ErrUnreadable, errors.New("dial tcp: connection refused"))))
	require.True(t, unreachable(context.DeadlineExceeded))
	require.False(t, unreachable(errors.Join(errors.New("pool python: books: created 3 != ..."))))
}

func TestReportPrintsEveryFigure(t *testing.T) {
	r := &SoakReport{FaultPhase: 2 * time.Second, Clients: 2, AcquireOK: map[string]int{"pool": 3, "cold": 1},
		AcquireErr: map[string]int{"pool_exhausted": 4}, Injected: map[string]int{"429": 2}, Leaks: 1,
		Violations: []string{"leak: app a1 has no record"}, Pools: []SoakPool{{Name: "python", Ready: 4, Target: 4}}}
	var b strings.Builder
	r.Print(&b)
	out := b.String()
	for _, want := range []string{"ok 4 (warm 3, cold 1); failed 4 (pool_exhausted 4)", "injected 2 (429 2)", "leaks=1 double=0", "VIOLATION: leak: app a1", "pool python: 4 ready, target 4"} {
		require.Contains(t, out, want)
	}
}
