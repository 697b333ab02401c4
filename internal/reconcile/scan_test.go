package reconcile

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
)

func TestScanEvery(t *testing.T) {
	cfg := testConfig()
	cfg.OrphanGrace = pool.Duration(5 * time.Minute)
	require.Equal(t, 150*time.Second, ScanEvery(cfg))
	cfg.OrphanGrace = pool.Duration(30 * time.Second)
	require.Equal(t, MinScanEvery, ScanEvery(cfg), "never more often than a minute when nothing asks")
}

func TestListReason(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*pool.Config, *world)
		want  string
	}{
		{"steady, health checked a second ago: no list", func(c *pool.Config, w *world) {
			w.ready("a", time.Minute)
		}, ""},
		{"a pool's health check is due", func(c *pool.Config, w *world) {
			w.ready("a", time.Minute).poolState("py", func(s *pool.Record) { s.LastHealthCheckAt = t0.Add(-time.Minute) })
		}, ScanDue},
		{"health checks off: the orphan scan is due after ScanEvery", func(c *pool.Config, w *world) {
			c.Pools["py"].HealthCheckInterval = 0
			w.ready("a", time.Minute).poolState("py", func(s *pool.Record) { s.LastHealthCheckAt = t0.Add(-ScanEvery(c)) })
		}, ScanDue},
		{"health checks off, scan not yet due", func(c *pool.Config, w *world) {
			c.Pools["py"].HealthCheckInterval = 0
			w.ready("a", time.Minute).poolState("py", func(s *pool.Record) { s.LastHealthCheckAt = t0.Add(-ScanEvery(c) + time.Second) })
		}, ""},
		{"a long health interval does not stretch the orphan scan", func(c *pool.Config, w *world) {
			c.Pools["py"].HealthCheckInterval = pool.Duration(time.Hour)
			w.ready("a", time.Minute).poolState("py", func(s *pool.Record) { s.LastHealthCheckAt = t0.Add(-ScanEvery(c)) })
		}, ScanDue},
		{"a shut pool's health interval does not ask for lists", func(c *pool.Config, w *world) {
			w.ready("a", time.Minute).poolState("py", func(s *pool.Record) {
				s.Shutdown = true
				s.LastHealthCheckAt = t0.Add(-time.Minute)
			})
		}, ""},
		{"a configured pool without state (new, or Redis emptied)", func(c *pool.Config, w *world) {
			delete(w.obs.State.Pools, "py")
			w.ready("a", time.Minute)
		}, ScanNeverDone},
		{"no full list recorded yet", func(c *pool.Config, w *world) {
			w.ready("a", time.Minute).poolState("py", func(s *pool.Record) { s.LastHealthCheckAt = time.Time{} })
		}, ScanNeverDone},
		{"a create whose answer was lost", func(c *pool.Config, w *world) {
			w.ready("a", time.Minute).creating("c", "")
		}, ScanUnknownCreate},
		{"a reserved sandbox with no create call yet needs no list", func(c *pool.Config, w *world) {
			w.ready("a", time.Minute).record(pool.Sandbox{ID: "c", State: pool.StateCreating, ClaimHash: "h"})
		}, ""},
		{"a deleting record without an app id", func(c *pool.Config, w *world) {
			w.ready("a", time.Minute).record(pool.Sandbox{ID: "d", State: pool.StateDeleting})
		}, ScanDeletingNoApp},
		{"no records at all while an active pool wants some, no list for a while", func(c *pool.Config, w *world) {
			w.poolState("py", func(s *pool.Record) { s.LastHealthCheckAt = t0.Add(-NoRecordsRescan) })
		}, ScanNoRecords},
		{"no records, but a list a second ago found none: not every pass again", func(c *pool.Config, w *world) {}, ""},
		{"no records, the pool idle: nothing suspicious", func(c *pool.Config, w *world) {
			w.poolState("py", func(s *pool.Record) { s.ActivatedAt = t0.Add(-time.Hour) })
		}, ""},
		{"more creating apps than list pages: the list is cheaper", func(c *pool.Config, w *world) {
			w.creating("c1", pool.PhaseInProgress).creating("c2", pool.PhaseInProgress)
		}, ScanCheaper},
		{"one creating app among few records: one Get", func(c *pool.Config, w *world) {
			w.ready("a", time.Minute).creating("c1", pool.PhaseInProgress)
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			w := newWorld()
			tc.setup(cfg, w)
			require.Equal(t, tc.want, ListReason(w.obs.State, cfg, t0))
		})
	}
}

