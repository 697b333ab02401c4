package appplatform_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

func TestCreateWalksToActiveAndServesHealth(t *testing.T) {
	clock := pool.NewManualClock(epoch)
	sim, base := startSim(t, appsim.Options{Clock: clock, CreateDelay: time.Minute})
	p := newProvider(t, base, func(o *appplatform.Options) { o.Clock = clock })
	ctx := ctxT(t)

	id := pool.NewSandboxID()
	app, err := p.Create(ctx, spec(id))
	require.NoError(t, err)
	require.Equal(t, pool.PhaseInProgress, app.Phase)
	require.Equal(t, "hp-python-"+id, app.Name)
	require.Equal(t, id, app.SandboxID)
	require.Equal(t, "python", app.Pool)
	require.Empty(t, app.URL)

	clock.Advance(30 * time.Second)
	got, err := p.Get(ctx, app.ID)
	require.NoError(t, err)
	require.Equal(t, pool.PhaseInProgress, got.Phase)
	require.ErrorIs(t, p.Health(ctx, got, "/health"), appplatform.ErrUnhealthy, "no live URL yet")

	clock.Advance(31 * time.Second)
	got, err = p.Get(ctx, app.ID)
	require.NoError(t, err)
	require.Equal(t, pool.PhaseActive, got.Phase)
	require.Equal(t, id, got.SandboxID)
	require.Equal(t, "python", got.Pool)
	require.Equal(t, base+"/live/"+app.ID, got.URL)
	require.NoError(t, p.Health(ctx, got, "/health"))

	sim.SetHealthFailing(app.ID, true)
	err = p.Health(ctx, got, "/health")
	require.ErrorIs(t, err, appplatform.ErrUnhealthy)
	require.NotErrorIs(t, err, pool.ErrProviderUnknown, "a 503 from the app is definite")
	sim.SetHealthFailing(app.ID, false)
	require.NoError(t, p.Health(ctx, got, "/health"))

	require.Equal(t, int64(3), p.Calls(), "create + two gets; health is not an API call")
	require.Equal(t, 1, sim.Calls()["POST /v2/apps"])
	require.Equal(t, 2, sim.Calls()["GET /v2/apps/{id}"])
}

func TestCreateEndingInErrorIsFailed(t *testing.T) {
	clock := pool.NewManualClock(epoch)
	_, base := startSim(t, appsim.Options{Clock: clock, CreateDelay: time.Minute, FailRate: 1})
	p := newProvider(t, base, nil)
	ctx := ctxT(t)

	app, err := p.Create(ctx, spec(pool.NewSandboxID()))
	require.NoError(t, err)
	require.Equal(t, pool.PhaseInProgress, app.Phase)
	clock.Advance(time.Minute)
	got, err := p.Get(ctx, app.ID)
	require.NoError(t, err)
	require.Equal(t, pool.PhaseFailed, got.Phase)
	require.Empty(t, got.URL)
	require.NoError(t, p.Delete(ctx, app.ID))
	got, err = p.Get(ctx, app.ID)
	require.NoError(t, err)
	require.Equal(t, pool.PhaseGone, got.Phase)
}

func TestDeleteOfMissingAppSucceeds(t *testing.T) {
	sim, base := startSim(t, appsim.Options{})
	p := newProvider(t, base, nil)
	require.NoError(t, p.Delete(ctxT(t), "4f6c71e2-1e90-4762-9fee-6cc4a0a9f2cf"))
	require.Equal(t, 1, sim.Calls()["DELETE /v2/apps/{id}"], "one call, no retries on 404")
}

func TestListPaginatesOneCallPerPage(t *testing.T) {
	for _, tc := range []struct{ apps, foreign, calls int }{{450, 7, 3}, {1000, 0, 5}} {
		t.Run(fmt.Sprint(tc.apps), func(t *testing.T) {
			sim, base := startSim(t, appsim.Options{})
			p := newProvider(t, base, nil)
			other := newProvider(t, base, func(o *appplatform.Options) { o.Deployment = "other" })
			ctx := ctxT(t)
			want := map[string]bool{}
			for i := 0; i < tc.apps; i++ {
				id := pool.NewSandboxID()
				_, err := p.Create(ctx, spec(id))
				require.NoError(t, err)
				want[id] = true
			}
			// Another deployment's apps share the account; they are not ours.
			for i := 0; i < tc.foreign; i++ {
				_, err := other.Create(ctx, spec(pool.NewSandboxID()))
				require.NoError(t, err)
			}
			sim.ResetCalls()
			apps, err := p.List(ctx)
			require.NoError(t, err)
			require.Len(t, apps, tc.apps)
			for _, a := range apps {
				require.True(t, want[a.SandboxID], "listed %s", a.Name)
				require.Equal(t, "python", a.Pool)
				require.Equal(t, pool.PhaseActive, a.Phase)
			}
			require.Equal(t, tc.calls, sim.Calls()["GET /v2/apps"])
			require.Equal(t, tc.calls, sim.APICalls())
			t.Logf("listing %d apps (+%d foreign) cost %d calls at per_page %d", tc.apps, tc.foreign, sim.APICalls(), appplatform.ListPageSize)
		})
	}
}

