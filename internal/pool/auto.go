package pool

import (
	"fmt"
	"math"
	"time"
)

// target_ready "auto": the pool sizes itself from what it sees, kept in its
// Redis hash so it survives every function restart (acquire.lua updates it
// on every acquire of an auto pool, warm or not):
//   - its acquire rate (AutoRate): two exponentially weighted rates, a slow
//     one (AutoTauSlow), the pool's long-run rate, and a fast one
//     (AutoTauFast), taken once it rises AutoRiseFactor above the slow one;
//     raised at once to a burst that the times of the last acquires show
//     (BurstRate), and bounded by a lull in them (LullRate);
//   - two clock profiles: the acquires in each minute of the hour in the
//     last three hours (ClockRate), and in each hour of the day (UTC) in the
//     last three days (DayRate), so demand that recurs at the same minutes
//     (cron-driven work) or hours (a working day) is provisioned for before
//     it comes;
//   - its deploy time, a running estimate of the 90th percentile of
//     create-to-ready (the planner updates it from each sandbox it marks ready).
//
// The target is the stock that covers the acquires expected while one
// refill deploys, with T the deploy p90 plus the time to react (AutoReact):
// stockFor, priced so that over all of the demand the hits stay near
// hit_rate_goal, between min_ready and max_ready. Idle scale-down and
// cooldown still apply, and a pool above the target it chose sheds its
// surplus once every scale_down_delay (planShrink).
const (
	AutoTauFast = 5 * time.Minute
	AutoTauSlow = time.Hour
	// AutoReact is the time from an acquire to its refill's create call: a
	// kicked pass (about 5 s) and the call.
	AutoReact = 5 * time.Second
	// AutoDeployGuess is the deploy time assumed before any was measured.
	AutoDeployGuess = 60 * time.Second
)

// AutoRate is the pool's acquire rate a minute at now, and which estimate
// gave it: the slow average, or the fast one when demand clearly rises;
// then raised to a burst the last acquires show, and held under what a lull
// in them allows.
func (p Record) AutoRate(now time.Time) (float64, string) {
	if p.RateSince.IsZero() {
		return 0, "none seen"
	}
	fast, slow := p.average(p.RateFast, AutoTauFast, now), p.average(p.RateSlow, AutoTauSlow, now)
	// The slow rate, steadier; the fast one once demand clearly rises
	// above it (a 5-minute average of a steady rate wanders by a third).
	r, from := slow, "60-min average"
	if fast > AutoRiseFactor*slow {
		r, from = fast, "5-min average, rising"
	}
	// A burst: the last few acquires came far too close together for the
	// long-run rate (not r, which a burst pulls up while it lasts).
	if b := p.BurstRate(now, slow); b > r {
		r, from = b, "burst in the last acquires"
	}
	// A lull is evidence too: j acquires or fewer since some time are
	// unlikely (AutoLullP) at a rate above the lull's bound, so demand that
	// falls or stops is seen within minutes, not an hour of slow decay.
	if b, j, since := p.LullRate(now); b < r {
		if j == 0 {
			r, from = b, fmt.Sprintf("bounded by %s without an acquire", since.Round(time.Second))
		} else {
			r, from = b, fmt.Sprintf("bounded by %d acquires in %s", j, since.Round(time.Second))
		}
	}
	return r, from
}

// AutoLullP is how unlikely a lull must be at a rate for the rate to be
// bounded below it.
const AutoLullP = 0.05

// lullMu[j] is the Poisson mean above which j or fewer arrivals have a
// chance below AutoLullP: P(N <= j | lullMu[j]) = AutoLullP.
var lullMu = func() (mu [8]float64) {
	for j := range mu {
		lo, hi := 0.0, 100.0
		for range 60 {
			if m := (lo + hi) / 2; 1-poissonTail(m, j+1) > AutoLullP {
				lo = m
			} else {
				hi = m
			}
		}
		mu[j] = hi
	}
	return mu
}()

