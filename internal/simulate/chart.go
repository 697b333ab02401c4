package simulate

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// WriteChart writes a self-contained HTML page (inline SVG, no script, no
// network) charting the replay minute by minute: sandboxes ready, creating
// and in use, and the acquires of each minute, under the result's figures.
func WriteChart(w io.Writer, title string, r Result) error {
	const width, height, pad = 960.0, 360.0, 40.0
	top := 1
	for _, s := range r.Series {
		top = max(top, s.Ready+s.Creating+s.InUse, s.Acquires)
	}
	n := max(len(r.Series)-1, 1)
	x := func(i int) float64 { return pad + (width-2*pad)*float64(i)/float64(n) }
	y := func(v int) float64 { return height - pad - (height-2*pad)*float64(v)/float64(top) }
	line := func(color string, v func(Sample) int) string {
		var b strings.Builder
		for i, s := range r.Series {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(i), y(v(s)))
		}
		return fmt.Sprintf(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.TrimSpace(b.String()))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title>
<style>body{font:14px system-ui,sans-serif;margin:24px}td{padding:2px 12px 2px 0}.k{color:#555}</style></head><body>
<h1>%s</h1>
<table>
<tr><td class="k">requests</td><td>%d: %d hits (%.1f%%), %d cold starts, %d failed</td></tr>
<tr><td class="k">wait</td><td>p50 %.0f ms, p99 %.0f ms</td></tr>
<tr><td class="k">sandbox-minutes</td><td>billed %.1f, executing %.1f, idle %.1f: efficiency %.1f%%</td></tr>
<tr><td class="k">at most</td><td>%d sandboxes; %d API calls; %.1f simulated minutes</td></tr>
</table>
`, html.EscapeString(title), html.EscapeString(title), r.Requests, r.Hits, 100*r.HitRate, r.ColdStarts, r.Failed,
		r.WaitP50Ms, r.WaitP99Ms, r.SandboxMinutes, r.ExecutionMinutes, r.IdleMinutes, 100*r.Efficiency,
		r.MaxSandboxes, r.APICalls, r.SimulatedMinutes)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" role="img" aria-label="sandboxes and demand by minute">
<rect x="0" y="0" width="%.0f" height="%.0f" fill="#fff"/>
<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/>
<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/>
<text x="%.0f" y="%.0f" font-size="12">%d</text><text x="%.0f" y="%.0f" font-size="12">0</text>
<text x="%.0f" y="%.0f" font-size="12" text-anchor="end">minute %d</text>
`, width, height, width, height, pad, height-pad, width-pad, height-pad, pad, pad, pad, height-pad,
		4.0, pad+4, top, 4.0, height-pad, width-pad, height-8, n)
	b.WriteString(line("#2a7", func(s Sample) int { return s.Ready }))
	b.WriteString(line("#e90", func(s Sample) int { return s.Creating }))
	b.WriteString(line("#36c", func(s Sample) int { return s.InUse }))
	b.WriteString(line("#c33", func(s Sample) int { return s.Acquires }))
	legend := []struct{ color, label string }{{"#2a7", "ready"}, {"#e90", "creating"}, {"#36c", "in use"}, {"#c33", "acquires that minute (demand)"}}
	for i, l := range legend {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%d" width="12" height="12" fill="%s"/><text x="%.0f" y="%d" font-size="12">%s</text>`,
			pad+20, 12+16*i, l.color, pad+38, 22+16*i, l.label)
	}
	b.WriteString("</svg></body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
