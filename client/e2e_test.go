package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

const e2eToken = "e2e-token"

const e2eConfig = `{
  "pools": {
    "python": {"target_ready": 2, "max_ready": 4, "on_empty": "create"},
    "node":   {"target_ready": 1, "max_ready": 1, "on_empty": "fail"},
    "go":     {"target_ready": 0, "max_ready": 2, "on_empty": "create", "template": {"registry": "acme", "repository": "go-sandbox"}}
  },
  "max_total_sandboxes": 10
}`

// startLocal runs the real local server (handlers, service, Redis state, the
// simulated App Platform and the reconcile loop) on a free port. With
// realRedis it uses the redis-server of the tests under its own key prefix,
// else the embedded miniredis that `hotpool serve` uses by default.
func startLocal(t *testing.T, realRedis bool) *localserver.Server {
	t.Helper()
	cfg, err := pool.ParseConfig([]byte(e2eConfig))
	require.NoError(t, err)
	o := localserver.Options{
		Addr: "127.0.0.1:0", Config: cfg, Token: e2eToken,
		SimCreateDelay: 100 * time.Millisecond, ReconcileEvery: 200 * time.Millisecond,
	}
	if realRedis {
		_, prefix := redistest.Client(t)
		o.RedisURL, o.KeyPrefix = redistest.URL(), prefix
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := localserver.Start(ctx, o)
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		<-s.Done()
	})
	return s
}

func TestEndToEndAgainstTheLocalServer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		realRedis bool
	}{{"miniredis", false}, {"redis-server", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startLocal(t, tc.realRedis)
			// Short backoff: the server's 5 s claim Retry-After is capped so the
			// cold path runs in a fraction of a second.
			c, err := client.New(s.BaseURL, e2eToken, client.WithBackoff(50*time.Millisecond, 300*time.Millisecond))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			var seen []map[string]client.PoolProgress
			st, err := c.WarmUp(ctx, 30*time.Second, client.WarmUpOptions{Interval: time.Second, Progress: func(p map[string]client.PoolProgress) { seen = append(seen, p) }})
			require.NoError(t, err)
			require.True(t, st.Done)
			require.Equal(t, client.PoolProgress{Ready: 2, Target: 2}, st.Pools["python"])
			require.NotEmpty(t, seen)

			// The seed's pattern: acquire, exec through the agent, always release.
			var id string
			err = c.WithSandbox(ctx, "python", func(sb *client.Sandbox) error {
				id = sb.ID
				require.Equal(t, "pool", sb.Source)
				require.NotEmpty(t, sb.AgentToken)
				res, err := sb.Exec(ctx, "python3 -c 'print(2+2)'", client.ExecOptions{Timeout: 5 * time.Second})
				require.NoError(t, err)
				require.Equal(t, 0, res.ExitCode)
				require.Equal(t, "4\n", res.Stdout, "the simulator's agent really runs the command")
				// write → exec → read, through the agent's contract routes.
				code := []byte("print(6*7)\n")
				require.NoError(t, sb.WriteFile(ctx, "/workspace/main.py", code))
				res, err = sb.Exec(ctx, "python3 main.py > out.txt", client.ExecOptions{})
				require.NoError(t, err)
				require.Zero(t, res.ExitCode, res.Stderr)
				out, err := sb.ReadFile(ctx, "/workspace/out.txt")
				require.NoError(t, err)
				require.Equal(t, "42\n", string(out))
				bad := c.Attach(client.SandboxRef{ID: sb.ID, URL: sb.URL, AgentToken: "not-the-agent-token"})
				_, err = bad.Exec(ctx, "ls", client.ExecOptions{})
				require.ErrorIs(t, err, client.ErrUnauthorized)
				return nil
			})
			require.NoError(t, err)
			// Released: a second release with a made-up token is refused.
			_, err = c.Release(ctx, id, "made-up")
			require.ErrorIs(t, err, client.ErrLeaseMismatch)

			// Idempotent acquire: the same key answers the same sandbox and lease.
			a1, err := c.Acquire(ctx, "python", client.AcquireOptions{IdempotencyKey: "job-1", Lease: time.Minute})
			require.NoError(t, err)
			a2, err := c.Acquire(ctx, "python", client.AcquireOptions{IdempotencyKey: "job-1", Lease: time.Minute})
			require.NoError(t, err)
			require.Equal(t, a1.ID, a2.ID)
			require.Equal(t, a1.LeaseToken, a2.LeaseToken)
			require.True(t, a2.Replayed)
			require.NoError(t, a1.Renew(ctx, 10*time.Minute))
			require.True(t, a1.LeaseExpiresAt.After(a2.LeaseExpiresAt))
			rel, err := a1.Release(ctx)
			require.NoError(t, err)
			require.Equal(t, "deleting", rel.State)

			// on_empty "fail": the second node acquire finds the pool empty.
			n1, err := c.Acquire(ctx, "node", client.AcquireOptions{})
			require.NoError(t, err)
			_, err = c.Acquire(ctx, "node", client.AcquireOptions{})
			require.ErrorIs(t, err, client.ErrPoolExhausted)
			var ae *client.APIError
			require.True(t, errors.As(err, &ae))
			require.Equal(t, 503, ae.Status)
			require.Positive(t, ae.RetryAfter)
			require.NotEmpty(t, ae.RequestID)
			_, err = n1.Release(ctx)
			require.NoError(t, err)

			// on_empty "create" with an empty pool: a cold claim, followed to the end.
			cold, err := c.Acquire(ctx, "go", client.AcquireOptions{})
			require.NoError(t, err)
			require.Equal(t, "cold", cold.Source)
			_, err = cold.Release(ctx)
			require.NoError(t, err)

			_, err = c.Acquire(ctx, "ruby", client.AcquireOptions{})
			require.ErrorIs(t, err, client.ErrUnknownImage)

			// Shutdown and start one pool.
			sh, err := c.Shutdown(ctx, "node")
			require.NoError(t, err)
			require.True(t, sh.Shutdown)
			_, err = c.Acquire(ctx, "node", client.AcquireOptions{})
			require.ErrorIs(t, err, client.ErrPoolShutdown)
			sh, err = c.Start(ctx, "node")
			require.NoError(t, err)
			require.False(t, sh.Shutdown)

			m, err := c.Metrics(ctx)
			require.NoError(t, err)
			py := m.Pools["python"]
			require.EqualValues(t, 2, py.TotalAcquires, "the replay is not a second acquire")
			require.EqualValues(t, 2, py.AcquiresFromPool)
			require.Equal(t, 2, py.TargetReady)
			require.EqualValues(t, 1, m.Pools["go"].AcquiresColdStart)
			require.Equal(t, 10, *m.MaxTotalSandboxes)
			prom, err := c.MetricsPrometheus(ctx)
			require.NoError(t, err)
			require.Contains(t, prom, "hotpool_")

			bad, err := client.New(s.BaseURL, "wrong")
			require.NoError(t, err)
			_, err = bad.Metrics(ctx)
			require.ErrorIs(t, err, client.ErrUnauthorized)
		})
	}
}
