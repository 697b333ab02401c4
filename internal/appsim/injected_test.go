package appsim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

func TestInjectedFaultsAreCounted(t *testing.T) {
	sim, base := serve(t, appsim.Options{})
	sim.QueueFaults(429, 500, 503, 503)
	for i := 0; i < 5; i++ {
		do(t, http.MethodGet, base+"/v2/apps", token, nil)
	}
	sim.SetFaults(appsim.Faults{Delay: time.Millisecond})
	do(t, http.MethodGet, base+"/v2/apps", token, nil)
	require.Equal(t, map[string]int{"429": 1, "500": 1, "503": 2, "slow": 1}, sim.Injected())
}

func TestSetFailRateTurnsErrorsOnAndOff(t *testing.T) {
	clock := pool.NewManualClock(epoch)
	sim, base := serve(t, appsim.Options{Clock: clock, CreateDelay: time.Minute})
	sim.SetFailRate(1)
	failing := create(t, base, "hp-python-aaaaaaaaaaaaa")
	sim.SetFailRate(0)
	healthy := create(t, base, "hp-python-bbbbbbbbbbbbb")
	clock.Advance(time.Minute)
	require.Equal(t, "ERROR", string(get(t, base, failing.ID).InProgressDeployment.Phase))
	require.Equal(t, "ACTIVE", string(get(t, base, healthy.ID).ActiveDeployment.Phase))
}
