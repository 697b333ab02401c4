package simulate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Scenario families: demand shapes drawn at random by DrawScenarios, none of
// them a built-in curve, so a sizing policy is judged on cases nobody tuned
// it on (issue 32).
const (
	FamilySteady   = "steady"  // a renewal process: more regular or more clumped than Poisson
	FamilyBursts   = "bursts"  // periodic bursts, period 30 s to an hour
	FamilySpike    = "spike"   // one isolated spike of 5-20 times the base rate
	FamilyRamp     = "ramp"    // a rate rising or falling fourfold
	FamilyDiurnal  = "diurnal" // a sine of 20-120 minutes' period
	FamilyFlash    = "flash"   // a flash crowd decaying from 3-10 times the base rate
	scenarioImage  = "python"
	maxConcurrency = 150.0 // the mean leases held a scenario is drawn under (rate × mean hold)
)

// Families are the scenario families, in the order they are drawn from.
var Families = []string{FamilySteady, FamilyBursts, FamilySpike, FamilyRamp, FamilyDiurnal, FamilyFlash}

// Scenario is one drawn case: a demand family with its parameters, a
// deployment time and holds.
type Scenario struct {
	N      int     `json:"n"`
	Family string  `json:"family"`
	Rate   float64 `json:"rate_per_minute"` // the mean acquires a minute
	// Shape is the family's own parameter: steady, the gamma shape of the
	// gaps (1 Poisson, above 1 more regular, below more clumped); bursts,
	// the period in seconds; spike and flash, the peak's multiple of Rate;
	// ramp, the end rate's multiple of the start; diurnal, the period in
	// minutes.
	Shape    float64       `json:"shape"`
	Deploy   time.Duration `json:"deploy"`
	HoldMin  time.Duration `json:"hold_min"`
	HoldMax  time.Duration `json:"hold_max"`
	Duration time.Duration `json:"duration"`
	Seed     uint64        `json:"seed"`
}

func (s Scenario) String() string {
	return fmt.Sprintf("#%d %s rate %.1f/min shape %.2f deploy %s holds %s-%s (seed %d)",
		s.N, s.Family, s.Rate, s.Shape, s.Deploy, s.HoldMin, s.HoldMax, s.Seed)
}

// goalHit is the hit rate a scenario's family asks of a sizing policy: 0.99,
// or 0.95 where demand jumps faster than a deployment (spikes, bursts and
// flash crowds).
func (s Scenario) goalHit() float64 {
	switch s.Family {
	case FamilySpike, FamilyBursts, FamilyFlash:
		return 0.95
	}
	return 0.99
}

// logUniform draws from [lo, hi] uniformly in log scale.
func logUniform(rng *rand.Rand, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
}

// DrawScenarios draws n scenarios from seed: a family in turn with random
// parameters, rates of 0.5-60 acquires a minute, deployments of 20-90 s and
// holds whose bounds are drawn from 20 s to 2 h (log-uniform), each lasting
// d. Holds are shortened so that the mean leases held stay under
// maxConcurrency, which keeps one replay to seconds.
func DrawScenarios(n int, seed uint64, d time.Duration) []Scenario {
	rng := rand.New(rand.NewPCG(seed, seed^0x5ce7a210))
	out := make([]Scenario, 0, n)
	for len(out) < n {
		s := Scenario{N: len(out) + 1, Family: Families[rng.IntN(len(Families))], Duration: d, Seed: rng.Uint64() % 1_000_000}
		s.Rate = logUniform(rng, 0.5, 60)
		s.Deploy = time.Duration(20+rng.IntN(71)) * time.Second
		a, b := logUniform(rng, 20, 7200), logUniform(rng, 20, 7200)
		s.HoldMin, s.HoldMax = secs(math.Min(a, b)).Truncate(time.Second), secs(math.Max(a, b)).Truncate(time.Second)
		// Log-uniform holds have the mean (max-min)/ln(max/min).
		mean := s.HoldMax.Minutes()
		if s.HoldMax > s.HoldMin {
			mean = (s.HoldMax - s.HoldMin).Minutes() / math.Log(float64(s.HoldMax)/float64(s.HoldMin))
		}
		if held := s.Rate * mean; held > maxConcurrency {
			f := maxConcurrency / held
			s.HoldMin = max(20*time.Second, time.Duration(float64(s.HoldMin)*f).Truncate(time.Second))
			s.HoldMax = max(s.HoldMin, time.Duration(float64(s.HoldMax)*f).Truncate(time.Second))
		}
		switch s.Family {
		case FamilySteady:
			s.Shape = logUniform(rng, 0.25, 8)
		case FamilyBursts:
			s.Shape = math.Round(logUniform(rng, 30, 3600))
		case FamilySpike:
			s.Shape = 5 + 15*rng.Float64()
		case FamilyRamp:
			s.Shape = 4
			if rng.IntN(2) == 0 {
				s.Shape = 0.25
			}
		case FamilyDiurnal:
			s.Shape = math.Round(20 + 100*rng.Float64())
		case FamilyFlash:
			s.Shape = 3 + 7*rng.Float64()
		}
		if len(s.Trace()) == 0 {
			continue // a draw with no acquire at all judges nothing: draw again
		}
		out = append(out, s)
	}
	return out
}

