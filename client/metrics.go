package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Metrics is GET /metrics: one entry per pool plus the deployment's totals.
type Metrics struct {
	At                time.Time              `json:"at"`
	Pools             map[string]PoolMetrics `json:"pools"`
	TotalSandboxes    int                    `json:"total_sandboxes"`
	MaxTotalSandboxes *int                   `json:"max_total_sandboxes"` // nil: unlimited
	ManagerShutdown   bool                   `json:"manager_shutdown"`
	APIBudget         *APIBudget             `json:"api_budget,omitempty"`
	// Raw is the answer as the server sent it, for tools that print it whole.
	Raw json.RawMessage `json:"-"`
}

// PoolMetrics is one pool's row: the seed's metrics first, then hotpool's.
type PoolMetrics struct {
	Ready               int     `json:"ready"`
	Creating            int     `json:"creating"`
	InUse               int     `json:"in_use"`
	TotalAcquires       int64   `json:"total_acquires"`
	AcquiresFromPool    int64   `json:"acquires_from_pool"`
	AcquiresColdStart   int64   `json:"acquires_cold_start"`
	PoolHitRate         float64 `json:"pool_hit_rate"`
	AvgAcquireLatencyMs float64 `json:"avg_acquire_latency_ms"`

	Deleting              int              `json:"deleting"`
	TargetReady           int              `json:"target_ready"`
	MaxReady              int              `json:"max_ready"`
	Shutdown              bool             `json:"shutdown"`
	Idle                  bool             `json:"idle"`
	Circuit               *Circuit         `json:"circuit,omitempty"`
	Misses                *Misses          `json:"misses,omitempty"`
	Creates               int64            `json:"creates"`
	CreatesFailed         int64            `json:"creates_failed"`
	Deletes               int64            `json:"deletes"`
	HealthRemovals        int64            `json:"health_removals"`
	LeasesReaped          int64            `json:"leases_reaped"`
	OrphansDeleted        int64            `json:"orphans_deleted"`
	AvgWarmAgeAtAcquireMs float64          `json:"avg_warm_age_at_acquire_ms"`
	AvgRefillLagMs        float64          `json:"avg_refill_lag_ms"`
	AcquireLatencyMs      AcquireHistogram `json:"acquire_latency_ms"`
}

// AcquireHistogram keeps warm hits and cold starts apart.
type AcquireHistogram struct {
	Warm Histogram `json:"warm"`
	Cold Histogram `json:"cold"`
}

// Histogram is one acquire latency histogram in milliseconds. Counts are per
// bucket, not cumulative: Counts[i] holds latencies in (Bounds[i-1],
// Bounds[i]], and the last count everything above the last bound.
type Histogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []int64   `json:"counts"`
	Count  int64     `json:"count"`
	Sum    *float64  `json:"sum,omitempty"` // absent when the server cannot attribute it
}

// Circuit is a pool's create circuit breaker.
type Circuit struct {
	State  string    `json:"state"` // "closed" or "open"
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitempty"`
}

// Misses counts acquires that found no ready sandbox, by cause.
type Misses struct {
	Empty       int64 `json:"empty"`
	Shutdown    int64 `json:"shutdown"`
	Capacity    int64 `json:"capacity"`
	CircuitOpen int64 `json:"circuit_open"`
}

// APIBudget is what is left of the shared DigitalOcean API budget.
type APIBudget struct {
	RemainingMinute int       `json:"remaining_minute"`
	RemainingHour   int       `json:"remaining_hour"`
	PausedUntil     time.Time `json:"paused_until,omitempty"`
}

// Metrics reads every pool's metrics. A GET, so it is retried freely.
func (c *Client) Metrics(ctx context.Context) (*Metrics, error) {
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/metrics", idempotent: true})
	if err != nil {
		return nil, err
	}
	var m Metrics
	if err := decodeJSON(resp, "metrics", &m); err != nil {
		return nil, err
	}
	m.Raw = json.RawMessage(resp.body)
	return &m, nil
}

// MetricsPrometheus reads the metrics in the Prometheus text format.
func (c *Client) MetricsPrometheus(ctx context.Context) (string, error) {
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/metrics?format=prometheus", accept: "text/plain", idempotent: true})
	if err != nil {
		return "", err
	}
	return string(resp.body), nil
}
