package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/client"
)

// fakeHotpool serves acquire and release, and a sandbox agent that "runs"
// python3 FILE by printing the file's content (withFiles=false: an agent
// without the file API, like the local simulator's).
type fakeHotpool struct {
	mu       sync.Mutex
	files    map[string]string
	execs    []string
	released []string
}

func newFakeHotpool(t *testing.T, withFiles bool) (*fakeHotpool, *client.Client) {
	f := &fakeHotpool{files: map[string]string{}}
	agent := http.NewServeMux()
	if withFiles {
		agent.HandleFunc("/api/files/content", func(w http.ResponseWriter, r *http.Request) {
			var req struct{ Path, Content, Encoding string }
			require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
			b, err := base64.StdEncoding.DecodeString(req.Content)
			require.NoError(t, err)
			f.mu.Lock()
			f.files[req.Path] = string(b)
			f.mu.Unlock()
			_, _ = w.Write([]byte(`{}`))
		})
	}
	agent.HandleFunc("/api/exec", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "Bearer agent-tok", r.Header.Get("Authorization"))
		var req struct{ Command string }
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		f.mu.Lock()
		f.execs = append(f.execs, req.Command)
		out := f.files["/workspace/"+strings.TrimPrefix(req.Command, "python3 ")]
		f.mu.Unlock()
		code := 0
		if strings.Contains(out, "raise") {
			code = 1
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"stdout": out, "stderr": "boom\n", "exit_code": code})
	})
	agentSrv := httptest.NewServer(agent)
	t.Cleanup(agentSrv.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/acquire":
			_ = json.NewEncoder(w).Encode(map[string]any{
				"sandbox": map[string]any{"id": "sb1", "image": "python", "url": agentSrv.URL, "agent_token": "agent-tok", "created_at": "2026-01-01T00:00:00Z"},
				"lease":   map[string]any{"token": "lease-1", "expires_at": "2026-01-01T00:15:00Z"}, "source": "pool",
			})
		case "/release":
			var req struct {
				SandboxID string `json:"sandbox_id"`
			}
			require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
			f.mu.Lock()
			f.released = append(f.released, req.SandboxID)
			f.mu.Unlock()
			_, _ = w.Write([]byte(`{"sandbox_id": "sb1", "state": "deleting"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	c, err := client.New(api.URL, "tok")
	require.NoError(t, err)
	return f, c
}

func TestExecuteWritesRunsAndReleases(t *testing.T) {
	f, c := newFakeHotpool(t, true)
	ci := &CodeInterpreter{Client: c, Image: "python"}
	res, err := ci.Execute(context.Background(), "print(42)")
	require.NoError(t, err)
	require.Equal(t, Result{Success: true, Output: "print(42)"}, res)
	require.Equal(t, []string{"python3 user_code.py"}, f.execs)
	require.Equal(t, []string{"sb1"}, f.released)

	res, err = ci.Execute(context.Background(), "raise SystemExit(1)")
	require.NoError(t, err)
	require.False(t, res.Success)
	require.Equal(t, "boom\n", res.Error)
	require.Equal(t, []string{"sb1", "sb1"}, f.released, "released after a failing run too")
}

func TestExecuteFallsBackToExecWithoutTheFileAPI(t *testing.T) {
	f, c := newFakeHotpool(t, false)
	ci := &CodeInterpreter{Client: c, Image: "python"}
	_, err := ci.Execute(context.Background(), "print('a' + \"b\")")
	require.NoError(t, err)
	b64 := base64.StdEncoding.EncodeToString([]byte("print('a' + \"b\")"))
	require.Equal(t, []string{"echo " + b64 + " | base64 -d > user_code.py && python3 user_code.py"}, f.execs)
	require.Equal(t, []string{"sb1"}, f.released)
}

// -h is asked for: main exits 0 on flag.ErrHelp.
func TestHelpIsNotAFailure(t *testing.T) {
	require.ErrorIs(t, run(context.Background(), []string{"-h"}, io.Discard), flag.ErrHelp)
}
