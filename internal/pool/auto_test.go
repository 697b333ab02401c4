package pool

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPoissonQuantile(t *testing.T) {
	require.Equal(t, 0, poissonQuantile(0, 0.99))
	// Poisson(1): P(N<=3) = 0.981, P(N<=4) = 0.996.
	require.Equal(t, 4, poissonQuantile(1, 0.99))
	require.Equal(t, 3, poissonQuantile(1, 0.95))
	// Poisson(10): P(N<=17) = 0.986, P(N<=18) = 0.993.
	require.Equal(t, 18, poissonQuantile(10, 0.99))
}

// rate is the rate AutoRate takes, without its reason.
func rate(st Record, now time.Time) float64 {
	r, _ := st.AutoRate(now)
	return r
}

func TestAutoTargetCoversTheRefillsInFlight(t *testing.T) {
	pc := DefaultPool()
	pc.Auto, pc.MinReady, pc.MaxReady = true, 1, 20
	now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	// 2 acquires a minute for an hour, a measured 45 s deploy: λT = 2 × 50 s = 1.67.
	st := Record{RateFast: 2, RateSlow: 2 * (1 - 0.3679), RateAt: now, RateSince: now.Add(-time.Hour), DeployP90: 45 * time.Second}
	require.InDelta(t, 2, rate(st, now), 0.01)
	target, why := AutoTarget(pc, st, now)
	require.Equal(t, poissonQuantile(2*50.0/60, 0.99)+1, target) // P(N<=4 | 1.67) = 0.972, <=5: 0.992: 6
	require.Equal(t, 6, target)
	require.Contains(t, why, "2.00 acquires/min")
	require.Contains(t, why, "measured deploy p90 45s")

	never, why := AutoTarget(pc, Record{}, now)
	require.Equal(t, 1, never, "no demand seen: min_ready")
	require.Contains(t, why, "held to [1, 20]")
	pc.MaxReady = 4
	capped, _ := AutoTarget(pc, st, now)
	require.Equal(t, 4, capped)

	// A pool seen for a minute only is not taken for an idle one.
	young := Record{RateFast: 0.2 * 2, RateSlow: 2.0 / 60, RateAt: now, RateSince: now.Add(-time.Minute)}
	require.InDelta(t, 2, rate(young, now), 0.3)
	// Demand that stopped decays.
	require.Less(t, rate(st, now.Add(time.Hour)), 0.8)
}

func TestEffectiveTargetAndDeployP90(t *testing.T) {
	pc := DefaultPool()
	pc.TargetReady = 3
	require.Equal(t, 3, EffectiveTarget(pc, Record{AutoTarget: 9}))
	pc.Auto, pc.MinReady, pc.MaxReady = true, 2, 8
	require.Equal(t, 2, EffectiveTarget(pc, Record{}))
	require.Equal(t, 8, EffectiveTarget(pc, Record{AutoTarget: 9}))

	require.Equal(t, 40*time.Second, NextDeployP90(0, []time.Duration{40 * time.Second}))
	p := NextDeployP90(0, nil)
	for range 400 { // 90% at 30 s, 10% at 60 s: the estimate settles between them, near the top
		for i := range 10 {
			d := 30 * time.Second
			if i == 0 {
				d = 60 * time.Second
			}
			p = NextDeployP90(p, []time.Duration{d})
		}
	}
	require.Greater(t, p, 30*time.Second)
	require.Less(t, p, 60*time.Second)
}

func TestTargetReadyAuto(t *testing.T) {
	c, err := ParseConfig([]byte(`{"pools": {"python": {"target_ready": "auto", "min_ready": 1, "max_ready": 12, "hit_rate_goal": 0.95}}}`))
	require.NoError(t, err)
	p := c.Pools["python"]
	require.True(t, p.Auto)
	require.Equal(t, 0, p.TargetReady)
	require.Equal(t, 0.95, p.HitRateGoal)
	y, err := ParseConfig([]byte("pools:\n  python:\n    target_ready: auto\n"))
	require.NoError(t, err)
	require.True(t, y.Pools["python"].Auto)
	require.Equal(t, DefaultHitRateGoal, y.Pools["python"].HitRateGoal)
	for in, want := range map[string]string{
		`{"pools": {"python": {"target_ready": "lots"}}}`:                     "pools.python.target_ready: want a whole number",
		`{"pools": {"python": {"target_ready": "auto", "min_ready": 11}}}`:    "pools.python.min_ready: must be 0 to max_ready (10)",
		`{"pools": {"python": {"target_ready": "auto", "hit_rate_goal": 1}}}`: "hit_rate_goal: must be between 0 and 1",
	} {
		_, err := ParseConfig([]byte(in))
		require.Error(t, err, in)
		require.True(t, strings.Contains(err.Error(), want), "%s: %v", in, err)
	}
}

