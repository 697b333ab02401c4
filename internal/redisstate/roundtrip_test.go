package redisstate

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/redistest"
)

// countHook counts the commands a client sends.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestWarmAcquireIsOneRoundTrip: after Preload a warm acquire is one EVALSHA;
// when the server lost its scripts (NOSCRIPT) the acquire still succeeds via
// EVAL, which reloads the script, and the next one is a single EVALSHA again.
// miniredis, so flushing its script cache disturbs no other test.
func TestWarmAcquireIsOneRoundTrip(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	f := startFixture(t, rdb, redistest.Prefix(t))
	for _, id := range []string{"a", "b", "c"} {
		f.ready(id, at(0))
	}
	hook := &countHook{}
	rdb.AddHook(hook)

	_, err := f.s.Acquire(f.ctx, acquireParams(at(time.Minute), "h1"))
	require.NoError(t, err)
	require.Equal(t, int64(1), hook.n.Load(), "one EVALSHA")

	require.NoError(t, rdb.ScriptFlush(f.ctx).Err())
	hook.n.Store(0)
	res, err := f.s.Acquire(f.ctx, acquireParams(at(time.Minute), "h2"))
	require.NoError(t, err)
	require.Equal(t, "b", res.Sandbox.ID)
	require.Equal(t, int64(2), hook.n.Load(), "EVALSHA answered NOSCRIPT, then EVAL")

	hook.n.Store(0)
	_, err = f.s.Acquire(f.ctx, acquireParams(at(time.Minute), "h3"))
	require.NoError(t, err)
	require.Equal(t, int64(1), hook.n.Load(), "reloaded: one EVALSHA again")
	f.check(nil)
}

// TestUnreachableRedisIsAnError: a dead server is an error the service maps
// to unavailable, never a panic or a domain answer.
func TestUnreachableRedisIsAnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	s := New(rdb, "dead")
	_, err = s.Acquire(t.Context(), acquireParams(t0, "h"))
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrInternal)
	require.ErrorContains(t, err, "redisstate: acquire")
}
