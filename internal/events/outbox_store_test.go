package events

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
)

// TestStoreTransitionsReachTheReceiver drives a sandbox's whole life through
// the real Store, whose scripts append the outbox, and checks the receiver
// gets each change once, in the order it happened.
func TestStoreTransitionsReachTheReceiver(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		clock := pool.NewManualClock(t0)
		now := clock.Now()
		st := redisstate.New(b.rdb, b.prefix)
		f := pool.Fence{Token: pool.NewToken()}
		caps := pool.Caps{MaxReady: 5, MaxTotal: -1, MaxConcurrentCreates: 5}

		ok, err := st.Lock(ctx, f, time.Minute, now)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, st.Reserve(ctx, f, pool.ReserveParams{Pool: "python", SandboxID: "sb1", Caps: caps, Attempt: 1,
			CreateDeadline: now.Add(10 * time.Minute), Now: now}))
		require.NoError(t, st.CreateCalled(ctx, f, "sb1", "app1", now))
		require.NoError(t, st.MarkReady(ctx, f, "sb1", "app1", "https://sb1.example", now.Add(30*time.Minute), now))
		lease := pool.NewToken()
		res, err := st.Acquire(ctx, pool.AcquireParams{Pool: "python", OnEmpty: pool.OnEmptyFail, Caps: caps,
			LeaseTTL: 15 * time.Minute, LeaseTokenHash: pool.HashToken(lease), Now: now})
		require.NoError(t, err)
		require.Equal(t, "sb1", res.Sandbox.ID)
		_, err = st.Acquire(ctx, pool.AcquireParams{Pool: "python", OnEmpty: pool.OnEmptyFail, Caps: caps,
			LeaseTTL: 15 * time.Minute, LeaseTokenHash: pool.HashToken(pool.NewToken()), Now: now})
		require.ErrorIs(t, err, pool.ErrPoolExhausted)
		_, err = st.Release(ctx, "sb1", pool.HashToken(lease), now)
		require.NoError(t, err)
		require.NoError(t, st.Forget(ctx, f, "sb1", now))

		rcv := newReceiver(t, clock, always(accept))
		d := NewDeliverer(b.rdb, b.prefix, []pool.Webhook{{URL: rcv.srv.URL, SecretEnv: "HOOK_SECRET"}}, secrets, nil, clock, nil)
		rep, err := d.Deliver(ctx)
		require.NoError(t, err)
		require.Zero(t, rcv.badSigs)

		var got []string
		for _, e := range rcv.first {
			got = append(got, e.Type+"/"+e.SandboxID)
			require.Equal(t, "python", e.Pool)
		}
		require.Equal(t, []string{
			redisstate.EventSandboxReady + "/sb1",
			redisstate.EventSandboxAcquired + "/sb1",
			redisstate.EventPoolExhausted + "/",
			redisstate.EventSandboxReleased + "/sb1",
			redisstate.EventSandboxDeleted + "/sb1",
		}, got)
		require.Equal(t, len(got), rep.Delivered)
		require.Zero(t, b.xlen(t, b.keys.Events()))
	})
}
