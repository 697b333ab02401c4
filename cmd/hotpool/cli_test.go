package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/sandboxagent"
)

const cliToken = "cli-test-token"

// contractServer is a small in-memory server speaking the hotpool contract,
// enough to drive every CLI command; the end-to-end tests use the real one.
type contractServer struct {
	mu        sync.Mutex
	leases    map[string]string // sandbox id -> lease token
	exhausted bool
	cold      bool // acquire answers a claim first
	warmCalls int
	reqs      []map[string]any
}

func newContractServer(t *testing.T) (*contractServer, string) {
	cs := &contractServer{leases: map[string]string{}}
	srv := httptest.NewServer(cs)
	t.Cleanup(srv.Close)
	t.Setenv("HOTPOOL_URL", srv.URL)
	t.Setenv("HOTPOOL_API_TOKEN", cliToken)
	for _, k := range []string{"HOTPOOL_LEASE_TOKEN", "HOTPOOL_SANDBOX_ID", "HOTPOOL_SANDBOX_URL", "HOTPOOL_AGENT_TOKEN"} {
		t.Setenv(k, "")
	}
	return cs, srv.URL
}

func cliJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func cliErr(w http.ResponseWriter, status int, code, msg, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	cliJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func (cs *contractServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+cliToken {
		cliErr(w, 401, "unauthorized", "missing or wrong bearer token", "")
		return
	}
	var body map[string]any
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		_ = json.Unmarshal(b, &body)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.reqs = append(cs.reqs, body)
	switch r.URL.Path {
	case "/acquire":
		if cs.exhausted {
			cliErr(w, 503, "pool_exhausted", `no ready sandbox in pool "python"`, "5")
			return
		}
		if cs.cold && body["claim_id"] == nil {
			cliJSON(w, 202, map[string]any{"claim": map[string]any{"id": "claim-1", "status": "creating", "retry_after_seconds": 0}})
			return
		}
		if body["claim_id"] != nil {
			body["image"] = "go"
		}
		id := "sb" + string(rune('a'+len(cs.leases)))
		cs.leases[id] = "lease-" + id
		cliJSON(w, 200, map[string]any{
			"sandbox": map[string]any{"id": id, "image": body["image"], "app_id": "app-" + id, "url": "https://" + id + ".example",
				"region": "nyc", "instance_size": "apps-s-1vcpu-1gb", "created_at": "2026-01-02T03:04:05Z",
				"ready_at": "2026-01-02T03:05:05Z", "agent_token": "agent-" + id},
			"lease":  map[string]any{"token": "lease-" + id, "expires_at": "2026-01-02T03:20:05Z"},
			"source": "pool",
		})
	case "/release", "/acquire/renew":
		id, _ := body["sandbox_id"].(string)
		tok, ok := cs.leases[id]
		switch {
		case !ok:
			cliErr(w, 404, "sandbox_not_found", "no sandbox "+id, "")
		case tok != body["lease_token"]:
			cliErr(w, 403, "lease_mismatch", "lease token is not the holder's", "")
		case r.URL.Path == "/release":
			cliJSON(w, 200, map[string]any{"sandbox_id": id, "state": "deleting"})
		default:
			cliJSON(w, 200, map[string]any{"sandbox_id": id, "lease": map[string]any{"expires_at": "2026-01-02T04:00:00Z"}})
		}
	case "/metrics":
		if r.URL.Query().Get("format") == "prometheus" {
			_, _ = io.WriteString(w, "hotpool_ready{pool=\"python\"} 2\n")
			return
		}
		cliJSON(w, 200, map[string]any{"pools": map[string]any{
			"python": map[string]any{"ready": 2, "target_ready": 3, "creating": 1, "in_use": 1, "total_acquires": 10, "pool_hit_rate": 0.9, "avg_acquire_latency_ms": 1.25,
				"acquire_latency_ms": map[string]any{"warm": map[string]any{"count": 9, "sum": 10.8}, "cold": map[string]any{"count": 1, "sum": 61000}}},
			"node": map[string]any{"ready": 0, "target_ready": 1, "shutdown": true, "circuit": map[string]any{"state": "open"}},
		}, "total_sandboxes": 4, "max_total_sandboxes": 50})
	case "/reconcile":
		switch body["action"] {
		case "shutdown", "start":
			cliJSON(w, 200, map[string]any{"shutdown": body["action"] == "shutdown", "pool": body["pool"]})
		case "warm_up":
			cs.warmCalls++
			ready := min(cs.warmCalls, 3)
			if cs.exhausted {
				ready = 1 // never gets there
			}
			pools := map[string]any{"python": map[string]any{"ready": ready, "target": 3}, "node": map[string]any{"ready": 1, "target": 1}}
			if ready < 3 || cs.exhausted {
				cliJSON(w, 504, map[string]any{"error": map[string]any{"code": "warm_up_timeout", "message": "not yet", "details": map[string]any{"pools": pools}}})
				return
			}
			cliJSON(w, 200, map[string]any{"done": true, "pools": pools})
		default:
			cliJSON(w, 200, map[string]any{"started_at": "2026-01-02T03:04:05Z", "finished_at": "2026-01-02T03:04:05.250Z", "leader": true,
				"pools": map[string]any{"python": map[string]any{"ready": 2, "target": 3, "created": 1, "circuit": "closed"}}, "api_calls": 3,
				"errors": []string{"node: create failed:\nquota"}})
		}
	default:
		cliErr(w, 404, "not_found", "no route", "")
	}
}

// cli runs the CLI in-process and returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAcquireReleaseRenew(t *testing.T) {
	newContractServer(t)
	code, out, stderr := cli(t, "acquire", "python", "--lease", "10m")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "sandbox        sba")
	require.Contains(t, out, "lease token    lease-sba")
	require.Contains(t, out, "release with   HOTPOOL_LEASE_TOKEN='lease-sba' hotpool release sba")
	require.NotContains(t, out, "hotpool acquire python --env", "no hint that would lease a second sandbox")
	require.Contains(t, out, "export HOTPOOL_SANDBOX_ID='sba'\nexport HOTPOOL_LEASE_TOKEN='lease-sba'\n"+
		"export HOTPOOL_SANDBOX_URL='https://sba.example'\nexport HOTPOOL_AGENT_TOKEN='agent-sba'\n", "the exports of this very sandbox")

	code, out, stderr = cli(t, "acquire", "--json", "python")
	require.Equal(t, exitOK, code, stderr)
	var got acquireJSON
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, "sbb", got.ID)
	require.Equal(t, "agent-sbb", got.AgentToken)
	require.Equal(t, "lease-sbb", got.LeaseToken)

	code, out, stderr = cli(t, "renew", "sba", "--lease-token", "lease-sba", "--lease", "30m")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "renewed sba: lease expires 2026-01-02T04:00:00Z\n", out)

	t.Setenv("HOTPOOL_LEASE_TOKEN", "lease-sba")
	code, out, stderr = cli(t, "release", "sba")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "released sba (deleting)\n", out)

	code, _, stderr = cli(t, "release", "sbb", "--lease-token", "wrong")
	require.Equal(t, exitError, code)
	require.Equal(t, "hotpool: lease_mismatch: lease token is not the holder's\n", stderr)
}

