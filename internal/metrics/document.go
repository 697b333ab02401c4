package metrics

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// BudgetSource reads what is left of the shared DigitalOcean API budget.
type BudgetSource interface {
	Remaining(ctx context.Context) (minute, hour int, pausedUntil time.Time, err error)
}

// Document is the GET /metrics answer.
type Document struct {
	At    time.Time           `json:"at"`
	Pools map[string]*PoolDoc `json:"pools"`
	// TotalSandboxes counts ready, creating, in_use and deleting, all pools.
	TotalSandboxes int `json:"total_sandboxes"`
	// MaxTotalSandboxes is null when unlimited.
	MaxTotalSandboxes *int `json:"max_total_sandboxes"`
	ManagerShutdown   bool `json:"manager_shutdown"`
	// Outbox is the webhook outbox's backlog: events kept until every
	// webhook has passed them, and the dead letter stream.
	Outbox pool.OutboxStats `json:"outbox"`
	// APIBudget is absent when no budget source was given or it could not be read.
	APIBudget *Budget `json:"api_budget,omitempty"`
	// BudgetErr is why APIBudget is absent (for the caller's log); the metrics
	// still answer without it.
	BudgetErr error `json:"-"`
}

// Budget is the remaining DigitalOcean API budget.
type Budget struct {
	RemainingMinute int       `json:"remaining_minute"`
	RemainingHour   int       `json:"remaining_hour"`
	PausedUntil     time.Time `json:"paused_until,omitzero"` // set while a 429's Retry-After holds
}

// PoolDoc is one pool's metrics. The first eight fields are the contract's.
type PoolDoc struct {
	Ready               int     `json:"ready"`
	Creating            int     `json:"creating"`
	InUse               int     `json:"in_use"`
	TotalAcquires       int64   `json:"total_acquires"`
	AcquiresFromPool    int64   `json:"acquires_from_pool"`
	AcquiresColdStart   int64   `json:"acquires_cold_start"`
	PoolHitRate         float64 `json:"pool_hit_rate"`          // 0 before the first acquire
	AvgAcquireLatencyMs float64 `json:"avg_acquire_latency_ms"` // per latency sample (see latencySamples); 0 before the first

	Deleting    int     `json:"deleting"`
	TargetReady int     `json:"target_ready"`
	MaxReady    int     `json:"max_ready"`
	Shutdown    bool    `json:"shutdown"`
	Idle        bool    `json:"idle"`
	Circuit     Circuit `json:"circuit"`
	// TargetWhy: for target_ready "auto", how the last pass chose target_ready.
	TargetWhy string `json:"target_why,omitempty"`
	Misses    Misses `json:"misses"`

	Creates        int64 `json:"creates"`
	CreatesFailed  int64 `json:"creates_failed"`
	Deletes        int64 `json:"deletes"`
	HealthRemovals int64 `json:"health_removals"`
	LeasesReaped   int64 `json:"leases_reaped"`
	OrphansDeleted int64 `json:"orphans_deleted"`

	AvgWarmAgeAtAcquireMs float64          `json:"avg_warm_age_at_acquire_ms"`
	AvgRefillLagMs        float64          `json:"avg_refill_lag_ms"`
	AcquireLatencyMs      AcquireHistogram `json:"acquire_latency_ms"`

	// Sums and sample counts behind the averages, for the Prometheus summaries.
	warmAgeMsSum     float64
	refillLagMsSum   float64
	refillLagSamples int64
}

// Circuit is the create circuit breaker of one pool.
type Circuit struct {
	State  string    `json:"state"` // "closed" or "open"
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitzero"`
}

// Misses counts acquires that found no ready sandbox, by why.
type Misses struct {
	Empty       int64 `json:"empty"`
	Shutdown    int64 `json:"shutdown"`
	Capacity    int64 `json:"capacity"`
	CircuitOpen int64 `json:"circuit_open"`
}

// AcquireHistogram keeps warm hits and cold starts apart.
type AcquireHistogram struct {
	Warm Histogram `json:"warm"`
	Cold Histogram `json:"cold"`
}

// Histogram is one latency histogram in milliseconds. Counts are per bucket
// (not cumulative): Counts[i] holds latencies in (Bounds[i-1], Bounds[i]],
// and the last count, one past the bounds, everything above.
type Histogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []int64   `json:"counts"`
	Count  int64     `json:"count"`
	// Sum is absent when the store could not attribute the latency sum to
	// this source alone.
	Sum *float64 `json:"sum,omitempty"`
}

// Build assembles the document from a snapshot at now. Every configured pool
// appears, with zeros if it has no state yet, and so does every pool with
// state. cfg may be nil (no pool policy known); budget may be nil.
func Build(ctx context.Context, s pool.Snapshot, cfg *pool.Config, budget BudgetSource, now time.Time) *Document {
	d := &Document{
		At:              now,
		Pools:           map[string]*PoolDoc{},
		TotalSandboxes:  s.Total,
		Outbox:          s.Outbox,
		ManagerShutdown: s.ManagerShutdown,
	}
	var names []string
	if cfg != nil {
		names = cfg.PoolNames()
		if c := cfg.TotalCap(); c >= 0 {
			d.MaxTotalSandboxes = &c
		}
	}
	for n := range s.Pools {
		names = append(names, n)
	}
	for _, n := range names {
		if _, done := d.Pools[n]; done {
			continue
		}
		d.Pools[n] = buildPool(n, s.Pools[n], cfg, s.ManagerShutdown, now)
	}
	if budget != nil {
		minute, hour, paused, err := budget.Remaining(ctx)
		if err != nil {
			d.BudgetErr = err
		} else {
			d.APIBudget = &Budget{RemainingMinute: minute, RemainingHour: hour, PausedUntil: paused}
		}
	}
	return d
}

