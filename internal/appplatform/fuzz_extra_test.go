package appplatform

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/hotpool/hotpool/internal/pool"
)

// FuzzToApp decodes App Platform app JSON (what GET /v2/apps answers) and
// classifies it. Whatever the API sends, the phase is one of ours, a URL is
// given only to an ACTIVE app, and only ERROR or CANCELED reads as failed:
// a phase we do not know must never condemn a sandbox.
func FuzzToApp(f *testing.F) {
	for _, s := range []string{
		`{"id":"a1","spec":{"name":"hp-python-x"},"live_url":"https://x","active_deployment":{"phase":"ACTIVE"}}`,
		`{"id":"a2","in_progress_deployment":{"phase":"BUILDING"},"live_url":"https://y"}`,
		`{"id":"a3","pending_deployment":{"phase":"ERROR"}}`,
		`{"id":"a4","active_deployment":{"phase":"CANCELED"}}`,
		`{"id":"a5","active_deployment":{"phase":"SOMETHING_NEW"}}`,
		`{"id":"a6","created_at":"2026-01-01T00:00:00Z"}`,
		`{"id":"a7","active_deployment":null,"in_progress_deployment":{"phase":"UNKNOWN"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a godo.App
		if json.Unmarshal(data, &a) != nil {
			return
		}
		app := toApp(&a)
		switch app.Phase {
		case pool.PhaseActive, pool.PhaseInProgress, pool.PhaseFailed, pool.PhaseGone, pool.PhaseUnknown:
		default:
			t.Fatalf("phase %q is not one of ours", app.Phase)
		}
		if app.URL != "" && app.Phase != pool.PhaseActive {
			t.Fatalf("a %s app got URL %q", app.Phase, app.URL)
		}
		if app.Phase == pool.PhaseFailed {
			var phases []godo.DeploymentPhase
			for _, d := range []*godo.Deployment{a.ActiveDeployment, a.InProgressDeployment, a.PendingDeployment} {
				if d != nil {
					phases = append(phases, d.Phase)
				}
			}
			definite := false
			for _, ph := range phases {
				definite = definite || ph == godo.DeploymentPhase_Error || ph == godo.DeploymentPhase_Canceled
			}
			if !definite {
				t.Fatalf("failed without an ERROR or CANCELED deployment: %s", data)
			}
		}
	})
}

// FuzzRetryAfter reads Retry-After as the API might send it: a number of
// seconds is never read as a time before now, and no header pauses the
// deployment for more than maxRetryAfter.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "5", "120", "-1", "", "Wed, 21 Oct 2015 07:28:00 GMT", "1e3", "99999999999999999999", " 7"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		until := retryAfter(v, now)
		if until.IsZero() || until.After(now.Add(maxRetryAfter)) {
			t.Fatalf("Retry-After %q read as %v", v, until)
		}
		var secs int
		if _, err := json.Marshal(v); err == nil && json.Unmarshal([]byte(v), &secs) == nil && secs >= 0 && until.Before(now) {
			t.Fatalf("Retry-After %q (seconds) read as %v, before now", v, until)
		}
	})
}
