package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/logging"
	"github.com/hotpool/hotpool/internal/pool"
)

func newTestReconciler(st *fakeStore, pv *fakeProvider, cfg *pool.Config, opts ...Option) *Reconciler {
	opts = append([]Option{WithIDs(seqIDs())}, opts...)
	return New(st, pv, cfg, pool.NewManualClock(t0), opts...)
}

func TestReconcile_NotLeaderDoesNothing(t *testing.T) {
	st := newFakeStore(newWorld().obs.State)
	st.lockHeld = true
	pv := newFakeProvider()
	rep, err := newTestReconciler(st, pv, testConfig()).Reconcile(context.Background())
	require.NoError(t, err)
	require.False(t, rep.Leader)
	require.Equal(t, []string{"Lock"}, st.lines())
	require.Empty(t, pv.lines())
	require.Zero(t, rep.APICalls)
}

func TestReconcile_CreateSequence(t *testing.T) {
	st := newFakeStore(newWorld().obs.State)
	pv := newFakeProvider()
	secrets := pool.NewSecrets("k")
	r := newTestReconciler(st, pv, testConfig(), WithSecrets(secrets))
	rep, err := r.Reconcile(context.Background())
	require.NoError(t, err)
	require.True(t, rep.Leader)
	require.Equal(t, []string{
		"Lock", "Observe",
		"Reserve py s1", "CreateCalled s1 app-s1",
		"Reserve py s2", "CreateCalled s2 app-s2",
		"Reserve py s3", "CreateCalled s3 app-s3",
		"UpdatePool py", "Unlock",
	}, st.lines())
	// A list a second ago found no app: the empty pool is filled without
	// listing again (scan_no_records waits NoRecordsRescan).
	require.Equal(t, []string{"Create s1", "Create s2", "Create s3"}, pv.lines())
	require.Equal(t, 3, rep.APICalls)
	require.Equal(t, 3, rep.Pools["py"].Created)
	require.Equal(t, 3, rep.Pools["py"].Target)
	require.Equal(t, "closed", rep.Pools["py"].Circuit)
	// The record exists before the platform call, with the caps and deadline.
	require.Equal(t, pool.Caps{MaxReady: 5, MaxTotal: -1, MaxConcurrentCreates: 10}, st.reserved[0].Caps)
	require.Equal(t, t0.Add(pool.DefaultCreateTimeout), st.reserved[0].CreateDeadline)
	// The agent token goes in the app's env and nowhere else.
	require.True(t, pool.TokensEqual(secrets.AgentToken("s1"), pv.specs[0].Env[AgentTokenEnv]))
	require.Equal(t, "s1", pv.specs[0].SandboxID)
	for _, e := range rep.Errors {
		require.NotContains(t, e, secrets.AgentToken("s1"))
	}
}

func TestReconcile_CreateOutcomes(t *testing.T) {
	cases := []struct {
		name      string
		createErr error
		reserve   error
		wantStore []string
		wantErrs  int
		failed    bool
	}{
		{"unknown answer: the call is recorded, the list resolves it", fmt.Errorf("timeout: %w", pool.ErrProviderUnknown), nil,
			[]string{"Reserve py s1", "CreateCalled s1"}, 1, false},
		{"not sent (budget or 429): nothing recorded, sent again next pass, no failure", fmt.Errorf("budget: %w (%w)", pool.ErrProviderNotSent, pool.ErrProviderUnknown), nil,
			[]string{"Reserve py s1"}, 1, false},
		{"definite refusal: a failed attempt, backed off, no more creates", errors.New("422 invalid spec"), nil,
			[]string{"Reserve py s1", "MarkFailed s1"}, 1, true},
		{"reservation refused at a cap: not an error, the pool stops for this pass", nil, pool.ErrPoolExhausted,
			[]string{"Reserve py s1"}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore(newWorld().obs.State)
			if tc.reserve != nil {
				st.fail["Reserve"] = tc.reserve
			}
			pv := newFakeProvider()
			pv.createErr["py"] = tc.createErr
			rep, err := newTestReconciler(st, pv, testConfig()).Reconcile(context.Background())
			require.NoError(t, err)
			var writes []string
			for _, l := range st.lines() {
				if strings.HasPrefix(l, "Reserve") || strings.HasPrefix(l, "Create") || strings.HasPrefix(l, "Mark") {
					writes = append(writes, l)
				}
			}
			require.Equal(t, tc.wantStore, writes)
			require.Len(t, rep.Errors, tc.wantErrs)
			if tc.failed {
				fp := st.failed["s1"]
				require.Equal(t, pool.ReasonCreateFailed, fp.Reason)
				require.True(t, fp.NextCreateAt.After(t0))
				require.Equal(t, 1, rep.Pools["py"].Failed)
			}
		})
	}
}

