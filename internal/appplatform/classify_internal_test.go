package appplatform

import (
	"net/http"
	"testing"

	"time"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

func TestToAppReadsTheRightDeployment(t *testing.T) {
	dep := func(ph godo.DeploymentPhase) *godo.Deployment { return &godo.Deployment{Phase: ph} }
	spec := &godo.AppSpec{Name: "hp-python-abcdefghijk27"}
	for name, c := range map[string]struct {
		app  godo.App
		want pool.Phase
		url  string
	}{
		"fresh, no deployment yet":       {godo.App{Spec: spec}, pool.PhaseInProgress, ""},
		"first deployment building":      {godo.App{Spec: spec, InProgressDeployment: dep("BUILDING")}, pool.PhaseInProgress, ""},
		"first deployment failed":        {godo.App{Spec: spec, InProgressDeployment: dep("ERROR")}, pool.PhaseFailed, ""},
		"canceled":                       {godo.App{Spec: spec, InProgressDeployment: dep("CANCELED")}, pool.PhaseFailed, ""},
		"pending only":                   {godo.App{Spec: spec, PendingDeployment: dep("PENDING_BUILD")}, pool.PhaseInProgress, ""},
		"active":                         {godo.App{Spec: spec, ActiveDeployment: dep("ACTIVE"), LiveURL: "https://x"}, pool.PhaseActive, "https://x"},
		"active while a redeploy fails":  {godo.App{Spec: spec, ActiveDeployment: dep("ACTIVE"), InProgressDeployment: dep("ERROR"), LiveURL: "https://x"}, pool.PhaseActive, "https://x"},
		"active deployment in odd phase": {godo.App{Spec: spec, ActiveDeployment: dep("UNKNOWN"), LiveURL: "https://x"}, pool.PhaseUnknown, ""},
	} {
		got := toApp(&c.app)
		require.Equal(t, c.want, got.Phase, name)
		require.Equal(t, c.url, got.URL, name)
		require.Equal(t, spec.Name, got.Name, name)
	}
}

func TestBackoffStaysWithinBounds(t *testing.T) {
	full := backoff(true, func(d time.Duration) time.Duration { return d })
	none := backoff(true, func(time.Duration) time.Duration { return 0 })
	for attempt := 0; attempt < 70; attempt++ {
		hi := full(100, 1000, attempt, nil)
		lo := none(100, 1000, attempt, nil)
		require.Equal(t, time.Duration(100), lo)
		require.LessOrEqual(t, hi, time.Duration(1000))
		require.GreaterOrEqual(t, hi, time.Duration(100))
	}
	require.Equal(t, time.Duration(200), full(100, 1000, 1, nil))
}

func TestBackoffHonoursRetryAfterOnlyWithoutABudget(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}}
	none := func(time.Duration) time.Duration { return 0 }
	require.Equal(t, time.Second, backoff(false, none)(100*time.Millisecond, 2*time.Second, 0, resp))
	require.Equal(t, 500*time.Millisecond, backoff(false, none)(100*time.Millisecond, 500*time.Millisecond, 0, resp), "capped at the max wait")
	require.Equal(t, 100*time.Millisecond, backoff(true, none)(100*time.Millisecond, 2*time.Second, 0, resp), "the budget holds callers instead")
}
