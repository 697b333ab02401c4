package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

const benchConfig = `{"pools": {"python": {"target_ready": 1, "max_ready": 1000}}, "max_concurrent_creates": 1000}`

// benchEnv is a handler over a store of kind whose python pool is refilled
// (outside the timer) whenever the benchmark has used it up.
type benchEnv struct {
	h     *Handler
	seed  seeder
	clock *pool.ManualClock
	left  int
	next  int
}

const benchBatch = 500

func newBenchEnv(b *testing.B, kind string) *benchEnv {
	cfg, err := pool.ParseConfig([]byte(benchConfig))
	require.NoError(b, err)
	store, seed := newStore(b, kind, cfg)
	clock := pool.NewManualClock(t0)
	svc, err := pool.NewService(pool.ServiceOptions{Store: store, Config: cfg, Clock: clock, Secrets: pool.NewSecrets("bench")})
	require.NoError(b, err)
	h := New(Options{Service: svc, Token: testToken, Logger: slog.New(slog.DiscardHandler), Clock: clock})
	return &benchEnv{h: h, seed: seed, clock: clock}
}

func (e *benchEnv) refill(b *testing.B) {
	if e.left > 0 {
		return
	}
	b.StopTimer()
	for range benchBatch {
		e.next++
		e.seed.addReady("python", fmt.Sprintf("b%07d", e.next), e.clock.Now())
	}
	e.left = benchBatch
	b.StartTimer()
}

// BenchmarkAcquireWarm is POST /acquire of a warm sandbox through the whole
// handler (auth, decode, service, one Store round trip, encode, log line).
func BenchmarkAcquireWarm(b *testing.B) {
	for _, kind := range storeKinds {
		b.Run(kind, func(b *testing.B) {
			e := newBenchEnv(b, kind)
			req := Request{Method: "POST", Path: "/acquire", Headers: map[string]string{"authorization": "Bearer " + testToken}, Body: []byte(`{"image":"python"}`)}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.refill(b)
				e.left--
				if r := e.h.Handle(ctx, req); r.Status != http.StatusOK {
					b.Fatalf("status %d: %s", r.Status, r.Body)
				}
			}
		})
	}
}

// BenchmarkAcquireWarmHTTP is the same over a real socket (the local server's path).
func BenchmarkAcquireWarmHTTP(b *testing.B) {
	e := newBenchEnv(b, "redis")
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	c := srv.Client()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.refill(b)
		e.left--
		req, _ := http.NewRequest("POST", srv.URL+"/acquire", strings.NewReader(`{"image":"python"}`))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkRefusedRequest is the cost of a request without the token: the
// constant-time check and the 401, nothing else.
func BenchmarkRefusedRequest(b *testing.B) {
	e := newBenchEnv(b, "miniredis")
	req := Request{Method: "POST", Path: "/acquire", Headers: map[string]string{"authorization": "Bearer nope"}, Body: []byte(`{"image":"python"}`)}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if r := e.h.Handle(ctx, req); r.Status != http.StatusUnauthorized {
			b.Fatalf("status %d", r.Status)
		}
	}
}