func TestAcquireExhaustedIsOneLineAndExit3(t *testing.T) {
	cs, _ := newContractServer(t)
	cs.exhausted = true
	code, out, stderr := cli(t, "acquire", "python")
	require.Equal(t, exitUnavailable, code)
	require.Empty(t, out)
	require.Equal(t, "hotpool: pool_exhausted: no ready sandbox in pool \"python\" (retry after 5s)\n", stderr)
}

func TestUsageErrors(t *testing.T) {
	newContractServer(t)
	for _, args := range [][]string{
		{"acquire"},
		{"acquire", "python", "node"},
		{"acquire", "python", "--wait", "30s"},
		{"acquire", "python", "--lease", "soon"},
		{"acquire", "python", "--bogus"},
		{"release", "sba"},
		{"renew"},
		{"metrics", "--json", "--prometheus"},
		{"warm-up"},
		{"shutdown", "a", "b"},
		{"config", "check", "x"},
		{"nope"},
	} {
		code, _, stderr := cli(t, args...)
		require.Equal(t, exitUsage, code, "%v", args)
		require.NotEmpty(t, stderr, "%v", args)
	}
	code, _, stderr := cli(t, "acquire", "-h")
	require.Equal(t, exitOK, code)
	require.Contains(t, stderr, "usage: hotpool acquire IMAGE")
}

