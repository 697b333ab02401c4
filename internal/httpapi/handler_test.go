package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

func TestEveryEndpointRefusesMissingOrWrongToken(t *testing.T) {
	e := newEnv(t)
	e.seed.addReady("python", "sb-a", t0)
	routes := []struct{ method, path, body string }{
		{"POST", "/acquire", `{"image":"python"}`},
		{"POST", "/acquire/renew", `{"sandbox_id":"sb-a","lease_token":"x"}`},
		{"POST", "/release", `{"sandbox_id":"sb-a","lease_token":"x"}`},
		{"GET", "/metrics", ``},
		{"POST", "/reconcile", `{}`},
		{"GET", "/acquire", ``},          // wrong method: still 401 first
		{"POST", "/nope", `{}`},          // unknown route: still 401 first
		{"POST", "/acquire", `not json`}, // bad body: never read
	}
	auths := map[string]string{
		"missing":      "",
		"wrong":        "Bearer wrong-token",
		"prefix":       "Bearer " + testToken[:len(testToken)-1],
		"longer":       "Bearer " + testToken + "x",
		"basic scheme": "Basic " + testToken,
		"bare token":   testToken,
	}
	for _, rt := range routes {
		for name, auth := range auths {
			t.Run(rt.method+rt.path+"/"+name, func(t *testing.T) {
				h := map[string]string{}
				if auth != "" {
					h["authorization"] = auth
				}
				r := e.h.Handle(context.Background(), Request{Method: rt.method, Path: rt.path, Headers: h, Body: []byte(rt.body)})
				require.Equal(t, http.StatusUnauthorized, r.Status)
				require.Equal(t, "unauthorized", errCode(t, r))
			})
		}
	}
	// Nothing was acquired by any refused request.
	snap, err := e.svc.Metrics(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, snap.Pools["python"].Ready)
	require.Zero(t, e.rec.passes)
}

func TestEmptyConfiguredTokenRefusesEverything(t *testing.T) {
	e := newEnv(t)
	h := New(Options{Service: e.svc, Token: "", Logger: slog.New(slog.DiscardHandler)})
	r := h.Handle(context.Background(), Request{Method: "GET", Path: "/metrics", Headers: map[string]string{"authorization": "Bearer "}})
	require.Equal(t, http.StatusUnauthorized, r.Status)
}

func TestConfiguredTokenIsTrimmedLikeAPresentedOne(t *testing.T) {
	e := newEnv(t)
	get := func(configured, presented string) int {
		h := New(Options{Service: e.svc, Token: configured, Logger: slog.New(slog.DiscardHandler)})
		return h.Handle(context.Background(), Request{Method: "GET", Path: "/metrics", Headers: map[string]string{"authorization": "Bearer " + presented}}).Status
	}
	require.Equal(t, http.StatusOK, get(testToken+"\r\n", testToken), "a trailing newline from a .env file")
	require.Equal(t, http.StatusUnauthorized, get(testToken+"\n", "wrong"))
	require.Equal(t, http.StatusUnauthorized, get(" \n", ""), "a blank token is no token")
}

func TestHealthzNeedsNoToken(t *testing.T) {
	e := newEnv(t)
	r := e.call("GET", "/healthz", "", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "ok", decode(t, r)["status"])
	require.Equal(t, http.StatusMethodNotAllowed, e.call("POST", "/healthz", "", "").Status)
}

func TestAcquireWarmHitThenRenewAndRelease(t *testing.T) {
	onEveryStore(t, testAcquireWarmHitThenRenewAndRelease)
}

