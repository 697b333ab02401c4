package redisstate

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// TestConcurrentAcquireHandsEachSandboxOutOnce: 64 goroutines acquire (and
// release what they get) while a reconciler reserves, marks ready and forgets,
// checking the invariants after every step of its own. Every sandbox made
// ready is handed out exactly once; no cap is ever exceeded; the books balance.
func TestConcurrentAcquireHandsEachSandboxOutOnce(t *testing.T) {
	f := newFixture(t)
	const (
		acquirers = 64
		sandboxes = 128
	)
	caps := pool.Caps{MaxReady: 12, MaxTotal: 40, MaxConcurrentCreates: 6}
	capsByPool := map[string]pool.Caps{testPool: caps}
	now := at(time.Minute)

	var (
		handed    sync.Map // sandbox id -> lease hash
		handedN   atomic.Int64
		dupes     atomic.Int64
		madeReady atomic.Int64
		done      atomic.Bool
		wg        sync.WaitGroup
		errsMu    sync.Mutex
		errs      []error
		kick      = make(chan struct{}, acquirers) // a sandbox was made ready
	)
	fail := func(err error) {
		errsMu.Lock()
		errs = append(errs, err)
		errsMu.Unlock()
	}

	for g := 0; g < acquirers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			got := 0
			for n := 0; ; n++ {
				if done.Load() && handedN.Load() == madeReady.Load() {
					return
				}
				hash := fmt.Sprintf("g%d-%d", g, n)
				p := acquireParams(now, hash)
				p.Caps = caps
				res, err := f.s.Acquire(f.ctx, p)
				if errors.Is(err, pool.ErrPoolExhausted) {
					select { // wait for a refill rather than spin
					case <-kick:
					case <-time.After(20 * time.Millisecond):
					}
					continue
				}
				if err != nil {
					fail(err)
					return
				}
				if _, loaded := handed.LoadOrStore(res.Sandbox.ID, hash); loaded {
					dupes.Add(1)
				}
				handedN.Add(1)
				got++
				if got%2 == 1 { // every other lease is released at once, the rest stay leased
					if _, err := f.s.Release(f.ctx, res.Sandbox.ID, hash, now); err != nil {
						fail(err)
						return
					}
				}
			}
		}(g)
	}

	// The reconciler: one leader, checking the whole state after every step.
	next := 0
	for int(madeReady.Load()) < sandboxes {
		id := fmt.Sprintf("sb%04d", next)
		err := f.s.Reserve(f.ctx, leader, pool.ReserveParams{Pool: testPool, SandboxID: id, Caps: caps, Attempt: 1,
			CreateDeadline: now.Add(time.Hour), Now: now})
		switch {
		case errors.Is(err, pool.ErrPoolExhausted):
			// Full: forget what was released so max_total frees up.
			obs, err := f.s.Observe(f.ctx, now)
			require.NoError(t, err)
			for _, sb := range obs.Sandboxes {
				if sb.State == pool.StateDeleting {
					require.NoError(t, f.s.Forget(f.ctx, leader, sb.ID, now))
				}
			}
			if len(obs.Sandboxes) >= caps.MaxTotal {
				// Everything left is leased: reap (those leases are the test's to end).
				for _, sb := range obs.Sandboxes {
					if sb.State == pool.StateInUse {
						require.NoError(t, f.s.MarkDeleting(f.ctx, leader, sb.ID, pool.ReasonOrphan, now))
					}
				}
			}
		case err != nil:
			require.NoError(t, err)
		default:
			next++
			require.NoError(t, f.s.MarkReady(f.ctx, leader, id, "app-"+id, "https://"+id, now.Add(time.Hour), now))
			madeReady.Add(1)
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		require.NoError(t, redistest.CheckInvariants(f.ctx, f.rdb, f.s.keys, capsByPool))
	}
	done.Store(true)
	wg.Wait()

	require.Empty(t, errs)
	require.Zero(t, dupes.Load(), "a sandbox was handed out twice")
	require.Equal(t, int64(sandboxes), handedN.Load(), "every ready sandbox handed out once")
	count := 0
	handed.Range(func(_, _ any) bool { count++; return true })
	require.Equal(t, sandboxes, count)
	f.check(capsByPool)

	snap, err := f.s.Metrics(f.ctx, []string{testPool}, now)
	require.NoError(t, err)
	st := snap.Pools[testPool]
	require.Equal(t, 0, st.Ready)
	require.Equal(t, int64(sandboxes), st.State.Stats.TotalAcquires)
	require.Equal(t, int64(sandboxes), st.State.Stats.AcquiresFromPool)
	t.Logf("acquires %d, misses_empty %d, released %d, creates %d, deletes %d",
		st.State.Stats.TotalAcquires, st.State.Stats.MissesEmpty, st.State.Stats.Released, st.State.Stats.Creates, st.State.Stats.Deletes)
}
