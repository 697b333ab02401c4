package chaos

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

// TestChaosShort is the CI soak: 20 s of platform faults, Redis restarts (when
// a redis-server binary is on PATH) and killed passes, then convergence and
// every check. CHAOS_DURATION lengthens it.
func TestChaosShort(t *testing.T) {
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
	rep, err := Run(context.Background(), Options{Duration: d, Clients: 4, Seed: 7, RestartEvery: d / 3, Progress: &progress})
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
	if err == nil && rep.Redis != "" && strings.HasPrefix(rep.Redis, "redis-server child") {
		require.Positive(t, rep.RedisRestarts)
	}
	for _, p := range rep.Pools {
		require.Equal(t, p.Target, p.Ready, p.Name)
	}
}

func TestOptionsRejectABadConfig(t *testing.T) {
	cfg, err := DefaultConfig()
	require.NoError(t, err)
	cfg.MaxConcurrentCreates = 0
	_, err = Run(context.Background(), Options{Config: cfg})
	require.ErrorIs(t, err, pool.ErrInvalidConfig)
}
