package appplatform_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/stretchr/testify/require"
)

// rawApp reads an app with a plain godo client, to see exactly what was sent.
func rawApp(t *testing.T, base, id string) *godo.App {
	t.Helper()
	c, err := godo.New(nil, godo.SetBaseURL(base+"/"))
	require.NoError(t, err)
	c.UserAgent = "test"
	req, err := c.NewRequest(ctxT(t), "GET", "v2/apps/"+id, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	var root struct{ App *godo.App }
	_, err = c.Do(ctxT(t), req, &root)
	require.NoError(t, err)
	return root.App
}

func TestCreateSendsTheTemplate(t *testing.T) {
	_, base := startSim(t, appsim.Options{})
	p := newProvider(t, base, nil)
	ctx := ctxT(t)

	s := spec(pool.NewSandboxID())
	s.Template.Env = map[string]string{"LOG_LEVEL": "debug"}
	app, err := p.Create(ctx, s)
	require.NoError(t, err)
	got := rawApp(t, base, app.ID)
	require.Equal(t, "hp-python-"+s.SandboxID, got.Spec.Name)
	require.Equal(t, "nyc", got.Spec.Region)
	require.Len(t, got.Spec.Services, 1)
	svc := got.Spec.Services[0]
	require.Equal(t, &godo.ImageSourceSpec{RegistryType: "GHCR", Registry: "bikramkgupta", Repository: "sandbox-python-service", Tag: "latest"}, svc.Image)
	require.Equal(t, "apps-s-1vcpu-1gb", svc.InstanceSizeSlug)
	require.Equal(t, int64(1), svc.InstanceCount)
	require.Equal(t, int64(8080), svc.HTTPPort)
	// The do-app-sandbox SDK's service-mode spec: its health check timings
	// and an explicit ingress rule for /.
	require.Equal(t, &godo.AppServiceSpecHealthCheck{HTTPPath: "/health", InitialDelaySeconds: 5, PeriodSeconds: 10, TimeoutSeconds: 5,
		SuccessThreshold: 1, FailureThreshold: 3}, svc.HealthCheck)
	require.NotNil(t, got.Spec.Ingress)
	require.Len(t, got.Spec.Ingress.Rules, 1)
	require.Equal(t, "/", *got.Spec.Ingress.Rules[0].Match.Path.Prefix)
	require.Equal(t, "sandbox", got.Spec.Ingress.Rules[0].Component.Name)
	env := map[string]*godo.AppVariableDefinition{}
	for _, e := range svc.Envs {
		env[e.Key] = e
	}
	require.Len(t, env, 6)
	require.Equal(t, godo.AppVariableType_Secret, env["SANDBOX_API_TOKEN"].Type, "the agent reads its token from SANDBOX_API_TOKEN, a SECRET")
	for k, v := range map[string]string{"SANDBOX_MODE": "service", "LOG_LEVEL": "debug", appplatform.EnvSandboxID: s.SandboxID, appplatform.EnvPool: "python", appplatform.EnvDeployment: "hp"} {
		require.Equal(t, v, env[k].Value, k)
		require.Equal(t, godo.AppVariableType_General, env[k].Type, k)
	}
	tok := env[appplatform.EnvAgentToken]
	require.Equal(t, godo.AppVariableType_Secret, tok.Type)
	require.NotContains(t, tok.Value, "agent-secret", "the API never shows a secret back")

	// Overrides: a digest instead of a tag, DOCR without a registry, another
	// size, region, port and health path.
	s = spec(pool.NewSandboxID())
	s.Pool = "node"
	s.Template = pool.Template{RegistryType: "DOCR", Repository: "my-node", Digest: "sha256:" + strings.Repeat("ab", 32),
		HTTPPort: 3000, HealthCheckPath: "/ready", Region: "ams", InstanceSize: "apps-d-1vcpu-2gb"}
	app, err = p.Create(ctx, s)
	require.NoError(t, err)
	got = rawApp(t, base, app.ID)
	svc = got.Spec.Services[0]
	require.Equal(t, "hp-node-"+s.SandboxID, got.Spec.Name)
	require.Equal(t, "ams", got.Spec.Region)
	require.Equal(t, &godo.ImageSourceSpec{RegistryType: "DOCR", Repository: "my-node", Digest: s.Template.Digest}, svc.Image)
	require.Equal(t, int64(3000), svc.HTTPPort)
	require.Equal(t, "/ready", svc.HealthCheck.HTTPPath)
	require.Equal(t, "apps-d-1vcpu-2gb", svc.InstanceSizeSlug)
	listed, err := p.List(ctx)
	require.NoError(t, err)
	require.Len(t, listed, 2)
}

func TestCreateRejectsAnUnnameableSandbox(t *testing.T) {
	sim, base := startSim(t, appsim.Options{})
	p := newProvider(t, base, nil)
	s := spec("NOT-AN-ID")
	_, err := p.Create(ctxT(t), s)
	require.ErrorContains(t, err, "sandbox id")
	require.Zero(t, sim.APICalls(), "rejected before any call")
}

func TestNewValidatesOptions(t *testing.T) {
	_, err := appplatform.New(appplatform.Options{Deployment: "hp"})
	require.ErrorContains(t, err, "token")
	for _, d := range []string{"", "toolongname", "Hp", "hp-"} {
		_, err = appplatform.New(appplatform.Options{Token: "t", Deployment: d})
		require.ErrorContains(t, err, "deployment", d)
	}
}

// Retries stop when the deadline leaves no room for another wait, so no
// call outlives its context.
func TestRetriesStopAtTheDeadline(t *testing.T) {
	sim, base := startSim(t, appsim.Options{})
	p := newProvider(t, base, func(o *appplatform.Options) {
		o.RetryMax, o.RetryWaitMin, o.RetryWaitMax = 5, time.Second, 2*time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	sim.QueueFaults(503, 503, 503, 503, 503, 503)
	_, err := p.Get(ctx, "4f6c71e2-1e90-4762-9fee-6cc4a0a9f2cf")
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.Equal(t, 1, sim.APICalls(), "a 1s retry wait does not fit a 500ms deadline")
	require.NoError(t, ctx.Err(), "it gave up before the deadline, not at it")

	// A slow API: the call ends with its context, as unknown.
	sim.SetFaults(appsim.Faults{Delay: time.Minute})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = p.Get(ctx2, "4f6c71e2-1e90-4762-9fee-6cc4a0a9f2cf")
	require.ErrorIs(t, err, pool.ErrProviderUnknown)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// Nothing the provider logs carries the API token or an agent token, on
// success, failure and rate limiting alike.
func TestLogsCarryNoSecret(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sim, base := startSim(t, appsim.Options{})
	budget := newMiniBudget(t)
	p := newProvider(t, base, func(o *appplatform.Options) { o.Logger, o.Budget = logger, budget })
	ctx := ctxT(t)
	s := spec(pool.NewSandboxID())
	app, err := p.Create(ctx, s)
	require.NoError(t, err)
	sim.QueueFaults(500)
	_, err = p.Create(ctx, spec(pool.NewSandboxID()))
	require.Error(t, err)
	sim.QueueFaults(429)
	sim.SetFaults(appsim.Faults{RetryAfter: time.Second})
	_, err = p.Get(ctx, app.ID)
	require.NoError(t, err)
	require.NoError(t, p.Delete(ctx, app.ID))
	bad := newProvider(t, base, func(o *appplatform.Options) { o.Logger, o.Token = logger, "dop_v1_wrong-secret" })
	_, err = bad.Create(ctx, spec(pool.NewSandboxID()))
	require.Error(t, err)

	out := buf.String()
	require.NotEmpty(t, out)
	require.Contains(t, out, "rate limited")
	for _, secret := range []string{testToken, "dop_v1_wrong-secret", s.Env[appplatform.EnvAgentToken], "agent-secret"} {
		require.NotContains(t, out, secret)
	}
	require.NotContains(t, err.Error(), "dop_v1_wrong-secret")
}
