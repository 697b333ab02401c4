package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeBudget struct {
	minute, hour int
	paused       time.Time
	err          error
}

func (f fakeBudget) Remaining(context.Context) (int, int, time.Time, error) {
	return f.minute, f.hour, f.paused, f.err
}

func testConfig(t *testing.T) *pool.Config {
	t.Helper()
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 2, "max_ready": 5, "idle_timeout": 60},
		"node": {"target_ready": 1, "max_ready": 3}}, "max_total_sandboxes": 20}`))
	require.NoError(t, err)
	return cfg
}

func buckets(pairs map[int]int64) []int64 {
	b := make([]int64, len(pool.LatencyBucketsMs)+1)
	for i, c := range pairs {
		b[i] = c
	}
	return b
}

func testSnapshot() pool.Snapshot {
	return pool.Snapshot{
		At:    t0,
		Total: 9,
		Pools: map[string]pool.PoolMetrics{
			"python": {Ready: 3, Creating: 1, InUse: 2, Deleting: 1, State: pool.Record{
				Name: "python", LastAcquireAt: t0.Add(-2 * time.Minute), ActivatedAt: t0.Add(-time.Hour),
				CircuitOpenUntil: t0.Add(3 * time.Minute), CircuitReason: "3 consecutive create failures",
				Stats: pool.PoolStats{
					TotalAcquires: 10, AcquiresFromPool: 8, AcquiresColdStart: 2, AcquireLatencyMs: 90040,
					WarmLatencyMsSum: 40, ColdLatencyMsSum: 90000,
					MissesEmpty: 2, MissesShutdown: 1, MissesCapacity: 4, MissesCircuit: 5,
					Creates: 12, CreatesFailed: 3, Deletes: 7, HealthRemovals: 1, LeasesReaped: 2, OrphansDeleted: 6,
					WarmAgeMsSum: 80000, RefillLagMsSum: 30000, RefillLagSamples: 3,
					WarmLatencyBuckets: buckets(map[int]int64{1: 5, 2: 3}),   // 5 in (1,2.5], 3 in (2.5,5]
					ColdLatencyBuckets: buckets(map[int]int64{11: 1, 12: 1}), // one ≤120s, one above
				},
			}},
			// A pool with state but no config (a removed pool still draining).
			"old": {Deleting: 2, State: pool.Record{Name: "old", Shutdown: true}},
		},
	}
}

func TestBuildJSON(t *testing.T) {
	paused := t0.Add(30 * time.Second)
	d := Build(context.Background(), testSnapshot(), testConfig(t), fakeBudget{minute: 150, hour: 3900, paused: paused}, t0)
	require.Equal(t, []string{"node", "old", "python"}, d.PoolNames())

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	require.EqualValues(t, 9, got["total_sandboxes"])
	require.EqualValues(t, 20, got["max_total_sandboxes"])
	require.Equal(t, false, got["manager_shutdown"])
	require.Equal(t, map[string]any{"remaining_minute": 150.0, "remaining_hour": 3900.0, "paused_until": paused.Format(time.RFC3339)}, got["api_budget"])

	py := got["pools"].(map[string]any)["python"].(map[string]any)
	for k, v := range map[string]float64{
		"ready": 3, "creating": 1, "in_use": 2, "deleting": 1, "total_acquires": 10, "acquires_from_pool": 8,
		"acquires_cold_start": 2, "pool_hit_rate": 0.8, "avg_acquire_latency_ms": 9004, "target_ready": 2, "max_ready": 5,
		"creates": 12, "creates_failed": 3, "deletes": 7, "health_removals": 1, "leases_reaped": 2, "orphans_deleted": 6,
		"avg_warm_age_at_acquire_ms": 10000, "avg_refill_lag_ms": 10000,
	} {
		require.Equal(t, v, py[k], k)
	}
	require.Equal(t, map[string]any{"empty": 2.0, "shutdown": 1.0, "capacity": 4.0, "circuit_open": 5.0}, py["misses"])
	require.Equal(t, map[string]any{"state": "open", "reason": "3 consecutive create failures", "until": t0.Add(3 * time.Minute).Format(time.RFC3339)}, py["circuit"])
	require.Equal(t, true, py["idle"], "two minutes without an acquire is past idle_timeout 60s")
	require.Equal(t, false, py["shutdown"])
	warm := py["acquire_latency_ms"].(map[string]any)["warm"].(map[string]any)
	require.EqualValues(t, 8, warm["count"])
	require.EqualValues(t, 40, warm["sum"])
	require.Len(t, warm["counts"], len(pool.LatencyBucketsMs)+1)

	node := got["pools"].(map[string]any)["node"].(map[string]any)
	require.EqualValues(t, 0, node["ready"], "a configured pool with no state yet shows zeros")
	require.EqualValues(t, 1, node["target_ready"])
	require.Equal(t, false, node["idle"], "a pool whose clock never started is not idle")
	require.Equal(t, map[string]any{"state": "closed"}, node["circuit"])

	old := got["pools"].(map[string]any)["old"].(map[string]any)
	require.Equal(t, true, old["shutdown"])
	require.EqualValues(t, 2, old["deleting"])
}

func TestBuildWithoutBudgetOrCap(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxTotalSandboxes = nil
	d := Build(context.Background(), testSnapshot(), cfg, nil, t0)
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"max_total_sandboxes":null`)
	require.NotContains(t, string(raw), "api_budget")

	boom := errors.New("redis down")
	d = Build(context.Background(), testSnapshot(), cfg, fakeBudget{err: boom}, t0)
	require.Nil(t, d.APIBudget)
	require.ErrorIs(t, d.BudgetErr, boom)

	// Nil config: pools still come from the snapshot.
	d = Build(context.Background(), testSnapshot(), nil, nil, t0)
	require.Equal(t, []string{"old", "python"}, d.PoolNames())
	require.Equal(t, 0, d.Pools["python"].TargetReady)
}

