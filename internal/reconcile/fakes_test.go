package reconcile

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// fakeStore is a pool.LeaderStore (a recording spy, not a model of the
// scripts: their semantics are tested on Redis) that serves a fixed Observed and records every
// write as one line ("Reserve py s1"), so executor tests can assert the exact
// sequence of calls. Errors are injected per line prefix.
type fakeStore struct {
	mu       sync.Mutex
	observed pool.Observed
	lockHeld bool // another holds the lock
	calls    []string
	fail     map[string]error // "Method" or "Method id" -> error
	reserved []pool.ReserveParams
	failed   map[string]pool.FailParams
	updates  map[string]pool.PoolUpdate
	onWrite  func(line string) // optional hook (e.g. to end a context)
}

func newFakeStore(obs pool.Observed) *fakeStore {
	return &fakeStore{observed: obs, fail: map[string]error{}, failed: map[string]pool.FailParams{}, updates: map[string]pool.PoolUpdate{}}
}

func (s *fakeStore) write(method, id string, f pool.Fence) error {
	s.mu.Lock()
	line := strings.TrimSpace(method + " " + id)
	s.calls = append(s.calls, line)
	hook := s.onWrite
	err := s.fail[line]
	if err == nil {
		err = s.fail[method]
	}
	s.mu.Unlock()
	if hook != nil {
		hook(line)
	}
	if f.Token == "" {
		return fmt.Errorf("unfenced write %s", line)
	}
	return err
}

func (s *fakeStore) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

var _ pool.LeaderStore = (*fakeStore)(nil)

func (s *fakeStore) Metrics(_ context.Context, _ []string, now time.Time) (pool.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := pool.Snapshot{At: now, ManagerShutdown: s.observed.ManagerShutdown, Pools: map[string]pool.PoolMetrics{}}
	for name, st := range s.observed.Pools {
		snap.Pools[name] = pool.PoolMetrics{State: st}
	}
	for _, sb := range s.observed.Sandboxes {
		m := snap.Pools[sb.Pool]
		switch sb.State {
		case pool.StateReady:
			m.Ready++
		case pool.StateCreating:
			m.Creating++
		case pool.StateInUse:
			m.InUse++
		case pool.StateDeleting:
			m.Deleting++
		}
		snap.Pools[sb.Pool] = m
	}
	return snap, nil
}

func (s *fakeStore) Lock(_ context.Context, f pool.Fence, _ time.Duration, _ time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "Lock")
	if f.Token == "" {
		return false, fmt.Errorf("empty fence token")
	}
	return !s.lockHeld, s.fail["Lock"]
}

func (s *fakeStore) Unlock(_ context.Context, f pool.Fence) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "Unlock")
	return nil
}

func (s *fakeStore) Observe(_ context.Context, _ time.Time) (pool.Observed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "Observe")
	return s.observed, s.fail["Observe"]
}

func (s *fakeStore) Reserve(_ context.Context, f pool.Fence, p pool.ReserveParams) error {
	s.mu.Lock()
	s.reserved = append(s.reserved, p)
	s.mu.Unlock()
	return s.write("Reserve", p.Pool+" "+p.SandboxID, f)
}
func (s *fakeStore) CreateCalled(_ context.Context, f pool.Fence, id, appID string, _ time.Time) error {
	return s.write("CreateCalled", id+" "+appID, f)
}
func (s *fakeStore) MarkReady(_ context.Context, f pool.Fence, id, appID, _ string, _, _ time.Time) error {
	return s.write("MarkReady", id, f)
}
func (s *fakeStore) MarkFailed(_ context.Context, f pool.Fence, id string, p pool.FailParams) error {
	s.mu.Lock()
	s.failed[id] = p
	s.mu.Unlock()
	return s.write("MarkFailed", id, f)
}
func (s *fakeStore) MarkDeleting(_ context.Context, f pool.Fence, id, reason string, _ time.Time) error {
	return s.write("MarkDeleting", id+" "+reason, f)
}
func (s *fakeStore) DeleteAttempted(_ context.Context, f pool.Fence, id string, _ time.Time) error {
	return s.write("DeleteAttempted", id, f)
}
func (s *fakeStore) Forget(_ context.Context, f pool.Fence, id string, _ time.Time) error {
	return s.write("Forget", id, f)
}
func (s *fakeStore) Adopt(_ context.Context, f pool.Fence, sb pool.Sandbox, _ time.Time) error {
	return s.write("Adopt", sb.ID, f)
}
func (s *fakeStore) UpdatePool(_ context.Context, f pool.Fence, name string, u pool.PoolUpdate, _ time.Time) error {
	s.mu.Lock()
	s.updates[name] = u
	s.mu.Unlock()
	return s.write("UpdatePool", name, f)
}

