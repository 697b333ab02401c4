package redisstate

import (
	"fmt"
	"github.com/redis/go-redis/v9"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

// Apps with no record inside their orphan grace count against the caps in
// every capacity check: a cold claim and a reservation are refused when
// they would exceed max_total_sandboxes or max_concurrent_creates with them.
func TestUntrackedAppsCountAgainstTheCaps(t *testing.T) {
	now := at(time.Minute)
	claim := func(f *fixture) error {
		p := acquireParams(now, "h1")
		p.OnEmpty, p.ClaimHash, p.NewSandboxID, p.CreateDeadline = pool.OnEmptyCreate, "c1", "cold1", now.Add(time.Minute)
		_, err := f.s.Acquire(f.ctx, p)
		return err
	}
	reserve := func(f *fixture) error {
		return f.s.Reserve(f.ctx, leader, pool.ReserveParams{Pool: testPool, SandboxID: "n1", Caps: testCaps, Attempt: 1,
			Region: "nyc", InstanceSize: "s", CreateDeadline: now.Add(time.Minute), Now: now})
	}
	note := func(apps, deploying int) func(f *fixture) {
		return func(f *fixture) {
			f.reserve("r1", at(0)) // one record, none ready: an acquire finds the pool empty
			require.NoError(f.t, f.s.NoteUntracked(f.ctx, leader, apps, deploying))
		}
	}
	// testCaps: max_total 8, max_concurrent_creates 4; one creating record.
	runTransitionCases(t, []transitionCase{
		{name: "a claim at the total with 7 untracked", seed: note(7, 0), run: claim, wantErr: pool.ErrPoolExhausted,
			changes: []change{hset(kPool, "misses_capacity", "1", "activated_at", msStr(now)), hset(kPool, "exhausted_event_at", msStr(now)), event(EventPoolExhausted, testPool, "", now, "capacity")}},
		{name: "a reservation at the total with 7 untracked", seed: note(7, 0), run: reserve, wantErr: pool.ErrPoolExhausted},
		{name: "a reservation at max_concurrent_creates with 3 deploying", seed: note(3, 3), run: reserve, wantErr: pool.ErrPoolExhausted},
		{name: "only the leader notes", run: func(f *fixture) error { return f.s.NoteUntracked(f.ctx, stranger, 1, 0) }, wantErr: pool.ErrNotLeader},
		{name: "zero clears the note", seed: note(3, 1), run: func(f *fixture) error { return f.s.NoteUntracked(f.ctx, leader, 0, 0) },
			changes: []change{set(":manager", nil)}},
	})
}

func TestFailClaimTransitions(t *testing.T) {
	now := at(time.Minute)
	claim := func(f *fixture) {
		p := acquireParams(at(0), "h1")
		p.OnEmpty, p.ClaimHash, p.NewSandboxID, p.CreateDeadline = pool.OnEmptyCreate, "c1", "cold1", at(time.Minute)
		_, err := f.s.Acquire(f.ctx, p)
		require.NoError(f.t, err)
	}
	fail := func(f *fixture) error { return f.s.FailClaim(f.ctx, leader, "c1", pool.ReasonPoolRetired, now) }
	runTransitionCases(t, []transitionCase{
		{name: "a claim whose sandbox is creating is left to it", seed: claim, run: fail, wantErr: pool.ErrStateConflict},
		{name: "an unknown claim", run: fail, wantErr: pool.ErrSandboxNotFound},
		{name: "only the leader fails claims", seed: claim, wantErr: pool.ErrNotLeader,
			run: func(f *fixture) error { return f.s.FailClaim(f.ctx, stranger, "c1", pool.ReasonPoolRetired, now) }},
	})
	for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
		f := open(t)
		claim(f)
		require.NoError(t, f.s.MarkFailed(f.ctx, leader, "cold1", pool.FailParams{Reason: pool.ReasonCreateFailed, MaxAttempts: 3,
			ClaimNextTryAt: at(2 * time.Minute), Now: at(30 * time.Second)}))
		require.NoError(t, fail(f), "between attempts")
		_, err := f.s.PollClaim(f.ctx, pool.PollClaimParams{ClaimHash: "c1", LeaseTokenHash: "h1", Now: now})
		require.ErrorIs(t, err, pool.ErrSandboxCreation, "its poll ends")
		obs, err := f.s.Observe(f.ctx, now)
		require.NoError(t, err)
		require.Empty(t, obs.Claims, "no longer pending")
		require.NoError(t, fail(f), "failing it again changes nothing")
	}
}

