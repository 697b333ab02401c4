package hotpooltest

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hotpool/hotpool/client"
	"github.com/hotpool/hotpool/internal/pool"
)

// ledger is what every client saw, shared: the outcome counts and every
// sandbox id handed out, so a second hand-out of one id is caught whichever
// clients got it.
type ledger struct {
	mu         sync.Mutex
	handed     map[string]int
	acquireOK  map[string]int // by source: pool, cold
	acquireErr map[string]int // by error code
	releaseOK  int
	releaseErr map[string]int
	abandoned  int
	violations []string
}

func newLedger() *ledger {
	return &ledger{handed: map[string]int{}, acquireOK: map[string]int{}, acquireErr: map[string]int{}, releaseErr: map[string]int{}}
}

func (l *ledger) violate(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) < 50 {
		l.violations = append(l.violations, msg)
	}
}

// handOut records a sandbox handed to a client; false if it was handed before.
func (l *ledger) handOut(sb *client.Sandbox) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handed[sb.ID]++
	l.acquireOK[sb.Source]++
	return l.handed[sb.ID] == 1
}

func (l *ledger) count(m map[string]int, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m[key]++
}

// doubles counts the ids handed out more than once.
func (l *ledger) doubles() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.handed {
		if c > 1 {
			n++
		}
	}
	return n
}

// errorCode names an error by the contract's stable code, or by what the
// transport saw.
func errorCode(err error) string {
	var ae *client.APIError
	switch {
	case errors.As(err, &ae):
		return ae.Code
	case errors.Is(err, context.DeadlineExceeded):
		return "client_timeout"
	default:
		return "transport"
	}
}

// worker is one client: acquire, a few milliseconds of work, release; a
// share of its sandboxes is abandoned (never released) with a short lease.
type worker struct {
	c      *client.Client
	rng    *rand.Rand
	pools  []string
	ledger *ledger
	// abandonNext makes the next sandbox abandoned whatever the draw, so a
	// short soak reaps at least one lease.
	abandonNext bool
}

func newWorker(base, token string, seed uint64, pools []string, l *ledger, abandonFirst bool) (*worker, error) {
	c, err := client.New(base, token,
		client.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}),
		client.WithMaxAttempts(3),
		client.WithBackoff(50*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	return &worker{c: c, rng: rand.New(rand.NewPCG(seed, seed^0xc4a05)), pools: pools, ledger: l, abandonNext: abandonFirst}, nil
}

// run loops until ctx ends; a sandbox it holds then is still released.
func (w *worker) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.once(ctx)
	}
}

func (w *worker) once(ctx context.Context) {
	name := w.pools[0]
	if len(w.pools) > 1 && w.rng.Float64() < 0.3 {
		name = w.pools[1+w.rng.IntN(len(w.pools)-1)]
	}
	abandon := w.rng.Float64() < abandonRate || w.abandonNext
	lease := heldLease
	if abandon {
		lease = abandonedLease
	}
	actx, cancel := context.WithTimeout(ctx, 8*time.Second)
	sb, err := w.c.Acquire(actx, name, client.AcquireOptions{Lease: lease})
	cancel()
	if err != nil {
		w.ledger.count(w.ledger.acquireErr, errorCode(err))
		_ = pool.Sleep(ctx, time.Duration(50+w.rng.IntN(150))*time.Millisecond)
		return
	}
	if !w.ledger.handOut(sb) {
		w.ledger.violate("sandbox " + sb.ID + " handed out twice")
	}
	if abandon {
		w.abandonNext = false
		w.ledger.mu.Lock()
		w.ledger.abandoned++
		w.ledger.mu.Unlock()
		return
	}
	// The work outlives the fault phase's end: a holder finishes and releases.
	work := context.WithoutCancel(ctx)
	_ = pool.Sleep(work, time.Duration(10+w.rng.IntN(50))*time.Millisecond)
	rctx, rcancel := context.WithTimeout(work, 5*time.Second)
	defer rcancel()
	if _, err := w.c.Release(rctx, sb.ID, sb.LeaseToken); err != nil {
		code := errorCode(err)
		w.ledger.count(w.ledger.releaseErr, code)
		if code == "lease_mismatch" {
			w.ledger.violate("release of " + sb.ID + " by its holder: lease_mismatch")
		}
		return
	}
	w.ledger.mu.Lock()
	w.ledger.releaseOK++
	w.ledger.mu.Unlock()
}
