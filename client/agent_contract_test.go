package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/sandboxagent"
	"github.com/hotpool/hotpool/internal/testenv"
)

// The rest of the agent's contract (docs/agent.md): streamed exec,
// background processes, file listing and the port proxy, each route, status
// and error shape, against sandboxagent, through the client.

// isolatedAgent is contractAgent with its commands confined by bubblewrap.
func isolatedAgent(t *testing.T, token string) (*httptest.Server, *sandboxagent.Agent) {
	iso := testenv.Isolation(t)
	ag := &sandboxagent.Agent{Token: token, Root: t.TempDir(), Isolation: iso}
	require.NoError(t, ag.MakeRoots())
	srv := httptest.NewServer(ag)
	t.Cleanup(func() {
		srv.Close()
		_ = ag.Close()
	})
	return srv, ag
}

// bothAgents runs f against an unconfined agent and a confined one.
func bothAgents(t *testing.T, f func(t *testing.T, srv *httptest.Server, ag *sandboxagent.Agent)) {
	t.Run("host-shell", func(t *testing.T) {
		srv, ag := contractAgent(t, "agent-tok")
		t.Cleanup(func() { _ = ag.Close() })
		f(t, srv, ag)
	})
	t.Run("bubblewrap", func(t *testing.T) {
		srv, ag := isolatedAgent(t, "agent-tok")
		f(t, srv, ag)
	})
}

func collect(t *testing.T, st *ExecStream) ([]ExecEvent, error) {
	t.Helper()
	var evs []ExecEvent
	for {
		ev, err := st.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return evs, nil
			}
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestContractExecStream(t *testing.T) {
	bothAgents(t, func(t *testing.T, srv *httptest.Server, ag *sandboxagent.Agent) {
		sb := agentSandbox(t, srv, "agent-tok")
		ctx := context.Background()

		st, err := sb.ExecStream(ctx, "echo one; echo two >&2; printf 'no newline'; exit 3", ExecOptions{Env: map[string]string{"A": "x"}})
		require.NoError(t, err)
		evs, err := collect(t, st)
		require.NoError(t, err)
		require.Len(t, evs, 4, "%+v", evs)
		var out, errs []string
		for _, ev := range evs[:3] {
			require.False(t, ev.Time.IsZero(), "every line carries the agent's timestamp")
			if ev.Kind == "stdout" {
				out = append(out, ev.Line)
			} else {
				require.Equal(t, "stderr", ev.Kind)
				errs = append(errs, ev.Line)
			}
		}
		require.Equal(t, []string{"one", "no newline"}, out, "lines come without their newline, the last one too")
		require.Equal(t, []string{"two"}, errs)
		require.Equal(t, "exit", evs[3].Kind)
		require.Equal(t, 3, evs[3].ExitCode)
		_, err = st.Next()
		require.ErrorIs(t, err, io.EOF, "nothing after the exit")

		// The timeout is one of inactivity: lines keep a command alive, and
		// silence past it kills it after what it wrote.
		st, err = sb.ExecStream(ctx, "for i in 1 2 3 4; do echo $i; sleep 0.4; done", ExecOptions{Timeout: time.Second})
		require.NoError(t, err)
		evs, err = collect(t, st)
		require.NoError(t, err, "1.6 s of output, never 1 s of silence")
		require.Equal(t, 0, evs[len(evs)-1].ExitCode)
		st, err = sb.ExecStream(ctx, "echo before; sleep 5", ExecOptions{Timeout: time.Second})
		require.NoError(t, err)
		evs, err = collect(t, st)
		require.ErrorIs(t, err, ErrExecTimeout)
		require.Len(t, evs, 1)
		require.Equal(t, "before", evs[0].Line, "the lines before the timeout are delivered")

		// A signal's death is minus the signal, as Python reports it; under
		// bubblewrap, which reports it as a shell does, 128 plus the signal.
		st, err = sb.ExecStream(ctx, "kill -9 $$", ExecOptions{})
		require.NoError(t, err)
		evs, err = collect(t, st)
		require.NoError(t, err)
		want := -9
		if ag.Isolation.Isolated() {
			want = 128 + 9
		}
		require.Equal(t, want, evs[len(evs)-1].ExitCode)

		// Copy writes lines as they come and returns the status.
		st, err = sb.ExecStream(ctx, "echo a; echo b >&2; exit 2", ExecOptions{})
		require.NoError(t, err)
		var so, se strings.Builder
		code, err := st.Copy(&so, &se)
		require.NoError(t, err)
		require.Equal(t, 2, code)
		require.Equal(t, "a\n", so.String())
		require.Equal(t, "b\n", se.String())

		// Cancelling ctx ends the stream and kills the command.
		cctx, cancel := context.WithCancel(ctx)
		st, err = sb.ExecStream(cctx, "echo started; sleep 1; touch /workspace/survived", ExecOptions{})
		require.NoError(t, err)
		ev, err := st.Next()
		require.NoError(t, err)
		require.Equal(t, "started", ev.Line)
		cancel()
		_, err = st.Next()
		require.ErrorIs(t, err, context.Canceled)
		time.Sleep(1500 * time.Millisecond)
		require.NoFileExists(t, filepath.Join(ag.Root, "workspace", "survived"), "the agent killed the command when the caller went")

		// The errors of a buffered exec apply before the stream starts.
		_, err = sb.ExecStream(ctx, "true", ExecOptions{Cwd: "/workspace/missing"})
		var ae *AgentError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, 500, ae.Status)
		_, err = sb.ExecStream(ctx, " ", ExecOptions{})
		require.ErrorIs(t, err, ErrInvalidRequest)
		_, err = agentSandbox(t, srv, "wrong").ExecStream(ctx, "ls", ExecOptions{})
		require.ErrorIs(t, err, ErrUnauthorized)
	})
}

