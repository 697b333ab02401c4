package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/testenv"
)

const testToken = "test-api-token-0123456789"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testConfig = `{
  "pools": {
    "python": {"target_ready": 2, "max_ready": 5, "on_empty": "create"},
    "node": {"target_ready": 1, "max_ready": 3, "on_empty": "fail"}
  },
  "max_total_sandboxes": 20,
  "max_lease": 3600
}`

// env is one handler over redisstate (on miniredis unless told otherwise),
// on a manual clock, with its log.
type env struct {
	seed  seeder
	clock *pool.ManualClock
	rec   *fakeReconciler
	svc   *pool.Service
	h     *Handler
	log   *testenv.Buffer
	srv   *httptest.Server // the net/http transport, started on first use
	// onSleep, when set, runs after each of the service's waits has moved the clock.
	onSleep func()
}

func newEnv(t testing.TB) *env { return newEnvOn(t, "miniredis") }

// newEnvOn builds the env on a store of kind (see storeKinds).
func newEnvOn(t testing.TB, kind string) *env {
	t.Helper()
	cfg, err := pool.ParseConfig([]byte(testConfig))
	require.NoError(t, err)
	e := &env{clock: pool.NewManualClock(t0), log: &testenv.Buffer{}}
	store, seed := newStore(t, kind, cfg)
	e.seed = seed
	return e.serve(t, cfg, store)
}

// serve wires the handler over store.
func (e *env) serve(t testing.TB, cfg *pool.Config, store pool.LeaseStore) *env {
	t.Helper()
	var err error
	e.rec = &fakeReconciler{clock: e.clock}
	n := 0
	var mu sync.Mutex
	e.svc, err = pool.NewService(pool.ServiceOptions{
		Store: store, Config: cfg, Clock: e.clock, Secrets: pool.NewSecrets("test-secret"), Reconciler: e.rec,
		// Deterministic tokens and ids, so two runs of one script answer the same bodies.
		NewToken:     func() string { mu.Lock(); defer mu.Unlock(); n++; return fmt.Sprintf("tok-%03d", n) },
		NewSandboxID: func() string { mu.Lock(); defer mu.Unlock(); n++; return fmt.Sprintf("sb%03d", n) },
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.clock.Advance(d)
			if e.onSleep != nil {
				e.onSleep()
			}
			return ctx.Err()
		},
	})
	require.NoError(t, err)
	e.h = New(Options{Service: e.svc, Token: testToken, Logger: slog.New(slog.NewJSONHandler(e.log, nil)), Clock: e.clock})
	return e
}

// call sends one request through the transport-neutral core.
func (e *env) call(method, path, token, body string) Response {
	h := map[string]string{}
	if token != "" {
		h["authorization"] = "Bearer " + token
	}
	return e.h.Handle(context.Background(), Request{Method: method, Path: path, Headers: h, Body: []byte(body)})
}

// decode reads a JSON response body.
func decode(t testing.TB, r Response) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// errCode reads an error response's code.
func errCode(t testing.TB, r Response) string {
	t.Helper()
	m := decode(t, r)
	e, ok := m["error"].(map[string]any)
	require.True(t, ok, "not an error body: %s", r.Body)
	return e["code"].(string)
}

// fakeReconciler counts passes and reports the state it was asked about: the
// HTTP layer's tests are about the routes, and reconcile has its own.
type fakeReconciler struct {
	mu     sync.Mutex
	passes int
	err    error
	clock  pool.Clock
}

func (r *fakeReconciler) Reconcile(context.Context) (pool.PassReport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.passes++
	if r.err != nil {
		return pool.PassReport{}, r.err
	}
	now := r.clock.Now()
	return pool.PassReport{StartedAt: now, FinishedAt: now, Leader: true, Pools: map[string]api.PoolPassReport{}}, nil
}
