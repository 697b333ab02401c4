package hotpooltest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// TestChaosShort is the CI soak: 20 s of platform faults, a failover to the
// replica and a restart of the primary, an emptied Redis, two config
// changes and killed passes, then convergence and every check, against
// Redis and the platform's list. CHAOS_DURATION lengthens it.
func TestChaosShort(t *testing.T) {
	// In real time and mostly waiting, it overlaps the harness's CPU-bound
	// tests, as it did when the two lived in separate packages.
	t.Parallel()
	d := 20 * time.Second
	if v := os.Getenv("CHAOS_DURATION"); v != "" {
		var err error
		d, err = time.ParseDuration(v)
		require.NoError(t, err)
	}
	if testing.Short() {
		d = 8 * time.Second
	}
	_, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("the soak restarts its own redis-server, which is not on PATH: run the tests with `make test` (it installs redis-server) or install it (apt-get install -y redis-server)")
	}
	var progress bytes.Buffer
	rep, err := Soak(context.Background(), SoakOptions{Duration: d, Clients: 4, Seed: 7, RestartEvery: d / 3, Progress: &progress})
	var out bytes.Buffer
	if rep != nil {
		rep.Print(&out)
	}
	t.Log("\n" + progress.String() + out.String())
	require.NoError(t, err)
	require.Zero(t, rep.Leaks)
	require.Zero(t, rep.Doubles)
	require.Empty(t, rep.Violations)
	require.Positive(t, rep.AcquireOK["pool"], "warm acquires happened")
	require.Positive(t, sum(rep.Injected), "faults were injected")
	require.Positive(t, rep.PassesKilled, "passes were killed mid-way")
	require.Positive(t, rep.Abandoned, "some leases were left to be reaped")
	require.Positive(t, rep.Checks, "invariants were checked during the faults")
	require.True(t, strings.HasPrefix(rep.Redis, "redis-server primary and replica behind one endpoint"), rep.Redis)
	require.Positive(t, rep.RedisRestarts, "the primary was restarted")
	require.Positive(t, rep.Failovers, "the replica was promoted")
	require.Equal(t, 1, rep.Flushes, "redis was emptied once")
	require.Equal(t, 2, rep.ConfigChanges, "the config was changed, then restored")
	require.Positive(t, rep.MaxApps, "the platform's own count was checked")
	for _, p := range rep.Pools {
		require.Equal(t, p.Target, p.Ready, p.Name)
	}
}

func TestOptionsRejectABadConfig(t *testing.T) {
	cfg, err := SoakConfig()
	require.NoError(t, err)
	cfg.MaxConcurrentCreates = 0
	_, err = Soak(context.Background(), SoakOptions{Config: cfg})
	require.ErrorIs(t, err, pool.ErrInvalidConfig)
}
