package simulate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/hotpooltest"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
)

// Schedules say when reconcile passes run, as in a deployment.
const (
	// ScheduleCronKicked: DigitalOcean Functions: the minute's cron run and a
	// run kicked by acquire and release, each passing every 5 s while busy.
	ScheduleCronKicked = "cron-kicked"
	// ScheduleCron: the cron run alone.
	ScheduleCron = "cron"
	// ScheduleServe: hotpool serve's loop, a pass every 5 s.
	ScheduleServe = "serve"
)

// Options is one simulation.
type Options struct {
	Config *pool.Config
	Trace  []Demand
	// CreateDelay is a deployment's time (default 30 s), spread by Jitter
	// (0: none; 0.2: ±20 %).
	CreateDelay time.Duration
	Jitter      float64
	Seed        uint64
	Schedule    string // default ScheduleCronKicked
	// Redis runs the scripts on a real server (under Prefix); nil embeds a
	// miniredis.
	Redis  *redis.Client
	Prefix string
	// Learned starts an auto pool as one that has been running at the
	// trace's opening demand (its first 10 minutes' rate, seen for two
	// hours) rather than one that has seen nothing: the counterpart of a
	// static pool converged at its target.
	Learned bool
	// History replays the trace's opening stretch as the pool's past: its
	// acquires run as any other, and nothing before History is counted
	// (the pool learns from it, as a deployment that has been running has).
	History time.Duration
}

// Result is what a simulation measured. Minutes are sandbox-minutes.
type Result struct {
	Requests   int `json:"requests"`
	Hits       int `json:"hits"`        // served from the pool at once
	ColdStarts int `json:"cold_starts"` // served by a cold claim
	Failed     int `json:"failed"`      // refused, or a cold claim that failed
	// FailedBy explains every failed request: an exhausted pool's reason
	// ("empty": on_empty "fail"; "capacity": max_total_sandboxes;
	// "circuit_open"), "too_many_pools", "shutdown", "claim_failed" (a cold
	// claim's sandbox could not be made), or "unfinished" (a claim still
	// waiting when the replay ended).
	FailedBy map[string]int `json:"failed_by,omitempty"`
	// HitRate is Hits / Requests.
	HitRate float64 `json:"hit_rate"`
	// Waits until a sandbox, over every served request (a hit waits 0).
	WaitP50Ms float64 `json:"wait_p50_ms"`
	WaitP99Ms float64 `json:"wait_p99_ms"`
	// SandboxMinutes is what is billed: creating, ready and in use.
	SandboxMinutes   float64 `json:"sandbox_minutes"`
	ExecutionMinutes float64 `json:"execution_minutes"` // leases held
	IdleMinutes      float64 `json:"idle_minutes"`      // ready, waiting for an acquire
	// Efficiency is ExecutionMinutes / SandboxMinutes.
	Efficiency float64 `json:"efficiency"`
	// The perfect-foresight floor: every sandbox created exactly one
	// deployment (the mean, CreateDelay) before its acquire, so every
	// acquire hits and nothing waits ready; the physical limit of any sizing
	// that serves every request. A replay that failed requests bills less
	// than it, since it served those to nobody.
	FloorSandboxMinutes float64 `json:"floor_sandbox_minutes"`
	FloorEfficiency     float64 `json:"floor_efficiency"`
	MaxSandboxes        int     `json:"max_sandboxes"`
	APICalls            int     `json:"api_calls"`
	// SimulatedMinutes is the virtual time the replay took, drain included.
	SimulatedMinutes float64 `json:"simulated_minutes"`
	// Series is the replay minute by minute, for a chart (not in the JSON).
	Series []Sample `json:"-"`
}

// Sample is one simulated minute: the sandboxes ready, creating and in use
// at its end (every pool), and the acquires made during it.
type Sample struct {
	Minute   int
	Ready    int
	Creating int
	InUse    int
	Acquires int
	Misses   int // of those, not served from the pool at once
	// Floor is what perfect foresight would have at the minute's end: the
	// leases held then and the sandboxes deploying for acquires within one
	// deployment after it.
	Floor int
}

// step is the harness's step: acquires land on it, and the 5 s passes too.
const step = time.Second