// fakeProvider lists a fixed set of apps and records every call.
type fakeProvider struct {
	mu        sync.Mutex
	apps      []pool.App
	listErr   error
	createErr map[string]error // by pool, or "" for all
	deleteErr map[string]error // by app id
	getErr    map[string]error // by app id
	health    map[string]error // by app id
	calls     []string
	specs     []pool.CreateSpec
}

func newFakeProvider(apps ...pool.App) *fakeProvider {
	return &fakeProvider{apps: apps, createErr: map[string]error{}, deleteErr: map[string]error{}, getErr: map[string]error{},
		health: map[string]error{}}
}

func (p *fakeProvider) record(line string) {
	p.mu.Lock()
	p.calls = append(p.calls, line)
	p.mu.Unlock()
}

func (p *fakeProvider) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

func (p *fakeProvider) Create(_ context.Context, spec pool.CreateSpec) (pool.App, error) {
	p.record("Create " + spec.SandboxID)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.specs = append(p.specs, spec)
	if err := p.createErr[spec.Pool]; err != nil {
		return pool.App{}, err
	}
	return pool.App{ID: "app-" + spec.SandboxID, SandboxID: spec.SandboxID, Pool: spec.Pool, Phase: pool.PhaseInProgress}, nil
}

func (p *fakeProvider) Get(_ context.Context, id string) (pool.App, error) {
	p.record("Get " + id)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.getErr[id]; err != nil {
		return pool.App{ID: id, Phase: pool.PhaseUnknown}, err
	}
	for _, a := range p.apps {
		if a.ID == id {
			return a, nil
		}
	}
	return pool.App{ID: id, Phase: pool.PhaseGone}, nil
}

func (p *fakeProvider) List(context.Context) ([]pool.App, error) {
	p.record("List")
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pool.App(nil), p.apps...), p.listErr
}

func (p *fakeProvider) Delete(_ context.Context, id string) error {
	p.record("Delete " + id)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deleteErr[id]
}

func (p *fakeProvider) Health(_ context.Context, app pool.App, path string) error {
	p.record("Health " + app.ID + " " + path)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.health[app.ID]
}

// seqIDs returns a sandbox id generator: s1, s2, ...
func seqIDs() func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("s%d", n)
	}
}

func (s *fakeStore) CollectPool(_ context.Context, f pool.Fence, name string) (bool, error) {
	if err := s.write("CollectPool", name, f); err != nil {
		return false, err
	}
	return true, nil
}

func (s *fakeStore) NoteUntracked(_ context.Context, f pool.Fence, apps, deploying int) error {
	return s.write("NoteUntracked", fmt.Sprintf("%d/%d", apps, deploying), f)
}

func (s *fakeStore) FailClaim(_ context.Context, f pool.Fence, hash, reason string, _ time.Time) error {
	return s.write("FailClaim", hash+" "+reason, f)
}

func (s *fakeStore) CancelClaim(context.Context, string, time.Time) (bool, error) {
	return false, fmt.Errorf("fakeStore: CancelClaim is not a reconcile call")
}
