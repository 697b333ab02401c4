package mcpserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/testenv"
)

const token = "mcp-test-token"

// The deployment the tools run against: a warm python pool, a node pool,
// one that only cold-starts (its deployments take 1 s), and one that fails
// when empty.
const config = `{
  "pools": {
    "python": {"target_ready": 2, "max_ready": 4},
    "node":   {"target_ready": 1, "max_ready": 2},
    "cold":   {"target_ready": 0, "max_ready": 2, "on_empty": "create", "template": {"repository": "sandbox-python-service"}},
    "empty":  {"target_ready": 0, "max_ready": 1, "on_empty": "fail", "template": {"repository": "sandbox-python-service"}}
  }
}`

type harness struct {
	local   *localserver.Server
	api     *client.Client
	srv     *Server
	session *mcp.ClientSession
	log     *testenv.Buffer
	done    chan error
	// results are every tool result the model saw, as JSON.
	mu       sync.Mutex
	results  []string
	progress []string
}

// start runs the real local server, the MCP server over the SDK's in-memory
// transport, and the SDK's own client.
func start(t *testing.T, o Options) *harness {
	t.Helper()
	cfg, err := pool.ParseConfig([]byte(config))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	local, err := localserver.Start(ctx, localserver.Options{Addr: "127.0.0.1:0", Config: cfg, Token: token,
		SimCreateDelay: time.Second, ReconcileEvery: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); <-local.Done() })
	api, err := client.New(local.BaseURL, token, client.WithBackoff(50*time.Millisecond, 200*time.Millisecond))
	require.NoError(t, err)
	_, err = api.WarmUp(ctx, 30*time.Second)
	require.NoError(t, err)

	h := &harness{local: local, api: api, log: &testenv.Buffer{}, done: make(chan error, 1)}
	o.Client = api
	o.Logger = slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.srv = New(o)
	ct, st := mcp.NewInMemoryTransports()
	go func() { h.done <- h.srv.Run(ctx, st) }()
	cl := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.progress = append(h.progress, r.Params.Message)
		},
	})
	h.session, err = cl.Connect(ctx, ct, nil)
	require.NoError(t, err)
	return h
}

// call runs a tool and returns its structured result (or, for an error, its
// text) and whether it was an error.
func (h *harness) call(t *testing.T, ctx context.Context, name string, args map[string]any) (map[string]any, string, bool) {
	t.Helper()
	res, err := h.session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err, "a tool's failure is a result, never a protocol error")
	raw, _ := json.Marshal(res)
	h.mu.Lock()
	h.results = append(h.results, string(raw))
	h.mu.Unlock()
	var text string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	var out map[string]any
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		require.NoError(t, json.Unmarshal(b, &out))
	}
	return out, text, res.IsError
}

func TestToolsAreListedWithSchemasAndDescriptions(t *testing.T) {
	h := start(t, Options{})
	res, err := h.session.ListTools(context.Background(), nil)
	require.NoError(t, err)
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		require.NotEmpty(t, tool.Description, tool.Name)
		schema, _ := json.Marshal(tool.InputSchema)
		require.Contains(t, string(schema), `"type":"object"`, tool.Name)
	}
	require.ElementsMatch(t, []string{"sandbox_acquire", "sandbox_exec", "sandbox_write_file", "sandbox_read_file",
		"sandbox_list_files", "sandbox_renew", "sandbox_release", "run_code", "hotpool_pools"}, names)
	for _, tool := range res.Tools {
		if tool.Name == "sandbox_exec" {
			schema, _ := json.Marshal(tool.InputSchema)
			require.Contains(t, string(schema), `"required":["sandbox_id","command"]`)
			require.Contains(t, string(schema), "working directory; default /workspace", "fields carry their descriptions")
		}
	}
}

func TestRunCodeRunsEachLanguageAndAlwaysReleases(t *testing.T) {
	h := start(t, Options{})
	ctx := context.Background()
	out, text, isErr := h.call(t, ctx, "run_code", map[string]any{"language": "python", "code": "print(6*7)"})
	require.False(t, isErr, text)
	require.Equal(t, "42\n", out["stdout"])
	require.EqualValues(t, 0, out["exit_code"])
	out, _, isErr = h.call(t, ctx, "run_code", map[string]any{"language": "bash", "code": "echo from bash; echo oops >&2; exit 3"})
	require.False(t, isErr)
	require.Equal(t, "from bash\n", out["stdout"])
	require.Equal(t, "oops\n", out["stderr"])
	require.EqualValues(t, 3, out["exit_code"], "a failing program is a result")
	out, _, isErr = h.call(t, ctx, "run_code", map[string]any{"language": "node", "code": "console.log(6*7)"})
	require.False(t, isErr)
	require.Equal(t, "42\n", out["stdout"])

	_, text, isErr = h.call(t, ctx, "run_code", map[string]any{"language": "cobol", "code": "x"})
	require.True(t, isErr)
	require.Contains(t, text, "invalid_request")
	require.Contains(t, text, "use python, node or bash")
	require.Empty(t, h.srv.Held(), "run_code keeps nothing")
	require.Eventually(t, func() bool {
		m, err := h.api.Metrics(ctx)
		return err == nil && m.Pools["python"].InUse == 0 && m.Pools["node"].InUse == 0
	}, 10*time.Second, 50*time.Millisecond, "every run_code sandbox was released")
}

