package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
)

// TestTriggerEnsure drives `hotpool trigger ensure` through real godo against
// the simulated Functions API (the paths and bodies of DigitalOcean's OpenAPI
// resources/functions): it creates the trigger once, a second run changes
// nothing, and a new --cron updates it in place.
func TestTriggerEnsure(t *testing.T) {
	sim := appsim.New(appsim.Options{Token: "do-token"})
	base, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	t.Setenv("DIGITALOCEAN_TOKEN", "do-token")
	t.Setenv(appplatform.EnvAPIURL, base)

	code, _, stderr := cli(t, "trigger", "ensure")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "no functions namespace")

	ns := sim.AddNamespace("hotpool", "nyc1")
	code, stdout, stderr := cli(t, "trigger", "ensure")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "trigger reconcile-every-minute created: hotpool/reconcile runs \"* * * * *\" (enabled: true) in namespace "+ns)
	tr := sim.Triggers(ns)
	require.Len(t, tr, 1)
	require.Equal(t, "SCHEDULED", tr[0].Type)
	require.True(t, tr[0].IsEnabled)

	sim.ResetCalls()
	code, stdout, _ = cli(t, "trigger", "ensure")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "unchanged")
	require.Equal(t, map[string]int{"GET /v2/functions/namespaces": 1, "GET /v2/functions/namespaces/{ns}/triggers/{name}": 1}, sim.Calls(),
		"a second run only reads")
	require.Len(t, sim.Triggers(ns), 1)

	code, stdout, _ = cli(t, "trigger", "ensure", "--cron", "*/2 * * * *")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "updated: hotpool/reconcile runs \"*/2 * * * *\"")
	tr = sim.Triggers(ns)
	require.Len(t, tr, 1)
	require.Equal(t, "*/2 * * * *", tr[0].ScheduledDetails.Cron)

	// Two namespaces: the user must say which.
	other := sim.AddNamespace("staging", "ams3")
	code, _, stderr = cli(t, "trigger", "ensure")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "pick one with --namespace")
	code, stdout, stderr = cli(t, "trigger", "ensure", "--namespace", "staging")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "created")
	require.Len(t, sim.Triggers(other), 1)

	code, _, stderr = cli(t, "trigger", "ensure", "--cron", "every minute")
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "has 2 fields")

	t.Setenv("DIGITALOCEAN_TOKEN", "wrong")
	code, _, stderr = cli(t, "trigger", "ensure", "--namespace", ns)
	require.Equal(t, exitError, code)
	require.Contains(t, stderr, "401")
	require.NotContains(t, stderr, "wrong", "the token is never repeated")
}