func TestManagerShutdownMarksEveryPool(t *testing.T) {
	s := testSnapshot()
	s.ManagerShutdown = true
	d := Build(context.Background(), s, testConfig(t), nil, t0)
	for _, n := range d.PoolNames() {
		require.True(t, d.Pools[n].Shutdown, n)
	}
}

func TestHistogramNormalisesStoredBuckets(t *testing.T) {
	n := len(pool.LatencyBucketsMs)
	h := histogram([]int64{1, 2}, nil)
	require.Len(t, h.Counts, n+1)
	require.Equal(t, int64(3), h.Count)

	long := make([]int64, n+3)
	long[n], long[n+1], long[n+2] = 1, 2, 3
	h = histogram(long, nil)
	require.Equal(t, int64(6), h.Counts[n], "buckets beyond the bounds fold into +Inf")
	require.Equal(t, int64(6), h.Count)

	h = histogram([]int64{-4, 1}, nil)
	require.Equal(t, int64(1), h.Count, "a corrupt negative count is ignored")
}

func TestLatencySumsWithoutPerSourceSums(t *testing.T) {
	w, c := latencySums(pool.PoolStats{AcquireLatencyMs: 50, AcquiresFromPool: 5})
	require.Equal(t, 50.0, *w)
	require.Equal(t, 0.0, *c)
	w, c = latencySums(pool.PoolStats{AcquireLatencyMs: 50, AcquiresColdStart: 1})
	require.Equal(t, 0.0, *w)
	require.Equal(t, 50.0, *c)
	w, c = latencySums(pool.PoolStats{AcquireLatencyMs: 50, AcquiresFromPool: 5, AcquiresColdStart: 1})
	require.Nil(t, w, "a mixed total cannot be split")
	require.Nil(t, c)
}

func parse(t *testing.T, d *Document) map[string]*dto.MetricFamily {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, d.WritePrometheus(&buf))
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(&buf)
	require.NoError(t, err, buf.String())
	return fams
}

// value finds the one metric of a family whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "family %s missing", name)
	var found *dto.Metric
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			require.Nil(t, found, "%s%v matches more than one series", name, want)
			found = m
		}
	}
	require.NotNil(t, found, "%s%v not found", name, want)
	return found
}

