package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/hotpool/hotpool/api"
)

// Metrics is GET /metrics: one entry per pool plus the deployment's totals.
type Metrics struct {
	api.Metrics
	// Raw is the answer as the server sent it, for tools that print it whole.
	Raw json.RawMessage `json:"-"`
}

// The wire types of GET /metrics (package api), under the client's names.
type (
	// PoolMetrics is one pool's row: the seed's metrics first, then hotpool's.
	PoolMetrics = api.PoolMetrics
	// AcquireHistogram keeps warm hits and cold starts apart.
	AcquireHistogram = api.AcquireHistogram
	// Histogram is one acquire latency histogram in milliseconds.
	Histogram = api.Histogram
	// Circuit is a pool's create circuit breaker.
	Circuit = api.Circuit
	// Misses counts acquires that found no ready sandbox, by cause.
	Misses = api.Misses
	// APIBudget is what is left of the shared DigitalOcean API budget.
	APIBudget = api.Budget
	// Outbox is the webhook outbox's backlog.
	Outbox = api.Outbox
)

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