func TestReconcile_OneFailingItemDoesNotStopThePass(t *testing.T) {
	w := newWorld().ready("a", time.Minute).ready("b", time.Minute).ready("c", time.Minute)
	w.record(pool.Sandbox{ID: "d1", State: pool.StateDeleting, AppID: "app-d1"}).app(pool.App{ID: "app-d1", SandboxID: "d1"})
	w.record(pool.Sandbox{ID: "d2", State: pool.StateDeleting, AppID: "app-d2"}).app(pool.App{ID: "app-d2", SandboxID: "d2"})
	w.record(pool.Sandbox{ID: "d3", State: pool.StateDeleting, AppID: "app-d3"}).app(pool.App{ID: "app-d3", SandboxID: "d3"})
	st := newFakeStore(w.obs.State)
	pv := newFakeProvider(w.obs.Apps...)
	pv.deleteErr["app-d1"] = fmt.Errorf("503: %w", pool.ErrProviderUnknown)
	st.fail["Forget d2"] = errors.New("redis hiccup")
	rep, err := newTestReconciler(st, pv, testConfig()).Reconcile(context.Background())
	require.NoError(t, err)
	require.Len(t, rep.Errors, 2)
	require.Contains(t, st.lines(), "DeleteAttempted d1")
	require.Contains(t, st.lines(), "Forget d3")
	// Nothing creating and no scan due: no list, only the deletes (changes).
	require.Equal(t, []string{"Delete app-d1", "Delete app-d2", "Delete app-d3"}, pv.lines())
	require.Equal(t, 1, rep.Pools["py"].Deleted)
}

func TestReconcile_StateConflictSkipsTheRestOfThatSandbox(t *testing.T) {
	// Planned a scale-down of "a", but an acquire leased it meanwhile: the
	// Store refuses the move, and the app must not be deleted.
	w := newWorld().ready("a", 3*time.Minute).ready("b", time.Minute).
		poolState("py", func(s *pool.Record) { s.ActivatedAt = t0.Add(-time.Hour) })
	st := newFakeStore(w.obs.State)
	st.fail["MarkDeleting a scale_down"] = fmt.Errorf("mark deleting: %w", pool.ErrStateConflict)
	pv := newFakeProvider(w.obs.Apps...)
	rep, err := newTestReconciler(st, pv, testConfig()).Reconcile(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Errors, "a conflict is not a failure")
	require.Contains(t, st.lines(), "MarkDeleting a scale_down", "the refused move was tried")
	require.NotContains(t, pv.lines(), "Delete app-a")
	require.NotContains(t, st.lines(), "Forget a")
}

func TestReconcile_LostLockStopsThePass(t *testing.T) {
	w := newWorld().record(pool.Sandbox{ID: "d1", State: pool.StateDeleting}).record(pool.Sandbox{ID: "d2", State: pool.StateDeleting})
	st := newFakeStore(w.obs.State)
	st.fail["Forget d1"] = fmt.Errorf("forget: %w", pool.ErrNotLeader)
	pv := newFakeProvider()
	rep, err := newTestReconciler(st, pv, testConfig()).Reconcile(context.Background())
	require.ErrorIs(t, err, pool.ErrNotLeader)
	require.True(t, rep.Leader)
	require.NotContains(t, st.lines(), "Forget d2")
	require.NotContains(t, st.lines(), "Reserve py s1")
	require.Equal(t, []string{"List"}, pv.lines(), "no platform call after the lock is lost")
}

func TestReconcile_RespectsContextDeadline(t *testing.T) {
	st := newFakeStore(newWorld().obs.State)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st.onWrite = func(line string) {
		if line == "CreateCalled s1 app-s1" {
			cancel()
		}
	}
	pv := newFakeProvider()
	rep, err := newTestReconciler(st, pv, testConfig()).Reconcile(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"Create s1"}, pv.lines())
	require.NotEmpty(t, rep.Errors)
	require.Contains(t, st.lines(), "Unlock", "the lock is given up even after the context ended")
}

func TestReconcile_ListFailureCondemnsNothing(t *testing.T) {
	w := newWorld().ready("a", time.Minute).ready("b", time.Minute).ready("c", time.Minute).
		poolState("py", func(s *pool.Record) { s.LastHealthCheckAt = time.Time{} })
	st := newFakeStore(w.obs.State)
	pv := newFakeProvider()
	pv.listErr = fmt.Errorf("502: %w", pool.ErrProviderUnknown)
	rep, err := newTestReconciler(st, pv, testConfig()).Reconcile(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"Lock", "Observe", "Unlock"}, st.lines())
	require.Len(t, rep.Errors, 1)
	require.Contains(t, rep.Errors[0], "list apps")
	require.Equal(t, 1, rep.APICalls)
}