// Trace draws the scenario's acquires (deterministic in its seed).
func (s Scenario) Trace() []Demand {
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed^0x7ace))
	var out []Demand
	add := func(t time.Duration) {
		if t < 0 || t >= s.Duration {
			return
		}
		hold := secs(logUniform(rng, s.HoldMin.Seconds(), math.Max(s.HoldMax.Seconds(), s.HoldMin.Seconds()+1)))
		out = append(out, Demand{At: t.Truncate(time.Second), Image: scenarioImage, Hold: hold.Truncate(time.Second)})
	}
	perSec := s.Rate / 60
	switch s.Family {
	case FamilySteady:
		// Gamma-distributed gaps of mean 1/rate: shape k > 1 is more
		// regular than Poisson, k < 1 more clumped.
		k := s.Shape
		for t := 0.0; ; {
			t += gamma(rng, k) / (k * perSec)
			if secs(t) >= s.Duration {
				break
			}
			add(secs(t))
		}
	case FamilyBursts:
		// Every period, a burst of Poisson(rate × period) acquires spread
		// over 5-30 s (at most a third of the period), at a phase drawn once.
		period := s.Shape
		width := math.Min(5+25*rng.Float64(), period/3)
		// The first burst within the first half of the scenario, so a
		// period longer than the scenario still brings one.
		phase := rng.Float64() * math.Min(period, s.Duration.Seconds()/2)
		for start := phase; secs(start) < s.Duration; start += period {
			for range poisson(rng, perSec*period) {
				add(secs(start + rng.Float64()*width))
			}
		}
	default:
		// A Poisson process whose rate follows the family's curve (thinning).
		peak := perSec * math.Max(s.Shape, 1) * 1.05
		spikeAt := (0.3 + 0.4*rng.Float64()) * s.Duration.Seconds()
		spikeFor := 120 + 480*rng.Float64()
		phase := rng.Float64() * 2 * math.Pi
		for t := 0.0; ; {
			t += rng.ExpFloat64() / peak
			if secs(t) >= s.Duration {
				break
			}
			if rng.Float64()*peak <= s.rateAt(t, perSec, spikeAt, spikeFor, phase) {
				add(secs(t))
			}
		}
	}
	return out
}

// rateAt is a thinned family's rate (a second) at t seconds.
func (s Scenario) rateAt(t, perSec, spikeAt, spikeFor, phase float64) float64 {
	frac := t / s.Duration.Seconds()
	switch s.Family {
	case FamilySpike:
		if t >= spikeAt && t < spikeAt+spikeFor {
			return perSec * s.Shape
		}
	case FamilyRamp:
		return perSec * math.Pow(s.Shape, frac)
	case FamilyDiurnal:
		return perSec * (1 + 0.8*math.Sin(2*math.Pi*t/(60*s.Shape)+phase))
	case FamilyFlash:
		if t >= spikeAt {
			return perSec * (1 + (s.Shape-1)*math.Exp(-(t-spikeAt)/spikeFor))
		}
	}
	return perSec
}