func testAcquireWarmHitThenRenewAndRelease(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	e.seed.addReady("python", "sb-a", t0.Add(-time.Minute))
	r := e.call("POST", "/acquire", testToken, `{"image":"python","lease_seconds":600}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	m := decode(t, r)
	require.Equal(t, "pool", m["source"])
	sb := m["sandbox"].(map[string]any)
	require.Equal(t, "sb-a", sb["id"])
	require.Equal(t, "python", sb["image"])
	require.Equal(t, "app-sb-a", sb["app_id"])
	require.Equal(t, pool.NewSecrets("test-secret").AgentToken("sb-a"), sb["agent_token"])
	require.Equal(t, "2026-03-01T11:59:00.000Z", sb["ready_at"])
	lease := m["lease"].(map[string]any)
	token := lease["token"].(string)
	require.NotEmpty(t, token)
	require.Equal(t, "2026-03-01T12:10:00.000Z", lease["expires_at"])

	e.clock.Advance(time.Minute)
	r = e.call("POST", "/acquire/renew", testToken, fmt.Sprintf(`{"sandbox_id":"sb-a","lease_token":%q,"lease_seconds":300}`, token))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, "2026-03-01T12:06:00.000Z", decode(t, r)["lease"].(map[string]any)["expires_at"])

	r = e.call("POST", "/acquire/renew", testToken, `{"sandbox_id":"sb-a","lease_token":"not-the-token"}`)
	require.Equal(t, http.StatusForbidden, r.Status)
	require.Equal(t, "lease_mismatch", errCode(t, r))

	body := fmt.Sprintf(`{"sandbox_id":"sb-a","lease_token":%q}`, token)
	for range 2 { // releasing again with the same token answers 200 again
		r = e.call("POST", "/release", testToken, body)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		require.Equal(t, map[string]any{"sandbox_id": "sb-a", "state": "deleting"}, decode(t, r))
	}
	r = e.call("POST", "/release", testToken, `{"sandbox_id":"nope","lease_token":"x"}`)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "sandbox_not_found", errCode(t, r))

	// The lease token never reaches the log.
	require.NotContains(t, e.log.String(), token)
	require.NotContains(t, e.log.String(), testToken)
	require.Contains(t, e.log.String(), `"sandbox_id":"sb-a"`)
}

func TestRenewOfExpiredLease(t *testing.T) { onEveryStore(t, testRenewOfExpiredLease) }

func testRenewOfExpiredLease(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	e.seed.addReady("python", "sb-a", t0)
	m := decode(t, e.call("POST", "/acquire", testToken, `{"image":"python","lease_seconds":60}`))
	token := m["lease"].(map[string]any)["token"].(string)
	e.clock.Advance(2 * time.Minute)
	r := e.call("POST", "/acquire/renew", testToken, fmt.Sprintf(`{"sandbox_id":"sb-a","lease_token":%q}`, token))
	require.Equal(t, http.StatusConflict, r.Status)
	require.Equal(t, "lease_expired", errCode(t, r))
}

func TestAcquireEmptyPoolFailIsExhaustedWithRetryAfter(t *testing.T) {
	onEveryStore(t, testAcquireEmptyPoolFailIsExhaustedWithRetryAfter)
}

func testAcquireEmptyPoolFailIsExhaustedWithRetryAfter(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	r := e.call("POST", "/acquire", testToken, `{"image":"node"}`)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	require.Equal(t, "pool_exhausted", errCode(t, r))
	require.Equal(t, "5", r.Headers["Retry-After"])
}

func TestAcquireColdClaimPollsUntilReady(t *testing.T) {
	onEveryStore(t, testAcquireColdClaimPollsUntilReady)
}

func testAcquireColdClaimPollsUntilReady(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	r := e.call("POST", "/acquire", testToken, `{"image":"python"}`)
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	require.Equal(t, "5", r.Headers["Retry-After"])
	claim := decode(t, r)["claim"].(map[string]any)
	require.Equal(t, "creating", claim["status"])
	require.EqualValues(t, 5, claim["retry_after_seconds"])
	poll := fmt.Sprintf(`{"claim_id":%q}`, claim["id"])

	r = e.call("POST", "/acquire", testToken, poll)
	require.Equal(t, http.StatusAccepted, r.Status)

	e.seed.readyClaims(t0.Add(40 * time.Second))
	r = e.call("POST", "/acquire", testToken, poll)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	first := decode(t, r)
	require.Equal(t, "cold", first["source"])
	// Polling again answers the same lease: the token is derived from the claim id.
	r = e.call("POST", "/acquire", testToken, poll)
	require.Equal(t, first, decode(t, r))

	r = e.call("POST", "/acquire", testToken, `{"claim_id":"never-issued"}`)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "claim_not_found", errCode(t, r))
}

func TestIdempotentAcquireReplays(t *testing.T) { onEveryStore(t, testIdempotentAcquireReplays) }

func testIdempotentAcquireReplays(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	e.seed.addReady("python", "sb-a", t0)
	e.seed.addReady("python", "sb-b", t0)
	body := `{"image":"python","idempotency_key":"job-42"}`
	r1 := e.call("POST", "/acquire", testToken, body)
	require.Equal(t, http.StatusOK, r1.Status)
	require.Empty(t, r1.Headers["Idempotent-Replay"])
	r2 := e.call("POST", "/acquire", testToken, body)
	require.Equal(t, http.StatusOK, r2.Status)
	require.Equal(t, "true", r2.Headers["Idempotent-Replay"])
	first := decode(t, r1)
	require.Equal(t, first, decode(t, r2))

	// Released, the key leases the next sandbox with a new lease token: the
	// key scopes a retry, and the old token opens nothing.
	idOf := func(m map[string]any) string { return m["sandbox"].(map[string]any)["id"].(string) }
	tokenOf := func(m map[string]any) string { return m["lease"].(map[string]any)["token"].(string) }
	rel := e.call("POST", "/release", testToken, `{"sandbox_id":"`+idOf(first)+`","lease_token":"`+tokenOf(first)+`"}`)
	require.Equal(t, http.StatusOK, rel.Status, "%s", rel.Body)
	r3 := e.call("POST", "/acquire", testToken, body)
	require.Equal(t, http.StatusOK, r3.Status, "%s", r3.Body)
	require.Empty(t, r3.Headers["Idempotent-Replay"])
	next := decode(t, r3)
	require.NotEqual(t, idOf(first), idOf(next))
	require.NotEqual(t, tokenOf(first), tokenOf(next))
	renew := e.call("POST", "/acquire/renew", testToken, `{"sandbox_id":"`+idOf(next)+`","lease_token":"`+tokenOf(first)+`"}`)
	require.Equal(t, http.StatusForbidden, renew.Status, "the first acquisition's token does not hold the second's lease: %s", renew.Body)
	require.Contains(t, string(renew.Body), `"lease_mismatch"`)
}

func TestAcquireWaitsForAReadySandbox(t *testing.T) {
	onEveryStore(t, testAcquireWaitsForAReadySandbox)
}

func testAcquireWaitsForAReadySandbox(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	// The pool fills 300 ms (of the manual clock) into the wait.
	filled := false
	e.onSleep = func() {
		if !filled && !e.clock.Now().Before(t0.Add(300*time.Millisecond)) {
			filled = true
			e.seed.addReady("node", "sb-late", e.clock.Now())
		}
	}
	r := e.call("POST", "/acquire", testToken, `{"image":"node","wait_seconds":2}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, "sb-late", decode(t, r)["sandbox"].(map[string]any)["id"])
	require.True(t, e.clock.Now().Before(t0.Add(2*time.Second)), "answered before the wait ran out")

	e.onSleep = nil
	// With nothing arriving, the wait runs out and on_empty (fail) applies.
	start := e.clock.Now()
	r = e.call("POST", "/acquire", testToken, `{"image":"node","wait_seconds":3}`)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	require.Equal(t, "pool_exhausted", errCode(t, r))
	require.Equal(t, start.Add(3*time.Second), e.clock.Now())
}

