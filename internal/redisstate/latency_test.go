package redisstate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

func TestRecordLatencyTransitions(t *testing.T) {
	record := func(d time.Duration) func(f *fixture) error {
		return func(f *fixture) error {
			return f.s.RecordAcquireLatency(f.ctx, testPool, pool.SourcePool, d)
		}
	}
	cases := []transitionCase{
		{
			name:    "a warm sample adds its microseconds and counts its bucket",
			seed:    func(f *fixture) { f.leased() },
			run:     record(3 * time.Millisecond), // (2.5, 5] ms
			changes: []change{hset(kPool, "warm_latency_us_sum", "3000", "warm_lat_2", "1")},
		},
		{
			name: "samples add up in their own buckets",
			seed: func(f *fixture) {
				f.leased()
				require.NoError(f.t, record(3*time.Millisecond)(f))
			},
			run: func(f *fixture) error {
				require.NoError(f.t, record(2500*time.Microsecond)(f)) // on the 2.5 ms bound: (1, 2.5]
				return record(3 * time.Millisecond)(f)
			},
			changes: []change{hset(kPool, "warm_latency_us_sum", "8500", "warm_lat_1", "1", "warm_lat_2", "2")},
		},
		{
			name:    "zero is the first bucket",
			seed:    func(f *fixture) { f.leased() },
			run:     record(0),
			changes: []change{hset(kPool, "warm_latency_us_sum", "0", "warm_lat_0", "1")},
		},
		{
			name:    "past the last bound is the +Inf bucket",
			seed:    func(f *fixture) { f.leased() },
			run:     record(3 * time.Minute),
			changes: []change{hset(kPool, "warm_latency_us_sum", "180000000", "warm_lat_12", "1")},
		},
		{
			name: "a pool with no state records nothing",
			run:  record(3 * time.Millisecond),
		},
	}
	runTransitionCases(t, cases)
}

func TestRecordLatencyReadsBackInTheSnapshot(t *testing.T) {
	onBoth(t, func(t *testing.T, f *fixture) {
		f.leased()
		require.NoError(t, f.s.RecordAcquireLatency(f.ctx, testPool, pool.SourcePool, 4*time.Millisecond))
		require.NoError(t, f.s.RecordAcquireLatency(f.ctx, testPool, pool.SourcePool, 40*time.Millisecond))
		snap, err := f.s.Metrics(f.ctx, []string{testPool}, at(time.Minute))
		require.NoError(t, err)
		st := snap.Pools[testPool].State.Stats
		require.InDelta(t, 44.0, st.WarmLatencyMsSum, 1e-9)
		require.InDelta(t, 44.0, st.AcquireLatencyMs, 1e-9, "no cold latency yet: the total is the warm sum")
		want := make([]int64, len(pool.LatencyBucketsMs)+1)
		want[2], want[5] = 1, 1 // (2.5, 5] and (25, 50]
		require.Equal(t, want, st.WarmLatencyBuckets)
	})
}

func TestRecordLatencyRejectsBadArguments(t *testing.T) {
	s := New(nil, "unused") // a nil client: any Redis call would panic
	ctx := t.Context()
	require.ErrorIs(t, s.RecordAcquireLatency(ctx, "", pool.SourcePool, time.Millisecond), ErrInvalidArgument)
	require.ErrorIs(t, s.RecordAcquireLatency(ctx, testPool, pool.SourceCold, time.Millisecond), ErrInvalidArgument,
		"cold latency is counted by PollClaim, never twice")
	require.ErrorIs(t, s.RecordAcquireLatency(ctx, testPool, pool.SourcePool, -time.Millisecond), ErrInvalidArgument)
}