// Run replays o.Trace from a pool converged at its targets (a deployment
// that has been running), then drains: every lease runs its hold, and the
// replay ends once nothing is held.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Config == nil {
		return Result{}, errors.New("simulate: a config is required")
	}
	if len(o.Trace) == 0 {
		return Result{}, errors.New("simulate: the trace is empty")
	}
	for _, d := range o.Trace {
		if _, err := o.Config.Pool(d.Image); err != nil {
			return Result{}, fmt.Errorf("simulate: trace image %q: %w", d.Image, err)
		}
	}
	if o.CreateDelay <= 0 {
		o.CreateDelay = 30 * time.Second
	}
	if o.Jitter < 0 || o.Jitter >= 1 {
		return Result{}, fmt.Errorf("simulate: jitter %v: want 0-1", o.Jitter)
	}
	if o.History < 0 || o.History >= o.Trace[len(o.Trace)-1].At {
		return Result{}, fmt.Errorf("simulate: history %s: want 0 up to the trace's last acquire (%s)", o.History, o.Trace[len(o.Trace)-1].At)
	}
	sched, err := schedule(o.Schedule)
	if err != nil {
		return Result{}, err
	}
	rdb, prefix := o.Redis, o.Prefix
	if rdb == nil {
		mr := miniredis.NewMiniRedis()
		if err := mr.Start(); err != nil {
			return Result{}, fmt.Errorf("simulate: embedded redis: %w", err)
		}
		defer mr.Close()
		rdb = redis.NewClient(&redis.Options{Addr: mr.Addr()})
		defer rdb.Close()
		prefix = "sim"
	}
	longest := time.Duration(0)
	for _, d := range o.Trace {
		longest = max(longest, d.Hold)
	}
	// The lease outlives every hold, so only releases end leases.
	lease := min(longest+time.Minute, o.Config.MaxLease.D())
	h, err := hotpooltest.NewHarness(rdb, prefix, hotpooltest.HarnessOptions{
		Config: o.Config, Seed: o.Seed, Step: step, PassEvery: 5 * time.Second, Schedule: sched,
		CreateDelay: o.CreateDelay, CreateJitter: o.Jitter, LeaseTTL: lease,
		// The invariants and lease probes once a simulated minute: every
		// step would cost more than the replay itself.
		CheckEvery: 60,
		// Nothing but the harness writes to this Redis.
		CountsAfterWrites: true,
	})
	if err != nil {
		return Result{}, fmt.Errorf("simulate: %w", err)
	}
	defer h.Close()
	h.SetTraffic(false)
	if o.Learned {
		if err := learn(ctx, rdb, prefix, o.Config, o.Trace, h.Now()); err != nil {
			return Result{}, err
		}
	}
	if _, err := h.Converge(ctx, 200); err != nil {
		return Result{}, fmt.Errorf("simulate: the pools did not fill before the replay: %w", err)
	}
	h.ResetStats()
	start := h.Now()
	counted := start.Add(o.History) // counting starts here
	next := 0
	var series []Sample
	acquires, hits := 0, 0
	inHistory := o.History > 0
	for next < len(o.Trace) || len(h.Leases()) > 0 || h.PendingClaims() > 0 {
		if inHistory && !h.Now().Before(counted) {
			inHistory = false
			h.ResetStats()
			series, acquires, hits = nil, 0, 0
		}
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		for next < len(o.Trace) && start.Add(o.Trace[next].At).Compare(h.Now()) <= 0 {
			d := o.Trace[next]
			h.AcquireFor(ctx, d.Image, d.Hold)
			next++
			acquires++
		}
		if err := h.Step(ctx); err != nil {
			return Result{}, fmt.Errorf("simulate: %w", err)
		}
		if elapsed := h.Now().Sub(counted); elapsed > 0 && elapsed%time.Minute == 0 {
			snap, err := h.Counts(ctx) // the step's own read, when nothing wrote since
			if err != nil {
				return Result{}, fmt.Errorf("simulate: %w", err)
			}
			s := Sample{Minute: int(elapsed / time.Minute), Acquires: acquires, Misses: acquires - (h.Stats.WarmHits - hits)}
			for _, m := range snap.Pools {
				s.Ready, s.Creating, s.InUse = s.Ready+m.Ready, s.Creating+m.Creating, s.InUse+m.InUse
			}
			series, acquires, hits = append(series, s), 0, h.Stats.WarmHits
		}
		if h.Now().Sub(start) > o.Trace[len(o.Trace)-1].At+longest+2*time.Hour {
			return Result{}, errors.New("simulate: the replay did not drain (leases still held two hours after the last hold ended)")
		}
	}
	if len(h.Stats.Violations) > 0 {
		return Result{}, fmt.Errorf("simulate: an invariant broke: %s", h.Stats.Violations[0])
	}
	r := result(h.Stats, h.Now().Sub(counted))
	r.Series = floorSeries(series, o.Trace, o.History, o.CreateDelay)
	r.FloorSandboxMinutes, r.FloorEfficiency = floor(o.Trace, o.History, o.CreateDelay)
	return r, nil
}

// learnWindow is the opening stretch of a trace whose rate a learned auto
// pool starts with, as if seen for learnFor.
const (
	learnWindow = 10 * time.Minute
	learnFor    = 2 * time.Hour
)

