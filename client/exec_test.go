package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeAgent is an httptest stand-in for the sandbox's service-mode agent: it
// keeps files in memory and "runs" commands by echoing them.
type fakeAgent struct {
	srv   *httptest.Server
	token string
	mu    sync.Mutex
	files map[string][]byte
	execs []execRequest
}

func newFakeAgent(t *testing.T, token string) *fakeAgent {
	a := &fakeAgent{token: token, files: map[string][]byte{}}
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, `{"error":"method"}`, http.StatusMethodNotAllowed)
				return
			}
			if r.Header.Get("Authorization") != "Bearer "+a.token {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"bad agent token"}`))
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("/api/exec", auth(func(w http.ResponseWriter, r *http.Request) {
		var req execRequest
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		a.mu.Lock()
		a.execs = append(a.execs, req)
		a.mu.Unlock()
		res := ExecResult{Stdout: "ran: " + req.Command + "\n"}
		if req.Command == "false" {
			res = ExecResult{Stderr: "failed\n", ExitCode: 1}
		}
		writeJSON(w, 200, res)
	}))
	mux.HandleFunc("/api/files/write", auth(func(w http.ResponseWriter, r *http.Request) {
		var req fileRequest
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		require.Equal(t, "base64", req.Encoding)
		b, err := base64.StdEncoding.DecodeString(req.Content)
		require.NoError(t, err)
		a.mu.Lock()
		a.files[req.Path] = b
		a.mu.Unlock()
		writeJSON(w, 200, map[string]any{"path": req.Path, "size": len(b)})
	}))
	mux.HandleFunc("/api/files/read", auth(func(w http.ResponseWriter, r *http.Request) {
		var req fileRequest
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		a.mu.Lock()
		b, ok := a.files[req.Path]
		a.mu.Unlock()
		if !ok {
			writeJSON(w, 404, map[string]any{"error": "no such file: " + req.Path})
			return
		}
		writeJSON(w, 200, map[string]any{"path": req.Path, "content": base64.StdEncoding.EncodeToString(b), "encoding": "base64"})
	}))
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func agentSandbox(t *testing.T, a *fakeAgent, token string) *Sandbox {
	c, err := New("http://127.0.0.1:1", testToken)
	require.NoError(t, err)
	return &Sandbox{ID: "sb1", Image: "python", URL: a.srv.URL + "/", AgentToken: token, c: c}
}

func TestExec(t *testing.T) {
	a := newFakeAgent(t, "agent-tok")
	sb := agentSandbox(t, a, "agent-tok")
	ctx := context.Background()
	res, err := sb.Exec(ctx, "python3 /tmp/x.py", ExecOptions{Env: map[string]string{"A": "1"}, Cwd: "/tmp", Timeout: 1500 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, &ExecResult{Stdout: "ran: python3 /tmp/x.py\n"}, res)
	require.Equal(t, []execRequest{{Command: "python3 /tmp/x.py", Env: map[string]string{"A": "1"}, Cwd: "/tmp", Timeout: 2}}, a.execs)

	res, err = sb.Exec(ctx, "false", ExecOptions{})
	require.NoError(t, err, "a failing command is a result, not an error")
	require.Equal(t, 1, res.ExitCode)
	require.Equal(t, "failed\n", res.Stderr)

	_, err = sb.Exec(ctx, "  ", ExecOptions{})
	require.ErrorIs(t, err, ErrInvalidRequest)
}

func TestExecWithWrongAgentTokenIsUnauthorized(t *testing.T) {
	a := newFakeAgent(t, "agent-tok")
	sb := agentSandbox(t, a, "other-tok")
	_, err := sb.Exec(context.Background(), "ls", ExecOptions{})
	require.ErrorIs(t, err, ErrUnauthorized)
	var ae *AgentError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "bad agent token", ae.Message)
	require.NotContains(t, err.Error(), "other-tok")
}

func TestWriteAndReadFileRoundTripAnyBytes(t *testing.T) {
	a := newFakeAgent(t, "agent-tok")
	sb := agentSandbox(t, a, "agent-tok")
	ctx := context.Background()
	data := []byte("print('hi')\n\x00\xff binary")
	require.NoError(t, sb.WriteFile(ctx, "/tmp/user_code.py", data))
	got, err := sb.ReadFile(ctx, "/tmp/user_code.py")
	require.NoError(t, err)
	require.Equal(t, data, got)

	_, err = sb.ReadFile(ctx, "/nope")
	var ae *AgentError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 404, ae.Status)
	require.Equal(t, "no such file: /nope", ae.Message)

	require.ErrorIs(t, sb.WriteFile(ctx, "", nil), ErrInvalidRequest)
}

func TestReadFileAcceptsPlainText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"content": "héllo"})
	}))
	t.Cleanup(srv.Close)
	c, err := New("http://127.0.0.1:1", testToken)
	require.NoError(t, err)
	sb := &Sandbox{ID: "sb1", URL: srv.URL, AgentToken: "t", c: c}
	got, err := sb.ReadFile(context.Background(), "/x")
	require.NoError(t, err)
	require.Equal(t, "héllo", string(got))
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
