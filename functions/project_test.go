// Package functions_test runs the staged DigitalOcean project through
// DigitalOcean's own deployer (validate-project: the code under
// `doctl serverless deploy`), with the environment the README's recipe
// gives. .ci/do-functions then builds each function with DigitalOcean's
// remote build and drives it through the runtime's own proxy.
package functions_test

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/testenv"
)

// validateProject is DigitalOcean's deployer, beside the repository
// (required in CI, skipped elsewhere).
func validateProject(t *testing.T) string {
	t.Helper()
	p := testenv.Shared(t, "tools/do-functions/validate-project")
	_, err := exec.LookPath("node")
	require.NoError(t, err, "validate-project needs node: apt-get install -y nodejs")
	return p
}

// stage runs `make package`'s script into a temporary directory.
func stage(t *testing.T, env ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "do")
	cmd := exec.Command("bash", "stage.sh", out)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "stage.sh:\n%s", b)
	return out
}

// readmeEnvFile is the README's env file recipe (its first dotenv block).
func readmeEnvFile(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../README.md")
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case !in && l == "```dotenv":
			in = true
		case in && l == "```":
			return strings.Join(lines, "\n") + "\n"
		case in:
			lines = append(lines, l)
		}
	}
	t.Fatal("README has no ```dotenv block (the env file recipe)")
	return ""
}

type deployed struct {
	Packages []struct {
		Name        string            `json:"name"`
		Environment map[string]string `json:"environment"`
		Functions   []struct {
			Name        string            `json:"name"`
			Runtime     string            `json:"runtime"`
			Web         any               `json:"web"`
			Build       string            `json:"build"`
			Environment map[string]string `json:"environment"`
			Limits      map[string]int    `json:"limits"`
			Triggers    []struct {
				Name             string            `json:"name"`
				Type             string            `json:"type"`
				ScheduledDetails map[string]string `json:"scheduledDetails"`
			} `json:"triggers"`
		} `json:"functions"`
	} `json:"packages"`
}

// runDeployer loads envFile as the README says (set -a; . file) and runs the
// deployer's reader over dir with exactly that environment.
func runDeployer(t *testing.T, dir, envFile string) (deployed, string, error) {
	t.Helper()
	envPath := filepath.Join(t.TempDir(), "hotpool.env")
	require.NoError(t, os.WriteFile(envPath, []byte(envFile), 0o600))
	cmd := exec.Command("env", "-i", "PATH="+os.Getenv("PATH"), "HOME="+t.TempDir(), "bash", "-c",
		`set -a; . "$1"; set +a; exec "$2" "$3"`, "sh", envPath, validateProject(t), dir)
	b, err := cmd.CombinedOutput()
	var d deployed
	if err == nil {
		require.NoError(t, json.Unmarshal(b, &d), "%s", b)
	}
	return d, string(b), err
}