func TestReconcile_HealthChecksFeedThePlan(t *testing.T) {
	cfg := testConfig()
	cfg.HealthCheckURL = true
	w := newWorld().creating("c1", pool.PhaseActive).creating("c2", pool.PhaseActive).creating("c3", pool.PhaseInProgress)
	st := newFakeStore(w.obs.State)
	pv := newFakeProvider(w.obs.Apps...)
	pv.health["app-c2"] = fmt.Errorf("connection refused: %w", pool.ErrProviderUnknown)
	rep, err := newTestReconciler(st, pv, cfg).Reconcile(context.Background())
	require.NoError(t, err)
	require.Contains(t, st.lines(), "MarkReady c1")
	require.NotContains(t, st.lines(), "MarkReady c2")
	require.Contains(t, pv.lines(), "Health app-c1 /health")
	require.NotContains(t, pv.lines(), "Health app-c3 /health", "only ACTIVE apps are asked")
	require.Equal(t, 1, rep.APICalls, "health requests go to the apps, not the API")
}

func TestRunFor_RepeatsWhileBusyWithinBudget(t *testing.T) {
	st := newFakeStore(newWorld().creating("c1", pool.PhaseInProgress).obs.State)
	clock := pool.NewManualClock(t0)
	pv := newFakeProvider()
	sleeps := 0
	r := New(st, pv, testConfig(), clock, WithIDs(seqIDs()), WithSleep(func(ctx context.Context, d time.Duration) error {
		sleeps++
		clock.Advance(d)
		return nil
	}))
	reps, err := r.RunFor(context.Background(), 55*time.Second, 5*time.Second)
	require.NoError(t, err)
	// Creating never finishes in the fake: passes at 0, 5, ..., 50 s.
	require.Len(t, reps, 11)
	require.Equal(t, 10, sleeps)

	quiet := newFakeStore(newWorld().ready("a", time.Minute).ready("b", time.Minute).ready("c", time.Minute).obs.State)
	r2 := New(quiet, newFakeProvider(), testConfig(), clock, WithSleep(func(context.Context, time.Duration) error {
		return errors.New("must not sleep")
	}))
	reps, err = r2.RunFor(context.Background(), 55*time.Second, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, reps, 1)
	require.False(t, reps[0].Busy())
}

// A shut-down pool (its own flag or the manager's) is drained, not below
// target: with nothing left to delete, RunFor stops after one pass instead
// of polling for the rest of the cron minute.
func TestRunFor_AShutPoolIsNotBusy(t *testing.T) {
	for name, shut := range map[string]func(*world){
		"pool":    func(w *world) { w.poolState("py", func(s *pool.Record) { s.Shutdown = true }) },
		"manager": func(w *world) { w.obs.State.ManagerShutdown = true },
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld()
			shut(w)
			st := newFakeStore(w.obs.State)
			clock := pool.NewManualClock(t0)
			r := New(st, newFakeProvider(), testConfig(), clock, WithSleep(func(_ context.Context, d time.Duration) error {
				clock.Advance(d)
				return nil
			}))
			reps, err := r.RunFor(context.Background(), 55*time.Second, 5*time.Second)
			require.NoError(t, err)
			require.Len(t, reps, 1)
			require.Zero(t, reps[0].Pools["py"].Target, "a shut pool is held at nothing")
			require.False(t, reps[0].Busy())
		})
	}
}

func TestRun_KickStartsAPassAtOnce(t *testing.T) {
	st := newFakeStore(newWorld().ready("a", time.Minute).ready("b", time.Minute).ready("c", time.Minute).obs.State)
	r := newTestReconciler(st, newFakeProvider(), testConfig())
	never := func(time.Duration) <-chan time.Time { return nil }
	ctx, cancel := context.WithCancel(context.Background())
	passes := make(chan pool.PassReport, 4)
	done := make(chan struct{})
	go func() {
		r.Run(ctx, time.Minute, 5*time.Second, never, func(rep pool.PassReport, err error) { passes <- rep })
		close(done)
	}()
	r.Kick()
	rep := <-passes
	require.True(t, rep.Leader)
	r.Kick()
	<-passes
	cancel()
	<-done
}

func TestReconcile_OnePassLineWhateverTheOutcome(t *testing.T) {
	for _, held := range []bool{false, true} {
		var buf bytes.Buffer
		st := newFakeStore(newWorld().obs.State)
		st.lockHeld = held
		r := newTestReconciler(st, newFakeProvider(), testConfig(), WithLogger(logging.New(&buf, slog.LevelInfo)))
		_, err := r.Reconcile(context.Background())
		require.NoError(t, err)
		var passes []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &m), line)
			if m["msg"] == "pass" {
				passes = append(passes, m)
			}
		}
		require.Len(t, passes, 1, buf.String())
		require.Equal(t, "reconcile", passes[0]["op"])
		require.Contains(t, passes[0], "duration_ms")
		require.Contains(t, passes[0], "api_calls")
		if held {
			require.Equal(t, logging.OutcomeNotLeader, passes[0]["outcome"])
		} else {
			require.Equal(t, logging.OutcomeOK, passes[0]["outcome"])
			require.Contains(t, passes[0], "pools")
			require.NotEmpty(t, passes[0]["observed"], "full list (and why) or partial")
		}
	}
}
