package reconcile

import (
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testConfig has one pool "py" (target 3, max 5) and the defaults otherwise.
func testConfig() *pool.Config {
	c := pool.DefaultConfig()
	pc := pool.DefaultPool()
	pc.TargetReady = 3
	pc.MaxReady = 5
	pc.Template.Repository = "sandbox-python-service" // "py" names its image
	c.Pools = map[string]*pool.PoolConfig{"py": &pc}
	return &c
}

func poolCfg(c *pool.Config, name string) *pool.PoolConfig { return c.Pools[name] }

// world builds an Observation for table tests.
type world struct {
	obs Observation
}

func newWorld() *world {
	return &world{obs: Observation{
		ListOK: true,
		State: pool.Observed{At: t0, Pools: map[string]pool.Record{
			// Activated a moment ago with health just checked: neither idle
			// nor due a health check, unless a test says so; testConfig's
			// max_ready already recorded.
			"py": {Name: "py", ActivatedAt: t0.Add(-10 * time.Second), LastHealthCheckAt: t0.Add(-time.Second), MaxReady: testConfig().Pools["py"].MaxReady},
		}},
	}}
}

func (w *world) poolState(name string, f func(*pool.Record)) *world {
	st := w.obs.State.Pools[name]
	st.Name = name
	f(&st)
	w.obs.State.Pools[name] = st
	return w
}

func (w *world) record(sb pool.Sandbox) *world {
	if sb.Pool == "" {
		sb.Pool = "py"
	}
	if sb.CreatedAt.IsZero() {
		sb.CreatedAt = t0.Add(-5 * time.Minute)
	}
	w.obs.State.Sandboxes = append(w.obs.State.Sandboxes, sb)
	return w
}

func (w *world) app(a pool.App) *world {
	if a.Pool == "" {
		a.Pool = "py"
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = t0.Add(-5 * time.Minute)
	}
	w.obs.Apps = append(w.obs.Apps, a)
	return w
}

// ready adds a ready sandbox (ready readyAgo before t0, warm for 25 more
// minutes) and its ACTIVE app.
func (w *world) ready(id string, readyAgo time.Duration) *world {
	w.record(pool.Sandbox{ID: id, State: pool.StateReady, AppID: "app-" + id, URL: "https://" + id,
		ReadyAt: t0.Add(-readyAgo), WarmDeadline: t0.Add(25 * time.Minute)})
	return w.app(pool.App{ID: "app-" + id, SandboxID: id, Phase: pool.PhaseActive, URL: "https://" + id})
}

// creating adds a creating sandbox whose create call went out a minute ago
// and, unless phase is "", its app in that phase.
func (w *world) creating(id string, phase pool.Phase) *world {
	sb := pool.Sandbox{ID: id, State: pool.StateCreating, CreateCalledAt: t0.Add(-time.Minute),
		CreateDeadline: t0.Add(9 * time.Minute)}
	if phase != "" {
		sb.AppID = "app-" + id
		w.app(pool.App{ID: "app-" + id, SandboxID: id, Phase: phase, URL: "https://" + id})
	}
	return w.record(sb)
}

func (w *world) listFails() *world {
	w.obs.ListOK = false
	w.obs.Apps = nil
	return w
}

func ofKind(as []Action, k Kind) []Action {
	var out []Action
	for _, a := range as {
		if a.Kind == k {
			out = append(out, a)
		}
	}
	return out
}

func forSandbox(as []Action, id string) []Kind {
	var out []Kind
	for _, a := range as {
		if a.SandboxID == id {
			out = append(out, a.Kind)
		}
	}
	return out
}

func reasons(as []Action, k Kind) map[string]string {
	out := map[string]string{}
	for _, a := range ofKind(as, k) {
		out[a.SandboxID] = a.Reason
	}
	return out
}

func update(as []Action, name string) (pool.PoolUpdate, bool) {
	for _, a := range as {
		if a.Kind == KindUpdatePool && a.Pool == name {
			return a.Update, true
		}
	}
	return pool.PoolUpdate{}, false
}

func intp(n int) *int { return &n }