// gamma draws Gamma(k, 1) (Marsaglia and Tsang; k < 1 by boosting).
func gamma(rng *rand.Rand, k float64) float64 {
	if k < 1 {
		return gamma(rng, k+1) * math.Pow(rng.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		if u := rng.Float64(); math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// poisson draws Poisson(mean) (by summing gaps: means here are small).
func poisson(rng *rand.Rand, mean float64) int {
	n := 0
	for t := rng.ExpFloat64(); t < mean; t += rng.ExpFloat64() {
		n++
	}
	return n
}

// StaticSweep are the static targets each scenario compares auto against.
var StaticSweep = []int{1, 2, 4, 8, 16, 32, 64}

// Outcome is one replay of a scenario: auto or a static target.
type Outcome struct {
	Target         string  `json:"target"` // "auto" or the static target
	HitRate        float64 `json:"hit_rate"`
	Failed         int     `json:"failed"`
	SandboxMinutes float64 `json:"sandbox_minutes"`
	Efficiency     float64 `json:"efficiency"`
}

// Judged is a scenario with its replays and the verdict on auto.
type Judged struct {
	Scenario        Scenario  `json:"scenario"`
	Requests        int       `json:"requests"`
	FloorEfficiency float64   `json:"floor_efficiency"`
	Auto            Outcome   `json:"auto"`
	Static          []Outcome `json:"static"`
	// DominatedBy names a static target that served at least auto's hit
	// rate, failed no more, and billed fewer sandbox-minutes ("" none).
	DominatedBy string `json:"dominated_by,omitempty"`
	// GoalMet: auto's hit rate reaches the family's goal (0.99, or 0.95
	// for spikes, bursts and flash crowds) at an efficiency of at least
	// 0.85 of the perfect-foresight floor's.
	GoalMet bool `json:"goal_met"`
	// FailedWhereStaticServed: auto failed requests while some static
	// target failed none.
	FailedWhereStaticServed bool `json:"failed_where_static_served"`
}

// scenarioConfig is one pool of target (auto: "auto" with min_ready 1) under
// caps that do not decide: max_ready 100, 1000 sandboxes, 100 creates.
func scenarioConfig(target string) (*pool.Config, error) {
	if target == "auto" {
		target = `"auto", "min_ready": 1`
	}
	return pool.ParseConfig([]byte(`{"pools": {"` + scenarioImage + `": {"target_ready": ` + target +
		`, "max_ready": 100, "idle_timeout": 0}}, "max_total_sandboxes": 1000, "max_concurrent_creates": 100}`))
}

// Judge replays a scenario with auto (learned: starting at the opening
// rate) and with each static target of StaticSweep, and judges auto.
func Judge(ctx context.Context, s Scenario) (Judged, error) {
	trace := s.Trace()
	j := Judged{Scenario: s, Requests: len(trace)}
	if len(trace) == 0 {
		return j, fmt.Errorf("scenario %s drew no acquire", s)
	}
	run := func(target string) (Outcome, Result, error) {
		cfg, err := scenarioConfig(target)
		if err != nil {
			return Outcome{}, Result{}, err
		}
		r, err := Run(ctx, Options{Config: cfg, Trace: trace, CreateDelay: s.Deploy, Jitter: 0.2, Seed: s.Seed, Learned: target == "auto"})
		if err != nil {
			return Outcome{}, Result{}, fmt.Errorf("scenario %s, target %s: %w", s, target, err)
		}
		return Outcome{Target: target, HitRate: r.HitRate, Failed: r.Failed, SandboxMinutes: r.SandboxMinutes, Efficiency: r.Efficiency}, r, nil
	}
	auto, r, err := run("auto")
	if err != nil {
		return j, err
	}
	j.Auto, j.FloorEfficiency = auto, r.FloorEfficiency
	anyServedAll := false
	for _, t := range StaticSweep {
		o, _, err := run(fmt.Sprint(t))
		if err != nil {
			return j, err
		}
		j.Static = append(j.Static, o)
		anyServedAll = anyServedAll || o.Failed == 0
		if j.DominatedBy == "" && o.HitRate >= auto.HitRate && o.Failed <= auto.Failed && o.SandboxMinutes < auto.SandboxMinutes {
			j.DominatedBy = o.Target
		}
	}
	j.GoalMet = auto.Failed == 0 && auto.HitRate >= s.goalHit() && auto.Efficiency >= 0.85*j.FloorEfficiency
	j.FailedWhereStaticServed = auto.Failed > 0 && anyServedAll
	return j, nil
}

// GridSummary is the distribution over a grid of judged scenarios.
type GridSummary struct {
	Scenarios               int            `json:"scenarios"`
	Dominated               int            `json:"dominated"`
	GoalMet                 int            `json:"goal_met"`
	FailedWhereStaticServed int            `json:"failed_where_static_served"`
	ByFamily                map[string]int `json:"by_family"`
	GoalMetByFamily         map[string]int `json:"goal_met_by_family"`
	DominatedByFamily       map[string]int `json:"dominated_by_family"`
	// Worst are the scenarios where auto fell furthest below its hit goal,
	// then furthest below the floor's efficiency.
	Worst []Judged `json:"worst"`
}

// Summarize counts a grid's verdicts and picks its worst cases.
func Summarize(js []Judged, worst int) GridSummary {
	g := GridSummary{Scenarios: len(js), ByFamily: map[string]int{}, GoalMetByFamily: map[string]int{}, DominatedByFamily: map[string]int{}}
	for _, j := range js {
		f := j.Scenario.Family
		g.ByFamily[f]++
		if j.DominatedBy != "" {
			g.Dominated++
			g.DominatedByFamily[f]++
		}
		if j.GoalMet {
			g.GoalMet++
			g.GoalMetByFamily[f]++
		}
		if j.FailedWhereStaticServed {
			g.FailedWhereStaticServed++
		}
	}
	sorted := append([]Judged(nil), js...)
	shortfall := func(j Judged) (float64, float64) {
		return j.Scenario.goalHit() - j.Auto.HitRate, 0.85*j.FloorEfficiency - j.Auto.Efficiency
	}
	sort.SliceStable(sorted, func(a, b int) bool {
		ha, ea := shortfall(sorted[a])
		hb, eb := shortfall(sorted[b])
		if ha != hb {
			return ha > hb
		}
		return ea > eb
	})
	g.Worst = sorted[:min(worst, len(sorted))]
	return g
}

// WriteGrid prints a grid's summary as the text hotpool simulate --scenarios
// shows.
func WriteGrid(b *strings.Builder, g GridSummary, seed uint64) {
	pct := func(n int) float64 { return 100 * float64(n) / float64(max(g.Scenarios, 1)) }
	fmt.Fprintf(b, "scenarios: %d drawn with --seed %d\n", g.Scenarios, seed)
	fmt.Fprintf(b, "auto Pareto-dominated by a static target: %d (%.1f%%)\n", g.Dominated, pct(g.Dominated))
	fmt.Fprintf(b, "auto meets its hit goal (0.99; 0.95 spike, bursts, flash) at >= 0.85 of the floor's efficiency, failing nothing: %d (%.1f%%)\n", g.GoalMet, pct(g.GoalMet))
	fmt.Fprintf(b, "auto failed requests where a static target failed none: %d (%.1f%%)\n", g.FailedWhereStaticServed, pct(g.FailedWhereStaticServed))
	fmt.Fprintf(b, "by family (goal met / dominated / drawn):")
	for _, f := range Families {
		if n := g.ByFamily[f]; n > 0 {
			fmt.Fprintf(b, " %s %d/%d/%d", f, g.GoalMetByFamily[f], g.DominatedByFamily[f], n)
		}
	}
	fmt.Fprintln(b)
	for _, j := range g.Worst {
		fmt.Fprintf(b, "worst: %s: %d acquires, auto hit %.3f failed %d eff %.2f (floor %.2f)", j.Scenario, j.Requests,
			j.Auto.HitRate, j.Auto.Failed, j.Auto.Efficiency, j.FloorEfficiency)
		if j.DominatedBy != "" {
			fmt.Fprintf(b, ", dominated by static %s", j.DominatedBy)
		}
		fmt.Fprintln(b)
	}
}
