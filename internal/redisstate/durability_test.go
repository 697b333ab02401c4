package redisstate

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// seedOne puts one ready sandbox "a" of testPool on the primary through a
// store that waits for the replica (generously: CI machines are loaded), as
// reconcile would.
func seedOne(t *testing.T, prefix string, primary *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	s := New(primary.Client(), prefix, WithDurability(1, 5*time.Second))
	ok, err := s.Lock(ctx, leader, time.Hour, t0)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, s.Reserve(ctx, leader, pool.ReserveParams{Pool: testPool, SandboxID: "a", Caps: testCaps, Attempt: 1,
		Region: "nyc", InstanceSize: "s", CreateDeadline: at(time.Hour), Now: at(0)}))
	require.NoError(t, s.MarkReady(ctx, leader, "a", "app-a", "https://a", at(time.Hour), at(0)))
}

// Managed Valkey replicates asynchronously. Against a real primary and
// replica, the replica cut off (replication stalled), then the primary lost
// and the replica promoted:
//   - durability off: the primary answers the acquire, the failover loses
//     the write, and a second caller gets the same sandbox (at most once,
//     except across a failover: the guarantee documented);
//   - durability 1: the acquire is not answered as a lease (ErrNotDurable,
//     503 unavailable), so after the failover the sandbox has one holder.
func TestDurabilityAcrossAFailover(t *testing.T) {
	for _, tc := range []struct {
		name      string
		replicas  int
		handedOut int // leases of sandbox "a" answered across the failover
	}{
		{"off: a failover can hand a sandbox out twice", 0, 2},
		{"one replica: never", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			primary, replica := redistest.Pair(t)
			prefix := redistest.Prefix(t)
			opts := []Option{WithDurability(tc.replicas, 200*time.Millisecond)}
			seedOne(t, prefix, primary)
			s := New(primary.Client(), prefix, opts...)

			require.NoError(t, replica.Partition(ctx)) // replication stalls: the replica gets nothing more
			handed := 0
			res, err := s.Acquire(ctx, acquireParams(at(time.Minute), "first"))
			if err == nil {
				require.Equal(t, "a", res.Sandbox.ID)
				handed++
			} else {
				require.ErrorIs(t, err, ErrNotDurable)
				require.ErrorIs(t, err, pool.ErrUnavailable, "the API answers 503 unavailable; the caller retries")
			}

			primary.Kill() // the primary fails before its replica has the write; the replica is promoted
			// The promoted primary has no replica of its own yet: the second
			// caller's acquire is asked for no acknowledgement.
			after := New(replica.Client(), prefix)
			res, err = after.Acquire(ctx, acquireParams(at(2*time.Minute), "second"))
			require.NoError(t, err)
			require.Equal(t, "a", res.Sandbox.ID, "the promoted replica never saw the first lease")
			handed++
			require.Equal(t, tc.handedOut, handed)
		})
	}
}

// With durability on and the replicas keeping up, every state change is
// acknowledged and nothing else changes.
func TestDurabilityWithAHealthyReplica(t *testing.T) {
	ctx := context.Background()
	primary, _ := redistest.Pair(t)
	prefix := redistest.Prefix(t)
	seedOne(t, prefix, primary)
	s := New(primary.Client(), prefix, WithDurability(1, 5*time.Second))
	res, err := s.Acquire(ctx, acquireParams(at(time.Minute), "h"))
	require.NoError(t, err)
	require.Equal(t, "a", res.Sandbox.ID)
	_, err = s.Release(ctx, "a", "h", at(2*time.Minute))
	require.NoError(t, err)
	_, err = s.Acquire(ctx, acquireParams(at(3*time.Minute), "h2"))
	require.ErrorIs(t, err, pool.ErrPoolExhausted, "a domain answer stays a domain answer")
}

// Durability on a Redis Cluster client cannot be enforced (WAIT has no key,
// so it goes to any master): the Store refuses every state change with a
// clear error before sending anything, and reads still work.
func TestDurabilityIsRefusedOnAClusterClient(t *testing.T) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer cc.Close()
	require.ErrorIs(t, CheckDurability(cc, 1), ErrDurabilityOnCluster)
	require.NoError(t, CheckDurability(cc, 0), "no durability asked: nothing to refuse")
	require.NoError(t, CheckDurability(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), 1))
	s := New(cc, "dur", WithDurability(1, 50*time.Millisecond))
	_, err := s.Acquire(context.Background(), acquireParams(time.Unix(1000, 0), "h"))
	require.ErrorIs(t, err, ErrDurabilityOnCluster)
	require.Contains(t, err.Error(), "cannot be enforced through a Redis Cluster client")
	require.NotErrorIs(t, err, pool.ErrUnavailable, "a configuration to fix, not an outage to retry")
}