func TestGetTargets(t *testing.T) {
	w := newWorld().ready("a", time.Minute).creating("c2", pool.PhaseInProgress).creating("c1", pool.PhaseActive).creating("lost", "").
		record(pool.Sandbox{ID: "d", State: pool.StateDeleting, AppID: "app-d"})
	require.Equal(t, []string{"app-c1", "app-c2"}, GetTargets(w.obs.State))
}

// partial turns a world into a pass that did not list: only the creating
// apps with an app id were fetched.
func partial(w *world) *world {
	byID := map[string]pool.App{}
	for _, a := range w.obs.Apps {
		byID[a.ID] = a
	}
	w.obs.ListOK, w.obs.Partial, w.obs.Apps = false, true, nil
	for _, id := range GetTargets(w.obs.State) {
		a, ok := byID[id]
		if !ok {
			a = pool.App{ID: id, Phase: pool.PhaseGone}
		}
		w.obs.Apps = append(w.obs.Apps, a)
	}
	return w
}

func TestPlan_PartialObservation(t *testing.T) {
	cfg := testConfig()
	grace := cfg.OrphanGrace.D()
	cases := []struct {
		name  string
		setup func(*world)
		id    string
		want  []Kind
	}{
		{"an app Redis does not know is no orphan: it was never looked for", func(w *world) {
			w.app(pool.App{ID: "app-o", SandboxID: "o", Pool: "py", CreatedAt: t0.Add(-time.Hour)})
		}, "o", nil},
		{"a ready record whose app was not fetched is not gone", func(w *world) {
			w.ready("r", time.Minute)
			w.obs.Apps = nil
		}, "r", nil},
		{"a deleting record is deleted by app id, never forgotten unseen", func(w *world) {
			w.record(pool.Sandbox{ID: "d", State: pool.StateDeleting, AppID: "app-d"})
		}, "d", []Kind{KindDestroy}},
		{"ACTIVE from its Get: marked ready", func(w *world) { w.creating("c", pool.PhaseActive) },
			"c", []Kind{KindMarkReady}},
		{"ERROR from its Get: failed and destroyed", func(w *world) { w.creating("c", pool.PhaseFailed) },
			"c", []Kind{KindMarkFailed, KindDestroy}},
		{"create deadline passed: failed, deleted by app id", func(w *world) {
			w.creating("c", pool.PhaseInProgress)
			w.obs.State.Sandboxes[len(w.obs.State.Sandboxes)-1].CreateDeadline = t0
		}, "c", []Kind{KindMarkFailed, KindDestroy}},
		{"its Get answered gone, inside the grace: wait, as after a list", func(w *world) {
			w.creating("c", pool.PhaseInProgress)
			w.obs.Apps = nil
		}, "c", nil},
		{"its Get answered gone, past the grace: failed and forgotten", func(w *world) {
			w.creating("c", pool.PhaseInProgress)
			w.obs.Apps = nil
			w.obs.State.Sandboxes[len(w.obs.State.Sandboxes)-1].CreateCalledAt = t0.Add(-grace)
		}, "c", []Kind{KindMarkFailed, KindForget}},
		{"no definite answer (Get failed), past the grace: wait", func(w *world) {
			w.creating("c", pool.PhaseInProgress)
			w.obs.State.Sandboxes[len(w.obs.State.Sandboxes)-1].CreateCalledAt = t0.Add(-grace)
			w.obs.Apps = nil
			partial(w)
			w.obs.Apps = nil // the executor leaves unknown answers out
		}, "c", nil},
		{"a reservation with no create call: the create is sent", func(w *world) {
			w.record(pool.Sandbox{ID: "n", State: pool.StateCreating, ClaimHash: "h", CreateDeadline: t0.Add(time.Minute)})
		}, "n", []Kind{KindCallCreate}},
		{"an expired lease is reaped", func(w *world) {
			w.record(pool.Sandbox{ID: "u", State: pool.StateInUse, AppID: "app-u", LeaseExpiresAt: t0.Add(-pool.DefaultClockSkewTolerance)}).
				app(pool.App{ID: "app-u", SandboxID: "u", Phase: pool.PhaseActive})
		}, "u", []Kind{KindMarkDeleting, KindDestroy}},
		{"a warm deadline expires", func(w *world) {
			w.ready("r", time.Hour)
			w.obs.State.Sandboxes[len(w.obs.State.Sandboxes)-1].WarmDeadline = t0
		}, "r", []Kind{KindMarkDeleting, KindDestroy}},
		{"an idle pool scales down", func(w *world) {
			w.ready("r", time.Hour).poolState("py", func(s *pool.Record) { s.ActivatedAt = t0.Add(-time.Hour) })
		}, "r", []Kind{KindMarkDeleting, KindDestroy}},
		{"a shut pool destroys its ready sandboxes", func(w *world) {
			w.ready("r", time.Minute).poolState("py", func(s *pool.Record) { s.Shutdown = true })
		}, "r", []Kind{KindMarkDeleting, KindDestroy}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			tc.setup(w)
			if !w.obs.Partial {
				partial(w)
			}
			as := Plan(w.obs, cfg, t0)
			require.Equal(t, tc.want, forSandbox(as, tc.id))
			for _, a := range as {
				require.NotEqual(t, KindAdopt, a.Kind, "no orphan collection without a list")
				require.NotEqual(t, KindDeleteOrphanApp, a.Kind, "no orphan collection without a list")
				if a.Kind == KindDestroy && a.SandboxID == tc.id {
					require.NotEmpty(t, a.AppID)
				}
			}
			u, _ := update(as, "py")
			require.Nil(t, u.HealthResult, "no health counted without a list")
			require.Nil(t, u.LastHealthCheckAt, "a partial pass is no scan")
		})
	}
}