// A stream whose connection ends before the exit event says its output may
// be incomplete, and so does one that goes silent past the command's timeout
// and its grace.
func TestExecStreamCutMidwayIsIncomplete(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/exec/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: stdout\ndata: {\"line\": \"partial\", \"timestamp\": 1.5}\n\n")
		w.(http.Flusher).Flush()
		if r.URL.Query().Get("hang") != "" {
			<-r.Context().Done()
		}
		// The handler returns: the connection ends without an exit event.
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := New("http://127.0.0.1:1", testToken)
	require.NoError(t, err)
	sb := &Sandbox{ID: "sb1", URL: srv.URL, AgentToken: "tok", c: c}
	st, err := sb.ExecStream(context.Background(), "make", ExecOptions{})
	require.NoError(t, err)
	evs, err := collect(t, st)
	require.ErrorIs(t, err, ErrStreamIncomplete)
	require.Contains(t, err.Error(), "may be incomplete")
	require.Equal(t, []ExecEvent{{Kind: "stdout", Line: "partial", Time: time.Unix(1, 5e8)}}, evs)

	st, err = sb.openExecStreamForTest("?hang=1", 200*time.Millisecond)
	require.NoError(t, err)
	_, err = collect(t, st)
	require.ErrorIs(t, err, ErrStreamIncomplete, "silence past the limit ends the stream")
	require.Contains(t, err.Error(), "no event within")
}

