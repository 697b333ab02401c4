package sandboxagent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A sandboxed command sees the sandbox's HOME and TMPDIR and the host's PATH,
// and none of the server's own variables: its secrets stay out of sandboxes.
func TestCommandsGetNoneOfTheServersEnvironment(t *testing.T) {
	t.Setenv("DIGITALOCEAN_TOKEN", "dop_v1_must_not_leak")
	t.Setenv("HOTPOOL_API_TOKEN", "api-must-not-leak")
	ag := &Agent{Token: "tok", Root: t.TempDir()}
	require.NoError(t, ag.MakeRoots())
	srv := httptest.NewServer(ag)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/exec", strings.NewReader(`{"command":"env; python3 --version >/dev/null && echo tools-ok"}`))
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		Stdout   string `json:"stdout"`
		ExitCode int    `json:"exit_code"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	require.Zero(t, out.ExitCode, out.Stdout)
	require.NotContains(t, out.Stdout, "must_not_leak")
	require.NotContains(t, out.Stdout, "must-not-leak")
	require.Contains(t, out.Stdout, "HOME="+ag.host("/home/sandbox"))
	require.Contains(t, out.Stdout, "SANDBOX_MODE=service")
	require.Contains(t, out.Stdout, "tools-ok", "the host's PATH still finds its tools")
}
