package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTimeIsMillisecondsUTCAndEmptyWhenUnset(t *testing.T) {
	at := time.Date(2026, 3, 1, 13, 4, 5, 678_900_000, time.FixedZone("x", 3600))
	b, err := json.Marshal(Lease{Token: "t", ExpiresAt: Time{at}})
	require.NoError(t, err)
	require.JSONEq(t, `{"token":"t","expires_at":"2026-03-01T12:04:05.678Z"}`, string(b))

	b, err = json.Marshal(Sandbox{ID: "a"})
	require.NoError(t, err)
	require.Contains(t, string(b), `"created_at":""`, "an unset time the contract always carries reads \"\"")
	require.NotContains(t, string(b), "ready_at", "ready_at is left out when unset")

	for _, in := range []string{`""`, `null`} {
		var got Time
		require.NoError(t, json.Unmarshal([]byte(in), &got))
		require.True(t, got.IsZero(), in)
	}
	var got Time
	require.NoError(t, json.Unmarshal([]byte(`"2026-03-01T12:04:05.678Z"`), &got))
	require.True(t, got.Equal(at.Truncate(time.Millisecond)))
	require.Error(t, json.Unmarshal([]byte(`"yesterday"`), &got))
}

func TestAcquireResponseCarriesALeaseOrAClaimNeverBoth(t *testing.T) {
	b, err := json.Marshal(AcquireResponse{Sandbox: &Sandbox{ID: "a"}, Lease: &Lease{Token: "t"}, Source: "pool"})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.ElementsMatch(t, []string{"sandbox", "lease", "source"}, keys(m))

	b, err = json.Marshal(AcquireResponse{Claim: &Claim{ID: "c", Status: "creating", RetryAfterSeconds: 5}})
	require.NoError(t, err)
	require.JSONEq(t, `{"claim":{"id":"c","status":"creating","retry_after_seconds":5}}`, string(b))
}

func TestBusyIsWorkInFlight(t *testing.T) {
	require.False(t, PassReport{Pools: map[string]PoolPassReport{"p": {Ready: 2, Target: 2, Circuit: "closed"}}}.Busy())
	require.True(t, PassReport{Pools: map[string]PoolPassReport{"p": {Ready: 2, Target: 2, Creating: 1, Circuit: "closed"}}}.Busy())
	require.True(t, PassReport{Pools: map[string]PoolPassReport{"p": {Ready: 1, Target: 2, Circuit: "closed"}}}.Busy())
	require.False(t, PassReport{Pools: map[string]PoolPassReport{"p": {Ready: 1, Target: 2, Circuit: "open: quota"}}}.Busy(), "an open circuit waits")
	require.False(t, PassReport{Pools: map[string]PoolPassReport{"p": {Ready: 0, Target: 2, Idle: true, Circuit: "closed"}}}.Busy(), "an idle pool waits")
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