func TestPrometheusParsesWithValues(t *testing.T) {
	d := Build(context.Background(), testSnapshot(), testConfig(t), fakeBudget{minute: 150, hour: 3900}, t0)
	fams := parse(t, d)
	py := map[string]string{"pool": "python"}

	gauge := func(name string, labels map[string]string) float64 {
		return value(t, fams, name, labels).GetGauge().GetValue()
	}
	counter := func(name string, labels map[string]string) float64 {
		require.Equal(t, dto.MetricType_COUNTER, fams[name].GetType(), name)
		return value(t, fams, name, labels).GetCounter().GetValue()
	}
	require.Equal(t, 3.0, gauge("hotpool_ready_sandboxes", py))
	require.Equal(t, 1.0, gauge("hotpool_creating_sandboxes", py))
	require.Equal(t, 2.0, gauge("hotpool_in_use_sandboxes", py))
	require.Equal(t, 1.0, gauge("hotpool_deleting_sandboxes", py))
	require.Equal(t, 0.8, gauge("hotpool_pool_hit_ratio", py))
	require.Equal(t, 1.0, gauge("hotpool_circuit_open", py))
	require.Equal(t, float64(t0.Add(3*time.Minute).Unix()), gauge("hotpool_circuit_open_until_seconds", py))
	require.Equal(t, 1.0, gauge("hotpool_pool_idle", py))
	require.Equal(t, 1.0, gauge("hotpool_pool_shutdown", map[string]string{"pool": "old"}))
	require.Equal(t, 9.0, gauge("hotpool_sandboxes", nil))
	require.Equal(t, 20.0, gauge("hotpool_max_total_sandboxes", nil))
	require.Equal(t, 150.0, gauge("hotpool_api_budget_remaining_minute", nil))
	require.Equal(t, 3900.0, gauge("hotpool_api_budget_remaining_hour", nil))
	require.Equal(t, 0.0, gauge("hotpool_api_budget_paused_until_seconds", nil))

	require.Equal(t, 8.0, counter("hotpool_acquires_total", map[string]string{"pool": "python", "source": "pool"}))
	require.Equal(t, 2.0, counter("hotpool_acquires_total", map[string]string{"pool": "python", "source": "cold"}))
	for reason, want := range map[string]float64{"empty": 2, "shutdown": 1, "capacity": 4, "circuit_open": 5} {
		require.Equal(t, want, counter("hotpool_misses_total", map[string]string{"pool": "python", "reason": reason}), reason)
	}
	require.Equal(t, 12.0, counter("hotpool_creates_total", py))
	require.Equal(t, 3.0, counter("hotpool_creates_failed_total", py))
	require.Equal(t, 7.0, counter("hotpool_deletes_total", py))
	require.Equal(t, 1.0, counter("hotpool_health_removals_total", py))
	require.Equal(t, 2.0, counter("hotpool_leases_reaped_total", py))
	require.Equal(t, 6.0, counter("hotpool_orphans_deleted_total", py))

	warm := value(t, fams, "hotpool_acquire_latency_seconds", map[string]string{"pool": "python", "source": "pool"}).GetHistogram()
	require.Equal(t, dto.MetricType_HISTOGRAM, fams["hotpool_acquire_latency_seconds"].GetType())
	require.Equal(t, uint64(8), warm.GetSampleCount())
	require.InDelta(t, 0.04, warm.GetSampleSum(), 1e-12)
	cum := map[float64]uint64{}
	for _, b := range warm.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	require.Equal(t, uint64(0), cum[0.001])
	require.Equal(t, uint64(5), cum[0.0025])
	require.Equal(t, uint64(8), cum[0.005])
	require.Equal(t, uint64(8), cum[120])
	cold := value(t, fams, "hotpool_acquire_latency_seconds", map[string]string{"pool": "python", "source": "cold"}).GetHistogram()
	require.Equal(t, uint64(2), cold.GetSampleCount())
	require.Equal(t, 90.0, cold.GetSampleSum())
	coldCum := map[float64]uint64{}
	for _, b := range cold.GetBucket() {
		coldCum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	require.Equal(t, uint64(0), coldCum[30])
	require.Equal(t, uint64(1), coldCum[120], "one cold start above 120 s lands only in +Inf")

	age := value(t, fams, "hotpool_warm_age_at_acquire_seconds", py).GetSummary()
	require.Equal(t, dto.MetricType_SUMMARY, fams["hotpool_warm_age_at_acquire_seconds"].GetType())
	require.Equal(t, 80.0, age.GetSampleSum())
	require.Equal(t, uint64(8), age.GetSampleCount())
	lag := value(t, fams, "hotpool_refill_lag_seconds", py).GetSummary()
	require.Equal(t, 30.0, lag.GetSampleSum())
	require.Equal(t, uint64(3), lag.GetSampleCount())
}

func TestPrometheusLabelsStayLowCardinality(t *testing.T) {
	d := Build(context.Background(), testSnapshot(), testConfig(t), fakeBudget{}, t0)
	fams := parse(t, d)
	allowed := map[string]bool{"pool": true, "reason": true, "source": true}
	for name, f := range fams {
		require.True(t, strings.HasPrefix(name, "hotpool_"), name)
		require.NotEmpty(t, f.GetHelp(), name)
		if f.GetType() == dto.MetricType_COUNTER {
			require.True(t, strings.HasSuffix(name, "_total"), name)
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				require.True(t, allowed[l.GetName()], "%s has label %s", name, l.GetName())
			}
		}
	}
}