// The times of the last acquires tell a burst within seconds, and a
// silence bounds the rate: neither waits for a 5- or 60-minute average.
func TestAutoRateSeesBurstsAndSilences(t *testing.T) {
	now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	// Two hours at 2 a minute, as acquire.lua's averages hold them.
	steady := Record{RateFast: 2, RateSlow: 2 * (1 - math.Exp(-2)), RateAt: now, RateSince: now.Add(-2 * time.Hour)}
	spaced := func(every time.Duration) []time.Time {
		ts := make([]time.Time, 8)
		for i := range ts {
			ts[i] = now.Add(-time.Duration(i) * every)
		}
		return ts
	}
	// 2 a minute, spaced as 2 a minute: no burst.
	st := steady
	st.Recent = spaced(30 * time.Second)
	r, from := st.AutoRate(now)
	require.InDelta(t, 2, r, 0.01)
	require.Equal(t, "60-min average", from)
	// One every 3 s at a rate of 2: a burst of 20 a minute, the rate over
	// all eight (seven intervals in 21 s).
	st.Recent = spaced(3 * time.Second)
	r, from = st.AutoRate(now)
	require.Equal(t, "burst in the last acquires", from)
	require.InDelta(t, 20, r, 0.01)
	// Told at the fourth of them, 9 s in (P(N >= 4 | 0.3) = 3e-4; three in
	// 6 s, P(N >= 3 | 0.2) = 1.1e-3, are not enough).
	st.Recent = spaced(3 * time.Second)[:4]
	_, from = st.AutoRate(now)
	require.Equal(t, "burst in the last acquires", from)
	st.Recent = spaced(3 * time.Second)[:3]
	_, from = st.AutoRate(now)
	require.Equal(t, "60-min average", from)
	st.Recent = spaced(3 * time.Second)
	// It is told from the long-run rate, so it holds while the 5-minute
	// average rises to meet it.
	st.RateFast = 15
	r, from = st.AutoRate(now)
	require.Equal(t, "burst in the last acquires", from)
	require.InDelta(t, 20, r, 0.01)
	st.RateFast = 2
	pc := DefaultPool()
	pc.Auto, pc.MinReady, pc.MaxReady = true, 1, 40
	pc.HitRateGoal = 0.99
	st.DeployP90 = 30 * time.Second
	burst, why := AutoTarget(pc, st, now)
	require.Greater(t, burst, 15)
	require.Contains(t, why, "burst")
	// Three close together is chance at 2 a minute, not a burst.
	st.Recent = []time.Time{now, now.Add(-5 * time.Second), now.Add(-10 * time.Second)}
	_, from = st.AutoRate(now)
	require.Equal(t, "60-min average", from)

	// Twenty minutes without an acquire: at most 3.0/20 a minute (no
	// acquire in a span where 3 were expected: a 5 % chance).
	quiet := steady
	r, from = quiet.AutoRate(now.Add(20 * time.Minute))
	require.InDelta(t, lullMu[0]/20, r, 1e-9)
	require.InDelta(t, 3.0, lullMu[0], 0.01)
	require.Contains(t, from, "20m0s without an acquire")
	// A gap usual at the rate bounds nothing.
	r, _ = quiet.AutoRate(now.Add(time.Minute))
	require.Greater(t, r, 1.9)
}

// A lull in the last acquires bounds the rate: j acquires since Recent[j]
// are unlikely (AutoLullP) at a rate above lullMu[j] over that time.
func TestAutoRateSeesALull(t *testing.T) {
	for j, mu := range lullMu {
		require.InDelta(t, AutoLullP, 1-poissonTail(mu, j+1), 1e-9, "P(N <= %d | %.2f)", j, mu)
	}
	now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	// Two hours at 2 a minute, then one acquire every 2 minutes: the last
	// eight span 14 minutes, the newest just now.
	st := Record{RateFast: 2, RateSlow: 2 * (1 - math.Exp(-2)), RateAt: now, RateSince: now.Add(-2 * time.Hour)}
	for i := range 8 {
		st.Recent = append(st.Recent, now.Add(-time.Duration(2*i)*time.Minute))
	}
	r, from := st.AutoRate(now)
	b, j, since := st.LullRate(now)
	require.Equal(t, 7, j)
	require.Equal(t, 14*time.Minute, since)
	require.InDelta(t, lullMu[7]/14, b, 1e-9) // 0.94 a minute
	require.Equal(t, b, r)
	require.Equal(t, "bounded by 7 acquires in 14m0s", from)
	// No history, no bound.
	b, _, _ = Record{}.LullRate(now)
	require.True(t, math.IsInf(b, 1))
}

