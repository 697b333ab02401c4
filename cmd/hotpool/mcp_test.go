package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
)

// buildCLI builds the hotpool binary once for tests that run it as a
// process.
func buildCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	bin := filepath.Join(t.TempDir(), "hotpool")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// mcpText is a tool result's text.
func mcpText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// `hotpool mcp` as a desktop client launches it: a process on stdio, driven
// by the SDK's own client over its command transport, against a local
// server. It lists the tools, runs print(6*7), keeps a sandbox across calls,
// and releases what it holds when the client disconnects, and on SIGTERM.
func TestMCPServerOverStdio(t *testing.T) {
	bin := buildCLI(t)
	startLocalForCLI(t, `{"pools": {"python": {"target_ready": 2, "max_ready": 4}}}`)
	c, err := client.New(os.Getenv("HOTPOOL_URL"), cliToken)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inUse := func() int {
		m, err := c.Metrics(ctx)
		require.NoError(t, err)
		return m.Pools["python"].InUse
	}

	connect := func() (*mcp.ClientSession, *exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "mcp")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-desktop", Version: "1"}, nil).
			Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		require.NoError(t, err)
		return cs, cmd, &stderr
	}

	cs, cmd, stderr := connect()
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	require.Len(t, tools.Tools, 9)
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_code", Arguments: map[string]any{"language": "python", "code": "print(6*7)"}})
	require.NoError(t, err)
	require.False(t, res.IsError, mcpText(res))
	require.Contains(t, mcpText(res), `"stdout":"42\n"`)

	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "sandbox_acquire", Arguments: map[string]any{}})
	require.NoError(t, err)
	var acq struct {
		SandboxID string `json:"sandbox_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(mcpText(res)), &acq))
	for i, command := range []string{"echo 6 > n.txt", "echo $(( $(cat n.txt) * 7 ))"} {
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "sandbox_exec", Arguments: map[string]any{"sandbox_id": acq.SandboxID, "command": command}})
		require.NoError(t, err)
		require.False(t, res.IsError, mcpText(res))
		if i == 1 {
			require.Contains(t, mcpText(res), `"stdout":"42\n"`, "state persists across calls in one sandbox")
		}
	}
	require.Equal(t, 1, inUse())
	require.NoError(t, cs.Close()) // closes the server's stdin and waits for it to exit
	require.True(t, cmd.ProcessState.Exited(), "the server exited")
	require.Zero(t, cmd.ProcessState.ExitCode(), stderr.String())
	require.Contains(t, stderr.String(), "released the sandboxes still held on exit")
	require.Contains(t, stderr.String(), acq.SandboxID)
	require.Equal(t, 0, inUse(), "released when the client disconnected")

	// SIGTERM: the same.
	cs, cmd, stderr = connect()
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "sandbox_acquire", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError, mcpText(res))
	require.Equal(t, 1, inUse())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return inUse() == 0 }, 15*time.Second, 50*time.Millisecond, "released on SIGTERM: %s", stderr)
	_ = cs.Close()
}
