package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/pool"
)

// lines decodes every JSON line written to buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ln := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if ln == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(ln), &m), ln)
		out = append(out, m)
	}
	return out
}

type leaseReq struct {
	SandboxID  string
	LeaseToken string
	Nested     map[string]string
}

type stringer string

func (s stringer) String() string { return "request with " + string(s) }

func TestTokensNeverReachTheLog(t *testing.T) {
	lease := pool.NewToken()
	agent := pool.NewSecrets("k").AgentToken("sb1")
	claim := pool.NewToken()
	apiToken := "s3cr3t-api-token"
	doToken := "dop_v1_" + strings.Repeat("ab12", 16)

	var buf bytes.Buffer
	l := New(&buf, slog.LevelDebug)
	l.Info("secret keys",
		"lease_token", lease, "LeaseToken", lease, "agent_token", agent, "token", apiToken,
		"Authorization", "Bearer "+apiToken, "digitalocean_token", doToken, "password", "hunter2",
		"secret", "x", "X-Agent-Token", agent, "claim_id", claim)
	l.Info("secret values",
		"header", "Authorization: Bearer "+apiToken,
		"body", fmt.Sprintf(`{"sandbox_id":"sb1","lease_token":%q}`, lease),
		"note", "agent "+agent+" and do "+doToken,
		"two", lease+","+claim,
		"err", fmt.Errorf("release %s: %w", lease, errors.New("mismatch")),
		"stringer", stringer(agent),
		"struct", leaseReq{SandboxID: "sb1", LeaseToken: lease, Nested: map[string]string{"agent_token": agent, "free": "bearer " + apiToken}},
	)
	l.WithGroup("credentials").Info("grouped", "value", "plain-looking")
	l.With("token", apiToken).Info("with")
	LogRequest(context.Background(), l, Request{Op: "release", SandboxID: "sb1", Status: 500, Outcome: "internal",
		Err: fmt.Errorf("redis: lease %s", lease)})

	out := buf.String()
	for name, secret := range map[string]string{"lease": lease, "agent": agent, "claim": claim, "api": apiToken, "do": doToken, "password": "hunter2", "grouped": "plain-looking"} {
		require.NotContains(t, out, secret, "%s secret leaked:\n%s", name, out)
	}
	ls := lines(t, &buf)
	require.Len(t, ls, 5)
	require.Equal(t, Redacted, ls[0]["lease_token"])
	require.Equal(t, "Authorization: Bearer "+Redacted, ls[1]["header"], "the shape of the line survives")
	require.Equal(t, "sb1", ls[1]["struct"].(map[string]any)["SandboxID"], "non-secret fields of a struct survive")
	require.Contains(t, ls[1]["err"], "mismatch")
	require.Equal(t, "sb1", ls[4]["sandbox_id"])
}

func TestOrdinaryValuesUntouched(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, slog.LevelInfo)
	hash := pool.HashToken("x") // 64 hex: stored form, not a secret
	id := pool.NewSandboxID()
	l.Info("m", "sandbox_id", id, "pool", "python", "app_url", "https://hp-python-"+id+".ondigitalocean.app", "hash", hash, "n", 3, "s", struct{ A int }{1})
	m := lines(t, &buf)[0]
	require.Equal(t, id, m["sandbox_id"])
	require.Equal(t, hash, m["hash"])
	require.Equal(t, "https://hp-python-"+id+".ondigitalocean.app", m["app_url"])
	require.EqualValues(t, 3, m["n"])
	require.Equal(t, map[string]any{"A": 1.0}, m["s"])
}

func TestScrub(t *testing.T) {
	tok := pool.NewToken()
	for in, want := range map[string]string{
		"Bearer abc.def":                    "Bearer " + Redacted,
		"authorization: bearer x, y":        "authorization: bearer " + Redacted + ", y",
		tok:                                 Redacted,
		"(" + tok + ")":                     "(" + Redacted + ")",
		tok + " " + tok:                     Redacted + " " + Redacted,
		"nothing here":                      "nothing here",
		strings.Repeat("a", 44):             strings.Repeat("a", 44),
		"dop_v1_" + strings.Repeat("f", 64): Redacted,
	} {
		require.Equal(t, want, Scrub(in), in)
	}
}

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, ParseLevel("warn"))
	l.Info("hidden")
	l.Warn("shown")
	require.Len(t, lines(t, &buf), 1)
	require.Equal(t, slog.LevelInfo, ParseLevel("nonsense"))
	require.Equal(t, slog.LevelDebug, ParseLevel("DEBUG"))
}