func TestBadTokenIsUnauthorizedAndUnknown(t *testing.T) {
	sim, base := startSim(t, appsim.Options{})
	p := newProvider(t, base, func(o *appplatform.Options) { o.Token = "wrong" })
	ctx := ctxT(t)

	_, err := p.Create(ctx, spec(pool.NewSandboxID()))
	require.ErrorIs(t, err, appplatform.ErrUnauthorized)
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	var apiErr *appplatform.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 401, apiErr.Status)
	require.Equal(t, "Unable to authenticate you.", apiErr.Message)

	got, err := p.Get(ctx, "4f6c71e2-1e90-4762-9fee-6cc4a0a9f2cf")
	require.ErrorIs(t, err, appplatform.ErrUnauthorized)
	require.Equal(t, pool.PhaseUnknown, got.Phase, "a refused token never reads as gone")
	_, err = p.List(ctx)
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.ErrorIs(t, p.Delete(ctx, "x"), appplatform.ErrUnauthorized)
	require.Equal(t, 4, sim.APICalls(), "a 401 is not retried")
}

func TestInvalidSpecIs422AndDefinite(t *testing.T) {
	sim, base := startSim(t, appsim.Options{})
	p := newProvider(t, base, nil)
	for name, mutate := range map[string]func(*pool.CreateSpec){
		"region":        func(s *pool.CreateSpec) { s.Template.Region = "mars" },
		"instance size": func(s *pool.CreateSpec) { s.Template.InstanceSize = "apps-s-64vcpu-1tb" },
		"registry type": func(s *pool.CreateSpec) { s.Template.RegistryType = "QUAY" },
	} {
		t.Run(name, func(t *testing.T) {
			s := spec(pool.NewSandboxID())
			mutate(&s)
			_, err := p.Create(ctxT(t), s)
			require.ErrorIs(t, err, appplatform.ErrInvalidSpec)
			require.NotErrorIs(t, err, pool.ErrProviderUnknown)
			var apiErr *appplatform.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, 422, apiErr.Status)
			require.NotEmpty(t, apiErr.RequestID)
		})
	}
	require.Equal(t, 3, sim.Calls()["POST /v2/apps"])
}

func TestTransientFailuresAreUnknownNeverFailed(t *testing.T) {
	clock := pool.NewManualClock(epoch)
	sim, base := startSim(t, appsim.Options{Clock: clock})
	p := newProvider(t, base, nil)
	ctx := ctxT(t)
	app, err := p.Create(ctx, spec(pool.NewSandboxID()))
	require.NoError(t, err)

	// A 503 then an answer: godo's retry absorbs it.
	sim.QueueFaults(503)
	got, err := p.Get(ctx, app.ID)
	require.NoError(t, err)
	require.Equal(t, pool.PhaseActive, got.Phase)

	// Three 500s exhaust the retries (RetryMax 2): unknown, not failed, not gone.
	sim.QueueFaults(500, 500, 500)
	got, err = p.Get(ctx, app.ID)
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.Equal(t, pool.PhaseUnknown, got.Phase)

	// Dropped connections (every one; net/http itself resends an idempotent
	// request once on a dropped reused connection): unknown.
	sim.SetFaults(appsim.Faults{DropRate: 1})
	got, err = p.Get(ctx, app.ID)
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.Equal(t, pool.PhaseUnknown, got.Phase)
	sim.SetFaults(appsim.Faults{})
	sim.QueueFaults(500, 500, 500)
	require.ErrorIs(t, p.Delete(ctx, app.ID), pool.ErrProviderUnknown)
	sim.QueueFaults(503, 503, 503)
	_, err = p.List(ctx)
	require.ErrorIs(t, err, pool.ErrProviderUnknown)

	// A create is never sent twice after a 500 or a dropped connection: it may
	// have reached the API.
	sim.ResetCalls()
	sim.QueueFaults(500)
	_, err = p.Create(ctx, spec(pool.NewSandboxID()))
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	sim.QueueFaults(appsim.DropConnection)
	_, err = p.Create(ctx, spec(pool.NewSandboxID()))
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.Equal(t, 2, sim.Calls()["POST /v2/apps"])
}

func TestDuplicateCreateIsConflictAndUnknown(t *testing.T) {
	_, base := startSim(t, appsim.Options{})
	p := newProvider(t, base, nil)
	ctx := ctxT(t)
	s := spec(pool.NewSandboxID())
	_, err := p.Create(ctx, s)
	require.NoError(t, err)
	_, err = p.Create(ctx, s)
	require.ErrorIs(t, err, appplatform.ErrConflict)
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
}

func TestHealthTransportFailureIsUnknown(t *testing.T) {
	sim, base := startSim(t, appsim.Options{})
	p := newProvider(t, base, nil)
	ctx := ctxT(t)
	app, err := p.Create(ctx, spec(pool.NewSandboxID()))
	require.NoError(t, err)
	require.NoError(t, p.Health(ctx, app, "/health"))
	require.NoError(t, sim.Close())
	err = p.Health(ctx, app, "/health")
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.False(t, errors.Is(err, appplatform.ErrUnhealthy))
}

func TestEmptyAppIDIsRejectedWithoutACall(t *testing.T) {
	sim, base := startSim(t, appsim.Options{})
	p := newProvider(t, base, nil)
	_, err := p.Get(ctxT(t), "")
	require.ErrorContains(t, err, "empty app id")
	require.ErrorContains(t, p.Delete(ctxT(t), ""), "empty app id")
	require.Zero(t, sim.APICalls())
}
