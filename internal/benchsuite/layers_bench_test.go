package benchsuite

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/hotpool/hotpool/internal/httpapi"
	"github.com/hotpool/hotpool/internal/logging"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/redistest"
)

// layers is the in-process stack over the real redis-server: Store, service
// and HTTP handler, with b.N ready sandboxes seeded before the timer.
type layers struct {
	store   *redisstate.Store
	service *pool.Service
	handler *httpapi.Handler
}

func newLayers(b *testing.B) *layers {
	b.Helper()
	rdb, prefix := redistest.Client(b)
	ctx := context.Background()
	cfg := benchConfig(b)
	s := redisstate.New(rdb, prefix)
	if err := s.Preload(ctx); err != nil {
		b.Fatal(err)
	}
	clock := pool.SystemClock{}
	seedReady(ctx, b, s, benchPool, b.N, 0, clock.Now())
	svc, err := pool.NewService(pool.ServiceOptions{Store: s, Config: cfg, Clock: clock, Secrets: pool.NewSecrets("bench-secret")})
	if err != nil {
		b.Fatal(err)
	}
	// The handler logs one JSON line per request, as in production, into
	// io.Discard: formatting is counted, the write is not.
	h := httpapi.New(httpapi.Options{Service: svc, Token: benchToken, Logger: logging.New(io.Discard, slog.LevelInfo), Clock: clock})
	return &layers{store: s, service: svc, handler: h}
}

// BenchmarkStoreAcquireRelease is two EVALSHAs: acquire.lua and release.lua,
// with the token hashing the service would do done once outside the loop.
func BenchmarkStoreAcquireRelease(b *testing.B) {
	l := newLayers(b)
	ctx := context.Background()
	cfg := benchConfig(b)
	pc, _ := cfg.Pool(benchPool)
	hash := pool.HashToken("lease-token")
	clock := pool.SystemClock{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := clock.Now()
		res, err := l.store.Acquire(ctx, pool.AcquireParams{Pool: benchPool, OnEmpty: pool.OnEmptyFail, Caps: pool.CapsFor(cfg, pc),
			LeaseTTL: 15 * time.Minute, LeaseTokenHash: hash, Now: now})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.store.Release(ctx, res.Sandbox.ID, hash, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServiceAcquireRelease adds the service: request checks, token
// minting (crypto/rand) and hashing, the agent token derivation.
func BenchmarkServiceAcquireRelease(b *testing.B) {
	l := newLayers(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := l.service.Acquire(ctx, pool.AcquireRequest{Image: benchPool})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.service.Release(ctx, a.Sandbox.ID, a.LeaseToken); err != nil {
			b.Fatal(err)
		}
	}
}

type acquireAnswer struct {
	Sandbox struct {
		ID string `json:"id"`
	} `json:"sandbox"`
	Lease struct {
		Token string `json:"token"`
	} `json:"lease"`
}

// BenchmarkHandlerAcquireRelease is the whole HTTP contract in-process: the
// transport-neutral handler (auth, strict decoding, the service, encoding,
// the log line) for POST /acquire and POST /release, without sockets.
func BenchmarkHandlerAcquireRelease(b *testing.B) {
	l := newLayers(b)
	ctx := context.Background()
	headers := map[string]string{"authorization": "Bearer " + benchToken, "content-type": "application/json"}
	acquireBody := []byte(`{"image":"python"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp := l.handler.Handle(ctx, httpapi.Request{Method: http.MethodPost, Path: "/acquire", Headers: headers, Body: acquireBody})
		if resp.Status != http.StatusOK {
			b.Fatalf("acquire: %d %s", resp.Status, resp.Body)
		}
		var a acquireAnswer
		if err := json.Unmarshal(resp.Body, &a); err != nil {
			b.Fatal(err)
		}
		body, _ := json.Marshal(map[string]string{"sandbox_id": a.Sandbox.ID, "lease_token": a.Lease.Token})
		resp = l.handler.Handle(ctx, httpapi.Request{Method: http.MethodPost, Path: "/release", Headers: headers, Body: body})
		if resp.Status != http.StatusOK {
			b.Fatalf("release: %d %s", resp.Status, resp.Body)
		}
	}
}