func TestFlagsOverrideTheEnvironment(t *testing.T) {
	_, url := newContractServer(t)
	t.Setenv("HOTPOOL_URL", "http://127.0.0.1:1")
	t.Setenv("HOTPOOL_API_TOKEN", "wrong")
	code, _, stderr := cli(t, "metrics", "--url", url, "--token", cliToken)
	require.Equal(t, exitOK, code, stderr)

	code, _, stderr = cli(t, "metrics", "--url", url)
	require.Equal(t, exitError, code)
	require.Equal(t, "hotpool: unauthorized: missing or wrong bearer token: the API token from HOTPOOL_API_TOKEN was refused: "+
		"it is not the server's token (hotpool serve's --token, or the deployment's HOTPOOL_API_TOKEN)\n", stderr)
	require.NotContains(t, stderr, "wrong\n")
}

func TestUnreachableServerExits3(t *testing.T) {
	newContractServer(t)
	t.Setenv("HOTPOOL_URL", "http://127.0.0.1:1")
	code, _, stderr := cli(t, "release", "x", "--lease-token", "y")
	require.Equal(t, exitUnavailable, code)
	require.True(t, strings.HasPrefix(stderr, "hotpool: unavailable: POST http://127.0.0.1:1/release"), stderr)
	require.Equal(t, 1, strings.Count(stderr, "\n"))
	require.NotContains(t, stderr, "y\n")
}

func TestMetricsFormats(t *testing.T) {
	newContractServer(t)
	code, out, stderr := cli(t, "metrics")
	require.Equal(t, exitOK, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	require.Equal(t, []string{"POOL", "READY", "TARGET", "CREATING", "IN_USE", "DELETING", "ACQUIRES", "HIT_RATE", "WARM_MS", "COLD_MS", "STATE"}, strings.Fields(lines[0]))
	require.Equal(t, []string{"node", "0", "1", "0", "0", "0", "0", "0.0%", "-", "-", "shutdown,circuit-open"}, strings.Fields(lines[1]))
	require.Equal(t, []string{"python", "2", "3", "1", "1", "0", "10", "90.0%", "1.2", "61000.0", "active"}, strings.Fields(lines[2]), "warm and cold latencies apart")
	require.Equal(t, "total sandboxes: 4 (max 50)", lines[3])

	code, out, _ = cli(t, "metrics", "--json")
	require.Equal(t, exitOK, code)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.EqualValues(t, 4, doc["total_sandboxes"])

	code, out, _ = cli(t, "metrics", "--prometheus")
	require.Equal(t, exitOK, code)
	require.Equal(t, "hotpool_ready{pool=\"python\"} 2\n", out)
}

func TestWarmUpShowsProgress(t *testing.T) {
	newContractServer(t)
	code, out, stderr := cli(t, "warm-up", "--timeout", "1m", "--interval", "1s")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "node 1/1 python 1/3\nnode 1/1 python 2/3\nnode 1/1 python 3/3\n", stderr, "one line per change when stderr is not a terminal")
	require.Equal(t, "warm: node 1/1 python 3/3\n", out)
}