// Every miss is counted, but pool.exhausted goes to the outbox at most once
// per pool every 10 s: any caller can miss thousands of times a second.
func TestExhaustedEventsAreCoalesced(t *testing.T) {
	for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
		f := open(t)
		miss := func(at time.Time) {
			_, err := f.s.Acquire(f.ctx, acquireParams(at, "h"))
			require.ErrorIs(t, err, pool.ErrPoolExhausted)
		}
		for i := range 200 {
			miss(at(time.Duration(i) * 10 * time.Millisecond)) // 2 s of misses
		}
		miss(at(10 * time.Second))
		n, err := f.rdb.XLen(f.ctx, f.s.Keys().Events()).Result()
		require.NoError(t, err)
		require.Equal(t, int64(2), n, "one event for the first 10 s, one after")
		require.Equal(t, "201", f.rdb.HGet(f.ctx, f.s.Keys().Pool(testPool), "misses_empty").Val())
	}
}

// Past EVENTS_MAXLEN the outbox drops its oldest entries, and the trim
// notes the oldest id it kept, from which the deliverer reports a gap.
func TestOutboxTrimLeavesItsMark(t *testing.T) {
	f := newFixture(t)
	pipe := f.rdb.Pipeline()
	for range 100_500 {
		pipe.XAdd(f.ctx, &redis.XAddArgs{Stream: f.s.Keys().Events(), Values: []any{"type", "sandbox.ready"}})
	}
	_, err := pipe.Exec(f.ctx)
	require.NoError(t, err)
	_, err = f.s.Acquire(f.ctx, acquireParams(at(0), "h")) // a miss emits
	require.ErrorIs(t, err, pool.ErrPoolExhausted)
	n, err := f.rdb.XLen(f.ctx, f.s.Keys().Events()).Result()
	require.NoError(t, err)
	require.Less(t, n, int64(100_501), "trimmed")
	first, err := f.rdb.XRangeN(f.ctx, f.s.Keys().Events(), "-", "+", 1).Result()
	require.NoError(t, err)
	require.Equal(t, first[0].ID, f.rdb.HGet(f.ctx, f.s.Keys().Manager(), "events_trimmed_to").Val())
}

// A warm acquire looks at the outbox's length only every
// ACQUIRE_TRIM_EVERY (64) acquires of its pool, which keeps XLEN off most
// of the hot path: the 63rd leaves the outbox past its cap, the 64th trims
// it and leaves the mark.
func TestWarmAcquiresTrimTheOutboxNowAndThen(t *testing.T) {
	f := newFixture(t)
	f.ready("a", at(0))
	f.ready("b", at(0))
	pipe := f.rdb.Pipeline()
	for range 100_500 {
		pipe.XAdd(f.ctx, &redis.XAddArgs{Stream: f.s.Keys().Events(), Values: []any{"type", "sandbox.ready"}})
	}
	_, err := pipe.Exec(f.ctx)
	require.NoError(t, err)
	require.NoError(t, f.rdb.HSet(f.ctx, f.s.Keys().Pool(testPool), "acquires_from_pool", 62).Err())
	events := func() int64 { return f.rdb.XLen(f.ctx, f.s.Keys().Events()).Val() }
	before := events()
	_, err = f.s.Acquire(f.ctx, acquireParams(at(time.Second), "h1"))
	require.NoError(t, err)
	require.Equal(t, before+1, events(), "the 63rd acquire adds its event and trims nothing")
	require.Empty(t, f.rdb.HGet(f.ctx, f.s.Keys().Manager(), "events_trimmed_to").Val())
	_, err = f.s.Acquire(f.ctx, acquireParams(at(2*time.Second), "h2"))
	require.NoError(t, err)
	require.Less(t, events(), before, "the 64th trims")
	first, err := f.rdb.XRangeN(f.ctx, f.s.Keys().Events(), "-", "+", 1).Result()
	require.NoError(t, err)
	require.Equal(t, first[0].ID, f.rdb.HGet(f.ctx, f.s.Keys().Manager(), "events_trimmed_to").Val())
}

// An auto pool's acquires update its two rates (a minute, pool/auto.go);
// other pools' acquires write nothing of the kind.
func TestAutoPoolAcquiresCountDemand(t *testing.T) {
	for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
		f := open(t)
		f.ready("a", at(0))
		f.ready("b", at(0))
		p := acquireParams(at(time.Minute), "h1")
		p.Auto = true
		_, err := f.s.Acquire(f.ctx, p)
		require.NoError(t, err)
		h := f.rdb.HGetAll(f.ctx, f.s.Keys().Pool(testPool)).Val()
		require.Equal(t, "0.200000", h["rate_fast"], "one acquire over a 5-minute constant")
		require.Equal(t, "0.016667", h["rate_slow"])
		require.Equal(t, msStr(at(time.Minute)), h["rate_since"])
		p.Auto, p.LeaseTokenHash = false, "h2"
		_, err = f.s.Acquire(f.ctx, p)
		require.NoError(t, err)
		require.Equal(t, "0.200000", f.rdb.HGet(f.ctx, f.s.Keys().Pool(testPool), "rate_fast").Val())
		obs, err := f.s.Observe(f.ctx, at(time.Minute))
		require.NoError(t, err)
		require.InDelta(t, 0.2, obs.Pools[testPool].RateFast, 1e-9)
		require.Equal(t, at(time.Minute), obs.Pools[testPool].RateSince)
		require.Equal(t, []time.Time{at(time.Minute)}, obs.Pools[testPool].Recent)
	}
}

