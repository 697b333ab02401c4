package functions_test

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// The keys doctl's project reader accepts at each level that project.yml uses;
// anything else would be rejected (or silently ignored) at deploy time.
var (
	projectKeys  = set("packages", "environment", "parameters", "targetNamespace")
	packageKeys  = set("name", "environment", "parameters", "annotations", "functions", "shared", "web")
	functionKeys = set("name", "runtime", "main", "binary", "web", "webSecure", "parameters", "environment", "annotations", "limits", "triggers")
	limitKeys    = set("timeout", "memory", "logs")
	triggerKeys  = set("name", "sourceType", "sourceDetails", "enabled")
)

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func onlyKeys(t *testing.T, where string, m map[string]any, allowed map[string]bool) {
	t.Helper()
	for k := range m {
		require.True(t, allowed[k], "%s: key %q is not one the deployer accepts", where, k)
	}
}

func TestProjectYAML(t *testing.T) {
	b, err := os.ReadFile("../project.yml")
	require.NoError(t, err)
	j, err := yaml.YAMLToJSON(b)
	require.NoError(t, err)
	var p map[string]any
	require.NoError(t, json.Unmarshal(j, &p))
	onlyKeys(t, "project", p, projectKeys)

	pkgs := p["packages"].([]any)
	require.Len(t, pkgs, 1)
	pkg := pkgs[0].(map[string]any)
	onlyKeys(t, "package", pkg, packageKeys)
	require.Equal(t, "hotpool", pkg["name"])
	env := pkg["environment"].(map[string]any)
	for _, k := range []string{"HOTPOOL_API_TOKEN", "REDIS_URL", "HOTPOOL_CONFIG"} {
		require.Equal(t, "${"+k+"}", env[k], "secrets come from the deploy environment, never the file")
	}
	require.NotContains(t, env, "DIGITALOCEAN_TOKEN", "only reconcile calls the platform")
	for k, v := range env {
		require.Regexp(t, regexp.MustCompile(`^\$\{[A-Z_]+\}$`), v, k)
	}

	fns := map[string]map[string]any{}
	for _, f := range pkg["functions"].([]any) {
		fn := f.(map[string]any)
		onlyKeys(t, "function", fn, functionKeys)
		fns[fn["name"].(string)] = fn
		require.Equal(t, "go:1.24", fn["runtime"])
		require.Equal(t, "raw", fn["web"], "the functions read the raw HTTP request")
		require.Equal(t, false, fn["webSecure"], "the bearer token is checked by the function")
		limits := fn["limits"].(map[string]any)
		onlyKeys(t, "limits", limits, limitKeys)
		require.GreaterOrEqual(t, limits["timeout"].(float64), 1000.0)
		require.LessOrEqual(t, limits["timeout"].(float64), 900000.0)
		require.GreaterOrEqual(t, limits["memory"].(float64), 128.0)
		require.LessOrEqual(t, limits["memory"].(float64), 1024.0)
	}
	require.Len(t, fns, 4)
	for _, n := range []string{"acquire", "release", "metrics", "reconcile"} {
		require.Contains(t, fns, n)
	}
	// Only reconcile calls the platform and delivers webhooks (after its
	// passes), so the webhook secret of docs/webhooks.md is set there too.
	require.Equal(t, map[string]any{"DIGITALOCEAN_TOKEN": "${DIGITALOCEAN_TOKEN}", "HOTPOOL_WEBHOOK_SECRET": "${HOTPOOL_WEBHOOK_SECRET}"}, fns["reconcile"]["environment"])
	for n, fn := range fns {
		if n != "reconcile" {
			require.NotContains(t, fn, "environment")
		}
	}
	// acquire may wait 25 s; reconcile's cron run passes for up to 55 s.
	require.GreaterOrEqual(t, fns["acquire"]["limits"].(map[string]any)["timeout"].(float64), 26000.0)
	require.GreaterOrEqual(t, fns["reconcile"]["limits"].(map[string]any)["timeout"].(float64), 56000.0)

	trig := fns["reconcile"]["triggers"].([]any)
	require.Len(t, trig, 1)
	tr := trig[0].(map[string]any)
	onlyKeys(t, "trigger", tr, triggerKeys)
	require.Equal(t, "scheduler", tr["sourceType"])
	require.Equal(t, "* * * * *", tr["sourceDetails"].(map[string]any)["cron"])
	for n, fn := range fns {
		if n != "reconcile" {
			require.NotContains(t, fn, "triggers")
		}
	}
}