func TestWarmUpTimeoutExits4(t *testing.T) {
	cs, _ := newContractServer(t)
	cs.exhausted = true // warm_up never finishes
	code, _, stderr := cli(t, "warm-up", "--timeout", "1s", "--interval", "1s")
	require.Equal(t, exitTimeout, code)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Equal(t, "hotpool: warm_up_timeout: pools not at target after 1s: python 1/3", lines[len(lines)-1])
}

func TestProgressRedrawsInPlaceOnATerminal(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, tty: true}
	p.show(map[string]client.PoolProgress{"python": {Ready: 1, Target: 3}})
	p.show(map[string]client.PoolProgress{"python": {Ready: 1, Target: 3}})
	p.show(map[string]client.PoolProgress{"python": {Ready: 3, Target: 3}})
	p.finish()
	require.Equal(t, "\r\033[Kpython 1/3\r\033[Kpython 3/3\n", b.String())
	require.False(t, isTerminal(&b))
}

func TestAdminCommands(t *testing.T) {
	cs, _ := newContractServer(t)
	code, out, stderr := cli(t, "shutdown", "python")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "pool \"python\" shut down: acquire answers pool_shutdown; warm sandboxes are being destroyed\n", out)
	code, out, _ = cli(t, "start")
	require.Equal(t, exitOK, code)
	require.Equal(t, "manager started: reconcile refills it to target_ready\n", out)
	require.Equal(t, map[string]any{"action": "shutdown", "pool": "python"}, cs.reqs[0])
	require.Equal(t, map[string]any{"action": "start"}, cs.reqs[1])

	code, out, _ = cli(t, "reconcile")
	require.Equal(t, exitOK, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, []string{"python", "2", "3", "0", "0", "0", "1", "0", "0", "0", "0", "0", "closed"}, strings.Fields(lines[1]))
	require.Equal(t, "pass took 250ms, 3 App Platform API calls", lines[2])
	require.Equal(t, "error: node: create failed: quota", lines[3])

	code, out, _ = cli(t, "reconcile", "--json")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, `"api_calls": 3`)
}

