package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/sandboxagent"
)

// The contract test: the client against sandboxagent, the service-mode
// agent's contract (do-app-sandbox's images/sandbox_api/main.py) written
// down as a working agent. Every route, status and error shape of
// docs/agent.md is exercised here.

func contractAgent(t *testing.T, token string) (*httptest.Server, *sandboxagent.Agent) {
	ag := &sandboxagent.Agent{Token: token, Root: t.TempDir()}
	require.NoError(t, ag.MakeRoots())
	srv := httptest.NewServer(ag)
	t.Cleanup(srv.Close)
	return srv, ag
}

func agentSandbox(t *testing.T, srv *httptest.Server, token string) *Sandbox {
	c, err := New("http://127.0.0.1:1", testToken)
	require.NoError(t, err)
	return &Sandbox{ID: "sb1", Image: "python", URL: srv.URL + "/", AgentToken: token, c: c}
}

func TestContractExec(t *testing.T) {
	srv, ag := contractAgent(t, "agent-tok")
	sb := agentSandbox(t, srv, "agent-tok")
	ctx := context.Background()
	res, err := sb.Exec(ctx, "echo $((6*7)); echo $A; pwd; exit 3", ExecOptions{Env: map[string]string{"A": "from-env"}})
	require.NoError(t, err, "a failing command is a result, not an error")
	require.Equal(t, 3, res.ExitCode)
	require.Equal(t, "42\nfrom-env\n"+filepath.Join(ag.Root, "workspace")+"\n", res.Stdout, "cwd defaults to /workspace")

	res, err = sb.Exec(ctx, "pwd; echo oops >&2", ExecOptions{Cwd: "/tmp"})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(ag.Root, "tmp")+"\n", res.Stdout)
	require.Equal(t, "oops\n", res.Stderr)

	_, err = sb.Exec(ctx, "echo partial; sleep 5", ExecOptions{Timeout: time.Second})
	require.ErrorIs(t, err, ErrExecTimeout, "408 Command timed out, with no partial output")

	_, err = sb.Exec(ctx, "true", ExecOptions{Cwd: "/workspace/missing"})
	var ae *AgentError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 500, ae.Status, "a missing cwd is the agent's plain-text 500")
	require.Equal(t, "Internal Server Error", ae.Message)

	_, err = sb.Exec(ctx, "  ", ExecOptions{})
	require.ErrorIs(t, err, ErrInvalidRequest)
}

func TestContractAuth(t *testing.T) {
	srv, _ := contractAgent(t, "agent-tok")
	ctx := context.Background()
	_, err := agentSandbox(t, srv, "other-tok").Exec(ctx, "ls", ExecOptions{})
	require.ErrorIs(t, err, ErrUnauthorized, "a wrong token is 403")
	var ae *AgentError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 403, ae.Status)
	require.NotContains(t, err.Error(), "other-tok")

	// A missing header is 401 (raw: the client always sends one).
	res, err := http.Post(srv.URL+"/api/exec", "application/json", strings.NewReader(`{"command":"ls"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)

	// An agent without SANDBOX_API_TOKEN answers 503 to everything but /health.
	unset, _ := contractAgent(t, "")
	_, err = agentSandbox(t, unset, "x").Exec(ctx, "ls", ExecOptions{})
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 503, ae.Status)
	require.Equal(t, "Server not configured: SANDBOX_API_TOKEN is not set", ae.Message)
	res, err = http.Get(unset.URL + "/health")
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&h))
	res.Body.Close()
	require.Equal(t, "healthy", h["status"])

	// A bad body is 422 with detail as a list.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/exec", strings.NewReader(`{"cwd":"/tmp"}`))
	req.Header.Set("Authorization", "Bearer agent-tok")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var d struct {
		Detail []map[string]any `json:"detail"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&d))
	res.Body.Close()
	require.Equal(t, 422, res.StatusCode)
	require.NotEmpty(t, d.Detail)
}

