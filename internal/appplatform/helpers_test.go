package appplatform_test

import (
	"context"
	"testing"
	"time"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

const testToken = "dop_v1_test-token"

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// startSim serves a simulator for the test.
func startSim(t testing.TB, opts appsim.Options) (*appsim.Server, string) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	sim := appsim.New(opts)
	base, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim, base
}

func newProvider(t testing.TB, base string, mod func(*appplatform.Options)) *appplatform.Provider {
	t.Helper()
	opts := appplatform.Options{
		Token:        testToken,
		BaseURL:      base,
		Deployment:   "hp",
		RetryWaitMin: 5 * time.Millisecond,
		RetryWaitMax: 20 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	p, err := appplatform.New(opts)
	require.NoError(t, err)
	return p
}

// spec is a complete CreateSpec for image "python" with the config's defaults.
func spec(sandboxID string) pool.CreateSpec {
	cfg := pool.DefaultConfig()
	pc := pool.DefaultPool()
	return pool.CreateSpec{
		SandboxID: sandboxID,
		Pool:      "python",
		Template:  cfg.Template("python", pc),
		Env:       map[string]string{appplatform.EnvAgentToken: "agent-secret-" + sandboxID},
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