// openExecStreamForTest opens the stream route with a query and a short
// watchdog, so the test need not wait 130 s of silence.
func (s *Sandbox) openExecStreamForTest(query string, idle time.Duration) (*ExecStream, error) {
	st, err := s.openStream(context.Background(), http.MethodPost, agentStreamPath+query, execRequest{Command: "x"}, idle)
	if err != nil {
		return nil, err
	}
	return &ExecStream{st: st}, nil
}

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// The scenario: a web server started in the background, reached
// through the proxy, its log read and followed, then killed.
func TestContractBackgroundServerThroughTheProxy(t *testing.T) {
	bothAgents(t, func(t *testing.T, srv *httptest.Server, ag *sandboxagent.Agent) {
		sb := agentSandbox(t, srv, "agent-tok")
		ctx := context.Background()
		port := freePort(t)
		require.NoError(t, sb.WriteFile(ctx, "/workspace/site/index.html", []byte("hello from the sandbox\n")))

		// Nothing listens yet: 502.
		hc := sb.PortClient()
		res, err := hc.Get(sb.PortURL(port, "/"))
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusBadGateway, res.StatusCode)
		require.Contains(t, string(body), fmt.Sprintf("Cannot connect to port %d", port))

		p, err := sb.StartProcess(ctx, fmt.Sprintf("python3 -u -m http.server %d --bind 127.0.0.1", port), ProcessOptions{Cwd: "/workspace/site"})
		require.NoError(t, err)
		require.Positive(t, p.PID)
		require.Regexp(t, `^/tmp/proc_[0-9a-f]{8}\.log$`, p.LogFile)

		var page string
		require.Eventually(t, func() bool {
			res, err := hc.Get(sb.PortURL(port, "/index.html?x=1"))
			if err != nil {
				return false
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			page = string(b)
			return res.StatusCode == http.StatusOK
		}, 15*time.Second, 100*time.Millisecond)
		require.Equal(t, "hello from the sandbox\n", page)

		// Without the token the proxy is closed like every other route.
		res, err = http.Get(sb.PortURL(port, "/"))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)

		list, err := sb.Processes(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, p.PID, list[0].PID)
		require.Equal(t, "running", list[0].Status)
		require.False(t, list[0].StartedAt.IsZero())
		got, err := sb.Process(ctx, p.PID)
		require.NoError(t, err)
		require.Equal(t, p.Command, got.Command)

		var logs string
		require.Eventually(t, func() bool {
			logs, err = sb.ProcessLogs(ctx, p.PID, 0)
			return err == nil && strings.Contains(logs, "GET /index.html?x=1")
		}, 5*time.Second, 50*time.Millisecond, "the server's log: %q", logs)
		last, err := sb.ProcessLogs(ctx, p.PID, 1)
		require.NoError(t, err)
		require.Equal(t, 1, strings.Count(last, "\n"), "tail=1 is the last line: %q", last)

		// Follow: the last lines first, then what is written after.
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		follow, err := sb.FollowLogs(fctx, p.PID)
		require.NoError(t, err)
		line, err := follow.Next()
		require.NoError(t, err)
		require.Contains(t, logs, line.Line, "a follow starts with the log's last lines")
		res, err = hc.Get(sb.PortURL(port, "/followed"))
		require.NoError(t, err)
		res.Body.Close()
		for !strings.Contains(line.Line, "/followed") {
			line, err = follow.Next()
			require.NoError(t, err)
		}
		cancel()
		_, err = follow.Next()
		require.ErrorIs(t, err, context.Canceled)
		require.NoError(t, follow.Close())

		require.NoError(t, sb.KillProcess(ctx, p.PID, 0))
		require.Eventually(t, func() bool {
			got, err := sb.Process(ctx, p.PID)
			return err == nil && got.Status == "stopped"
		}, 5*time.Second, 50*time.Millisecond)
		require.ErrorIs(t, sb.KillProcess(ctx, p.PID, syscall.SIGKILL), ErrProcessNotRunning, "a stopped process cannot be signalled")
		res, err = hc.Get(sb.PortURL(port, "/"))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusBadGateway, res.StatusCode, "the server is gone")

		// Unknown pids, everywhere.
		_, err = sb.Process(ctx, 999999)
		require.ErrorIs(t, err, ErrProcessNotFound)
		_, err = sb.ProcessLogs(ctx, 999999, 0)
		require.ErrorIs(t, err, ErrProcessNotFound)
		_, err = sb.FollowLogs(ctx, 999999)
		require.ErrorIs(t, err, ErrProcessNotFound)
		err = sb.KillProcess(ctx, 999999, 0)
		require.ErrorIs(t, err, ErrProcessNotFound)
		require.Contains(t, err.Error(), "Only processes started via /api/exec/background can be killed")
		_, err = sb.ProcessLogs(ctx, p.PID, -1)
		require.ErrorIs(t, err, ErrInvalidRequest)
		_, err = sb.StartProcess(ctx, "", ProcessOptions{})
		require.ErrorIs(t, err, ErrInvalidRequest)
	})
}

// A background process gets SIGTERM itself (not only the bwrap around it),
// so it can stop cleanly; and it dies with its sandbox.
func TestContractKillDeliversTheSignalAndCloseEndsEverything(t *testing.T) {
	bothAgents(t, func(t *testing.T, srv *httptest.Server, ag *sandboxagent.Agent) {
		sb := agentSandbox(t, srv, "agent-tok")
		ctx := context.Background()
		p, err := sb.StartProcess(ctx, `trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done`, ProcessOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			logs, _ := sb.ProcessLogs(ctx, p.PID, 0)
			return strings.Contains(logs, "ready")
		}, 5*time.Second, 50*time.Millisecond)
		require.NoError(t, sb.KillProcess(ctx, p.PID, syscall.SIGTERM))
		require.Eventually(t, func() bool {
			logs, _ := sb.ProcessLogs(ctx, p.PID, 0)
			return strings.Contains(logs, "got-term")
		}, 5*time.Second, 50*time.Millisecond, "the command's own trap ran")

		q, err := sb.StartProcess(ctx, "sleep 300", ProcessOptions{})
		require.NoError(t, err)
		require.NoError(t, syscall.Kill(q.PID, 0), "running")
		require.NoError(t, ag.Close())
		require.Eventually(t, func() bool { return syscall.Kill(q.PID, 0) != nil }, 5*time.Second, 50*time.Millisecond,
			"a background process dies with its sandbox")
	})
}

