package httpapi

import (
	"bytes"
	"context"
	"time"

	"github.com/hotpool/hotpool/internal/metrics"
	"github.com/hotpool/hotpool/internal/pool"
)

// renderMetrics builds the GET /metrics document (internal/metrics owns its
// shape) as JSON, or as Prometheus text.
func renderMetrics(ctx context.Context, s pool.Snapshot, cfg *pool.Config, budget metrics.BudgetSource, now time.Time, prometheus bool) (doc *metrics.Document, text []byte, err error) {
	doc = metrics.Build(ctx, s, cfg, budget, now)
	if !prometheus {
		return doc, nil, nil
	}
	var buf bytes.Buffer
	if err := doc.WritePrometheus(&buf); err != nil {
		return nil, nil, err
	}
	return doc, buf.Bytes(), nil
}