func TestConfigValidate(t *testing.T) {
	code, out, stderr := cli(t, "config", "validate", "../../examples/config.json")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "../../examples/config.json: ok (2 pools: node, python)\n", out)

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"pools": {"python": {"target_ready": 5, "max_ready": 2, "on_empty": "maybe"}}, "max_concurrent_creates": 0}`), 0o600))
	code, out, stderr = cli(t, "config", "validate", bad)
	require.Equal(t, exitError, code)
	require.Empty(t, out)
	require.Contains(t, stderr, bad+": pools.python.max_ready: must be >= target_ready (5)\n")
	require.Contains(t, stderr, bad+": pools.python.on_empty: must be \"create\" or \"fail\", not \"maybe\"\n")
	require.Contains(t, stderr, bad+": max_concurrent_creates: must be >= 1\n")
	require.Contains(t, stderr, "hotpool: "+bad+": 3 problem(s)\n")

	unknown := filepath.Join(dir, "unknown.yaml")
	require.NoError(t, os.WriteFile(unknown, []byte("pools:\n  python:\n    target_redy: 3\n"), 0o600))
	code, _, stderr = cli(t, "config", "validate", unknown)
	require.Equal(t, exitError, code)
	require.Equal(t, unknown+": pools.python.target_redy: unknown key (did you mean target_ready?)\nhotpool: "+unknown+": 1 problem(s)\n", stderr)

	// Five different mistakes: five lines, each with its path.
	five := filepath.Join(dir, "five.yaml")
	require.NoError(t, os.WriteFile(five, []byte("pools:\n  python:\n    max_redy: 4\n    target_ready: three\n    idle_timeout: 5 minutes\n"+
		"  node:\n    targt_ready: 1\n  python: {}\n"), 0o600))
	code, _, stderr = cli(t, "config", "validate", five)
	require.Equal(t, exitError, code)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Len(t, lines, 6, stderr)
	for _, l := range lines[:5] {
		require.Regexp(t, `^`+regexp.QuoteMeta(five)+`: pools\.(python|node)[a-z_.]*: `, l)
	}
	require.Equal(t, "hotpool: "+five+": 5 problem(s)", lines[5])
	// serve refuses it the same way, with the same exit code.
	code, _, stderr = cli(t, "serve", "--config", five, "--token", "t")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, five+": pools.python.max_redy: unknown key (did you mean max_ready?)")

	code, _, stderr = cli(t, "config", "validate", filepath.Join(dir, "missing.json"))
	require.Equal(t, exitError, code)
	require.Equal(t, 1, strings.Count(stderr, "\n"))
}

func TestAcquireEnvThenExecAndRelease(t *testing.T) {
	newContractServer(t)
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/exec" || r.Header.Get("Authorization") != "Bearer agent-sba" {
			cliJSON(w, 401, map[string]any{"error": "bad agent token"})
			return
		}
		var req map[string]any
		_ = json.NewDecoder(r.Body).Decode(&req)
		cliJSON(w, 200, map[string]any{"stdout": "out: " + req["command"].(string) + " in " + req["cwd"].(string) + "\n", "stderr": "warn\n", "exit_code": 7})
	}))
	t.Cleanup(agent.Close)

	code, out, stderr := cli(t, "acquire", "python", "--env")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "export HOTPOOL_SANDBOX_ID='sba'\nexport HOTPOOL_LEASE_TOKEN='lease-sba'\n"+
		"export HOTPOOL_SANDBOX_URL='https://sba.example'\nexport HOTPOOL_AGENT_TOKEN='agent-sba'\n", out)

	t.Setenv("HOTPOOL_SANDBOX_ID", "sba")
	t.Setenv("HOTPOOL_LEASE_TOKEN", "lease-sba")
	t.Setenv("HOTPOOL_SANDBOX_URL", agent.URL)
	t.Setenv("HOTPOOL_AGENT_TOKEN", "agent-sba")
	code, out, stderr = cli(t, "exec", "--buffered", "--cwd", "/tmp", "--", "python3", "-c", "'print(2+2)'")
	require.Equal(t, 7, code, "exec exits with the command's status")
	require.Equal(t, "out: python3 -c 'print(2+2)' in /tmp\n", out)
	require.Equal(t, "warn\n", stderr)

	code, _, stderr = cli(t, "exec", "--buffered", "--agent-token", "wrong", "ls")
	require.Equal(t, exitError, code)
	require.Equal(t, "hotpool: the sandbox's agent refused the agent token (sandbox agent: HTTP 401: bad agent token): use the agent_token that acquire returned (HOTPOOL_AGENT_TOKEN, printed by acquire --env)\n", stderr)

	code, out, stderr = cli(t, "release")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "released sba (deleting)\n", out)
}

func TestShellQuote(t *testing.T) {
	require.Equal(t, `'it'\''s'`, shellQuote("it's"))
}

func TestHelpListsCommandsEnvironmentAndExitCodes(t *testing.T) {
	code, out, _ := cli(t, "help")
	require.Equal(t, exitOK, code)
	for _, name := range []string{"acquire", "release", "renew", "exec", "metrics", "warm-up", "shutdown", "start", "reconcile", "config"} {
		require.Contains(t, out, "\n  "+name+" ")
	}
	require.Contains(t, out, "HOTPOOL_API_TOKEN")
	require.Contains(t, out, "exit codes: 0 ok, 1 failed, 2 bad usage, 3 unreachable or 503, 4 timed out")
	code, _, _ = cli(t)
	require.Equal(t, exitUsage, code)
}

func TestAcquireSaysWhenItWaitsForAColdStart(t *testing.T) {
	cs, _ := newContractServer(t)
	cs.cold = true
	code, out, stderr := cli(t, "acquire", "go", "--json")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "hotpool: pool \"go\" is empty: a sandbox is being created for you (a deployment takes 30-90 s; --timeout 5m0s)\n", stderr)
	var got acquireJSON
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, "go", got.Image)
}

