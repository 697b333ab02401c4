package hotpooltest

import (
	"context"
	"fmt"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// The checks both drivers make: the Harness after every step and at its
// end, the soak's monitor every second and after convergence.

// CapsOf is the caps of every configured pool, as CheckInvariants checks them.
func CapsOf(cfg *pool.Config) map[string]pool.Caps {
	caps := map[string]pool.Caps{}
	for _, name := range cfg.PoolNames() {
		pc, _ := cfg.Pool(name)
		caps[name] = pool.CapsFor(cfg, pc)
	}
	return caps
}

// Settled says a leader's pass found every configured pool at rest: each
// one in the report, with exactly its target ready (none when idle), or,
// when the targets sum above max_total_sandboxes, the cap filled exactly
// (the pools share it); and nothing creating, deleting or in use.
func Settled(cfg *pool.Config, rep pool.PassReport) bool {
	total, capped := 0, false
	for _, name := range cfg.PoolNames() {
		p, ok := rep.Pools[name]
		if !ok {
			return false // a pass that did not see the pool proves nothing of it
		}
		want := p.Target
		if p.Idle {
			want = 0
		}
		if p.Creating != 0 || p.Deleting != 0 || p.InUse != 0 || p.Ready > want {
			return false
		}
		if p.Ready < want {
			capped = true
		}
		total += p.Ready
	}
	return !capped || (cfg.TotalCap() >= 0 && total == cfg.TotalCap())
}

// Inconsistencies compares the platform and Redis in both directions: every
// app has a record and every record an app (with faults off: a deployment
// or a delete in flight is one of them). It answers the apps it listed too.
func Inconsistencies(ctx context.Context, apps pool.Provider, store pool.LeaderStore, now time.Time) ([]string, []pool.App, error) {
	list, err := apps.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	obs, err := store.Observe(ctx, now)
	if err != nil {
		return nil, nil, err
	}
	var out []string
	recorded := map[string]bool{}
	for _, sb := range obs.Sandboxes {
		recorded[sb.AppID] = true
	}
	exists := map[string]bool{}
	for _, a := range list {
		exists[a.ID] = true
		if !recorded[a.ID] {
			out = append(out, fmt.Sprintf("app %s (sandbox %s) has no record", a.ID, a.SandboxID))
		}
	}
	for _, sb := range obs.Sandboxes {
		if sb.AppID == "" || !exists[sb.AppID] {
			out = append(out, fmt.Sprintf("record %s (%s, app %q) has no app", sb.ID, sb.State, sb.AppID))
		}
	}
	return out, list, nil
}