func buildPool(name string, m pool.PoolMetrics, cfg *pool.Config, managerShutdown bool, now time.Time) *PoolDoc {
	st := m.State.Stats
	p := &PoolDoc{
		Ready:             m.Ready,
		Creating:          m.Creating,
		InUse:             m.InUse,
		Deleting:          m.Deleting,
		TotalAcquires:     st.TotalAcquires,
		AcquiresFromPool:  st.AcquiresFromPool,
		AcquiresColdStart: st.AcquiresColdStart,
		PoolHitRate:       ratio(float64(st.AcquiresFromPool), st.TotalAcquires),
		// Shutdown is what acquire sees: the pool's own flag or the manager's.
		Shutdown: m.State.Shutdown || managerShutdown,
		Misses: Misses{
			Empty:       st.MissesEmpty,
			Shutdown:    st.MissesShutdown,
			Capacity:    st.MissesCapacity,
			CircuitOpen: st.MissesCircuit,
		},
		Creates:               st.Creates,
		CreatesFailed:         st.CreatesFailed,
		Deletes:               st.Deletes,
		HealthRemovals:        st.HealthRemovals,
		LeasesReaped:          st.LeasesReaped,
		OrphansDeleted:        st.OrphansDeleted,
		AvgWarmAgeAtAcquireMs: ratio(st.WarmAgeMsSum, st.AcquiresFromPool),
		AvgRefillLagMs:        ratio(st.RefillLagMsSum, st.RefillLagSamples),
		Circuit:               Circuit{State: "closed"},
		warmAgeMsSum:          st.WarmAgeMsSum,
		refillLagMsSum:        st.RefillLagMsSum,
		refillLagSamples:      st.RefillLagSamples,
	}
	if m.State.CircuitOpen(now) {
		p.Circuit = Circuit{State: "open", Reason: m.State.CircuitReason, Until: m.State.CircuitOpenUntil}
	}
	if cfg != nil {
		if pc, err := cfg.Pool(name); err == nil {
			p.TargetReady, p.MaxReady = pool.EffectiveTarget(pc, m.State), pc.MaxReady
			if pc.Auto {
				p.TargetWhy = m.State.AutoWhy
				if p.TargetWhy == "" {
					p.TargetWhy = "auto: no pass has sized it yet (min_ready)"
				}
			}
			p.Idle = m.State.Idle(pc, now)
		}
	}
	warmSum, coldSum := latencySums(st)
	p.AcquireLatencyMs = AcquireHistogram{
		Warm: histogram(st.WarmLatencyBuckets, warmSum),
		Cold: histogram(st.ColdLatencyBuckets, coldSum),
	}
	p.AvgAcquireLatencyMs = ratio(st.AcquireLatencyMs, latencySamples(st, p.AcquireLatencyMs))
	return p
}

// latencySamples is how many acquires the latency sum covers: the warm and
// cold histogram counts, not total_acquires. A warm sample is written after
// its acquire answered and may be lost (a serverless container frozen first),
// so dividing by total_acquires would drag the average down by every lost
// sample; dividing by the samples kept leaves it unbiased. A store that keeps
// a sum but no histograms falls back to total_acquires.
func latencySamples(st pool.PoolStats, h AcquireHistogram) int64 {
	if n := h.Warm.Count + h.Cold.Count; n > 0 {
		return n
	}
	return st.TotalAcquires
}

// latencySums attributes the acquire latency sum to warm hits and cold
// starts. When the store kept no per-source sums, the total still belongs
// wholly to one source if only that source has acquires; otherwise the split
// is unknown and that sum stays nil.
func latencySums(st pool.PoolStats) (warm, cold *float64) {
	if st.WarmLatencyMsSum != 0 || st.ColdLatencyMsSum != 0 || st.AcquireLatencyMs == 0 {
		w, c := st.WarmLatencyMsSum, st.ColdLatencyMsSum
		return &w, &c
	}
	zero, total := 0.0, st.AcquireLatencyMs
	switch {
	case st.AcquiresColdStart == 0:
		return &total, &zero
	case st.AcquiresFromPool == 0:
		return &zero, &total
	}
	return nil, nil
}

// histogram normalises stored bucket counts to len(bounds)+1 entries: missing
// buckets are zero, and any stored beyond the last fold into +Inf, so a store
// written under other bounds never makes a count disappear.
func histogram(stored []int64, sum *float64) Histogram {
	bounds := pool.LatencyBucketsMs
	h := Histogram{Bounds: append([]float64(nil), bounds...), Counts: make([]int64, len(bounds)+1), Sum: sum}
	for i, c := range stored {
		if c < 0 {
			continue
		}
		if i > len(bounds) {
			i = len(bounds)
		}
		h.Counts[i] += c
		h.Count += c
	}
	return h
}

func ratio(num float64, den int64) float64 {
	if den <= 0 {
		return 0
	}
	return num / float64(den)
}

// PoolNames returns the document's pool names, sorted.
func (d *Document) PoolNames() []string {
	names := slices.Sorted(maps.Keys(d.Pools))
	return names
}
