package metrics

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/hotpool/hotpool/internal/pool"
)

// BenchmarkRender20Pools: the metrics function's own work for 20 pools,
// the JSON document and the Prometheus text, after the one Store read.
func BenchmarkRender20Pools(b *testing.B) {
	s := testSnapshot()
	base := s.Pools["python"]
	for i := 0; i < 20; i++ {
		s.Pools[fmt.Sprintf("image-%02d", i)] = base
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d := Build(ctx, s, (*pool.Config)(nil), nil, t0)
		if err := d.WritePrometheus(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
