// Package functions_test proves that `make package` stages every
// DigitalOcean function as a module that builds alone, offline, with Go 1.24
// and a launcher like the platform's.
package functions_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const toolchain = "go1.24.11"

func TestStagedFunctionsBuildWithGo124Offline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four modules with the Go 1.24 toolchain")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not available")
	}
	// The builds run offline with the toolchain from the module cache. Under
	// CI=true the probe may download it (a fresh machine has none) and its
	// absence fails the test; elsewhere a machine without it skips rather
	// than fetches.
	ci := os.Getenv("CI") == "true"
	probe := exec.Command("go", "version")
	probe.Env = append(os.Environ(), "GOTOOLCHAIN="+toolchain)
	if !ci {
		probe.Env = append(probe.Env, "GOPROXY=off")
	}
	if out, err := probe.CombinedOutput(); err != nil || !strings.Contains(string(out), toolchain) {
		if ci {
			t.Fatalf("%s is not available: %s", toolchain, strings.TrimSpace(string(out)))
		}
		t.Skipf("%s is not available offline: %s", toolchain, strings.TrimSpace(string(out)))
	}
	out := filepath.Join(t.TempDir(), "do")
	run := func(script string) string {
		cmd := exec.Command("bash", script, out)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s:\n%s", script, b)
		return string(b)
	}
	staged := run("stage.sh")
	checked := run("check.sh")
	for _, fn := range []string{"acquire", "release", "metrics", "reconcile"} {
		require.Contains(t, staged, "packages/hotpool/"+fn)
		require.Contains(t, checked, "ok   "+fn+" builds with "+toolchain)
		dir := filepath.Join(out, "packages", "hotpool", fn)
		for _, f := range []string{"go.mod", "go.sum", "main.go", "vendor/modules.txt"} {
			require.FileExists(t, filepath.Join(dir, f))
		}
		require.NoFileExists(t, filepath.Join(dir, "invoke.go"), "the platform adds its own main")
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		require.NoError(t, err)
		require.Contains(t, string(mod), "\ngo 1.24", "the go directive must not pass the go:1.24 runtime")
	}
	require.FileExists(t, filepath.Join(out, "project.yml"))
}