// LullRate is the tightest bound the last acquires put on the rate: j
// acquires after Recent[j] (the silence since the newest, for j = 0) are
// unlikely at a rate above lullMu[j] over the time since. It returns the
// bound, j and that time; +Inf when there is no history.
func (p Record) LullRate(now time.Time) (float64, int, time.Duration) {
	best, bj, bs := math.Inf(1), 0, time.Duration(0)
	last := p.RateAt
	if last.IsZero() {
		return best, bj, bs
	}
	for j := range lullMu {
		var t time.Time
		switch {
		case j == 0:
			t = last // the newest acquire counted
		case j < len(p.Recent):
			t = p.Recent[j]
		default:
			return best, bj, bs
		}
		if since := now.Sub(t); since > 0 {
			if b := lullMu[j] / since.Minutes(); b < best {
				best, bj, bs = b, j, since
			}
		}
	}
	return best, bj, bs
}

// average is one of acquire.lua's averages (r, time constant tau) as of
// now: decayed from its last update, and corrected for a short history (an
// average started at zero underestimates until it has seen a time constant
// of demand; the history counts from a minute).
func (p Record) average(r float64, tau time.Duration, now time.Time) float64 {
	dt := max(now.Sub(p.RateAt), 0)
	seen := max(now.Sub(p.RateSince), time.Minute)
	return r * math.Exp(-float64(dt)/float64(tau)) / (1 - math.Exp(-float64(seen)/float64(tau)))
}

// longRate is the slow average: the pool's long-run rate (0 before any).
func (p Record) longRate(now time.Time) float64 {
	if p.RateSince.IsZero() {
		return 0
	}
	return p.average(p.RateSlow, AutoTauSlow, now)
}

// ClockSlot is one slot of a clock profile (a minute of the hour, or an hour
// of the day): the period (Unix time in hours, or in days) of its newest
// count, and the acquires in that slot of that period and of the two before.
type ClockSlot struct {
	Of     int64
	Counts [3]int
}

// AutoClockP is how unlikely, at the long-run rate, a slot's count must be
// in each of the last two periods for a clock profile to expect it again.
const AutoClockP = 1e-3

// ClockRate is the demand the minute-of-the-hour profile expects in the
// minutes from now to now+ahead, in acquires a minute, and the minute of the
// hour it expects it in: demand that recurs at the same minute of the hour
// (cron-driven work). 0 when nothing recurs. See recurring.
func (p Record) ClockRate(now time.Time, ahead time.Duration, ref float64) (float64, int) {
	if len(p.Clock) != 60 || ref <= 0 {
		return 0, 0
	}
	// Whole minutes ahead from the current one: from :16:30 with 100 s
	// ahead, :16 and :17. Reading on to :18, where now+ahead falls, cost the
	// bursty curve 0.9 points of efficiency for no hit (docs/BENCHMARKS.md
	// §9): a pass every 5 s while refills deploy makes the extra minute early.
	first := now.UnixMilli() / time.Minute.Milliseconds()
	c, at := recurring(p.Clock, time.Minute, now, first+int64(ahead/time.Minute), ref, false)
	return float64(c), at
}

// DayRate is the same for the hour-of-the-day profile (UTC): the demand, in
// acquires a minute, that an hour of the day had in each of the last two
// days (a working day's start), and that hour.
func (p Record) DayRate(now time.Time, ahead time.Duration, ref float64) (float64, int) {
	if len(p.Day) != 24 || ref <= 0 {
		return 0, 0
	}
	c, at := recurring(p.Day, time.Hour, now, now.Add(ahead).UnixMilli()/time.Hour.Milliseconds(), ref, true)
	return float64(c) / 60, at
}

// recurring is what a clock profile (len(slots) slots of slot each, one
// period) expects in the slots from now's to upTo (a slot number: Unix time
// in slots): a count seen in that slot in each of the last two periods that
// would be unlikely (AutoClockP) at ref, the pool's long-run rate a minute;
// the smaller of the two, the largest over the slots ahead, and its slot.
// With letGo, in
// the slot under way demand that has not come is evidence: once its count so
// far is unlikely (AutoLullP) for the share of the slot gone, the slot is
// expected no more (a day the work does not come). The day profile lets go;
// the minute profile does not, as a minute's demand need not spread over it
// (a burst that starts at :20 would be let go at :15: on the bursty curve
// that cost 0.4 points of hits and 0.7 of efficiency, docs/BENCHMARKS.md §9).
func recurring(slots []ClockSlot, slot time.Duration, now time.Time, upTo int64, ref float64, letGo bool) (int, int) {
	n, ms := int64(len(slots)), slot.Milliseconds()
	best, at := 0, 0
	first := now.UnixMilli() / ms
	for s := first; s <= upTo; s++ {
		e, period := slots[s%n], s/n
		var last, prev, sofar int
		switch e.Of {
		case period: // counted this period already: the two before are 1 and 2
			sofar, last, prev = e.Counts[0], e.Counts[1], e.Counts[2]
		case period - 1:
			last, prev = e.Counts[0], e.Counts[1]
		default:
			continue
		}
		c := min(last, prev)
		if c <= best || poissonTail(ref*slot.Minutes(), c) >= AutoClockP {
			continue
		}
		if letGo && s == first {
			gone := float64(now.UnixMilli()-s*ms) / float64(ms)
			if 1-poissonTail(float64(c)*gone, sofar+1) < AutoLullP {
				continue
			}
		}
		best, at = c, int(s%n)
	}
	return best, at
}

// AutoBurstP is how unlikely the last acquires' spacing must be at the
// long-run rate before the rate they show is taken.
const AutoBurstP = 1e-3

// recentRate is the rate over the last acquires: their number less one over
// their span to now (+Inf with fewer than three).
func (p Record) recentRate(now time.Time) float64 {
	n := len(p.Recent)
	if n < 3 || !now.After(p.Recent[n-1]) {
		return math.Inf(1)
	}
	return float64(n-1) / now.Sub(p.Recent[n-1]).Minutes()
}

// BurstRate is the rate the most recent acquires show, when they came too
// close together for rate: when for some k of the last acquires (k >= 3), k
// arrivals within w = now - t_k are a tail of probability P(N >= k) below
// AutoBurstP with N ~ Poisson(rate x w), the rate over all of them (their
// number less one over their span to now, so a burst that stops falls at
// once); 0 when none is that unlikely. On a pool at 2 a minute, acquires
// 3 s apart (20 a minute) are told at the fourth, 9 s in; a 5-minute
// average takes minutes.
func (p Record) BurstRate(now time.Time, rate float64) float64 {
	burst := false
	for i, t := range p.Recent {
		k := i + 1
		w := now.Sub(t).Minutes()
		if k >= 3 && w > 0 && poissonTail(rate*w, k) < AutoBurstP {
			burst = true
			break
		}
	}
	if !burst {
		return 0
	}
	return p.recentRate(now)
}

// poissonTail is P(N >= k) for N ~ Poisson(mu).
func poissonTail(mu float64, k int) float64 {
	if mu <= 0 {
		return 0
	}
	p := math.Exp(-mu)
	cdf := p
	for i := 1; i < k; i++ {
		p *= mu / float64(i)
		cdf += p
	}
	return max(1-cdf, 0)
}

// AutoRiseFactor is how far the fast rate must rise above the slow one to
// be taken instead. (Taking it when it falls far below, too, was tried: on
// the wave it bought 3 points of efficiency for 1.4 of hit rate, and it
// cost hits on steady and random; falls are left to the lull bound.)
const AutoRiseFactor = 1.3