func TestInvalidRequestsNameTheField(t *testing.T) { onEveryStore(t, testInvalidRequestsNameTheField) }

func testInvalidRequestsNameTheField(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	cases := []struct{ name, path, body, field string }{
		{"empty body", "/acquire", ``, "body"},
		{"not an object", "/acquire", `[1]`, "body"},
		{"malformed", "/acquire", `{"image":`, "body"},
		{"trailing data", "/acquire", `{"image":"python"} {}`, "body"},
		{"trailing bracket", "/acquire", `{"image":"python"}]`, "body"},
		{"unknown field", "/acquire", `{"image":"python","colour":"red"}`, "colour"},
		{"image wrong type", "/acquire", `{"image":7}`, "image"},
		{"image missing", "/acquire", `{"lease_seconds":60}`, "image"},
		{"image empty", "/acquire", `{"image":""}`, "image"},
		{"lease fractional", "/acquire", `{"image":"python","lease_seconds":1.5}`, "lease_seconds"},
		{"lease huge", "/acquire", `{"image":"python","lease_seconds":1e30}`, "lease_seconds"},
		{"lease zero", "/acquire", `{"image":"python","lease_seconds":0}`, "lease_seconds"},
		{"lease over max_lease", "/acquire", `{"image":"python","lease_seconds":3601}`, "lease_seconds"},
		{"wait too long", "/acquire", `{"image":"python","wait_seconds":26}`, "wait_seconds"},
		{"wait negative", "/acquire", `{"image":"python","wait_seconds":-1}`, "wait_seconds"},
		{"idempotency key control char", "/acquire", `{"image":"python","idempotency_key":"a\u0001"}`, "idempotency_key"},
		{"idempotency key too long", "/acquire", `{"image":"python","idempotency_key":"` + strings.Repeat("k", 129) + `"}`, "idempotency_key"},
		{"claim with image", "/acquire", `{"claim_id":"c","image":"python"}`, "claim_id"},
		{"renew no token", "/acquire/renew", `{"sandbox_id":"a"}`, "lease_token"},
		{"renew lease zero", "/acquire/renew", `{"sandbox_id":"a","lease_token":"t","lease_seconds":0}`, "lease_seconds"},
		{"release no id", "/release", `{"lease_token":"t"}`, "sandbox_id"},
		{"release extra field", "/release", `{"sandbox_id":"a","lease_token":"t","lease_seconds":5}`, "lease_seconds"},
		{"reconcile bad action", "/reconcile", `{"action":"explode"}`, "action"},
		{"reconcile pool on pass", "/reconcile", `{"pool":"python"}`, "pool"},
		{"reconcile timeout too long", "/reconcile", `{"action":"warm_up","timeout_seconds":26}`, "timeout_seconds"},
		{"oversized", "/acquire", `{"image":"python","idempotency_key":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call("POST", c.path, testToken, c.body)
			require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
			m := decode(t, r)["error"].(map[string]any)
			require.Equal(t, "invalid_request", m["code"])
			require.Equal(t, c.field, m["details"].(map[string]any)["field"], m["message"])
			require.True(t, strings.HasPrefix(m["message"].(string), c.field+":"), m["message"])
		})
	}
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t)
	r := e.call("POST", "/acquire/nope", testToken, `{}`)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "not_found", errCode(t, r))

	r = e.call("GET", "/acquire", testToken, ``)
	require.Equal(t, http.StatusMethodNotAllowed, r.Status)
	require.Equal(t, "method_not_allowed", errCode(t, r))
	require.Equal(t, "POST", r.Headers["Allow"])

	r = e.call("POST", "/acquire", testToken, `{"image":"ruby"}`)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "unknown_image", errCode(t, r))

	// A trailing slash routes like the bare path.
	r = e.call("GET", "/metrics/", testToken, ``)
	require.Equal(t, http.StatusOK, r.Status)
}

func TestBackendOutageIsUnavailableNeverInternal(t *testing.T) {
	e := newEnvOn(t, "down")
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/acquire", `{"image":"python"}`},
		{"POST", "/acquire", `{"claim_id":"c"}`},
		{"POST", "/acquire/renew", `{"sandbox_id":"a","lease_token":"t"}`},
		{"POST", "/release", `{"sandbox_id":"a","lease_token":"t"}`},
		{"GET", "/metrics", ``},
		{"POST", "/reconcile", `{"action":"shutdown"}`},
		{"POST", "/reconcile", `{"action":"warm_up"}`},
	} {
		r := e.call(c.method, c.path, testToken, c.body)
		require.Equal(t, http.StatusServiceUnavailable, r.Status, c.path+" "+string(r.Body))
		require.Equal(t, "unavailable", errCode(t, r))
		require.Equal(t, "2", r.Headers["Retry-After"])
		require.NotContains(t, string(r.Body), "127.0.0.1", "backend detail stays in the log")
	}
	require.Contains(t, e.log.String(), "connection refused")
}

func TestPanicIsRecoveredAsInternal(t *testing.T) {
	e := newEnv(t)
	cfg, err := pool.ParseConfig([]byte(testConfig))
	require.NoError(t, err)
	store, _ := newStore(t, "miniredis", cfg)
	e.serve(t, cfg, panickyStore{store})
	r := e.call("POST", "/acquire", testToken, `{"image":"python"}`)
	require.Equal(t, http.StatusInternalServerError, r.Status)
	require.Equal(t, "internal", errCode(t, r))
	require.NotEmpty(t, r.Headers["X-Request-Id"])
	require.Contains(t, e.log.String(), "injected panic")
	require.Contains(t, e.log.String(), `"op":"acquire"`, "the line names the route that panicked")
}

// panickyStore is a real store whose Acquire panics, as a bug would.
type panickyStore struct{ pool.LeaseStore }

func (panickyStore) Acquire(context.Context, pool.AcquireParams) (pool.AcquireResult, error) {
	panic("injected panic")
}

func TestRequestIDEchoedOrMinted(t *testing.T) {
	e := newEnv(t)
	h := map[string]string{"authorization": "Bearer " + testToken, "x-request-id": "req-abc.1"}
	r := e.h.Handle(context.Background(), Request{Method: "GET", Path: "/metrics", Headers: h})
	require.Equal(t, "req-abc.1", r.Headers["X-Request-Id"])
	require.Contains(t, e.log.String(), `"request_id":"req-abc.1"`)

	h["x-request-id"] = "evil\r\nSet-Cookie: x"
	r = e.h.Handle(context.Background(), Request{Method: "GET", Path: "/metrics", Headers: h})
	require.Regexp(t, `^[0-9a-f]{16}$`, r.Headers["X-Request-Id"])
}

func TestMetricsJSONAndPrometheus(t *testing.T) { onEveryStore(t, testMetricsJSONAndPrometheus) }

func testMetricsJSONAndPrometheus(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	e.seed.addReady("python", "sb-a", t0)
	e.seed.addReady("python", "sb-b", t0)
	require.Equal(t, http.StatusOK, e.call("POST", "/acquire", testToken, `{"image":"python"}`).Status)

	r := e.call("GET", "/metrics", testToken, ``)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "application/json", r.Headers["Content-Type"])
	m := decode(t, r)
	py := m["pools"].(map[string]any)["python"].(map[string]any)
	require.EqualValues(t, 1, py["ready"])
	require.EqualValues(t, 1, py["in_use"])
	require.EqualValues(t, 1, py["total_acquires"])
	require.EqualValues(t, 1, py["pool_hit_rate"])
	require.EqualValues(t, 2, m["total_sandboxes"])
	require.EqualValues(t, 20, m["max_total_sandboxes"])

	for _, req := range []Request{
		{Method: "GET", Path: "/metrics", Query: "format=prometheus"},
		{Method: "GET", Path: "/metrics", Headers: map[string]string{"accept": "text/plain"}},
	} {
		if req.Headers == nil {
			req.Headers = map[string]string{}
		}
		req.Headers["authorization"] = "Bearer " + testToken
		r = e.h.Handle(context.Background(), req)
		require.Equal(t, http.StatusOK, r.Status)
		require.Contains(t, r.Headers["Content-Type"], "text/plain")
		require.Contains(t, string(r.Body), `hotpool_`)
		require.Contains(t, string(r.Body), `pool="python"`)
	}
	r = e.h.Handle(context.Background(), Request{Method: "GET", Path: "/metrics", Query: "format=xml", Headers: map[string]string{"authorization": "Bearer " + testToken}})
	require.Equal(t, http.StatusBadRequest, r.Status)
}

func TestReconcileActions(t *testing.T) { onEveryStore(t, testReconcileActions) }

func testReconcileActions(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	r := e.call("POST", "/reconcile", testToken, ``)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, true, decode(t, r)["leader"])
	require.Equal(t, 1, e.rec.passes)

	r = e.call("POST", "/reconcile", testToken, `{"action":"shutdown","pool":"python"}`)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, map[string]any{"shutdown": true, "pool": "python"}, decode(t, r))
	require.Equal(t, 2, e.rec.passes, "a pass follows a shutdown")

	r = e.call("POST", "/acquire", testToken, `{"image":"python"}`)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	require.Equal(t, "pool_shutdown", errCode(t, r))
	require.Equal(t, "30", r.Headers["Retry-After"])

	r = e.call("POST", "/reconcile", testToken, `{"action":"start","pool":"python"}`)
	require.Equal(t, map[string]any{"shutdown": false, "pool": "python"}, decode(t, r))
	e.seed.addReady("python", "sb-a", t0)
	require.Equal(t, http.StatusOK, e.call("POST", "/acquire", testToken, `{"image":"python"}`).Status)

	r = e.call("POST", "/reconcile", testToken, `{"action":"shutdown"}`)
	require.Equal(t, map[string]any{"shutdown": true}, decode(t, r))
	r = e.call("POST", "/acquire", testToken, `{"image":"node"}`)
	require.Equal(t, "pool_shutdown", errCode(t, r))

	r = e.call("POST", "/reconcile", testToken, `{"action":"shutdown","pool":"ruby"}`)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "unknown_image", errCode(t, r))

	e.rec.err = fmt.Errorf("%w: lock held", pool.ErrNotLeader)
	r = e.call("POST", "/reconcile", testToken, `{"action":"pass"}`)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
}

// TestAdminActionsHaveTheirOwnRoutes: /reconcile/shutdown, /start and
// /warm-up answer as POST /reconcile with that action does, and refuse a
// body naming another action or a field the action has not.
func TestAdminActionsHaveTheirOwnRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.call("POST", "/reconcile/shutdown", testToken, `{"pool":"python"}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, map[string]any{"shutdown": true, "pool": "python"}, decode(t, r))
	require.Equal(t, 1, e.rec.passes, "a pass follows a shutdown, as on /reconcile")
	require.Equal(t, "pool_shutdown", errCode(t, e.call("POST", "/acquire", testToken, `{"image":"python"}`)))

	r = e.call("POST", "/reconcile/start", testToken, `{"pool":"python","action":"start"}`)
	require.Equal(t, http.StatusOK, r.Status, "the route's own action may be repeated")
	require.Equal(t, map[string]any{"shutdown": false, "pool": "python"}, decode(t, r))

	r = e.call("POST", "/reconcile/shutdown", testToken, ``)
	require.Equal(t, map[string]any{"shutdown": true}, decode(t, r), "no body: the whole manager")
	r = e.call("POST", "/reconcile/start", testToken, `{}`)
	require.Equal(t, map[string]any{"shutdown": false}, decode(t, r))

	r = e.call("POST", "/reconcile/warm-up", testToken, `{"timeout_seconds":0}`)
	require.Equal(t, http.StatusGatewayTimeout, r.Status)
	require.Equal(t, "warm_up_timeout", errCode(t, r))

	for path, body := range map[string]string{
		"/reconcile/shutdown": `{"action":"start"}`,
		"/reconcile/warm-up":  `{"pool":"python"}`,
		"/reconcile/start":    `{"timeout_seconds":3}`,
	} {
		r = e.call("POST", path, testToken, body)
		require.Equal(t, http.StatusBadRequest, r.Status, path+" "+body)
		require.Equal(t, "invalid_request", errCode(t, r))
	}
	r = e.call("GET", "/reconcile/shutdown", testToken, ``)
	require.Equal(t, http.StatusMethodNotAllowed, r.Status)
	require.Equal(t, http.StatusUnauthorized, e.call("POST", "/reconcile/start", "wrong", ``).Status)
}

func TestWarmUpReportsAndTimesOut(t *testing.T) { onEveryStore(t, testWarmUpReportsAndTimesOut) }

func testWarmUpReportsAndTimesOut(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	e.seed.addReady("python", "sb-a", t0)
	r := e.call("POST", "/reconcile", testToken, `{"action":"warm_up","timeout_seconds":5}`)
	require.Equal(t, http.StatusGatewayTimeout, r.Status, string(r.Body))
	m := decode(t, r)["error"].(map[string]any)
	require.Equal(t, "warm_up_timeout", m["code"])
	require.Equal(t, map[string]any{
		"python": map[string]any{"ready": 1.0, "target": 2.0},
		"node":   map[string]any{"ready": 0.0, "target": 1.0},
	}, m["details"].(map[string]any)["pools"])
	require.Equal(t, t0.Add(5*time.Second), e.clock.Now(), "waited out the whole timeout")

	e.seed.addReady("python", "sb-b", t0)
	e.seed.addReady("node", "sb-c", t0)
	r = e.call("POST", "/reconcile", testToken, `{"action":"warm_up"}`)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, true, decode(t, r)["done"])
}

