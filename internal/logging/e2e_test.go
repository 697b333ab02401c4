package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/httpapi"
	"github.com/hotpool/hotpool/internal/logging"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redisstate"
)

// TestHandlersNeverLogATokenEndToEnd drives acquire, renew, release, a cold
// claim and its poll, a wrong lease token and a wrong API token through the
// real handlers and Store, then greps the captured log for every secret that
// crossed the wire.
func TestHandlersNeverLogATokenEndToEnd(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	clock := pool.NewManualClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
	store := redisstate.New(rdb, "e2e")
	cfg, err := pool.ParseConfig([]byte(`{"pools": {"python": {"target_ready": 1, "max_ready": 3}}}`))
	require.NoError(t, err)
	svc, err := pool.NewService(pool.ServiceOptions{Store: store, Config: cfg, Clock: clock, Secrets: pool.NewSecrets("deployment-secret")})
	require.NoError(t, err)
	var logBuf bytes.Buffer
	apiToken := "api-" + pool.NewToken()
	h := httpapi.New(httpapi.Options{Service: svc, Token: apiToken, Logger: logging.New(&logBuf, slog.LevelDebug), Clock: clock})

	// One ready sandbox, as reconcile would leave it.
	f := pool.Fence{Token: pool.NewToken()}
	now := clock.Now()
	ok, err := store.Lock(ctx, f, time.Minute, now)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, store.Reserve(ctx, f, pool.ReserveParams{Pool: "python", SandboxID: "sbready", Caps: pool.CapsFor(cfg, *cfg.Pools["python"]),
		Attempt: 1, CreateDeadline: now.Add(10 * time.Minute), Now: now}))
	require.NoError(t, store.MarkReady(ctx, f, "sbready", "app1", "https://sbready.example", now.Add(time.Hour), now))

	secrets := []string{apiToken}
	call := func(method, path, body string, hdr map[string]string) (int, map[string]any) {
		t.Helper()
		headers := map[string]string{"authorization": "Bearer " + apiToken, "content-type": "application/json"}
		for k, v := range hdr {
			headers[k] = v
		}
		resp := h.Handle(ctx, httpapi.Request{Method: method, Path: path, Headers: headers, Body: []byte(body)})
		var m map[string]any
		require.NoError(t, json.Unmarshal(resp.Body, &m), string(resp.Body))
		return resp.Status, m
	}

	status, acq := call("POST", "/acquire", `{"image": "python", "idempotency_key": "job-1"}`, nil)
	require.Equal(t, 200, status, acq)
	lease := acq["lease"].(map[string]any)["token"].(string)
	agent := acq["sandbox"].(map[string]any)["agent_token"].(string)
	secrets = append(secrets, lease, agent)

	// A careless client that sends its lease token as the request id: the
	// handler accepts it as sane and logs it, and redaction must catch it.
	status, _ = call("POST", "/acquire/renew", `{"sandbox_id": "sbready", "lease_token": "`+lease+`", "lease_seconds": 600}`,
		map[string]string{"x-request-id": lease})
	require.Equal(t, 200, status)

	wrong := pool.NewToken()
	secrets = append(secrets, wrong)
	status, _ = call("POST", "/release", `{"sandbox_id": "sbready", "lease_token": "`+wrong+`"}`, nil)
	require.Equal(t, 403, status)
	status, _ = call("POST", "/acquire", `{"image": "python"}`, map[string]string{"authorization": "Bearer " + wrong})
	require.Equal(t, 401, status)

	status, claim := call("POST", "/acquire", `{"image": "python"}`, nil)
	require.Equal(t, 202, status, claim)
	claimID := claim["claim"].(map[string]any)["id"].(string)
	secrets = append(secrets, claimID)
	status, _ = call("POST", "/acquire", `{"claim_id": "`+claimID+`"}`, nil)
	require.Equal(t, 202, status)

	status, rel := call("POST", "/release", `{"sandbox_id": "sbready", "lease_token": "`+lease+`"}`, nil)
	require.Equal(t, 200, status, rel)

	out := logBuf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 7, "one line per request:\n%s", out)
	for _, op := range []string{`"op":"acquire"`, `"op":"renew"`, `"op":"release"`, `"op":"auth"`} {
		require.Contains(t, out, op)
	}
	for _, s := range secrets {
		require.NotEmpty(t, s)
		require.NotContains(t, out, s, "a secret reached the log:\n%s", out)
	}
	require.Contains(t, out, `"request_id":"`+logging.Redacted+`"`, "the token sent as a request id was redacted, not dropped silently")
}
