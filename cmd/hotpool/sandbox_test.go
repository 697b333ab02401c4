package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/testenv"
)

// stampedWriter records when each write arrived.
type stampedWriter struct {
	mu     sync.Mutex
	buf    strings.Builder
	stamps []time.Time
}

func (w *stampedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stamps = append(w.stamps, time.Now())
	return w.buf.Write(p)
}

// acquireEnv leases a sandbox and sets the variables acquire --env prints,
// as eval would.
func acquireEnv(t *testing.T, image string) {
	t.Helper()
	code, out, stderr := cli(t, "acquire", image, "--env")
	require.Equal(t, exitOK, code, stderr)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "=")
		require.True(t, ok, l)
		t.Setenv(k, strings.Trim(v, "'"))
	}
}

// The whole sandbox from the shell, against serve's confined sandboxes: a
// streamed exec, the seed's code interpreter, a background server reached
// through the proxy, its logs and its end, ls and cp.
func TestSandboxCommandsAgainstTheLocalServer(t *testing.T) {
	iso := testenv.Isolation(t)
	startLocalIsolated(t, `{"pools": {"python": {"target_ready": 1, "max_ready": 2}}}`, iso)
	acquireEnv(t, "python")

	// exec streams: each number is printed as it happens, not all at the end.
	var out, errw stampedWriter
	start := time.Now()
	code := run(context.Background(), []string{"exec", "--", "for i in 1 2 3; do echo $i; sleep 1; done; echo done >&2"}, &out, &errw)
	end := time.Now()
	require.Equal(t, exitOK, code, errw.buf.String())
	require.Equal(t, "1\n2\n3\n", out.buf.String())
	require.Equal(t, "done\n", errw.buf.String(), "stderr goes to stderr")
	require.Len(t, out.stamps, 3, "one write a line")
	first := out.stamps[0]
	t.Logf("first line after %v, command over after %v", first.Sub(start), end.Sub(start))
	require.GreaterOrEqual(t, end.Sub(first), time.Second, "the first line arrived at least a second before the command ended")
	code, _, _ = cli(t, "exec", "--", "exit 5")
	require.Equal(t, 5, code, "the command's status")
	code, _, stderr := cli(t, "exec", "--timeout", "1s", "--", "echo hi; sleep 5")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "timed out")

	// The seed's code interpreter: the code written to /tmp runs from /tmp.
	src := filepath.Join(t.TempDir(), "user_code.py")
	require.NoError(t, os.WriteFile(src, []byte("print(6*7)\n"), 0o644))
	code, _, stderr = cli(t, "cp", src, ":/tmp/user_code.py")
	require.Equal(t, exitOK, code, stderr)
	code, got, stderr := cli(t, "exec", "--", "python3 /tmp/user_code.py")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "42\n", got)
	code, _, stderr = cli(t, "exec", "--", "touch /etc/escaped")
	require.NotEqual(t, exitOK, code)
	require.Contains(t, stderr, "Read-only file system")

	// cp back, and ls.
	back := filepath.Join(t.TempDir(), "back.py")
	code, _, stderr = cli(t, "cp", ":/tmp/user_code.py", back)
	require.Equal(t, exitOK, code, stderr)
	b, err := os.ReadFile(back)
	require.NoError(t, err)
	require.Equal(t, "print(6*7)\n", string(b))
	code, got, stderr = cli(t, "ls", "/tmp")
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, `644\s+11\s+user_code.py`, got)
	code, _, stderr = cli(t, "ls", "/etc")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "path not allowed")
	code, _, stderr = cli(t, "cp", "a", "b")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, ":PATH")

	// A web server in the background, through the proxy, then killed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	code, got, stderr = cli(t, "proc", "start", "--", fmt.Sprintf("python3 -u -m http.server %d --bind 127.0.0.1", port))
	require.Equal(t, exitOK, code, stderr)
	pid := strings.TrimSpace(got)
	_, err = strconv.Atoi(pid)
	require.NoError(t, err, got)
	require.Contains(t, stderr, "hotpool proc logs -f "+pid)
	// Reached from outside through the app's URL and the agent's proxy.
	c, err := client.New(os.Getenv("HOTPOOL_URL"), cliToken)
	require.NoError(t, err)
	sb := c.Attach(client.SandboxRef{ID: os.Getenv("HOTPOOL_SANDBOX_ID"), URL: os.Getenv("HOTPOOL_SANDBOX_URL"), AgentToken: os.Getenv("HOTPOOL_AGENT_TOKEN")})
	var listing string
	require.Eventually(t, func() bool {
		res, err := sb.PortClient().Get(sb.PortURL(port, "/"))
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		listing = string(b)
		return res.StatusCode == 200
	}, 15*time.Second, 100*time.Millisecond)
	require.Contains(t, listing, "Directory listing", "the server in the sandbox answered through the proxy")
	code, got, stderr = cli(t, "proc", "list")
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, pid+`\s+running`, got)
	code, got, stderr = cli(t, "proc", "logs", "--tail", "1", pid)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, got, `"GET / HTTP/1.1" 200`)

	// -f prints the log until interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	var follow stampedWriter
	done := make(chan int)
	go func() { done <- run(ctx, []string{"proc", "logs", "-f", pid}, &follow, &follow) }()
	require.Eventually(t, func() bool {
		follow.mu.Lock()
		defer follow.mu.Unlock()
		return strings.Contains(follow.buf.String(), "GET /")
	}, 5*time.Second, 50*time.Millisecond)
	cancel()
	require.Equal(t, exitOK, <-done, "Ctrl-C ends a follow cleanly")

	code, got, stderr = cli(t, "proc", "kill", pid)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "sent signal 15 to "+pid+"\n", got)
	require.Eventually(t, func() bool {
		_, got, _ := cli(t, "proc", "list")
		return regexpMatch(pid+`\s+stopped`, got)
	}, 5*time.Second, 50*time.Millisecond)
	code, _, stderr = cli(t, "proc", "kill", "999999")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "process not tracked")
	code, _, _ = cli(t, "proc", "logs", "abc")
	require.Equal(t, exitUsage, code)
	code, _, _ = cli(t, "proc", "nope")
	require.Equal(t, exitUsage, code)
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