func TestErrorMessagesReadAsTheDomainsWords(t *testing.T) {
	wrapped := fmt.Errorf("redisstate: release: %w", pool.ErrLeaseMismatch)
	require.Equal(t, "lease token does not match", message(ruleFor(wrapped), wrapped))
	ex := &pool.PoolError{Pool: "python", Err: fmt.Errorf("redisstate: acquire: %w (empty)", pool.ErrPoolExhausted)}
	require.Equal(t, `pool "python": pool exhausted (empty)`, message(ruleFor(ex), ex))
	require.JSONEq(t, `{"pool":"python"}`, string(details(ex)))
	require.Equal(t, "pool_exhausted", ruleFor(ex).code)
	many := &pool.PoolError{Pool: "ruby", Err: fmt.Errorf("redisstate: acquire: %w (50)", pool.ErrTooManyPools)}
	require.Equal(t, "too_many_pools", ruleFor(many).code, "its own code, though it is also exhaustion")
	require.Equal(t, http.StatusServiceUnavailable, ruleFor(many).status)
	require.Equal(t, `pool "ruby": too many pools: default_pool_config already serves max_dynamic_pools pools; empty ones are collected after their idle_timeout (50)`,
		message(ruleFor(many), many))
	img := fmt.Errorf("%w: %q", pool.ErrUnknownImage, "ruby")
	require.Equal(t, `unknown image: "ruby"`, message(ruleFor(img), img))
	outage := fmt.Errorf("%w: %v", pool.ErrUnavailable, errors.New("dial tcp 127.0.0.1:6379: connection refused"))
	require.NotContains(t, message(ruleFor(outage), outage), "6379", "backend detail stays in the log")
}

