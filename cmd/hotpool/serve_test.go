package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/sandboxagent"
	"github.com/hotpool/hotpool/internal/testenv"
)

// serving is a `hotpool serve` run in-process: its stdout line by line,
// its stderr, and stop, which cancels it and returns its exit code.
type serving struct {
	lines  *bufio.Scanner
	stdout *io.PipeReader
	stderr *testenv.Buffer
	stop   func() int
}

func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pr, pw := io.Pipe()
	sv := &serving{lines: bufio.NewScanner(pr), stdout: pr, stderr: &testenv.Buffer{}}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--token", "serve-token"}, args...), pw, sv.stderr)
		pw.Close()
	}()
	sv.stop = func() int {
		cancel() // what SIGINT/SIGTERM do to main's context
		select {
		case c := <-code:
			return c
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	return sv
}

// drain reads the rest of stdout, so serve never blocks writing it.
func (sv *serving) drain() { go func() { _, _ = io.Copy(io.Discard, sv.stdout) }() }

func TestServeListensPrintsPoolsAndStopsOnCancel(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("pools:\n  python:\n    target_ready: 1\n"), 0o600))
	t.Setenv("REDIS_URL", "")
	t.Setenv("DIGITALOCEAN_TOKEN", "")
	sv := startServe(t, "--config", cfg, "--sim-create-delay", "10ms")
	require.True(t, sv.lines.Scan(), sv.stderr.String())
	m := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+) \(redis: embedded`).FindStringSubmatch(sv.lines.Text())
	require.NotNil(t, m, sv.lines.Text())
	require.True(t, sv.lines.Scan())
	require.Equal(t, "pools: python target_ready=1 max_ready=10 on_empty=create", sv.lines.Text())
	sv.drain()

	resp, err := http.Get(m[1] + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, exitOK, sv.stop())
}

func TestServeUsageErrors(t *testing.T) {
	t.Setenv("HOTPOOL_API_TOKEN", "")
	t.Setenv("HOTPOOL_CONFIG", "")
	for _, args := range [][]string{
		{"serve", "--config", "x.json"}, // no token
		{"serve", "--token", "t"},       // no config
		{"serve", "--token", "t", "--sim-fail-rate", "2"},
		{"serve", "extra"},
	} {
		var out, errOut bytes.Buffer
		require.Equal(t, exitUsage, run(context.Background(), args, &out, &errOut), "%v", args)
		require.NotEmpty(t, errOut.String())
	}
	// An unreadable config is a failed config, 1, as in config validate.
	var out, errOut bytes.Buffer
	require.Equal(t, exitError, run(context.Background(), []string{"serve", "--token", "t", "--config", "/nonexistent/config.json"}, &out, &errOut))
	require.Contains(t, errOut.String(), "/nonexistent/config.json")
}

// A port already taken says which flag picks another.
func TestServeOnATakenPortSuggestsAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--token", "t", "--config", "../../examples/config.json", "--addr", ln.Addr().String()}, &out, &errOut)
	require.Equal(t, exitUnavailable, code)
	require.Contains(t, errOut.String(), ln.Addr().String()+" is already in use")
	require.Contains(t, errOut.String(), "--addr")
}

// A real-platform server says, as it stops, exactly which apps it leaves
// running (here against the simulated App Platform through
// HOTPOOL_DO_API_URL, as against DigitalOcean's).
func TestServeOnTheRealPlatformListsWhatItLeavesRunning(t *testing.T) {
	sim := appsim.New(appsim.Options{Token: "do-token", CreateDelay: 50 * time.Millisecond})
	base, err := sim.Start()
	require.NoError(t, err)
	defer sim.Close()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("pools:\n  python:\n    target_ready: 2\n"), 0o600))
	t.Setenv("REDIS_URL", "")
	t.Setenv("DIGITALOCEAN_TOKEN", "do-token")
	t.Setenv("HOTPOOL_DO_API_URL", base)
	t.Setenv("HOTPOOL_SECRET", strings.Repeat("s", 32))
	sv := startServe(t, "--config", cfg, "--provider", "digitalocean", "--reconcile-every", "100ms")
	sv.drain()
	platform, err := appplatform.New(appplatform.Options{Token: "do-token", BaseURL: base, Deployment: "hp", RetryMax: -1})
	require.NoError(t, err)
	apps := func() []pool.App {
		as, err := platform.List(context.Background())
		require.NoError(t, err)
		return as
	}
	require.Eventually(t, func() bool { return len(apps()) == 2 }, 20*time.Second, 50*time.Millisecond, sv.stderr.String())
	require.Equal(t, exitOK, sv.stop())
	out := sv.stderr.String()
	require.Contains(t, out, "WARNING: this server creates real, billed App Platform apps")
	require.Contains(t, out, "2 App Platform apps of deployment hp are left running")
	for _, a := range apps() {
		require.Contains(t, out, a.ID, "each app is named with its id")
	}
	require.NotContains(t, out, "do-token")
}

// simulate refuses what it cannot replay, saying why, and replays a trace.
func TestSimulateCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"pools": {"python": {"target_ready": 1}}}`), 0o600))
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("at_seconds,image,hold_seconds\n1,python,60\nsoon,python,60\n"), 0o600))
	for _, args := range [][]string{
		{"simulate", "--curve", "steady"}, // no config
		{"simulate", "--config", cfg},     // neither trace nor curve
		{"simulate", "--config", cfg, "--curve", "steady", "--trace", bad},
		{"simulate", "--config", cfg, "--curve", "sawtooth"},
		{"simulate", "--config", cfg, "--curve", "steady", "--hold-min", "10m", "--hold-max", "1m"},
		{"simulate", "--scenarios", "2", "--config", cfg}, // scenarios draw their own pools
		{"simulate", "--scenarios", "-1"},
		{"simulate", "--scenarios", "2", "--jobs", "0"},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, exitUsage, run(context.Background(), args, &out, &errb), "%v", args)
		require.NotEmpty(t, errb.String())
	}
	var out, errb bytes.Buffer
	require.Equal(t, exitError, run(context.Background(), []string{"simulate", "--config", cfg, "--trace", bad}, &out, &errb))
	require.Contains(t, errb.String(), "line 3: at_seconds")

	good := filepath.Join(dir, "good.csv")
	require.NoError(t, os.WriteFile(good, []byte("at_seconds,image,hold_seconds\n5,python,30\n"), 0o600))
	out.Reset()
	require.Equal(t, exitOK, run(context.Background(), []string{"simulate", "--config", cfg, "--trace", good, "--json"}, &out, &errb), errb.String())
	var res map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &res))
	require.Equal(t, 1.0, res["requests"])
	require.Equal(t, 1.0, res["hits"])
	require.Equal(t, 0.5, res["execution_minutes"])

	// The scenario grid: one scenario of 5 minutes, judged against the sweep.
	out.Reset()
	errb.Reset()
	require.Equal(t, exitOK, run(context.Background(), []string{"simulate", "--scenarios", "1", "--seed", "4", "--scenario-duration", "5m", "--json"}, &out, &errb), errb.String())
	var grid struct {
		Seed    uint64
		Summary struct{ Scenarios int }
		Judged  []struct {
			Static []struct{ Target string }
		} `json:"scenarios"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &grid))
	require.Equal(t, uint64(4), grid.Seed)
	require.Equal(t, 1, grid.Summary.Scenarios)
	require.Len(t, grid.Judged, 1)
	require.Len(t, grid.Judged[0].Static, 7)
	require.Contains(t, errb.String(), "1/1 scenarios")
}

// SIGHUP reloads the config file: a new target is filled, a broken file
// is refused with its problem and the running config stays.
func TestServeReloadsItsConfigOnSIGHUP(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("pools:\n  python:\n    target_ready: 1\n"), 0o600))
	t.Setenv("REDIS_URL", "")
	t.Setenv("DIGITALOCEAN_TOKEN", "")
	sv := startServe(t, "--config", cfg, "--sim-create-delay", "10ms", "--reconcile-every", "100ms")
	lines, stderr := sv.lines, sv.stderr
	require.True(t, lines.Scan(), stderr.String())
	m := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+) `).FindStringSubmatch(lines.Text())
	require.NotNil(t, m, lines.Text())
	require.True(t, lines.Scan()) // pools:
	if sandboxagent.DetectIsolation().Isolated() {
		require.True(t, lines.Scan())
		require.True(t, strings.HasPrefix(lines.Text(), "sandboxes: local sandboxes are isolated with bubblewrap"), lines.Text())
	} else {
		require.Contains(t, stderr.String(), "WARNING: local sandboxes are NOT isolated")
	}
	ready := func() float64 {
		req, err := http.NewRequest(http.MethodGet, m[1]+"/metrics", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer serve-token")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var doc struct {
			Pools map[string]struct {
				Ready float64 `json:"ready"`
			} `json:"pools"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
		return doc.Pools["python"].Ready
	}
	require.Eventually(t, func() bool { return ready() == 1 }, 20*time.Second, 50*time.Millisecond)

	require.NoError(t, os.WriteFile(cfg, []byte("pools:\n  python:\n    target_ready: 3\n"), 0o600))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.True(t, lines.Scan(), stderr.String())
	require.Equal(t, "config reloaded from "+cfg+"; pools: python target_ready=3 max_ready=10 on_empty=create", lines.Text())
	require.Eventually(t, func() bool { return ready() == 3 }, 20*time.Second, 50*time.Millisecond)

	require.NoError(t, os.WriteFile(cfg, []byte("pools:\n  python:\n    target_ready: -1\n"), 0o600))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "the running config stays") }, 10*time.Second, 20*time.Millisecond)
	require.Contains(t, stderr.String(), "target_ready")
	sv.drain()
	require.Equal(t, exitOK, sv.stop(), "a refused reload does not stop serve")
}