func TestPlan_PartialStillFills(t *testing.T) {
	cfg := testConfig() // target 3
	w := partial(newWorld().ready("r", time.Minute).creating("c", pool.PhaseActive))
	as := Plan(w.obs, cfg, t0)
	require.Equal(t, []Kind{KindMarkReady}, forSandbox(as, "c"))
	require.Len(t, ofKind(as, KindCreate), 1, "r and c ready: one more to target")

	// The same world under a full list: the planner agrees on everything
	// that needs no list.
	full := newWorld().ready("r", time.Minute).creating("c", pool.PhaseActive)
	require.Equal(t, ofKind(as, KindCreate), ofKind(Plan(full.obs, cfg, t0), KindCreate))
}

func TestPlan_YoungOrphansKeepTheScanDue(t *testing.T) {
	cfg := testConfig()
	w := newWorld().ready("a", time.Minute).
		app(pool.App{ID: "app-y", SandboxID: "y", Pool: "py", CreatedAt: t0.Add(-time.Second)}).
		poolState("py", func(s *pool.Record) { s.LastHealthCheckAt = t0.Add(-time.Minute) })
	u, _ := update(Plan(w.obs, cfg, t0), "py")
	require.Nil(t, u.LastHealthCheckAt, "only a full list counts the app toward the cap: the next pass lists again")
	require.NotNil(t, u.HealthResult, "its health was still checked")
}

// pagedProvider counts API calls as the real provider does: one per page
// of AppsPerListCall apps for a list, one for any other call.
type pagedProvider struct {
	*fakeProvider
	n atomic.Int64
}

func (p *pagedProvider) Calls() int64 { return p.n.Load() }

func (p *pagedProvider) List(ctx context.Context) ([]pool.App, error) {
	apps, err := p.fakeProvider.List(ctx)
	p.n.Add(int64(max(1, (len(apps)+AppsPerListCall-1)/AppsPerListCall)))
	return apps, err
}

func (p *pagedProvider) Get(ctx context.Context, id string) (pool.App, error) {
	p.n.Add(1)
	return p.fakeProvider.Get(ctx, id)
}