// A caller that gives up on a cold start cancels its claim: the claim ends
// (its polls answer claim_not_found), and its sandbox, ready but never
// handed out, joins the pool and serves the next acquire instead of being
// held for nobody. A served claim cannot be cancelled.
func TestCancelledClaimsSandboxJoinsThePool(t *testing.T) {
	for _, kind := range []string{"miniredis", "redis"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnvOn(t, kind)
			r := e.call("POST", "/acquire", testToken, `{"image":"python"}`)
			require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
			id := decode(t, r)["claim"].(map[string]any)["id"].(string)
			e.seed.readyClaims(t0) // deployed: held in_use for the claim, not yet handed out

			c := e.call("POST", "/acquire/cancel", testToken, `{"claim_id":"`+id+`"}`)
			require.Equal(t, http.StatusOK, c.Status, "%s", c.Body)
			require.Equal(t, map[string]any{"id": id, "status": "cancelled", "sandbox_to_pool": true}, decode(t, c)["claim"])
			p := e.call("POST", "/acquire", testToken, `{"claim_id":"`+id+`"}`)
			require.Equal(t, http.StatusNotFound, p.Status)
			require.Equal(t, "claim_not_found", errCode(t, p))

			next := e.call("POST", "/acquire", testToken, `{"image":"python"}`)
			require.Equal(t, http.StatusOK, next.Status, "the claim's sandbox serves the next acquire: %s", next.Body)
			require.Equal(t, "pool", decode(t, next)["source"])

			again := e.call("POST", "/acquire/cancel", testToken, `{"claim_id":"`+id+`"}`)
			require.Equal(t, http.StatusOK, again.Status, "cancelling twice is harmless")

			// Served claims are the holder's to release.
			r = e.call("POST", "/acquire", testToken, `{"image":"python"}`)
			require.Equal(t, http.StatusAccepted, r.Status)
			id2 := decode(t, r)["claim"].(map[string]any)["id"].(string)
			e.seed.readyClaims(t0)
			served := e.call("POST", "/acquire", testToken, `{"claim_id":"`+id2+`"}`)
			require.Equal(t, http.StatusOK, served.Status)
			late := e.call("POST", "/acquire/cancel", testToken, `{"claim_id":"`+id2+`"}`)
			require.Equal(t, http.StatusConflict, late.Status)
			require.Equal(t, "state_conflict", errCode(t, late))

			for _, bad := range []string{`{}`, `{"claim_id":""}`, `{"claim_id":"x","image":"python"}`} {
				b := e.call("POST", "/acquire/cancel", testToken, bad)
				require.Equal(t, http.StatusBadRequest, b.Status, bad)
			}
			u := e.call("POST", "/acquire/cancel", testToken, `{"claim_id":"never"}`)
			require.Equal(t, http.StatusNotFound, u.Status)
		})
	}
}

// TestErrorTableAnswersTheContractsCodes: every code the table answers is
// one of package api's, the list the client maps, and every one of those is
// answered by some row.
func TestErrorTableAnswersTheContractsCodes(t *testing.T) {
	answered := map[string]bool{internalRule.code: true}
	for _, r := range errorTable {
		require.Contains(t, api.Codes, r.code)
		answered[r.code] = true
	}
	for _, c := range api.Codes {
		require.True(t, answered[c], c)
	}
}
