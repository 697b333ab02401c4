package api

import "time"

// Metrics is the GET /metrics answer: one entry per pool plus the
// deployment's totals.
type Metrics struct {
	At    time.Time              `json:"at"`
	Pools map[string]PoolMetrics `json:"pools"`
	// TotalSandboxes counts ready, creating, in_use and deleting, all pools.
	TotalSandboxes int `json:"total_sandboxes"`
	// MaxTotalSandboxes is null when unlimited.
	MaxTotalSandboxes *int `json:"max_total_sandboxes"`
	ManagerShutdown   bool `json:"manager_shutdown"`
	// Outbox is the webhook outbox's backlog: events kept until every
	// webhook has passed them, and the dead letter stream.
	Outbox Outbox `json:"outbox"`
	// APIBudget is absent when the server has no budget or could not read it.
	APIBudget *Budget `json:"api_budget,omitempty"`
}

// Outbox is the webhook outbox's backlog.
type Outbox struct {
	Entries     int    `json:"entries"`              // events kept: not yet passed by every webhook
	DeadLetters int    `json:"dead_letters"`         // the dead letter stream's length, gap markers included
	TrimmedTo   string `json:"trimmed_to,omitempty"` // the oldest id kept when the cap last dropped events
}

// Budget is what is left of the shared DigitalOcean API budget.
type Budget struct {
	RemainingMinute int       `json:"remaining_minute"`
	RemainingHour   int       `json:"remaining_hour"`
	PausedUntil     time.Time `json:"paused_until,omitzero"` // set while a 429's Retry-After holds
}

// PoolMetrics is one pool's metrics. The first eight fields are the seed
// manager's; the rest are hotpool's.
type PoolMetrics struct {
	Ready               int     `json:"ready"`
	Creating            int     `json:"creating"`
	InUse               int     `json:"in_use"`
	TotalAcquires       int64   `json:"total_acquires"`
	AcquiresFromPool    int64   `json:"acquires_from_pool"`
	AcquiresColdStart   int64   `json:"acquires_cold_start"`
	PoolHitRate         float64 `json:"pool_hit_rate"`          // 0 before the first acquire
	AvgAcquireLatencyMs float64 `json:"avg_acquire_latency_ms"` // per latency sample kept; 0 before the first

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
	// Sum is absent when the server could not attribute the latency sum to
	// this source alone.
	Sum *float64 `json:"sum,omitempty"`
}