func (p *pagedProvider) Create(ctx context.Context, spec pool.CreateSpec) (pool.App, error) {
	p.n.Add(1)
	return p.fakeProvider.Create(ctx, spec)
}

func (p *pagedProvider) Delete(ctx context.Context, id string) error {
	p.n.Add(1)
	return p.fakeProvider.Delete(ctx, id)
}

// steadyWorld is a pool of n ready sandboxes, exactly at target, and k
// creating apps still deploying.
func steadyWorld(cfg *pool.Config, n, k int) *world {
	cfg.Pools["py"].TargetReady, cfg.Pools["py"].MaxReady = n+k, n+k
	w := newWorld()
	for i := range n {
		w.ready(fmt.Sprintf("r%05d", i), time.Minute)
	}
	for i := range k {
		w.creating(fmt.Sprintf("c%03d", i), pool.PhaseInProgress)
	}
	return w
}

func TestReconcile_APICallsGrowWithChanges(t *testing.T) {
	cases := []struct {
		name      string
		n, k      int
		healthOff bool
		lastScan  time.Duration // before t0
		wantCalls int
		wantLines []string
	}{
		{"10 steady, no scan due: no call", 10, 0, false, time.Second, 0, nil},
		{"1000 steady, no scan due: no call", 1000, 0, false, time.Second, 0, nil},
		{"1000 steady, health check due: ceil(1000/200) pages", 1000, 0, false, time.Minute, 5, []string{"List"}},
		{"1001 steady, checks off, orphan scan due: ceil(1001/200) pages", 1001, 0, true, 150 * time.Second, 6, []string{"List"}},
		{"10 steady, scan due: one page", 10, 0, false, time.Minute, 1, []string{"List"}},
		{"1000 ready, 3 creating: 3 Gets", 1000, 3, false, time.Second, 3, []string{"Get app-c000", "Get app-c001", "Get app-c002"}},
		{"1000 ready, 7 creating: the 6-page list is cheaper (and not dated: no check was due)", 1000, 7, false, time.Second, 6, []string{"List"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.healthOff {
				cfg.Pools["py"].HealthCheckInterval = 0
			}
			w := steadyWorld(cfg, tc.n, tc.k).poolState("py", func(s *pool.Record) { s.LastHealthCheckAt = t0.Add(-tc.lastScan) })
			st := newFakeStore(w.obs.State)
			pv := &pagedProvider{fakeProvider: newFakeProvider(w.obs.Apps...)}
			rep, err := New(st, pv, cfg, pool.NewManualClock(t0), WithIDs(seqIDs())).Reconcile(context.Background())
			require.NoError(t, err)
			require.Empty(t, rep.Errors)
			require.Equal(t, tc.wantLines, pv.lines())
			require.Equal(t, tc.wantCalls, rep.APICalls)
			dated := st.updates["py"].LastHealthCheckAt != nil
			require.Equal(t, tc.lastScan >= time.Minute, dated, "a due scan is dated in Redis, a partial pass never")
		})
	}
}

func TestReconcile_PartialPassMarksReadyAndReportsAFailedGet(t *testing.T) {
	cfg := testConfig()
	w := steadyWorld(cfg, 400, 0).creating("c1", pool.PhaseActive).creating("c2", pool.PhaseInProgress)
	cfg.Pools["py"].TargetReady, cfg.Pools["py"].MaxReady = 402, 402
	st := newFakeStore(w.obs.State)
	pv := &pagedProvider{fakeProvider: newFakeProvider(w.obs.Apps...)}
	pv.getErr["app-c2"] = fmt.Errorf("503: %w", pool.ErrProviderUnknown)
	rep, err := New(st, pv, cfg, pool.NewManualClock(t0), WithIDs(seqIDs())).Reconcile(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"Get app-c1", "Get app-c2"}, pv.lines())
	require.Contains(t, st.lines(), "MarkReady c1")
	require.Len(t, rep.Errors, 1)
	require.Contains(t, rep.Errors[0], "get app app-c2")
	for _, l := range st.lines() {
		require.NotContains(t, l, "c2", "an unknown answer touches nothing")
	}
	require.Equal(t, 2, rep.APICalls)
}
