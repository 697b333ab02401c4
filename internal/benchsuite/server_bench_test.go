package benchsuite

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// BenchmarkServerLoopback drives the local server over loopback HTTP with N
// concurrent clients, each on its own kept-alive connection, doing acquire +
// release pairs until b.N pairs are done. It reports the throughput in pairs
// per second and the p50/p99 latency of one acquire and of one pair. Client,
// server and redis-server share this machine's cores, so the throughput is a
// floor for a deployment where they do not.
func BenchmarkServerLoopback(b *testing.B) {
	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			s := startLocal(b, b.N)
			ctx := context.Background()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
			clock := pool.SystemClock{}
			var next atomic.Int64
			acq := make([][]time.Duration, clients)
			pairs := make([][]time.Duration, clients)
			errs := make(chan error, clients)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := clock.Now()
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						t0 := clock.Now()
						var a acquireAnswer
						if err := postJSON(ctx, hc, s.BaseURL+"/acquire", []byte(`{"image":"python"}`), &a); err != nil {
							errs <- err
							return
						}
						t1 := clock.Now()
						body := []byte(`{"sandbox_id":"` + a.Sandbox.ID + `","lease_token":"` + a.Lease.Token + `"}`)
						if err := postJSON(ctx, hc, s.BaseURL+"/release", body, nil); err != nil {
							errs <- err
							return
						}
						acq[c] = append(acq[c], t1.Sub(t0))
						pairs[c] = append(pairs[c], clock.Now().Sub(t0))
					}
				}()
			}
			wg.Wait()
			elapsed := clock.Now().Sub(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			a, p := merge(acq), merge(pairs)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pairs/s")
			b.ReportMetric(ms(pct(a, 50)), "acq-p50-ms")
			b.ReportMetric(ms(pct(a, 99)), "acq-p99-ms")
			b.ReportMetric(ms(pct(p, 50)), "pair-p50-ms")
			b.ReportMetric(ms(pct(p, 99)), "pair-p99-ms")
		})
	}
}

func merge(parts [][]time.Duration) []time.Duration {
	var all []time.Duration
	for _, p := range parts {
		all = append(all, p...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return all
}

// pct is the p-th percentile of sorted samples (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
