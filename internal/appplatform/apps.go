package appplatform

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/pool"
)

// Create creates the sandbox's app. Its phase is what the API answered
// (normally in progress); later passes Get it until it is ACTIVE.
func (p *Provider) Create(ctx context.Context, spec pool.CreateSpec) (pool.App, error) {
	as, err := appSpec(p.deployment, spec)
	if err != nil {
		return pool.App{}, err
	}
	app, _, err := p.apps.Create(ctx, &godo.AppCreateRequest{Spec: as})
	if err != nil {
		err = classify("create", err)
		p.log.WarnContext(ctx, "app create failed", "op", "create", "pool", spec.Pool, "sandbox_id", spec.SandboxID, "err", err)
		return pool.App{}, err
	}
	if app == nil {
		// The app may exist all the same: the list finds it by sandbox id.
		return pool.App{}, errNoApp("create")
	}
	out := toApp(app)
	// The answer always names our sandbox; fill from the request in case the
	// spec came back without the env.
	out.SandboxID, out.Pool = spec.SandboxID, spec.Pool
	p.log.InfoContext(ctx, "app created", "op", "create", "pool", spec.Pool, "sandbox_id", spec.SandboxID, "app_id", out.ID, "phase", string(out.Phase))
	return out, nil
}

// Get reads one app; a 404 is PhaseGone with no error.
func (p *Provider) Get(ctx context.Context, appID string) (pool.App, error) {
	if appID == "" {
		return pool.App{}, errors.New("appplatform: get: empty app id")
	}
	app, _, err := p.apps.Get(ctx, appID)
	if err != nil {
		err = classify("get", err)
		if isNotFound(err) {
			return pool.App{ID: appID, Phase: pool.PhaseGone}, nil
		}
		return pool.App{ID: appID, Phase: pool.PhaseUnknown}, err
	}
	if app == nil {
		return pool.App{ID: appID, Phase: pool.PhaseUnknown}, errNoApp("get")
	}
	out := toApp(app)
	if id, poolName, ok := SandboxIDFromApp(app, p.deployment); ok {
		out.SandboxID, out.Pool = id, poolName
	}
	return out, nil
}

// List returns every app this deployment owns, one API call per page of 200.
// Apps of other deployments, or whose env does not prove ownership, are left
// out: hotpool never touches what it cannot prove is its own.
func (p *Provider) List(ctx context.Context) ([]pool.App, error) {
	var out []pool.App
	prefix := NamePrefix(p.deployment)
	for page := 1; ; page++ {
		apps, resp, err := p.apps.List(ctx, &godo.ListOptions{Page: page, PerPage: ListPageSize})
		if err != nil {
			return nil, classify("list", err)
		}
		for _, a := range apps {
			if a == nil || a.Spec == nil || !strings.HasPrefix(a.Spec.Name, prefix) {
				continue
			}
			id, poolName, ok := SandboxIDFromApp(a, p.deployment)
			if !ok {
				p.log.DebugContext(ctx, "app with our prefix does not prove ownership; left alone", "op", "list", "app_id", a.ID)
				continue
			}
			x := toApp(a)
			x.SandboxID, x.Pool = id, poolName
			out = append(out, x)
		}
		if resp == nil || resp.Links == nil || resp.Links.IsLastPage() || len(apps) == 0 {
			return out, nil
		}
		if page >= maxListPages {
			return nil, fmt.Errorf("appplatform: list: more than %d pages: %w", maxListPages, pool.ErrProviderUnknown)
		}
	}
}

// maxListPages bounds a listing that never ends (100,000 apps), so a broken
// "next" link cannot spin a pass until its deadline.
const maxListPages = 500

// Delete destroys an app; a 404 means it is already gone, which is success.
func (p *Provider) Delete(ctx context.Context, appID string) error {
	if appID == "" {
		return errors.New("appplatform: delete: empty app id")
	}
	_, err := p.apps.Delete(ctx, appID)
	if err != nil {
		err = classify("delete", err)
		if isNotFound(err) {
			return nil
		}
		p.log.WarnContext(ctx, "app delete failed", "op", "delete", "app_id", appID, "err", err)
		return err
	}
	p.log.InfoContext(ctx, "app deleted", "op", "delete", "app_id", appID)
	return nil
}

// toApp classifies an app. The active deployment wins when it is ACTIVE (the
// app serves); otherwise the in-progress, then the pending deployment tells.
// An app with no deployment yet is in progress.
func toApp(a *godo.App) pool.App {
	out := pool.App{ID: a.ID, CreatedAt: a.CreatedAt, Phase: pool.PhaseInProgress}
	if a.Spec != nil {
		out.Name = a.Spec.Name
	}
	switch {
	case a.ActiveDeployment != nil && a.ActiveDeployment.Phase == godo.DeploymentPhase_Active:
		out.Phase = pool.PhaseActive
	case a.InProgressDeployment != nil:
		out.Phase = PhaseOf(a.InProgressDeployment.Phase)
	case a.PendingDeployment != nil:
		out.Phase = PhaseOf(a.PendingDeployment.Phase)
	case a.ActiveDeployment != nil:
		out.Phase = PhaseOf(a.ActiveDeployment.Phase)
	}
	if out.Phase == pool.PhaseActive {
		out.URL = a.LiveURL
	}
	return out
}

// PhaseOf maps a deployment phase: ACTIVE is active; ERROR and CANCELED are
// failed (delete it); every build/deploy step and SUPERSEDED are in progress;
// UNKNOWN and anything new are unknown, never failed.
func PhaseOf(ph godo.DeploymentPhase) pool.Phase {
	switch ph {
	case godo.DeploymentPhase_Active:
		return pool.PhaseActive
	case godo.DeploymentPhase_Error, godo.DeploymentPhase_Canceled:
		return pool.PhaseFailed
	case godo.DeploymentPhase_PendingBuild, godo.DeploymentPhase_Building,
		godo.DeploymentPhase_PendingDeploy, godo.DeploymentPhase_Deploying,
		godo.DeploymentPhase_Superseded:
		return pool.PhaseInProgress
	}
	return pool.PhaseUnknown
}
