package simulate

import (
	"bytes"
	"cmp"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/testenv"
)

// The chart as a person sees it: a real replay's page rendered by headless
// chromium, whose screenshot shows every series in its colour, the misses
// and the perfect-foresight line. (HOTPOOL_CHART_SHOT=path keeps the PNG to
// look at.)
func TestChartRendersInARealBrowser(t *testing.T) {
	chromium := testenv.Chromium(t)
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 2, "max_ready": 4}}}`))
	require.NoError(t, err)
	var trace []Demand
	for i := range 40 {
		trace = append(trace, Demand{At: time.Duration(i) * 20 * time.Second, Image: "python", Hold: 5 * time.Minute})
	}
	// A burst the pool cannot hold, so some minutes miss.
	for i := range 6 {
		trace = append(trace, Demand{At: 5*time.Minute + time.Duration(i)*time.Second, Image: "python", Hold: 3 * time.Minute})
	}
	slices.SortStableFunc(trace, func(a, b Demand) int { return cmp.Compare(a.At, b.At) })
	r, err := Run(context.Background(), Options{Config: cfg, Trace: trace, CreateDelay: 30 * time.Second})
	require.NoError(t, err)
	page := filepath.Join(t.TempDir(), "chart.html")
	f, err := os.Create(page)
	require.NoError(t, err)
	require.NoError(t, WriteChart(f, "a burst over a steady pool", r))
	require.NoError(t, f.Close())

	shot := testenv.Screenshot(t, chromium, page, 1100, 800)
	if keep := os.Getenv("HOTPOOL_CHART_SHOT"); keep != "" {
		require.NoError(t, os.WriteFile(keep, shot, 0o644))
	}
	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err)
	for name, color := range map[string]string{"ready": ColorReady, "in use": ColorInUse, "demand": ColorDemand,
		"perfect foresight": ColorFloor, "misses": ColorMiss} {
		require.Greater(t, pixelsNear(img, color), 20, "the %s series (%s) is drawn", name, color)
	}
}

// pixelsNear counts the pixels within a small distance of a #rrggbb colour
// (anti-aliasing blends the edges of a line).
func pixelsNear(img image.Image, hex string) int {
	v, _ := strconv.ParseUint(hex[1:], 16, 32)
	want := [3]int{int(v >> 16 & 0xff), int(v >> 8 & 0xff), int(v & 0xff)}
	n := 0
	b := img.Bounds()
	for yy := b.Min.Y; yy < b.Max.Y; yy++ {
		for xx := b.Min.X; xx < b.Max.X; xx++ {
			r, g, bl, _ := img.At(xx, yy).RGBA()
			d := abs(int(r>>8)-want[0]) + abs(int(g>>8)-want[1]) + abs(int(bl>>8)-want[2])
			if d < 24 {
				n++
			}
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