// An agent's multi-call session: acquire, write, run, list, read, renew,
// release, with each failure answered as a tool result that says what next.
func TestASandboxAcrossCalls(t *testing.T) {
	h := start(t, Options{OutputCap: 1000})
	ctx := context.Background()
	out, text, isErr := h.call(t, ctx, "sandbox_acquire", map[string]any{})
	require.False(t, isErr, text)
	id := out["sandbox_id"].(string)
	require.Equal(t, "python", out["image"], "the default image")
	require.Equal(t, "pool", out["source"])
	require.NotEmpty(t, out["expires_at"])

	_, text, isErr = h.call(t, ctx, "sandbox_write_file", map[string]any{"sandbox_id": id, "path": "/workspace/data/in.txt", "content": "hello\n"})
	require.False(t, isErr, text)
	_, text, isErr = h.call(t, ctx, "sandbox_write_file", map[string]any{"sandbox_id": id, "path": "/workspace/bin.dat", "content": "AP8=", "encoding": "base64"})
	require.False(t, isErr, text)
	out, _, _ = h.call(t, ctx, "sandbox_exec", map[string]any{"sandbox_id": id, "command": "cat data/in.txt; echo $X; pwd", "env": map[string]any{"X": "y"}})
	require.Contains(t, out["stdout"], "hello\ny\n")
	require.Equal(t, false, out["truncated"])
	out, _, _ = h.call(t, ctx, "sandbox_list_files", map[string]any{"sandbox_id": id})
	require.Equal(t, "/workspace", out["path"])
	require.Len(t, out["entries"], 2)
	out, _, _ = h.call(t, ctx, "sandbox_read_file", map[string]any{"sandbox_id": id, "path": "/workspace/data/in.txt"})
	require.Equal(t, "hello\n", out["content"])
	require.Equal(t, "utf8", out["encoding"])
	out, _, _ = h.call(t, ctx, "sandbox_read_file", map[string]any{"sandbox_id": id, "path": "/workspace/bin.dat"})
	require.Equal(t, "AP8=", out["content"])
	require.Equal(t, "base64", out["encoding"])
	out, _, _ = h.call(t, ctx, "sandbox_read_file", map[string]any{"sandbox_id": id, "path": "/workspace/data/in.txt", "max_bytes": 2})
	require.Equal(t, "he", out["content"])
	require.Equal(t, true, out["truncated"])
	require.EqualValues(t, 6, out["size"])

	// The output cap keeps the tail.
	out, _, _ = h.call(t, ctx, "sandbox_exec", map[string]any{"sandbox_id": id, "command": "seq 1 20000"})
	require.Equal(t, true, out["truncated"])
	stdout := out["stdout"].(string)
	require.LessOrEqual(t, len(stdout), 1100)
	require.True(t, strings.HasSuffix(stdout, "19999\n20000\n"), "the end is kept")
	require.Contains(t, stdout, "earlier output cut")

	// Errors, each with its code and the next step.
	for _, tc := range []struct {
		tool string
		args map[string]any
		want []string
	}{
		{"sandbox_exec", map[string]any{"sandbox_id": id, "command": "echo partial; sleep 5", "timeout_seconds": 1}, []string{"exec_timeout", "raise timeout_seconds", "partial"}},
		{"sandbox_read_file", map[string]any{"sandbox_id": id, "path": "/etc/passwd"}, []string{"path_not_allowed", "/workspace"}},
		{"sandbox_read_file", map[string]any{"sandbox_id": id, "path": "/workspace/nope"}, []string{"file_not_found", "sandbox_list_files"}},
		{"sandbox_list_files", map[string]any{"sandbox_id": id, "path": "/workspace/bin.dat"}, []string{"invalid_request"}},
		{"sandbox_write_file", map[string]any{"sandbox_id": id, "path": "/workspace/x", "content": "!!", "encoding": "base64"}, []string{"invalid_request", "base64"}},
		{"sandbox_exec", map[string]any{"sandbox_id": "sb-nope", "command": "ls"}, []string{"unknown_sandbox", id, "sandbox_acquire"}},
		{"sandbox_renew", map[string]any{"sandbox_id": id, "lease_seconds": 0}, []string{"invalid_request"}},
		{"sandbox_acquire", map[string]any{"image": "empty"}, []string{"pool_exhausted", "hotpool_pools"}},
		{"sandbox_acquire", map[string]any{"image": "ruby"}, []string{"unknown_image", "hotpool_pools"}},
		{"sandbox_release", map[string]any{"sandbox_id": "sb-nope"}, []string{"unknown_sandbox", "sandbox_acquire"}},
		{"sandbox_write_file", map[string]any{"sandbox_id": id, "path": "/etc/x", "content": "x"}, []string{"path_not_allowed"}},
		{"run_code", map[string]any{"language": "python", "code": ""}, []string{"invalid_request", "code"}},
	} {
		_, text, isErr := h.call(t, ctx, tc.tool, tc.args)
		require.True(t, isErr, "%s %v", tc.tool, tc.args)
		for _, w := range tc.want {
			require.Contains(t, text, w, "%s %v", tc.tool, tc.args)
		}
	}

	out, text, isErr = h.call(t, ctx, "sandbox_renew", map[string]any{"sandbox_id": id, "lease_seconds": 1200})
	require.False(t, isErr, text)
	exp, err := time.Parse(time.RFC3339Nano, out["expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(20*time.Minute), exp, time.Minute)

	out, text, isErr = h.call(t, ctx, "sandbox_release", map[string]any{"sandbox_id": id})
	require.False(t, isErr, text)
	require.Equal(t, true, out["released"])
	_, text, isErr = h.call(t, ctx, "sandbox_exec", map[string]any{"sandbox_id": id, "command": "ls"})
	require.True(t, isErr)
	require.Contains(t, text, "unknown_sandbox")

	// A sandbox released behind the server's back: its lease is gone.
	out, _, _ = h.call(t, ctx, "sandbox_acquire", map[string]any{"lease_seconds": 600})
	id2 := out["sandbox_id"].(string)
	h.srv.mu.Lock()
	sb := h.srv.held[id2].sb
	h.srv.mu.Unlock()
	_, err = h.api.Release(ctx, sb.ID, sb.LeaseToken)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, text, isErr := h.call(t, ctx, "sandbox_exec", map[string]any{"sandbox_id": id2, "command": "true"})
		return isErr && strings.Contains(text, "lease_expired") && strings.Contains(text, "call sandbox_acquire")
	}, 10*time.Second, 50*time.Millisecond)

	out, _, isErr = h.call(t, ctx, "hotpool_pools", map[string]any{})
	require.False(t, isErr)
	pools := out["pools"].([]any)
	require.Len(t, pools, 4)
	require.Equal(t, "cold", pools[0].(map[string]any)["image"])
}

