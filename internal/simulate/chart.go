package simulate

import (
	"fmt"
	"html"
	"io"
	"sort"
	"strings"
)

// Chart colours, also what the screenshot test looks for.
const (
	ColorReady    = "#22aa77"
	ColorCreating = "#ee9900"
	ColorInUse    = "#3366cc"
	ColorDemand   = "#cc3333"
	ColorFloor    = "#777777"
	ColorMiss     = "#880000"
)

// WriteChart writes a self-contained HTML page (inline SVG, no script, no
// network) charting the replay minute by minute: sandboxes ready, creating
// and in use, the acquires of each minute, what perfect foresight would
// hold, and a mark on each minute with a miss, under the result's figures.
func WriteChart(w io.Writer, title string, r Result) error {
	const (
		width, height          = 1000.0, 420.0
		left, right, top, foot = 64.0, 230.0, 20.0, 56.0
	)
	peak := 1
	for _, s := range r.Series {
		peak = max(peak, s.Ready+s.Creating+s.InUse, s.Acquires, s.Floor)
	}
	n := max(len(r.Series), 1)
	plotW, plotH := width-left-right, height-top-foot
	x := func(m int) float64 { return left + plotW*float64(m)/float64(n) }
	y := func(v int) float64 { return top + plotH - plotH*float64(v)/float64(peak) }
	line := func(color, dash string, v func(Sample) int) string {
		var b strings.Builder
		for _, s := range r.Series {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(s.Minute), y(v(s)))
		}
		return fmt.Sprintf(`<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`+"\n",
			color, dash, strings.TrimSpace(b.String()))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title>
<style>body{font:14px system-ui,sans-serif;margin:24px}td{padding:2px 12px 2px 0}.k{color:#555}</style></head><body>
<h1>%s</h1>
<table>
<tr><td class="k">requests</td><td>%d: %d hits (%.1f%%), %d cold starts, %d failed%s</td></tr>
<tr><td class="k">wait</td><td>p50 %.0f ms, p99 %.0f ms</td></tr>
<tr><td class="k">sandbox-minutes</td><td>billed %.1f, executing %.1f, idle %.1f: efficiency %.1f%%</td></tr>
<tr><td class="k">perfect foresight</td><td>%.1f sandbox-minutes, efficiency %.1f%% (serving every request)</td></tr>
<tr><td class="k">at most</td><td>%d sandboxes; %d API calls; %.1f simulated minutes</td></tr>
</table>
`, html.EscapeString(title), html.EscapeString(title), r.Requests, r.Hits, 100*r.HitRate, r.ColdStarts, r.Failed,
		html.EscapeString(DescribeFailed(r.FailedBy)), r.WaitP50Ms, r.WaitP99Ms, r.SandboxMinutes, r.ExecutionMinutes,
		r.IdleMinutes, 100*r.Efficiency, r.FloorSandboxMinutes, 100*r.FloorEfficiency, r.MaxSandboxes, r.APICalls, r.SimulatedMinutes)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" role="img" aria-label="sandboxes and demand by minute" font-size="12">
<rect x="0" y="0" width="%.0f" height="%.0f" fill="#fff"/>
`, width, height, width, height)
	// Axes, ticks and their labels, with units.
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/>`+"\n",
		left, top, left, top+plotH, left, top+plotH, left+plotW, top+plotH)
	for _, v := range []int{0, peak / 2, peak} {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/><text x="%.0f" y="%.1f" text-anchor="end">%d</text>`+"\n",
			left, y(v), left+plotW, y(v), left-6, y(v)+4, v)
	}
	for k := 0; k <= 4; k++ {
		m := n * k / 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`+"\n", x(m), top+plotH+16, m)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">minutes since the replay started</text>`+"\n", left+plotW/2, height-12)
	fmt.Fprintf(&b, `<text transform="translate(16 %.0f) rotate(-90)" text-anchor="middle">sandboxes · acquires per minute</text>`+"\n", top+plotH/2)
	b.WriteString(line(ColorFloor, "6 4", func(s Sample) int { return s.Floor }))
	b.WriteString(line(ColorReady, "", func(s Sample) int { return s.Ready }))
	b.WriteString(line(ColorCreating, "", func(s Sample) int { return s.Creating }))
	b.WriteString(line(ColorInUse, "", func(s Sample) int { return s.InUse }))
	b.WriteString(line(ColorDemand, "", func(s Sample) int { return s.Acquires }))
	// Each minute with a miss (served cold, or not at all), at its count.
	for _, s := range r.Series {
		if s.Misses > 0 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>minute %d: %d missed</title></circle>`+"\n",
				x(s.Minute), y(s.Misses), ColorMiss, s.Minute, s.Misses)
		}
	}
	legend := []struct{ color, dash, label string }{
		{ColorReady, "", "ready (sandboxes)"}, {ColorCreating, "", "creating (sandboxes)"}, {ColorInUse, "", "in use (sandboxes)"},
		{ColorDemand, "", "acquires that minute"}, {ColorFloor, "6 4", "perfect foresight (sandboxes)"},
	}
	lx := left + plotW + 20
	for i, l := range legend {
		ly := top + 10 + 20*float64(i)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="3" stroke-dasharray="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			lx, ly, lx+22, ly, l.color, l.dash, lx+28, ly+4, l.label)
	}
	ly := top + 10 + 20*float64(len(legend))
	fmt.Fprintf(&b, `<circle cx="%.0f" cy="%.0f" r="4" fill="%s"/><text x="%.0f" y="%.0f">misses that minute</text>`+"\n", lx+11, ly, ColorMiss, lx+28, ly+4)
	b.WriteString("</svg></body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// failReasons says what each reason of Result.FailedBy means.
var failReasons = map[string]string{
	"empty":          "empty pool with on_empty fail",
	"capacity":       "max_total_sandboxes reached",
	"circuit_open":   "creates paused after failures",
	"too_many_pools": "max_dynamic_pools reached",
	"shutdown":       "pool shut down",
	"claim_failed":   "cold start failed",
	"unfinished":     "cold start unfinished at the end",
}

// DescribeFailed spells the failed requests by reason, as
// ": 17 capacity (max_total_sandboxes reached)"; "" when none failed.
func DescribeFailed(by map[string]int) string {
	if len(by) == 0 {
		return ""
	}
	whys := make([]string, 0, len(by))
	for why := range by {
		whys = append(whys, why)
	}
	sort.Slice(whys, func(i, j int) bool {
		return by[whys[i]] > by[whys[j]] || by[whys[i]] == by[whys[j]] && whys[i] < whys[j]
	})
	parts := make([]string, len(whys))
	for i, why := range whys {
		parts[i] = fmt.Sprintf("%d %s", by[why], why)
		if m, ok := failReasons[why]; ok {
			parts[i] += " (" + m + ")"
		}
	}
	return ": " + strings.Join(parts, ", ")
}