func TestRequestLine(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, slog.LevelInfo)
	LogRequest(context.Background(), l, Request{Op: "acquire", RequestID: "r1", Pool: "python", SandboxID: "sb1",
		Status: 200, Outcome: OutcomeOK, Source: "pool", Duration: 1500 * time.Microsecond})
	LogRequest(context.Background(), l, Request{Op: "acquire", Pool: "python", Status: 503, Outcome: "pool_exhausted"})
	ls := lines(t, &buf)
	require.Equal(t, "request", ls[0]["msg"])
	require.Equal(t, "INFO", ls[0]["level"])
	for k, v := range map[string]any{"op": "acquire", "request_id": "r1", "pool": "python", "sandbox_id": "sb1", "status": 200.0, "outcome": "ok", "source": "pool", "duration_ms": 1.5} {
		require.Equal(t, v, ls[0][k], k)
	}
	require.Equal(t, "ERROR", ls[1]["level"])
	require.NotContains(t, ls[1], "sandbox_id", "empty fields are left out")
}

func TestPassLine(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rep := pool.PassReport{StartedAt: start, FinishedAt: start.Add(250 * time.Millisecond), Leader: true, APICalls: 4,
		Pools: map[string]api.PoolPassReport{
			"python": {Ready: 2, Target: 3, Created: 1, Circuit: "closed"},
			"node":   {Ready: 0, Target: 1, Failed: 2, Circuit: "open: 3 failures", Idle: true},
		},
		Errors: []string{"node: create: 500 Internal Server Error"}}
	var buf bytes.Buffer
	l := New(&buf, slog.LevelInfo)
	LogPass(context.Background(), l, rep, nil, true)
	LogPass(context.Background(), l, pool.PassReport{StartedAt: start, FinishedAt: start}, nil, false)
	LogPass(context.Background(), l, pool.PassReport{}, errors.New("redis: connection refused"), true)
	// A quiet pass that did nothing, as the one before it: debug, not info.
	idle := pool.PassReport{StartedAt: start, FinishedAt: start, Leader: true, Pools: map[string]api.PoolPassReport{"python": {Ready: 3, Target: 3}}}
	LogPass(context.Background(), l, idle, nil, true)
	ls := lines(t, &buf)
	require.Len(t, ls, 3, "warnings and errors are never quiet; the idle pass is")
	require.Equal(t, "WARN", ls[0]["level"], "a pass with item errors warns")
	require.Equal(t, "reconcile", ls[0]["op"])
	require.Equal(t, OutcomeOK, ls[0]["outcome"])
	require.Equal(t, 250.0, ls[0]["duration_ms"])
	pools := ls[0]["pools"].(map[string]any)
	require.Equal(t, map[string]any{"ready": 2.0, "target": 3.0, "created": 1.0}, pools["python"])
	require.Equal(t, map[string]any{"ready": 0.0, "target": 1.0, "failed": 2.0, "idle": true, "circuit": "open: 3 failures"}, pools["node"])
	require.EqualValues(t, 1, ls[0]["item_errors"])
	require.Equal(t, OutcomeNotLeader, ls[1]["outcome"])
	require.Equal(t, OutcomeError, ls[2]["outcome"])
	require.Equal(t, "ERROR", ls[2]["level"])
	require.Equal(t, "redis: connection refused", ls[2]["error"])

	require.True(t, PassActed(rep))
	require.False(t, PassActed(idle))
	var dbg bytes.Buffer
	LogPass(context.Background(), New(&dbg, slog.LevelDebug), idle, nil, true)
	require.Equal(t, "DEBUG", lines(t, &dbg)[0]["level"])
}
