package redisstate

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// TestUnreachableRedisIsUnavailableNeverABug: the Store itself says which
// failures are the backend's. A server that refuses the connection makes
// every method of both roles answer ErrUnavailable (the API's 503, retried),
// never ErrInternal; a caller's bad argument stays ErrInternal.
func TestUnreachableRedisIsUnavailableNeverABug(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	s := New(rdb, "outage")
	ctx := context.Background()
	now := at(0)

	var lease pool.LeaseStore = s
	var leader pool.LeaderStore = s
	calls := map[string]error{}
	_, calls["acquire"] = lease.Acquire(ctx, acquireParams(now, "tok"))
	_, calls["renew"] = lease.Renew(ctx, "a", "hash", time.Minute, now)
	_, calls["release"] = lease.Release(ctx, "a", "hash", now)
	_, calls["metrics"] = lease.Metrics(ctx, []string{testPool}, now)
	calls["shutdown"] = lease.SetShutdown(ctx, pool.ShutdownParams{Shutdown: true, Now: now})
	_, calls["lock"] = leader.Lock(ctx, pool.Fence{Token: "f"}, time.Minute, now)
	_, calls["observe"] = leader.Observe(ctx, now)
	calls["forget"] = leader.Forget(ctx, pool.Fence{Token: "f"}, "a", now)
	for op, err := range calls {
		require.ErrorIs(t, err, pool.ErrUnavailable, op)
		require.NotErrorIs(t, err, pool.ErrInternal, op)
		require.ErrorContains(t, err, "redisstate: ", op)
	}

	_, err = lease.Renew(ctx, "", "hash", time.Minute, now)
	require.ErrorIs(t, err, pool.ErrInternal, "an empty id is the caller's bug")
	require.NotErrorIs(t, err, pool.ErrUnavailable)
}