func TestContractListFiles(t *testing.T) {
	srv, ag := contractAgent(t, "agent-tok")
	sb := agentSandbox(t, srv, "agent-tok")
	ctx := context.Background()
	require.NoError(t, sb.WriteFile(ctx, "/workspace/a.txt", []byte("12345")))
	require.NoError(t, sb.WriteFile(ctx, "/workspace/sub/b.txt", nil))
	require.NoError(t, os.Chmod(filepath.Join(ag.Root, "workspace", "a.txt"), 0o600))
	require.NoError(t, os.Symlink("/etc", filepath.Join(ag.Root, "workspace", "escape")))

	files, err := sb.ListFiles(ctx, "")
	require.NoError(t, err)
	require.Len(t, files, 3)
	require.Equal(t, FileInfo{Name: "a.txt", Path: "/workspace/a.txt", Size: 5, Permissions: "600"}, files[0])
	require.Equal(t, "escape", files[1].Name)
	require.Equal(t, FileInfo{Name: "sub", Path: "/workspace/sub", IsDir: true, Permissions: "755"}, files[2])
	files, err = sb.ListFiles(ctx, "/workspace/sub/")
	require.NoError(t, err)
	require.Equal(t, []FileInfo{{Name: "b.txt", Path: "/workspace/sub/b.txt", Permissions: "644"}}, files)

	_, err = sb.ListFiles(ctx, "/etc")
	require.ErrorIs(t, err, ErrPathNotAllowed)
	_, err = sb.ListFiles(ctx, "/workspace/escape")
	require.ErrorIs(t, err, ErrPathNotAllowed, "a link out of the roots is resolved before the check, as realpath does")
	_, err = sb.ReadFile(ctx, "/workspace/escape/passwd")
	require.ErrorIs(t, err, ErrPathNotAllowed)
	_, err = sb.ListFiles(ctx, "/workspace/../etc")
	require.ErrorIs(t, err, ErrPathNotAllowed)
	_, err = sb.ListFiles(ctx, "/workspace/missing")
	require.ErrorIs(t, err, ErrFileNotFound)
	require.Contains(t, err.Error(), "Path not found: /workspace/missing")
	_, err = sb.ListFiles(ctx, "/workspace/a.txt")
	require.ErrorIs(t, err, ErrNotADirectory)
	_, err = sb.ReadFile(ctx, "/workspace/sub")
	require.ErrorIs(t, err, ErrIsADirectory)
	_, err = sb.ReadFile(ctx, "/workspace/missing")
	require.ErrorIs(t, err, ErrFileNotFound)
	require.Contains(t, err.Error(), "File not found: /workspace/missing")
}

// raw sends one request to the agent and returns its status and body.
func raw(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, out
}