// A server whose API token is wrong says so as a tool result that names
// what a person must fix, for the tool that lists the pools as for the rest.
func TestAWrongAPITokenIsAToolResult(t *testing.T) {
	h := start(t, Options{})
	bad, err := client.New(h.local.BaseURL, "wrong-token", client.WithMaxAttempts(1))
	require.NoError(t, err)
	h.srv.o.Client = bad
	for _, tool := range []string{"hotpool_pools", "sandbox_acquire", "run_code"} {
		args := map[string]any{}
		if tool == "run_code" {
			args = map[string]any{"language": "bash", "code": "true"}
		}
		_, text, isErr := h.call(t, context.Background(), tool, args)
		require.True(t, isErr, tool)
		require.Contains(t, text, "unauthorized", tool)
		require.Contains(t, text, "HOTPOOL_API_TOKEN is wrong", tool)
	}
}

// Tokens stay in the server: no tool result and no log line holds a lease
// or agent token.
func TestTokensNeverReachTheModelOrTheLog(t *testing.T) {
	h := start(t, Options{})
	ctx := context.Background()
	out, _, _ := h.call(t, ctx, "sandbox_acquire", map[string]any{})
	id := out["sandbox_id"].(string)
	h.srv.mu.Lock()
	sb := h.srv.held[id].sb
	h.srv.mu.Unlock()
	secrets := []string{sb.LeaseToken, sb.AgentToken, token}
	h.call(t, ctx, "sandbox_exec", map[string]any{"sandbox_id": id, "command": "env; echo $HOTPOOL_API_TOKEN"})
	h.call(t, ctx, "sandbox_exec", map[string]any{"sandbox_id": id, "command": "sleep 3", "timeout_seconds": 1})
	h.call(t, ctx, "sandbox_renew", map[string]any{"sandbox_id": id, "lease_seconds": 600})
	h.call(t, ctx, "run_code", map[string]any{"language": "python", "code": "import os; print(os.environ)"})
	h.call(t, ctx, "sandbox_release", map[string]any{"sandbox_id": id})
	h.call(t, ctx, "sandbox_exec", map[string]any{"sandbox_id": id, "command": "true"})
	require.NoError(t, h.session.Close())
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	require.GreaterOrEqual(t, len(h.results), 6)
	all := strings.Join(h.results, "\n") + h.log.String()
	require.Contains(t, all, id, "the id is what the model sees")
	for _, s := range secrets {
		require.NotEmpty(t, s)
		require.NotContains(t, all, s)
	}
}

