package metrics

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hotpool/hotpool/api"
)

// ContentType is the Prometheus text exposition format this package writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// label is one name="value" pair; only pool, reason, source and le are used.
type label struct{ name, value string }

// promWriter writes families in the text format, remembering the first error
// so the callers can write straight through.
type promWriter struct {
	w   *bufio.Writer
	err error
}

func (p *promWriter) family(name, typ, help string) {
	p.printf("# HELP ", name, " ", escapeHelp(help), "\n# TYPE ", name, " ", typ, "\n")
}

func (p *promWriter) sample(name string, v float64, labels ...label) {
	p.printf(name)
	for i, l := range labels {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		p.printf(sep, l.name, `="`, escapeLabel(l.value), `"`)
	}
	if len(labels) > 0 {
		p.printf("}")
	}
	p.printf(" ", formatFloat(v), "\n")
}

func (p *promWriter) printf(parts ...string) {
	for _, s := range parts {
		if p.err != nil {
			return
		}
		_, p.err = p.w.WriteString(s)
	}
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// The text format's escapes, built once: a Replacer is costly to make.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string { return helpEscaper.Replace(s) }

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

// poolSeries is one per-pool gauge or counter family read off an api.PoolMetrics.
type poolSeries struct {
	name, typ, help string
	value           func(*api.PoolMetrics) float64
}

var poolSeriesList = []poolSeries{
	{"hotpool_ready_sandboxes", "gauge", "Ready sandboxes waiting in the pool.", func(p *api.PoolMetrics) float64 { return float64(p.Ready) }},
	{"hotpool_creating_sandboxes", "gauge", "Sandboxes being created (capacity reserved).", func(p *api.PoolMetrics) float64 { return float64(p.Creating) }},
	{"hotpool_in_use_sandboxes", "gauge", "Sandboxes leased to a caller.", func(p *api.PoolMetrics) float64 { return float64(p.InUse) }},
	{"hotpool_deleting_sandboxes", "gauge", "Sandboxes waiting for their app to be destroyed.", func(p *api.PoolMetrics) float64 { return float64(p.Deleting) }},
	{"hotpool_target_ready", "gauge", "Configured target_ready.", func(p *api.PoolMetrics) float64 { return float64(p.TargetReady) }},
	{"hotpool_max_ready", "gauge", "Configured max_ready.", func(p *api.PoolMetrics) float64 { return float64(p.MaxReady) }},
	{"hotpool_pool_shutdown", "gauge", "1 when the pool (or the manager) is shut down.", func(p *api.PoolMetrics) float64 { return b2f(p.Shutdown) }},
	{"hotpool_pool_idle", "gauge", "1 when the pool saw no acquire within idle_timeout.", func(p *api.PoolMetrics) float64 { return b2f(p.Idle) }},
	{"hotpool_circuit_open", "gauge", "1 while creates are suspended by the circuit breaker.", func(p *api.PoolMetrics) float64 { return b2f(p.Circuit.State == "open") }},
	{"hotpool_circuit_open_until_seconds", "gauge", "Unix time the open circuit closes; 0 when closed.", func(p *api.PoolMetrics) float64 { return unixSeconds(p.Circuit.Until) }},
	{"hotpool_pool_hit_ratio", "gauge", "Acquires served warm from the pool over all acquires.", func(p *api.PoolMetrics) float64 { return p.PoolHitRate }},
	{"hotpool_creates_total", "counter", "App creations started.", func(p *api.PoolMetrics) float64 { return float64(p.Creates) }},
	{"hotpool_creates_failed_total", "counter", "App creations that failed or passed their deadline.", func(p *api.PoolMetrics) float64 { return float64(p.CreatesFailed) }},
	{"hotpool_deletes_total", "counter", "Apps destroyed.", func(p *api.PoolMetrics) float64 { return float64(p.Deletes) }},
	{"hotpool_health_removals_total", "counter", "Ready sandboxes removed as unhealthy.", func(p *api.PoolMetrics) float64 { return float64(p.HealthRemovals) }},
	{"hotpool_leases_reaped_total", "counter", "Leases that expired unreleased and were reclaimed.", func(p *api.PoolMetrics) float64 { return float64(p.LeasesReaped) }},
	{"hotpool_orphans_deleted_total", "counter", "Apps found on the platform with no record and deleted.", func(p *api.PoolMetrics) float64 { return float64(p.OrphansDeleted) }},
}

// WritePrometheus writes the document in the Prometheus text exposition
// format. Times are in seconds, as Prometheus names them; the JSON keeps ms.
func (d *Document) WritePrometheus(w io.Writer) error {
	p := &promWriter{w: bufio.NewWriter(w)}
	names := d.PoolNames()

	p.family("hotpool_acquires_total", "counter", "Acquires that got a sandbox, by source (pool: warm hit, cold: created for the caller).")
	for _, n := range names {
		pd := d.Pools[n]
		p.sample("hotpool_acquires_total", float64(pd.AcquiresFromPool), label{"pool", n}, label{"source", "pool"})
		p.sample("hotpool_acquires_total", float64(pd.AcquiresColdStart), label{"pool", n}, label{"source", "cold"})
	}
	p.family("hotpool_misses_total", "counter", "Acquires that found no ready sandbox, by reason.")
	for _, n := range names {
		m := d.Pools[n].Misses
		for _, r := range []struct {
			reason string
			v      int64
		}{{"empty", m.Empty}, {"shutdown", m.Shutdown}, {"capacity", m.Capacity}, {"circuit_open", m.CircuitOpen}} {
			p.sample("hotpool_misses_total", float64(r.v), label{"pool", n}, label{"reason", r.reason})
		}
	}
	for _, s := range poolSeriesList {
		p.family(s.name, s.typ, s.help)
		for _, n := range names {
			pd := d.Pools[n]
			p.sample(s.name, s.value(&pd), label{"pool", n})
		}
	}
	p.writeLatency(d, names)
	p.writeSummary(d, names, "hotpool_warm_age_at_acquire_seconds", "Age of a sandbox when a warm acquire handed it out.",
		func(n string) (float64, int64) { return d.sums[n].warmAgeMsSum, d.Pools[n].AcquiresFromPool })
	p.writeSummary(d, names, "hotpool_refill_lag_seconds", "Time a pool spent below target_ready before it was back at target.",
		func(n string) (float64, int64) { return d.sums[n].refillLagMsSum, d.sums[n].refillLagSamples })

	p.family("hotpool_sandboxes", "gauge", "Sandboxes of every state and pool (counted against max_total_sandboxes).")
	p.sample("hotpool_sandboxes", float64(d.TotalSandboxes))
	p.family("hotpool_outbox_entries", "gauge", "Webhook outbox entries kept until every webhook has passed them.")
	p.sample("hotpool_outbox_entries", float64(d.Outbox.Entries))
	p.family("hotpool_outbox_dead_letters", "gauge", "Entries of the webhook dead letter stream, gap markers included.")
	p.sample("hotpool_outbox_dead_letters", float64(d.Outbox.DeadLetters))
	if d.MaxTotalSandboxes != nil {
		p.family("hotpool_max_total_sandboxes", "gauge", "Configured max_total_sandboxes (absent when unlimited).")
		p.sample("hotpool_max_total_sandboxes", float64(*d.MaxTotalSandboxes))
	}
	p.family("hotpool_manager_shutdown", "gauge", "1 when the whole manager is shut down.")
	p.sample("hotpool_manager_shutdown", b2f(d.ManagerShutdown))
	if b := d.APIBudget; b != nil {
		p.family("hotpool_api_budget_remaining_minute", "gauge", "DigitalOcean API requests left in the current minute.")
		p.sample("hotpool_api_budget_remaining_minute", float64(b.RemainingMinute))
		p.family("hotpool_api_budget_remaining_hour", "gauge", "DigitalOcean API requests left in the current hour.")
		p.sample("hotpool_api_budget_remaining_hour", float64(b.RemainingHour))
		p.family("hotpool_api_budget_paused_until_seconds", "gauge", "Unix time API calls resume after a 429; 0 when not paused.")
		p.sample("hotpool_api_budget_paused_until_seconds", unixSeconds(b.PausedUntil))
	}
	if p.err != nil {
		return p.err
	}
	return p.w.Flush()
}

// writeLatency writes the acquire latency histograms: cumulative buckets, as
// Prometheus wants them, from the per-bucket counts of the document.
func (p *promWriter) writeLatency(d *Document, names []string) {
	const name = "hotpool_acquire_latency_seconds"
	p.family(name, "histogram", "Acquire latency, warm hits (source=pool) and cold starts (source=cold) apart.")
	for _, n := range names {
		pd := d.Pools[n]
		for _, src := range []struct {
			source string
			h      api.Histogram
		}{{"pool", pd.AcquireLatencyMs.Warm}, {"cold", pd.AcquireLatencyMs.Cold}} {
			var cum int64
			for i, c := range src.h.Counts {
				cum += c
				le := math.Inf(1)
				if i < len(src.h.Bounds) {
					le = src.h.Bounds[i] / 1000
				}
				p.sample(name+"_bucket", float64(cum), label{"pool", n}, label{"source", src.source}, label{"le", formatFloat(le)})
			}
			// The text format allows a histogram without _sum; it is left out
			// rather than written as a made-up number when it is unknown.
			if src.h.Sum != nil {
				p.sample(name+"_sum", *src.h.Sum/1000, label{"pool", n}, label{"source", src.source})
			}
			p.sample(name+"_count", float64(src.h.Count), label{"pool", n}, label{"source", src.source})
		}
	}
}

func (p *promWriter) writeSummary(d *Document, names []string, name, help string, get func(poolName string) (sumMs float64, count int64)) {
	p.family(name, "summary", help)
	for _, n := range names {
		sum, count := get(n)
		p.sample(name+"_sum", sum/1000, label{"pool", n})
		p.sample(name+"_count", float64(count), label{"pool", n})
	}
}