// startLocalForCLI runs the real local server with config (fast simulated
// deployments), points the CLI at it and warms it up.
func startLocalForCLI(t *testing.T, config string) {
	t.Helper()
	startLocalIsolated(t, config, sandboxagent.Isolation{})
}

// startLocalIsolated is startLocalForCLI with the sandboxes' commands
// confined as iso says.
func startLocalIsolated(t *testing.T, config string, iso sandboxagent.Isolation) {
	t.Helper()
	cfg, err := pool.ParseConfig([]byte(config))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := localserver.Start(ctx, localserver.Options{Addr: "127.0.0.1:0", Config: cfg, Token: cliToken,
		SimCreateDelay: 50 * time.Millisecond, ReconcileEvery: 100 * time.Millisecond, SandboxIsolation: iso})
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); <-s.Done() })
	t.Setenv("HOTPOOL_URL", s.BaseURL)
	t.Setenv("HOTPOOL_API_TOKEN", cliToken)
	code, _, stderr := cli(t, "warm-up", "--timeout", "30s", "--interval", "1s")
	require.Equal(t, exitOK, code, stderr)
}

// TestCLIErrorsAgainstTheLocalServer: the real server's errors come out as one
// line with the documented exit code.
func TestCLIErrorsAgainstTheLocalServer(t *testing.T) {
	startLocalForCLI(t, `{"pools": {"node": {"target_ready": 1, "max_ready": 1, "on_empty": "fail"}}}`)
	code, _, stderr := cli(t, "acquire", "node")
	require.Equal(t, exitOK, code, stderr)
	for _, tc := range []struct {
		args   []string
		code   int
		prefix string
	}{
		{[]string{"acquire", "node"}, exitUnavailable, "hotpool: pool_exhausted: "},
		{[]string{"acquire", "ruby"}, exitError, "hotpool: unknown_image: "},
		{[]string{"release", "nosuch", "--lease-token", "t"}, exitError, "hotpool: sandbox_not_found: "},
		{[]string{"metrics", "--token", "wrong"}, exitError, "hotpool: unauthorized: "},
	} {
		code, out, stderr := cli(t, tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, stderr)
		require.Empty(t, out)
		require.True(t, strings.HasPrefix(stderr, tc.prefix), "%v: %q", tc.args, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "%v: one line: %q", tc.args, stderr)
	}
	// Messages that say what to do next.
	_, _, stderr = cli(t, "acquire", "ruby")
	require.Contains(t, stderr, `unknown image: "ruby": the pools are node; add it to pools, or set default_pool_config`)
	code, _, stderr = cli(t, "shutdown", "node")
	require.Equal(t, exitOK, code, stderr)
	_, _, stderr = cli(t, "acquire", "node")
	require.Contains(t, stderr, `hotpool: pool_shutdown: pool "node" is shut down (or the whole manager is): start it again with 'hotpool start node'`)
	require.NotContains(t, stderr, "retry after")
}

// TestLocalSandboxesRunCommandsAndStopAtRelease: against `serve`'s simulated
// platform, `hotpool exec` really runs the command (42, exit status 3), and
// once the sandbox is released its agent stops answering.
func TestLocalSandboxesRunCommandsAndStopAtRelease(t *testing.T) {
	startLocalForCLI(t, `{"pools": {"python": {"target_ready": 1, "max_ready": 2}}}`)
	code, out, stderr := cli(t, "acquire", "python", "--env")
	require.Equal(t, exitOK, code, stderr)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "=")
		require.True(t, ok, l)
		t.Setenv(k, strings.Trim(v, "'"))
	}
	code, out, _ = cli(t, "exec", "--", "echo $((6*7)); exit 3")
	require.Equal(t, 3, code, "the command's own exit status")
	require.Equal(t, "42\n", out)

	code, _, stderr = cli(t, "release")
	require.Equal(t, exitOK, code, stderr)
	released := time.Now()
	// The release kicks a pass that deletes the app: its agent goes with it.
	require.Eventually(t, func() bool {
		code, _, _ := cli(t, "exec", "--", "true")
		return code != exitOK
	}, 10*time.Second, 10*time.Millisecond, "a released sandbox stops answering")
	t.Logf("the released sandbox refused exec %v after the release", time.Since(released))
	code, _, stderr = cli(t, "exec", "--", "true")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "is gone: it was released or its lease expired", "exec after release says why")
	require.Contains(t, stderr, "acquire another")
	code, _, stderr = cli(t, "renew", "--lease", "10m")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "hotpool: lease_expired: lease released:", "renew after release says released, not expired")
}

