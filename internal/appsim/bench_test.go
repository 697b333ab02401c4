package appsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/stretchr/testify/require"
)

// fill creates n apps through the handler itself (no sockets), as fast as
// the simulator can take them.
func fill(tb testing.TB, sim *appsim.Server, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		body, err := json.Marshal(godo.AppCreateRequest{Spec: appSpec(fmt.Sprintf("hp-python-%06d", i))})
		require.NoError(tb, err)
		req := httptest.NewRequest(http.MethodPost, "http://sim/v2/apps", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		require.Equal(tb, http.StatusOK, rec.Code, rec.Body.String())
	}
}

func listPage(tb testing.TB, sim *appsim.Server, page int) int {
	req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("http://sim/v2/apps?page=%d&per_page=200", page), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	require.Equal(tb, http.StatusOK, rec.Code)
	var root struct {
		Apps []json.RawMessage `json:"apps"`
		Meta godo.Meta         `json:"meta"`
	}
	require.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &root))
	return len(root.Apps)
}

// BenchmarkStart is New + Start + Close: the simulator's start-up cost.
func BenchmarkStart(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sim := appsim.New(appsim.Options{Token: token})
		if _, err := sim.Start(); err != nil {
			b.Fatal(err)
		}
		if err := sim.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList10000Apps holds 10,000 apps and lists a page of 200 of them;
// it reports the heap each app costs.
func BenchmarkList10000Apps(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sim := appsim.New(appsim.Options{Token: token})
	fill(b, sim, 10000)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n := listPage(b, sim, 1+i%50); n != 200 {
			b.Fatalf("page has %d apps", n)
		}
	}
	// Reported last: ResetTimer drops user metrics.
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/10000, "heap-B/app")
}

// BenchmarkCreate is one create through the handler.
func BenchmarkCreate(b *testing.B) {
	sim := appsim.New(appsim.Options{Token: token})
	b.ResetTimer()
	fill(b, sim, b.N)
}
