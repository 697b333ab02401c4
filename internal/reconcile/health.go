package reconcile

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// HealthTarget is one app whose health path the executor asks before planning.
type HealthTarget struct {
	SandboxID string
	App       pool.App
	Path      string
}

// HealthTargets names the apps to ask, with health_check_url on: the ready
// sandboxes of pools due a health check (only after a full list), and every
// creating sandbox whose app is ACTIVE, listed or fetched (only a serving app
// enters the ready list). Pure, like Plan.
func HealthTargets(obs Observation, cfg *pool.Config, now time.Time) []HealthTarget {
	if !cfg.HealthCheckURL || (!obs.ListOK && !obs.Partial) {
		return nil
	}
	p := &planner{obs: obs, cfg: cfg, now: now, pools: map[string]*poolPlan{}}
	p.index()
	var out []HealthTarget
	for _, name := range p.poolNames() {
		pp := p.pools[name]
		p.classify(pp)
		if pp.shutdown {
			continue
		}
		path := cfg.Template(name, pp.pc).HealthCheckPath
		for _, sb := range pp.records {
			app, found := p.match(sb)
			if !found || app.Phase != pool.PhaseActive || app.URL == "" {
				continue
			}
			if sb.State == pool.StateCreating || (sb.State == pool.StateReady && pp.healthDue) {
				out = append(out, HealthTarget{SandboxID: sb.ID, App: app, Path: path})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SandboxID < out[j].SandboxID })
	return out
}

// checkHealth asks each target's health path, a few at a time. Only a
// definite answer counts; an error wrapping ErrProviderUnknown is unknown.
func (r *Reconciler) checkHealth(ctx context.Context, targets []HealthTarget) map[string]HealthAnswer {
	out := make(map[string]HealthAnswer, len(targets))
	if len(targets) == 0 {
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(r.healthN, 1))
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			err := r.provider.Health(ctx, t.App, t.Path)
			ans := HealthOK
			switch {
			case err == nil:
			case errors.Is(err, pool.ErrProviderUnknown) || ctx.Err() != nil:
				ans = HealthUnknown
			default:
				ans = HealthFailed
			}
			mu.Lock()
			out[t.SandboxID] = ans
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