// learn writes into each auto pool's hash the rates it would hold after two
// hours at the trace's opening rate (the fields acquire.lua keeps: each
// average holds rate × (1 - e^(-2h/τ)), which AutoRate corrects for).
func learn(ctx context.Context, rdb *redis.Client, prefix string, cfg *pool.Config, trace []Demand, now time.Time) error {
	opening := map[string]int{}
	for _, d := range trace {
		if d.At < learnWindow {
			opening[d.Image]++
		}
	}
	keys := redisstate.NewKeys(prefix)
	for _, name := range cfg.PoolNames() {
		pc, _ := cfg.Pool(name)
		if !pc.Auto {
			continue
		}
		rate := float64(opening[name]) / learnWindow.Minutes()
		held := func(tau time.Duration) string {
			return strconv.FormatFloat(rate*(1-math.Exp(-float64(learnFor)/float64(tau))), 'f', 6, 64)
		}
		err := rdb.HSet(ctx, keys.Pool(name), "rate_fast", held(pool.AutoTauFast), "rate_slow", held(pool.AutoTauSlow),
			"rate_at", now.UnixMilli(), "rate_since", now.Add(-learnFor).UnixMilli()).Err()
		if err != nil {
			return fmt.Errorf("simulate: learned start: %w", err)
		}
	}
	return nil
}

func schedule(name string) (hotpooltest.Schedule, error) {
	switch name {
	case "", ScheduleCronKicked:
		return hotpooltest.ScheduleCronKicked, nil
	case ScheduleCron:
		return hotpooltest.ScheduleCron, nil
	case ScheduleServe:
		return hotpooltest.ScheduleEvery, nil
	}
	return 0, fmt.Errorf("simulate: schedule %q: want %s, %s or %s", name, ScheduleCronKicked, ScheduleCron, ScheduleServe)
}

func result(s hotpooltest.Stats, elapsed time.Duration) Result {
	r := Result{
		Requests:         s.Acquires,
		Hits:             s.WarmHits,
		ColdStarts:       s.ClaimsServed,
		Failed:           s.Acquires - s.WarmHits - s.ClaimsServed,
		SandboxMinutes:   round(float64(s.BilledSteps) * step.Minutes()),
		ExecutionMinutes: round(s.Held.Minutes()),
		IdleMinutes:      round(float64(s.ReadySteps) * step.Minutes()),
		MaxSandboxes:     s.MaxTotal,
		APICalls:         s.APICalls,
		SimulatedMinutes: round(elapsed.Minutes()),
	}
	if r.Requests > 0 {
		r.HitRate = round(float64(r.Hits) / float64(r.Requests))
	}
	if r.Failed > 0 {
		r.FailedBy = map[string]int{}
		told := 0
		for why, n := range s.Refused {
			r.FailedBy[why] = n
			told += n
		}
		if rest := r.Failed - told; rest > 0 {
			r.FailedBy["unfinished"] = rest
		}
	}
	if r.SandboxMinutes > 0 {
		r.Efficiency = round(r.ExecutionMinutes / r.SandboxMinutes)
	}
	waits := make([]float64, 0, r.Hits+len(s.ColdWaits))
	for range r.Hits {
		waits = append(waits, 0)
	}
	for _, w := range s.ColdWaits {
		waits = append(waits, float64(w.Milliseconds()))
	}
	slices.Sort(waits)
	r.WaitP50Ms, r.WaitP99Ms = quantile(waits, 0.5), quantile(waits, 0.99)
	return r
}

// quantile is the nearest-rank quantile of sorted values (0 when none).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// floor is the perfect-foresight billing of a trace counted from history:
// each hold plus one deployment, and of a hold from before history, only
// what is left of it (as Run counts it).
func floor(trace []Demand, history, deploy time.Duration) (minutes, efficiency float64) {
	held, deploys := 0.0, 0
	for _, d := range trace {
		switch {
		case d.At >= history:
			held += d.Hold.Minutes()
			deploys++
		case d.At+d.Hold > history:
			held += (d.At + d.Hold - history).Minutes()
		}
	}
	minutes = held + float64(deploys)*deploy.Minutes()
	return round(minutes), round(held / minutes)
}

// floorSeries sets each sample's Floor from the trace: the holds running at
// the minute's end, and the acquires of the next deployment, whose sandboxes
// perfect foresight would be deploying then. Minutes count from history.
func floorSeries(series []Sample, trace []Demand, history, deploy time.Duration) []Sample {
	for i := range series {
		end := history + time.Duration(series[i].Minute)*time.Minute
		n := 0
		for _, d := range trace {
			if (d.At <= end && end < d.At+d.Hold) || (d.At > end && d.At <= end+deploy) {
				n++
			}
		}
		series[i].Floor = n
	}
	return series
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }
