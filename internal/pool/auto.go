package pool

import (
	"fmt"
	"math"
	"time"
)

// target_ready "auto": the pool sizes itself from what it sees, kept in its
// Redis hash so it survives every function restart:
//   - its acquire rate, as two exponentially weighted rates (acquire.lua
//     updates them on every acquire of an auto pool): a slow one
//     (AutoTauSlow), steady, and a fast one (AutoTauFast), taken once it
//     rises AutoRiseFactor above the slow one; raised at once to a burst
//     that the times of the last acquires show (BurstRate), and bounded
//     after a silence (AutoGapEvidence);
//   - its deploy time, a running estimate of the 90th percentile of
//     create-to-ready (the planner updates it from each sandbox it marks ready).
//
// The target is the stock that covers the acquires expected while one
// refill deploys: with λ that rate and T the deploy p90
// plus the time to react (AutoReact), and N ~ Poisson(λT) the refills in
// flight, a miss is N reaching the stock: the stock is one more than the
// smallest k with P(N ≤ k) ≥ hit_rate_goal, between min_ready and max_ready.
// Idle scale-down and cooldown still apply, and a pool above the target it
// chose sheds one ready sandbox every scale_down_delay (planShrink).
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
// gave it: the slow one, or the fast one when demand clearly rises, each
// decayed from its last update and corrected for a short history (an
// average started at zero underestimates until it has seen a time constant
// of demand; the history counts from a minute); then raised to a burst the
// last acquires show, and held under what a silence since the last one
// allows.
func (p PoolState) AutoRate(now time.Time) (float64, string) {
	if p.RateSince.IsZero() {
		return 0, "none seen"
	}
	dt := max(now.Sub(p.RateAt), 0)
	seen := max(now.Sub(p.RateSince), time.Minute)
	rate := func(r float64, tau time.Duration) float64 {
		r *= math.Exp(-float64(dt) / float64(tau))
		return r / (1 - math.Exp(-float64(seen)/float64(tau)))
	}
	fast, slow := rate(p.RateFast, AutoTauFast), rate(p.RateSlow, AutoTauSlow)
	// The slow rate, steadier; the fast one once demand clearly rises
	// above it (a 5-minute average of a steady rate wanders by a third).
	r, from := slow, "60-min average"
	if fast > AutoRiseFactor*slow {
		r, from = fast, "5-min average, rising"
	}
	// A burst: the last few acquires came far too close together for r.
	if b := p.BurstRate(now, r); b > r {
		r, from = b, "burst in the last acquires"
	}
	// A silence is evidence too: no acquire for a gap g is unlikely
	// (e^-AutoGapEvidence) at a rate above AutoGapEvidence/g, so demand
	// that stops is seen within minutes, not an hour of slow decay.
	if gap := dt.Minutes(); gap > 0 && AutoGapEvidence/gap < r {
		r, from = AutoGapEvidence/gap, fmt.Sprintf("bounded by %s without an acquire", dt.Round(time.Second))
	}
	return r, from
}

// AutoBurstP is how unlikely the last acquires' spacing must be at the
// current rate before the burst rate it shows is taken: 1e-5 each test,
// about one false alarm in a hundred hours of steady demand.
const AutoBurstP = 1e-5

// BurstRate is the rate the most recent acquires show, when they came too
// close together for rate: for each k of the last acquires (k >= 3), k
// arrivals within w = now - t_k are a tail of probability P(N >= k) with
// N ~ Poisson(rate x w); below AutoBurstP, k/w is a burst rate. The largest
// such rate, or 0 when none is that unlikely. A 20-a-minute spike on a
// pool at 2 is told after about 7 acquires (some 20 s), a 5-minute average
// takes minutes.
func (p PoolState) BurstRate(now time.Time, rate float64) float64 {
	best := 0.0
	for i, t := range p.Recent {
		k := i + 1
		w := now.Sub(t).Minutes()
		if k < 3 || w <= 0 {
			continue
		}
		if poissonTail(rate*w, k) < AutoBurstP {
			best = max(best, float64(k)/w)
		}
	}
	return best
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

// AutoGapEvidence bounds the rate after a silence: at most this many
// acquires were expected in it (e^-4.6: a 1 % chance of such a silence).
const AutoGapEvidence = 4.6

// AutoRiseFactor is how far the fast rate must rise above the slow one to
// be taken instead. (Taking it when it falls far below, too, was tried: on
// the wave it bought 3 points of efficiency for 1.4 of hit rate, and it
// cost hits on steady and random; falls are left to the silence bound.)
const AutoRiseFactor = 1.3

// AutoTarget is the target an auto pool takes at now, and why, in words
// metrics show.
func AutoTarget(pc PoolConfig, st PoolState, now time.Time) (int, string) {
	rate, from := st.AutoRate(now)
	deploy := st.DeployP90
	measured := "measured"
	if deploy <= 0 {
		deploy, measured = AutoDeployGuess, "assumed"
	}
	window := deploy + AutoReact
	mu := rate * window.Minutes()
	// Each acquire starts a refill; a miss is every sandbox of the stock
	// still deploying: N refills in flight, N ~ Poisson(λT), miss when
	// N >= stock. So the stock is one more than the goal's quantile.
	k := poissonQuantile(mu, pc.HitRateGoal) + 1
	if rate == 0 {
		k = 0
	}
	t := min(max(k, pc.MinReady), pc.MaxReady)
	why := fmt.Sprintf("auto: %.2f acquires/min (%s) x (%s deploy p90 %s + %s to react) = %.2f expected per refill; %d cover %.0f%%",
		rate, from, measured, deploy.Round(time.Second), AutoReact, mu, k, 100*pc.HitRateGoal)
	if t != k {
		why += fmt.Sprintf("; held to [%d, %d]", pc.MinReady, pc.MaxReady)
	}
	return t, why
}

// EffectiveTarget is the target a pool holds: target_ready, or for an auto
// pool the one the last pass chose (min_ready before any).
func EffectiveTarget(pc PoolConfig, st PoolState) int {
	if !pc.Auto {
		return pc.TargetReady
	}
	return min(max(st.AutoTarget, pc.MinReady), pc.MaxReady)
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