func TestContractFilesRoundTripAnyBytes(t *testing.T) {
	srv, ag := contractAgent(t, "agent-tok")
	sb := agentSandbox(t, srv, "agent-tok")
	ctx := context.Background()
	data := []byte("print('hi')\r\n\x00\xff binary")
	require.NoError(t, sb.WriteFile(ctx, "/workspace/sub/user_code.py", data))
	onDisk, err := os.ReadFile(filepath.Join(ag.Root, "workspace", "sub", "user_code.py"))
	require.NoError(t, err)
	require.Equal(t, data, onDisk, "written files are really on disk")
	got, err := sb.ReadFile(ctx, "/workspace/sub/user_code.py")
	require.NoError(t, err)
	require.Equal(t, data, got, "ReadFile is byte-exact (the download route)")

	res, err := sb.Exec(ctx, "cat sub/user_code.py | wc -c", ExecOptions{})
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(len(data)), strings.TrimSpace(res.Stdout), "exec sees the file")

	_, err = sb.ReadFile(ctx, "/workspace/nope")
	require.ErrorIs(t, err, ErrFileNotFound)
	_, err = sb.ReadFile(ctx, "/etc/passwd")
	require.ErrorIs(t, err, ErrPathNotAllowed)
	require.ErrorIs(t, sb.WriteFile(ctx, "/root/x", []byte("x")), ErrPathNotAllowed)
	require.ErrorIs(t, sb.WriteFile(ctx, "", nil), ErrInvalidRequest)

	// The text route translates newlines and marks non-UTF-8 as base64.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/files/content?path=/workspace/sub/user_code.py", nil)
	req.Header.Set("Authorization", "Bearer agent-tok")
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var text map[string]string
	require.NoError(t, json.NewDecoder(r.Body).Decode(&text))
	r.Body.Close()
	require.Equal(t, "base64", text["encoding"])
	require.NoError(t, sb.WriteFile(ctx, "/tmp/t.txt", []byte("a\r\nb")))
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/api/files/content?path=/tmp/t.txt", nil)
	req.Header.Set("Authorization", "Bearer agent-tok")
	r, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(r.Body).Decode(&text))
	r.Body.Close()
	require.Equal(t, "a\nb", text["content"])

	// A route the agent does not have is a 404 of another kind.
	r, err = http.Post(srv.URL+"/api/files/write", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, 404, r.StatusCode)
}

func TestExecWithoutAgentIsAClearError(t *testing.T) {
	c, err := New("http://127.0.0.1:1", testToken)
	require.NoError(t, err)
	sb := &Sandbox{ID: "sb1", c: c}
	_, err = sb.Exec(context.Background(), "ls", ExecOptions{})
	require.ErrorContains(t, err, "no agent URL or token")
	var zero *Sandbox
	_, err = zero.Exec(context.Background(), "ls", ExecOptions{})
	require.Error(t, err)
}

// TestExecOutlivesTheRequestTimeout: an exec with its own timeout waits for
// the command (its timeout plus a grace), not the client's per-request bound,
// which still cuts an agent call that sets none, and an API try.
func TestExecOutlivesTheRequestTimeout(t *testing.T) {
	const slow = 300 * time.Millisecond
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(slow)
		writeJSON(w, 200, map[string]any{"stdout": "done\n", "content": "", "encoding": "utf-8"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, testToken, WithMaxAttempts(1))
	require.NoError(t, err)
	c.reqTimeout = slow / 3
	sb := &Sandbox{ID: "sb1", URL: srv.URL, AgentToken: "agent-tok", c: c}
	ctx := context.Background()

	res, err := sb.Exec(ctx, "sleep 1", ExecOptions{Timeout: 2 * time.Second})
	require.NoError(t, err, "the command's own timeout bounds an exec")
	require.Equal(t, "done\n", res.Stdout)

	_, err = sb.ReadFile(ctx, "/tmp/x")
	require.ErrorIs(t, err, ErrUnavailable, "a call without its own timeout keeps the request bound")
	_, err = c.Metrics(ctx)
	require.ErrorIs(t, err, ErrUnavailable, "an API try keeps the request bound")
}
