package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Reconcile and acquire run in different functions whose clocks may differ
// by a few milliseconds: an acquire can read a ready_at (or a claim's
// created_at) a little in its future. Such a sample counts as 0 ms, so the
// warm-age and cold-latency sums never go down.
func TestClockSkewNeverLowersTheSums(t *testing.T) {
	for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
		f := open(t)
		f.ready("a", at(time.Minute))
		_, err := f.s.Acquire(f.ctx, acquireParams(at(time.Minute-5*time.Millisecond), "h1"))
		require.NoError(t, err)

		f.claim(at(2 * time.Minute))
		require.NoError(t, f.s.MarkReady(f.ctx, leader, "cold1", "app-cold1", "https://cold1", at(time.Hour), at(2*time.Minute)))
		_, err = f.s.PollClaim(f.ctx, poll(at(2*time.Minute-5*time.Millisecond), "h2"))
		require.NoError(t, err)

		h, err := f.rdb.HGetAll(f.ctx, f.s.keys.Pool(testPool)).Result()
		require.NoError(t, err)
		require.Equal(t, "0", h["warm_age_ms_sum"])
		require.Equal(t, "0", h["cold_latency_us_sum"])
		require.Equal(t, "1", h["cold_lat_0"])
		f.check(nil)
	}
}