// When the client goes, every sandbox the server holds is released, and its
// log says so.
func TestSandboxesAreReleasedWhenTheClientDisconnects(t *testing.T) {
	h := start(t, Options{})
	ctx := context.Background()
	var ids []string
	for range 2 {
		out, text, isErr := h.call(t, ctx, "sandbox_acquire", map[string]any{})
		require.False(t, isErr, text)
		ids = append(ids, out["sandbox_id"].(string))
	}
	m, err := h.api.Metrics(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, m.Pools["python"].InUse)
	require.NoError(t, h.session.Close())
	require.NoError(t, <-h.done)
	m, err = h.api.Metrics(ctx)
	require.NoError(t, err)
	require.Zero(t, m.Pools["python"].InUse, "both released")
	require.Contains(t, h.log.String(), "released the sandboxes still held on exit")
	for _, id := range ids {
		require.Contains(t, h.log.String(), id)
	}
}

// A cold start reports its progress while the deployment runs; a caller who
// gives up cancels the claim, whose sandbox then joins the pool.
func TestColdStartReportsProgressAndACancelCancelsTheClaim(t *testing.T) {
	progressEvery = 200 * time.Millisecond
	t.Cleanup(func() { progressEvery = 2 * time.Second })
	h := start(t, Options{})
	ctx := context.Background()
	// The SDK's SetProgressToken drops the token when Meta is nil (v1.4.0):
	// set the field itself.
	params := &mcp.CallToolParams{Name: "sandbox_acquire", Arguments: map[string]any{"image": "cold"}, Meta: mcp.Meta{"progressToken": "tok-1"}}
	res, err := h.session.CallTool(ctx, params)
	require.NoError(t, err)
	require.False(t, res.IsError)
	h.mu.Lock()
	got := append([]string(nil), h.progress...)
	h.mu.Unlock()
	require.NotEmpty(t, got, "progress while the sandbox deployed: %s", h.log.String())
	require.Contains(t, got[0], "pool cold is empty: a sandbox is being created")

	cctx, cancel := context.WithCancel(ctx)
	params.Meta = mcp.Meta{"progressToken": "tok-2"}
	errc := make(chan error, 1)
	go func() {
		_, err := h.session.CallTool(cctx, params)
		errc <- err
	}()
	require.Eventually(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.progress) > len(got)
	}, 10*time.Second, 20*time.Millisecond, "the second cold start began")
	cancel()
	require.Error(t, <-errc)
	require.Eventually(t, func() bool {
		m, err := h.api.Metrics(ctx)
		return err == nil && m.Pools["cold"].InUse == 1 && m.Pools["cold"].Ready == 1
	}, 15*time.Second, 50*time.Millisecond, "the cancelled claim's sandbox joined the pool instead of staying leased")
	require.Len(t, h.srv.Held(), 1, "only the first acquire is held")
}

// Held leases are renewed while the server runs, up to MaxHold after their
// acquire; past it they are left to run out.
func TestLeasesAreRenewedUpToMaxHold(t *testing.T) {
	h := start(t, Options{MaxHold: 30 * time.Minute, Lease: 10 * time.Minute})
	ctx := context.Background()
	out, _, _ := h.call(t, ctx, "sandbox_acquire", map[string]any{"lease_seconds": 120})
	id := out["sandbox_id"].(string)
	h.srv.mu.Lock()
	hd := h.srv.held[id]
	h.srv.mu.Unlock()
	first := hd.sb.LeaseExpiresAt
	h.srv.renewDue(ctx, time.Now())
	require.True(t, hd.sb.LeaseExpiresAt.After(first.Add(5*time.Minute)), "renewed by Lease: %v -> %v", first, hd.sb.LeaseExpiresAt)
	renewed := hd.sb.LeaseExpiresAt
	h.srv.renewDue(ctx, time.Now())
	require.Equal(t, renewed, hd.sb.LeaseExpiresAt, "not due again yet")
	h.srv.renewDue(ctx, hd.acquiredAt.Add(31*time.Minute))
	require.Equal(t, renewed, hd.sb.LeaseExpiresAt, "past MaxHold it is left to run out")
}