// stockFor is the goal's quantile plus one at the pool's long-run rate, holds
// fewer sandboxes than a quiet spell's own quantile asks, and at least as
// many as a busy spell's.
func TestStockForPricesSandboxesAtTheLongRunRate(t *testing.T) {
	w := 40 * time.Second
	mu := func(r float64) float64 { return r * w.Minutes() }
	for _, r := range []float64{0.5, 2, 10} {
		require.Equal(t, poissonQuantile(mu(r), 0.99)+1, stockFor(r, r, w, 0.99), "at %v a minute", r)
	}
	// 2 a minute long-run: 6 (P(N <= 5 | 1.33) = 0.998; <= 4: 0.990).
	require.Equal(t, 6, stockFor(2, 2, w, 0.99))
	// A spell at 0.4: its own quantile asks 3 (P(N <= 1 | 0.27) = 0.970);
	// a third sandbox would save 0.4 × P(N = 2) = 0.012 misses a minute,
	// under the price at 2 (2 × P(N = 5 | 1.33) = 0.021): 2.
	require.Equal(t, 3, poissonQuantile(mu(0.4), 0.99)+1)
	require.Equal(t, 2, stockFor(0.4, 2, w, 0.99))
	// A spell at 4: at least its own quantile plus one.
	require.GreaterOrEqual(t, stockFor(4, 2, w, 0.99), poissonQuantile(mu(4), 0.99)+1)
	// A stricter goal holds more; no demand holds none.
	require.Greater(t, stockFor(2, 2, w, 0.999), 6)
	require.Equal(t, 0, stockFor(0, 2, w, 0.99))
}

// clockSlots is a profile of n slots, those in set filled.
func clockSlots(n int, set map[int]ClockSlot) []ClockSlot {
	out := make([]ClockSlot, n)
	for i, c := range set {
		out[i] = c
	}
	return out
}

// The clock profile expects demand that came at the same minute of the hour
// in each of the last two hours, at a count unlikely at the long-run rate.
func TestClockRateExpectsWhatRecursAtTheSameMinute(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 16, 30, 0, time.UTC)
	hour := now.Unix() / 3600
	profile := func(set map[int]ClockSlot) Record { return Record{Clock: clockSlots(60, set)} }
	// :17 had 20 and 22 in the two hours before this one (not counted yet
	// this hour): 20 a minute, seen from :16 looking 1.5 minutes ahead.
	st := profile(map[int]ClockSlot{17: {Of: hour - 1, Counts: [3]int{20, 22, 0}}})
	r, at := st.ClockRate(now, 90*time.Second, 2)
	require.Equal(t, 20.0, r)
	require.Equal(t, 17, at)
	// Not ahead far enough, or not unlikely at the long-run rate: nothing.
	r, _ = st.ClockRate(now, 0, 2)
	require.Zero(t, r)
	r, _ = st.ClockRate(now, 90*time.Second, 15)
	require.Zero(t, r)
	// Once in the last two hours is not a pattern.
	r, _ = profile(map[int]ClockSlot{17: {Of: hour - 1, Counts: [3]int{20, 0, 0}}}).ClockRate(now, 90*time.Second, 2)
	require.Zero(t, r)
	// Counted this hour already: the two before are the ones that tell.
	r, _ = profile(map[int]ClockSlot{16: {Of: hour, Counts: [3]int{8, 18, 19}}}).ClockRate(now, 0, 2)
	require.Equal(t, 18.0, r)
	// Half the minute gone with 3 of the 18 is no evidence that the work is
	// not coming: a minute's demand need not spread over it.
	r, _ = profile(map[int]ClockSlot{16: {Of: hour, Counts: [3]int{0, 18, 19}}}).ClockRate(now, 0, 2)
	require.Equal(t, 18.0, r)
	// Ahead in whole minutes from the current one: :18 is two away.
	r, _ = profile(map[int]ClockSlot{18: {Of: hour - 1, Counts: [3]int{20, 22, 0}}}).ClockRate(now, 90*time.Second, 2)
	require.Zero(t, r)
	r, at = profile(map[int]ClockSlot{18: {Of: hour - 1, Counts: [3]int{20, 22, 0}}}).ClockRate(now, 2*time.Minute, 2)
	require.Equal(t, 20.0, r)
	require.Equal(t, 18, at)
	// Older than two hours: forgotten.
	r, _ = profile(map[int]ClockSlot{17: {Of: hour - 2, Counts: [3]int{20, 22, 0}}}).ClockRate(now, 90*time.Second, 2)
	require.Zero(t, r)
	// No profile.
	r, _ = Record{}.ClockRate(now, time.Hour, 2)
	require.Zero(t, r)
}

