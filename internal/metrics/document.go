package metrics

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/pool"
)

// BudgetSource reads what is left of the shared DigitalOcean API budget.
type BudgetSource interface {
	Remaining(ctx context.Context) (minute, hour int, pausedUntil time.Time, err error)
}

// Document is the GET /metrics answer: the wire document, with what the
// Prometheus rendering needs beside it.
type Document struct {
	api.Metrics
	// BudgetErr is why APIBudget is absent (for the caller's log); the metrics
	// still answer without it.
	BudgetErr error `json:"-"`
	// sums are the sums and sample counts behind each pool's averages, for
	// the Prometheus summaries.
	sums map[string]poolSums
}

type poolSums struct {
	warmAgeMsSum     float64
	refillLagMsSum   float64
	refillLagSamples int64
}

// Build assembles the document from a snapshot at now. Every configured pool
// appears, with zeros if it has no state yet, and so does every pool with
// state. cfg may be nil (no pool policy known); budget may be nil.
func Build(ctx context.Context, s pool.Snapshot, cfg *pool.Config, budget BudgetSource, now time.Time) *Document {
	d := &Document{
		Metrics: api.Metrics{
			At:              now,
			Pools:           map[string]api.PoolMetrics{},
			TotalSandboxes:  s.Total,
			Outbox:          s.Outbox,
			ManagerShutdown: s.ManagerShutdown,
		},
		sums: map[string]poolSums{},
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
		st := s.Pools[n].State.Stats
		d.sums[n] = poolSums{warmAgeMsSum: st.WarmAgeMsSum, refillLagMsSum: st.RefillLagMsSum, refillLagSamples: st.RefillLagSamples}
	}
	if budget != nil {
		minute, hour, paused, err := budget.Remaining(ctx)
		if err != nil {
			d.BudgetErr = err
		} else {
			d.APIBudget = &api.Budget{RemainingMinute: minute, RemainingHour: hour, PausedUntil: paused}
		}
	}
	return d
}

func buildPool(name string, m pool.PoolMetrics, cfg *pool.Config, managerShutdown bool, now time.Time) api.PoolMetrics {
	st := m.State.Stats
	p := api.PoolMetrics{
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
		Misses: api.Misses{
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
		Circuit:               api.Circuit{State: "closed"},
	}
	if m.State.CircuitOpen(now) {
		p.Circuit = api.Circuit{State: "open", Reason: m.State.CircuitReason, Until: m.State.CircuitOpenUntil}
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
	p.AcquireLatencyMs = api.AcquireHistogram{
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
func latencySamples(st pool.PoolStats, h api.AcquireHistogram) int64 {
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
func histogram(stored []int64, sum *float64) api.Histogram {
	bounds := pool.LatencyBucketsMs
	h := api.Histogram{Bounds: append([]float64(nil), bounds...), Counts: make([]int64, len(bounds)+1), Sum: sum}
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