func TestPrometheusOmitsUnknownSum(t *testing.T) {
	s := testSnapshot()
	py := s.Pools["python"]
	py.State.Stats.WarmLatencyMsSum, py.State.Stats.ColdLatencyMsSum = 0, 0
	s.Pools["python"] = py
	var buf bytes.Buffer
	require.NoError(t, Build(context.Background(), s, nil, nil, t0).WritePrometheus(&buf))
	require.NotContains(t, buf.String(), `hotpool_acquire_latency_seconds_sum{pool="python"`)
	require.Contains(t, buf.String(), `hotpool_acquire_latency_seconds_count{pool="python",source="pool"} 8`)
	parser := expfmt.NewTextParser(model.LegacyValidation)
	_, err := parser.TextToMetricFamilies(&buf)
	require.NoError(t, err)
}

func TestPrometheusEscapesOddPoolNames(t *testing.T) {
	s := pool.Snapshot{Pools: map[string]pool.PoolMetrics{"we\"ird\\\nname": {Ready: 1}}}
	fams := parse(t, Build(context.Background(), s, nil, nil, t0))
	require.Equal(t, 1.0, value(t, fams, "hotpool_ready_sandboxes", map[string]string{"pool": "we\"ird\\\nname"}).GetGauge().GetValue())
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWritePrometheusReportsWriteErrors(t *testing.T) {
	err := Build(context.Background(), testSnapshot(), nil, nil, t0).WritePrometheus(failWriter{})
	require.ErrorContains(t, err, "disk full")
}

func TestAverageLatencyDividesByTheSamplesKept(t *testing.T) {
	// Ten warm acquires, but only six latency samples reached the store (the
	// rest were lost to frozen containers): the average is over the six.
	st := pool.PoolStats{TotalAcquires: 10, AcquiresFromPool: 10, AcquireLatencyMs: 30, WarmLatencyMsSum: 30,
		WarmLatencyBuckets: buckets(map[int]int64{2: 6})}
	d := Build(context.Background(), pool.Snapshot{Pools: map[string]pool.PoolMetrics{"py": {State: pool.Record{Stats: st}}}}, nil, nil, t0)
	require.Equal(t, 5.0, d.Pools["py"].AvgAcquireLatencyMs)

	// Warm and cold samples together.
	st.AcquiresColdStart, st.TotalAcquires = 2, 12
	st.ColdLatencyMsSum, st.AcquireLatencyMs = 60000, 60030
	st.ColdLatencyBuckets = buckets(map[int]int64{11: 2})
	d = Build(context.Background(), pool.Snapshot{Pools: map[string]pool.PoolMetrics{"py": {State: pool.Record{Stats: st}}}}, nil, nil, t0)
	require.Equal(t, 60030.0/8, d.Pools["py"].AvgAcquireLatencyMs)

	// A store with a sum but no histograms: per acquire.
	st = pool.PoolStats{TotalAcquires: 5, AcquiresFromPool: 5, AcquireLatencyMs: 50}
	d = Build(context.Background(), pool.Snapshot{Pools: map[string]pool.PoolMetrics{"py": {State: pool.Record{Stats: st}}}}, nil, nil, t0)
	require.Equal(t, 10.0, d.Pools["py"].AvgAcquireLatencyMs)

	// No acquire yet.
	d = Build(context.Background(), pool.Snapshot{Pools: map[string]pool.PoolMetrics{"py": {}}}, nil, nil, t0)
	require.Equal(t, 0.0, d.Pools["py"].AvgAcquireLatencyMs)
}
