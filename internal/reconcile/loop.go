package reconcile

import (
	"context"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// RunFor runs passes every `every` for up to `budget` (by the injected
// clock) while there is work in flight: something creating or deleting, or
// an active pool below target whose circuit is closed. It stops after the
// first quiet pass, when another reconciler holds the lock, or on an error.
// pool.Service.Run (a scheduled or kicked run) calls it with
// pool.RunBudgetFor(ctx) and pool.RunEvery, so
// a sandbox deployed a few seconds after a pass is marked ready a few
// seconds later rather than a minute later.
func (r *Reconciler) RunFor(ctx context.Context, budget, every time.Duration) ([]pool.PassReport, error) {
	start := r.clock.Now()
	var reps []pool.PassReport
	for {
		rep, err := r.Reconcile(ctx)
		reps = append(reps, rep)
		if err != nil || !rep.Leader || !rep.Busy() {
			return reps, err
		}
		if r.clock.Now().Add(every).Sub(start) >= budget {
			return reps, nil
		}
		if err := r.sleep(ctx, every); err != nil {
			return reps, nil
		}
	}
}

// Kick asks a running Run loop for a pass now (the local server calls it
// right after an acquire). It never blocks; kicks during a pass coalesce.
func (r *Reconciler) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run is the long-running loop of the local server: a pass every interval,
// every `every` while Busy, and at once after a Kick. It returns when ctx ends.
func (r *Reconciler) Run(ctx context.Context, interval, every time.Duration, after func(time.Duration) <-chan time.Time, onPass func(pool.PassReport, error)) {
	if after == nil {
		after = time.After
	}
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-after(wait):
		}
		rep, err := r.Reconcile(ctx)
		if onPass != nil {
			onPass(rep, err)
		}
		wait = interval
		if err == nil && rep.Leader && rep.Busy() {
			wait = every
		}
	}
}