// --version answers, and a bad flag value is one line that says where help is.
func TestVersionAndOneLineFlagErrors(t *testing.T) {
	code, out, _ := cli(t, "--version")
	require.Equal(t, exitOK, code)
	require.True(t, strings.HasPrefix(out, "hotpool "), out)
	code, out, stderr := cli(t, "acquire", "python", "--lease", "abc")
	require.Equal(t, exitUsage, code)
	require.Empty(t, out)
	require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	require.Contains(t, stderr, `hotpool acquire: invalid value "abc" for flag -lease`)
	require.Contains(t, stderr, "(run 'hotpool acquire -h')")
	code, _, stderr = cli(t, "acquire", "-h")
	require.Equal(t, exitOK, code)
	require.Contains(t, stderr, "usage: hotpool acquire IMAGE")
	require.Contains(t, stderr, "-lease", "-h still prints the flags")

	// HOTPOOL_URL set to a function's own URL, or to a server that is not hotpool.
	t.Setenv("HOTPOOL_API_TOKEN", "t")
	t.Setenv("HOTPOOL_URL", "https://faas.example/api/v1/web/fn-1/hotpool/metrics")
	code, _, stderr = cli(t, "metrics")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "use the deployment's base URL, https://faas.example/api/v1/web/fn-1/hotpool")
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	t.Setenv("HOTPOOL_URL", other.URL)
	code, _, stderr = cli(t, "metrics")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "GET "+other.URL+"/metrics: is the URL the base URL of a hotpool deployment")
	require.Equal(t, 1, strings.Count(stderr, "\n"))
}

// An unauthorized answer says which token was sent, from where, and what to
// set instead.
func TestUnauthorizedSaysWhichTokenToFix(t *testing.T) {
	startLocalForCLI(t, `{"pools": {"python": {"target_ready": 0, "max_ready": 1}}}`)
	t.Setenv("HOTPOOL_API_TOKEN", "")
	code, _, stderr := cli(t, "metrics")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "no API token was sent: set HOTPOOL_API_TOKEN (or pass --token)")
	t.Setenv("HOTPOOL_API_TOKEN", "wrong")
	_, _, stderr = cli(t, "metrics")
	require.Contains(t, stderr, "the API token from HOTPOOL_API_TOKEN was refused")
	_, _, stderr = cli(t, "metrics", "--token", "also-wrong")
	require.Contains(t, stderr, "the API token from --token was refused")
	require.NotContains(t, stderr, "also-wrong", "the token itself is never printed")
	require.Equal(t, 1, strings.Count(stderr, "\n"))
}

// The README's cap rule as the validator applies it: a sum of targets above
// max_total_sandboxes is a warning, and the exit code is 0.
func TestTargetsAboveTheCapAreAWarning(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.json")
	require.NoError(t, os.WriteFile(f, []byte(`{"pools": {"python": {"target_ready": 5}}, "max_total_sandboxes": 3}`), 0o600))
	code, out, stderr := cli(t, "config", "validate", f)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "ok (1 pools: python)")
	require.Contains(t, stderr, "warning: max_total_sandboxes (3) is below the sum of target_ready over pools (5)")
}