// The day profile expects, an hour of the day ahead, the demand it had in
// each of the last two days, and lets it go once the hour under way shows
// it is not coming.
func TestDayRateExpectsWhatRecursAtTheSameHour(t *testing.T) {
	day := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	today := day.Unix() / 86400
	profile := func(set map[int]ClockSlot) Record { return Record{Day: clockSlots(24, set)} }
	// 09:00-10:00 had 360 and 300 on the two days before: 5 a minute,
	// expected from 08:59:20 looking 90 s ahead, at a long-run rate of 0.5.
	st := profile(map[int]ClockSlot{9: {Of: today - 1, Counts: [3]int{360, 300, 0}}})
	r, at := st.DayRate(day.Add(8*time.Hour+59*time.Minute+20*time.Second), 90*time.Second, 0.5)
	require.Equal(t, 5.0, r)
	require.Equal(t, 9, at)
	// Not yet in reach, or usual at the long-run rate: nothing.
	r, _ = st.DayRate(day.Add(8*time.Hour+50*time.Minute), 90*time.Second, 0.5)
	require.Zero(t, r)
	r, _ = st.DayRate(day.Add(8*time.Hour+59*time.Minute+20*time.Second), 90*time.Second, 5)
	require.Zero(t, r)
	// Into the hour with its demand coming: still expected.
	coming := profile(map[int]ClockSlot{9: {Of: today, Counts: [3]int{30, 360, 300}}})
	r, _ = coming.DayRate(day.Add(9*time.Hour+6*time.Minute), time.Minute, 0.5)
	require.Equal(t, 5.0, r)
	// Half a minute in without an acquire is no evidence yet (P = e^-2.5 at
	// 5 a minute); a minute is (e^-5): it is not coming today.
	r, _ = st.DayRate(day.Add(9*time.Hour+30*time.Second), time.Minute, 0.5)
	require.Equal(t, 5.0, r)
	r, _ = st.DayRate(day.Add(9*time.Hour+time.Minute), time.Minute, 0.5)
	require.Zero(t, r)
	// Nor five minutes in (e^-25).
	r, _ = st.DayRate(day.Add(9*time.Hour+5*time.Minute), time.Minute, 0.5)
	require.Zero(t, r)
	// Once in the last two days is not a pattern.
	r, _ = profile(map[int]ClockSlot{9: {Of: today - 1, Counts: [3]int{360, 0, 0}}}).DayRate(day.Add(8*time.Hour+59*time.Minute), 2*time.Minute, 0.5)
	require.Zero(t, r)
	r, _ = Record{}.DayRate(day, time.Hour, 0.5)
	require.Zero(t, r)

	// The target provisions for it before the hour, and says why.
	now := day.Add(8*time.Hour + 59*time.Minute + 20*time.Second)
	st.RateFast, st.RateSlow, st.RateAt, st.RateSince, st.DeployP90 = 0.5, 0.5, now, now.Add(-48*time.Hour), 30*time.Second
	pc := DefaultPool()
	pc.Auto, pc.MinReady, pc.MaxReady, pc.HitRateGoal = true, 1, 40, 0.99
	quiet, _ := AutoTarget(pc, Record{RateFast: 0.5, RateSlow: 0.5, RateAt: now, RateSince: st.RateSince, DeployP90: 30 * time.Second}, now)
	target, why := AutoTarget(pc, st, now)
	require.Greater(t, target, quiet)
	require.Contains(t, why, "day profile: 09:00 UTC had at least 300 in each of the last two days")
}