// TestDeployerAcceptsTheStagedProject: DigitalOcean's deployer reads the
// staged project.yml with the README's env file loaded as documented, and
// the functions get the config exactly as written (multi-key JSON).
func TestDeployerAcceptsTheStagedProject(t *testing.T) {
	dir := stage(t)
	envFile := readmeEnvFile(t)
	d, out, err := runDeployer(t, dir, envFile)
	require.NoError(t, err, "the deployer refused the project:\n%s", out)

	require.Len(t, d.Packages, 1)
	pkg := d.Packages[0]
	require.Equal(t, "hotpool", pkg.Name)
	require.ElementsMatch(t, []string{"HOTPOOL_API_TOKEN", "REDIS_URL", "HOTPOOL_CONFIG", "HOTPOOL_SECRET"}, slices.Sorted(maps.Keys(pkg.Environment)),
		"only the variables that must be set")
	cfg, err := pool.ParseConfig([]byte(pkg.Environment["HOTPOOL_CONFIG"]))
	require.NoError(t, err, "the config reaches the functions intact: %q", pkg.Environment["HOTPOOL_CONFIG"])
	require.NotEmpty(t, cfg.Pools)
	require.GreaterOrEqual(t, len(pkg.Environment["HOTPOOL_SECRET"]), 32)

	fns := map[string]int{}
	for i, f := range pkg.Functions {
		fns[f.Name] = i
		require.Equal(t, "go:1.25", f.Runtime, "the supported line of DigitalOcean's two Go runtimes (docs/digitalocean.md)")
		require.Equal(t, "raw", f.Web)
		require.Equal(t, "remote-default", f.Build, "Go functions build remotely")
	}
	require.Len(t, fns, 4)
	rec := pkg.Functions[fns["reconcile"]]
	require.Equal(t, []string{"DIGITALOCEAN_TOKEN"}, slices.Sorted(maps.Keys(rec.Environment)), "only reconcile calls the platform")
	require.GreaterOrEqual(t, rec.Limits["timeout"], 56000, "a run passes for up to 55 s")
	require.GreaterOrEqual(t, pkg.Functions[fns["acquire"]].Limits["timeout"], 26000, "wait_seconds holds an acquire up to 25 s")
	require.Len(t, rec.Triggers, 1)
	require.Equal(t, "SCHEDULED", rec.Triggers[0].Type)
	require.Equal(t, "* * * * *", rec.Triggers[0].ScheduledDetails["cron"])
	for n, i := range fns {
		if n != "reconcile" {
			require.Empty(t, pkg.Functions[i].Environment, n)
			require.Empty(t, pkg.Functions[i].Triggers, n)
		}
	}
}

// The variables the docs call optional never abort a deploy: they are in the
// staged project only when they were set at staging, and then resolve.
func TestOptionalVariablesAreStagedOnlyWhenSet(t *testing.T) {
	envFile := readmeEnvFile(t)
	dir := stage(t, "HOTPOOL_LOG_LEVEL=", "HOTPOOL_WEBHOOK_SECRET=")
	_, out, err := runDeployer(t, dir, envFile)
	require.NoError(t, err, "unset optional variables abort nothing:\n%s", out)

	dir = stage(t, "HOTPOOL_LOG_LEVEL=debug", "HOTPOOL_WEBHOOK_SECRET=whsec", "HOTPOOL_WEBHOOK_SECRET_SLACK=whsec2")
	_, out, err = runDeployer(t, dir, envFile)
	require.Error(t, err, "staged, they must be set at deploy time too")
	require.Contains(t, out, "HOTPOOL_LOG_LEVEL")

	d, out, err := runDeployer(t, dir, envFile+"HOTPOOL_LOG_LEVEL=debug\nHOTPOOL_WEBHOOK_SECRET=whsec\nHOTPOOL_WEBHOOK_SECRET_SLACK=whsec2\n")
	require.NoError(t, err, out)
	require.Equal(t, "debug", d.Packages[0].Environment["HOTPOOL_LOG_LEVEL"])
	for _, f := range d.Packages[0].Functions {
		if f.Name == "reconcile" {
			require.ElementsMatch(t, []string{"DIGITALOCEAN_TOKEN", "HOTPOOL_WEBHOOK_SECRET", "HOTPOOL_WEBHOOK_SECRET_SLACK"}, slices.Sorted(maps.Keys(f.Environment)))
		}
	}
}

// Each staged go.mod names only what that function imports, so the remote
// builder's `go mod download` fetches nothing for tests, the simulator,
// Lambda or the CLI.
func TestStagedModulesNameOnlyWhatTheFunctionImports(t *testing.T) {
	dir := stage(t)
	for _, fn := range []string{"acquire", "release", "metrics", "reconcile"} {
		mod, err := os.ReadFile(filepath.Join(dir, "packages", "hotpool", fn, "go.mod"))
		require.NoError(t, err)
		require.Contains(t, string(mod), "\ngo 1.24", "the go directive must not pass the go:1.24 runtime")
		for _, m := range []string{"aws-lambda-go", "miniredis", "kin-openapi", "prometheus"} {
			require.NotContains(t, string(mod), m, "%s's go.mod", fn)
		}
		require.NoFileExists(t, filepath.Join(dir, "packages", "hotpool", fn, "invoke.go"), "the platform adds its own main")
	}
}