// An auto pool keeps the times of its last 8 acquires, newest first, for
// pool.BurstRate; misses count as demand too.
func TestAutoPoolKeepsItsLastAcquireTimes(t *testing.T) {
	for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
		f := open(t)
		var want []time.Time
		for i := range 10 {
			p := acquireParams(at(time.Duration(i)*time.Second), fmt.Sprintf("h%d", i))
			p.Auto = true
			_, _ = f.s.Acquire(f.ctx, p) // empty pool: misses
			want = append([]time.Time{at(time.Duration(i) * time.Second)}, want...)
		}
		obs, err := f.s.Observe(f.ctx, at(10*time.Second))
		require.NoError(t, err)
		require.Equal(t, want[:8], obs.Pools[testPool].Recent)
	}
}

// An auto pool counts its acquires by minute of the hour for the last three
// hours (pool.ClockRate), shifting the counts as the hours pass: real Redis
// and miniredis alike (miniredis's Lua assigns a multiple assignment one by one,
// which once shifted the counts wrong there alone).
func TestAutoPoolKeepsAClockProfile(t *testing.T) {
	for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
		f := open(t)
		base := t0.Truncate(time.Hour).Add(3*time.Hour + 17*time.Minute) // :17 of an hour
		acquire := func(when time.Time, n int) {
			for i := range n {
				p := acquireParams(when.Add(time.Duration(i)*time.Second), fmt.Sprintf("h%d-%d", when.Unix(), i))
				p.Auto = true
				_, _ = f.s.Acquire(f.ctx, p) // empty pool: misses
			}
		}
		acquire(base, 3)                              // hour H, :17
		acquire(base.Add(time.Hour), 2)               // H+1
		acquire(base.Add(2*time.Hour), 4)             // H+2
		acquire(base.Add(2*time.Hour+time.Minute), 1) // H+2, :18
		obs, err := f.s.Observe(f.ctx, base.Add(2*time.Hour+2*time.Minute))
		require.NoError(t, err)
		st := obs.Pools[testPool]
		require.Len(t, st.Clock, 60)
		hour := base.Add(2*time.Hour).Unix() / 3600
		require.Equal(t, pool.ClockSlot{Of: hour, Counts: [3]int{4, 2, 3}}, st.Clock[17])
		require.Equal(t, pool.ClockSlot{Of: hour, Counts: [3]int{1, 0, 0}}, st.Clock[18])
		require.Zero(t, st.Clock[16])
		// A gap of two hours keeps only the oldest count, as the third.
		acquire(base.Add(4*time.Hour), 1)
		obs, err = f.s.Observe(f.ctx, base.Add(4*time.Hour))
		require.NoError(t, err)
		require.Equal(t, pool.ClockSlot{Of: hour + 2, Counts: [3]int{1, 0, 4}}, obs.Pools[testPool].Clock[17])
	}
}

// And by hour of the day (UTC) for the last three days (pool.DayRate), in
// the same shape.
func TestAutoPoolKeepsADayProfile(t *testing.T) {
	for _, open := range []func(*testing.T) *fixture{newFixture, newMiniFixture} {
		f := open(t)
		base := t0.Truncate(24 * time.Hour).Add(48*time.Hour + 9*time.Hour + 30*time.Minute) // 09:30 of a day
		acquire := func(when time.Time, n int) {
			for i := range n {
				p := acquireParams(when.Add(time.Duration(i)*time.Minute), fmt.Sprintf("d%d-%d", when.Unix(), i))
				p.Auto = true
				_, _ = f.s.Acquire(f.ctx, p) // empty pool: misses
			}
		}
		day := base.Unix() / 86400
		acquire(base, 3)                   // day D, 09:30-09:32
		acquire(base.Add(24*time.Hour), 2) // D+1
		acquire(base.Add(48*time.Hour), 4) // D+2
		acquire(base.Add(49*time.Hour), 1) // D+2, 10:30
		obs, err := f.s.Observe(f.ctx, base.Add(50*time.Hour))
		require.NoError(t, err)
		st := obs.Pools[testPool]
		require.Len(t, st.Day, 24)
		require.Equal(t, pool.ClockSlot{Of: day + 2, Counts: [3]int{4, 2, 3}}, st.Day[9])
		require.Equal(t, pool.ClockSlot{Of: day + 2, Counts: [3]int{1, 0, 0}}, st.Day[10])
		require.Zero(t, st.Day[8])
		// A gap of two days keeps only the oldest count, as the third.
		acquire(base.Add(96*time.Hour), 1)
		obs, err = f.s.Observe(f.ctx, base.Add(96*time.Hour))
		require.NoError(t, err)
		require.Equal(t, pool.ClockSlot{Of: day + 4, Counts: [3]int{1, 0, 4}}, obs.Pools[testPool].Day[9])
	}
}
