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
//     rises AutoRiseFactor above the slow one;
//   - its deploy time, a running estimate of the 90th percentile of
//     create-to-ready (the planner updates it from each sandbox it marks ready).
//
// The target is the stock that covers the acquires expected while one
// refill deploys: with λ that rate and T the deploy p90
// plus the time to react (AutoReact), and N ~ Poisson(λT) the refills in
// flight, a miss is N reaching the stock: the stock is one more than the
// smallest k with P(N ≤ k) ≥ hit_rate_goal, between min_ready and max_ready.
// Idle scale-down and cooldown still apply.
const (
	AutoTauFast = 5 * time.Minute
	AutoTauSlow = time.Hour
	// AutoReact is the time from an acquire to its refill's create call: a
	// kicked pass (about 5 s) and the call.
	AutoReact = 15 * time.Second
	// AutoDeployGuess is the deploy time assumed before any was measured.
	AutoDeployGuess = 60 * time.Second
)

// AcquireRate is the pool's acquire rate a minute at now: the slow estimate,
// or the fast one when demand clearly rises, decayed from their last update,
// each corrected
// for its short history (an average started at zero underestimates until it
// has seen a time constant of demand; the history counts from a minute).
func (p PoolState) AcquireRate(now time.Time) float64 {
	dt := max(now.Sub(p.RateAt), 0)
	seen := max(now.Sub(p.RateSince), time.Minute)
	rate := func(r float64, tau time.Duration) float64 {
		r *= math.Exp(-float64(dt) / float64(tau))
		return r / (1 - math.Exp(-float64(seen)/float64(tau)))
	}
	if p.RateSince.IsZero() {
		return 0
	}
	fast, slow := rate(p.RateFast, AutoTauFast), rate(p.RateSlow, AutoTauSlow)
	// The slow rate, steadier; the fast one once demand clearly rises
	// above it (a 5-minute average of a steady rate wanders by a third).
	if fast > AutoRiseFactor*slow {
		return fast
	}
	return slow
}

// AutoRiseFactor is how far the fast rate must rise above the slow one to
// be taken instead.
const AutoRiseFactor = 1.3

// AutoTarget is the target an auto pool takes at now, and why, in words
// metrics show.
func AutoTarget(pc PoolConfig, st PoolState, now time.Time) (int, string) {
	rate := st.AcquireRate(now)
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
	why := fmt.Sprintf("auto: %.2f acquires/min x (%s deploy p90 %s + %s to react) = %.2f expected per refill; %d cover %.0f%%",
		rate, measured, deploy.Round(time.Second), AutoReact, mu, k, 100*pc.HitRateGoal)
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