// AutoTarget is the target an auto pool takes at now, and why, in words
// metrics show.
func AutoTarget(pc PoolConfig, st Record, now time.Time) (int, string) {
	rate, from := st.AutoRate(now)
	deploy := st.DeployP90
	measured := "measured"
	if deploy <= 0 {
		deploy, measured = AutoDeployGuess, "assumed"
	}
	window := deploy + AutoReact
	ref := st.longRate(now)
	// Demand the clock profiles expect before a sandbox created at the next
	// pass (a minute away at most) could be ready is provisioned for now.
	if c, at := st.ClockRate(now, window+time.Minute, ref); c > rate {
		rate, from = c, fmt.Sprintf("clock profile: :%02d had at least %.0f in each of the last two hours", at, c)
	}
	if d, at := st.DayRate(now, window+time.Minute, ref); d > rate {
		rate, from = d, fmt.Sprintf("day profile: %02d:00 UTC had at least %.0f in each of the last two days", at, 60*d)
	}
	mu := rate * window.Minutes()
	if ref <= 0 {
		ref = rate
	}
	k := stockFor(rate, ref, window, pc.HitRateGoal)
	t := min(max(k, pc.MinReady), pc.MaxReady)
	why := fmt.Sprintf("auto: %.2f acquires/min (%s) x (%s deploy p90 %s + %s to react) = %.2f expected per refill; %d held for a %.0f%% hit rate",
		rate, from, measured, deploy.Round(time.Second), AutoReact, mu, k, 100*pc.HitRateGoal)
	if t != k {
		why += fmt.Sprintf("; held to [%d, %d]", pc.MinReady, pc.MaxReady)
	}
	return t, why
}

// EffectiveTarget is the target a pool holds: target_ready, or for an auto
// pool the one the last pass chose (min_ready before any).
func EffectiveTarget(pc PoolConfig, st Record) int {
	if !pc.Auto {
		return pc.TargetReady
	}
	return min(max(st.AutoTarget, pc.MinReady), pc.MaxReady)
}

// stockFor is the stock an auto pool holds at rate (acquires a minute),
// with refills taking window, for a hit-rate goal met over all acquires, not
// at every moment.
//
// Each acquire starts a refill, and a miss is every sandbox of the stock
// still deploying: with N ~ Poisson(rate × window) refills in flight, a
// stock of k misses when N >= k, so the k-th sandbox saves rate × P(N = k-1)
// misses a minute and costs about one sandbox-minute a minute (it mostly
// waits ready). A sandbox that saves more than a price is worth holding.
// The price is set at the pool's long-run rate ref, where the stock is the
// goal's quantile plus one (so at a steady rate the rule is that quantile):
// a sandbox must then earn as many hits as the last one worth holding at
// ref. A quiet spell holds fewer sandboxes than its own quantile asks (each
// would wait long for its acquire), a busy one at least as many, and the
// hits over the whole demand stay near the goal for fewer sandbox-minutes.
func stockFor(rate, ref float64, window time.Duration, goal float64) int {
	if rate <= 0 {
		return 0
	}
	muRef := ref * window.Minutes()
	q := poissonQuantile(muRef, goal)
	price := ref * poissonPMF(muRef, q)
	mu := rate * window.Minutes()
	k := 0
	for k < 10000 && (float64(k) < mu || rate*poissonPMF(mu, k) >= price) {
		k++
	}
	return k
}

// poissonPMF is P(N = k) for N ~ Poisson(mu).
func poissonPMF(mu float64, k int) float64 {
	if mu <= 0 {
		if k == 0 {
			return 1
		}
		return 0
	}
	lg, _ := math.Lgamma(float64(k) + 1)
	return math.Exp(float64(k)*math.Log(mu) - mu - lg)
}

// poissonQuantile is the smallest k with P(N <= k) >= goal for N ~ Poisson(mu).
func poissonQuantile(mu, goal float64) int {
	if mu <= 0 {
		return 0
	}
	p := math.Exp(-mu)
	cdf := p
	k := 0
	for cdf < goal && k < 10000 {
		k++
		p *= mu / float64(k)
		cdf += p
	}
	return k
}

// NextDeployP90 folds deploy-time samples into a running 90th-percentile
// estimate: a sample above it moves it up by a fifth of the gap, one below
// by a fortieth (the 9:1 ratio of a 90th percentile); the first sample
// starts it.
func NextDeployP90(p90 time.Duration, samples []time.Duration) time.Duration {
	for _, d := range samples {
		switch {
		case p90 <= 0:
			p90 = d
		case d > p90:
			p90 += (d - p90) / 5
		default:
			p90 -= (p90 - d) / 40
		}
	}
	return p90
}