// The error shapes of the new routes, byte for byte where the agent's source
// fixes them.
func TestContractErrorShapes(t *testing.T) {
	srv, _ := contractAgent(t, "agent-tok")
	u := srv.URL
	ok := "Bearer agent-tok"
	for _, route := range []struct{ method, path string }{
		{"POST", "/api/exec/stream"}, {"POST", "/api/exec/background"}, {"GET", "/api/processes"},
		{"GET", "/api/processes/1"}, {"GET", "/api/processes/1/logs"}, {"GET", "/api/processes/1/logs/stream"},
		{"POST", "/api/processes/1/kill"}, {"GET", "/api/files"}, {"GET", "/proxy/8000/x"}, {"DELETE", "/proxy/8000/"},
	} {
		st, d := raw(t, route.method, u+route.path, "", `{}`)
		require.Equal(t, 401, st, route)
		require.Equal(t, "Missing or invalid authorization header", d["detail"], route)
		st, _ = raw(t, route.method, u+route.path, "Basic x", `{}`)
		require.Equal(t, 401, st, "a header that is not Bearer is 401: %v", route)
		st, d = raw(t, route.method, u+route.path, "Bearer nope", `{}`)
		require.Equal(t, 403, st, route)
		require.Equal(t, "Invalid token", d["detail"], route)
	}
	st, d := raw(t, "GET", u+"/api/processes/abc", ok, "")
	require.Equal(t, 422, st)
	require.IsType(t, []any{}, d["detail"])
	st, _ = raw(t, "GET", u+"/proxy/http/x", ok, "")
	require.Equal(t, 422, st, "a port that is not a number")
	st, d = raw(t, "POST", u+"/api/exec/background", ok, `{"cwd": "/tmp"}`)
	require.Equal(t, 422, st, "a command is required")
	require.IsType(t, []any{}, d["detail"])
	st, d = raw(t, "GET", u+"/api/processes/7", ok, "")
	require.Equal(t, 404, st)
	require.Equal(t, "Process 7 not tracked", d["detail"])
	st, d = raw(t, "GET", u+"/api/nope", ok, "")
	require.Equal(t, 404, st)
	require.Equal(t, "Not Found", d["detail"])
	st, d = raw(t, "DELETE", u+"/api/processes", ok, "")
	require.Equal(t, 405, st)
	require.Equal(t, "Method Not Allowed", d["detail"])
	st, d = raw(t, "GET", u+"/api/processes", ok, "")
	require.Equal(t, 200, st)
	require.Nil(t, d, "an empty list, not an object")

	unset, _ := contractAgent(t, "")
	st, d = raw(t, "GET", unset.URL+"/api/processes", ok, "")
	require.Equal(t, 503, st)
	require.Equal(t, "Server not configured: SANDBOX_API_TOKEN is not set", d["detail"])

	// Kill: no body is SIGTERM; a signal that does not exist is 400.
	c := agentSandbox(t, srv, "agent-tok")
	p, err := c.StartProcess(context.Background(), "sleep 30", ProcessOptions{})
	require.NoError(t, err)
	st, d = raw(t, "POST", fmt.Sprintf("%s/api/processes/%d/kill", u, p.PID), ok, `{"signal": 999}`)
	require.Equal(t, 400, st)
	require.Equal(t, "Failed to kill process: [Errno 22] Invalid argument", d["detail"])
	st, d = raw(t, "POST", fmt.Sprintf("%s/api/processes/%d/kill", u, p.PID), ok, "")
	require.Equal(t, 200, st)
	require.Equal(t, true, d["success"])
}

// The seed's code interpreter writes /tmp/user_code.py through the agent
// and runs python3 /tmp/user_code.py: that works only when the command's /tmp
// is the sandbox's. Confined, a command cannot write outside the roots.
func TestIsolatedSandboxSeesItsOwnRootsAndNothingElseWritable(t *testing.T) {
	srv, _ := isolatedAgent(t, "agent-tok")
	sb := agentSandbox(t, srv, "agent-tok")
	ctx := context.Background()
	require.NoError(t, sb.WriteFile(ctx, "/tmp/user_code.py", []byte("print(6*7)\n")))
	res, err := sb.Exec(ctx, "python3 /tmp/user_code.py", ExecOptions{})
	require.NoError(t, err)
	require.Equal(t, "42\n", res.Stdout, res.Stderr)

	res, err = sb.Exec(ctx, "pwd; echo $HOME $TMPDIR; echo made > /home/sandbox/h.txt", ExecOptions{})
	require.NoError(t, err)
	require.Equal(t, "/workspace\n/home/sandbox /tmp\n", res.Stdout, res.Stderr)
	got, err := sb.ReadFile(ctx, "/home/sandbox/h.txt")
	require.NoError(t, err)
	require.Equal(t, "made\n", string(got))

	// A host directory this user can write, outside the host's /tmp (which
	// the sandbox does not see at all).
	hostDir, err := os.MkdirTemp("/var/tmp", "hotpool-escape-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	outside := filepath.Join(hostDir, "host-file")
	for _, target := range []string{"/etc/hotpool-escape", "/usr/hotpool-escape", outside} {
		res, err = sb.Exec(ctx, "echo x > "+target, ExecOptions{})
		require.NoError(t, err)
		require.NotZero(t, res.ExitCode, "writing %s must fail", target)
		require.Contains(t, res.Stderr, "Read-only file system")
		require.NoFileExists(t, target)
	}
	// The host's /tmp is not the sandbox's.
	res, err = sb.Exec(ctx, "ls /tmp", ExecOptions{})
	require.NoError(t, err)
	require.Equal(t, "user_code.py\n", res.Stdout)
	// Its own process namespace: the sandbox sees only its own processes.
	res, err = sb.Exec(ctx, "ls /proc | grep -c '^[0-9]'", ExecOptions{})
	require.NoError(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
	require.NoError(t, err)
	require.LessOrEqual(t, n, 4, "bwrap's init, the shell, ls and grep at most")
}
