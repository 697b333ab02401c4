package appplatform_test

import (
	"context"
	"sync"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// vtime is virtual time for concurrent workers: the clock moves only when
// every worker is asleep, straight to the earliest wake-up. While any worker
// runs (a budget script, an HTTP call) the clock stands still, so the time a
// budget slot is taken is exactly the time the simulator logs the call.
type vtime struct {
	mu       sync.Mutex
	clock    *pool.ManualClock
	running  int
	sleepers []*vsleeper
}

type vsleeper struct {
	wake time.Time
	ch   chan struct{}
}

func newVTime(start time.Time) *vtime { return &vtime{clock: pool.NewManualClock(start)} }

// enter registers a worker; call it before the worker's goroutine starts.
func (v *vtime) enter() {
	v.mu.Lock()
	v.running++
	v.mu.Unlock()
}

// exit retires a worker.
func (v *vtime) exit() {
	v.mu.Lock()
	v.running--
	v.advance()
	v.mu.Unlock()
}

// sleep is a Budget's Sleep.
func (v *vtime) sleep(ctx context.Context, d time.Duration) error {
	v.mu.Lock()
	s := &vsleeper{wake: v.clock.Now().Add(d), ch: make(chan struct{})}
	v.sleepers = append(v.sleepers, s)
	v.running--
	v.advance()
	v.mu.Unlock()
	select {
	case <-s.ch:
		return nil
	case <-ctx.Done():
		v.mu.Lock()
		defer v.mu.Unlock()
		for i, x := range v.sleepers {
			if x == s {
				v.sleepers = append(v.sleepers[:i], v.sleepers[i+1:]...)
				v.running++
				break
			}
		}
		return ctx.Err()
	}
}

// advance wakes the earliest sleepers once nobody runs; v.mu is held.
func (v *vtime) advance() {
	if v.running > 0 || len(v.sleepers) == 0 {
		return
	}
	earliest := v.sleepers[0].wake
	for _, s := range v.sleepers[1:] {
		if s.wake.Before(earliest) {
			earliest = s.wake
		}
	}
	if earliest.After(v.clock.Now()) {
		v.clock.Set(earliest)
	}
	now := v.clock.Now()
	keep := v.sleepers[:0]
	for _, s := range v.sleepers {
		if s.wake.After(now) {
			keep = append(keep, s)
			continue
		}
		v.running++
		close(s.ch)
	}
	v.sleepers = keep
}
