package hotpooltest

import (
	"context"
	"fmt"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/redistest"
)

// redisPair is a primary and its replica (--replicaof) behind one proxy,
// as a managed Redis with a standby is: the server knows only the proxy's
// address, and a failover moves it to the promoted replica.
type redisPair struct {
	nodes   [2]*redistest.Process
	primary int // index of the primary in nodes
	proxy   *proxy
}

// startRedisPair starts a primary, a replica of it and the proxy, and waits
// until the replica acknowledges a write.
func startRedisPair(ctx context.Context, bin string) (*redisPair, error) {
	p := &redisPair{}
	var err error
	// Append-only, fsync always: a restart keeps every write it acknowledged
	// (without persistence a restart would empty the pool state, which is
	// another experiment).
	if p.nodes[0], err = redistest.StartProcess(ctx, redistest.ProcessOptions{Bin: bin, AppendOnly: true}); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	if p.nodes[1], err = redistest.StartProcess(ctx, redistest.ProcessOptions{Bin: bin, AppendOnly: true, ReplicaOf: p.nodes[0].Port()}); err != nil {
		p.nodes[0].Close()
		return nil, fmt.Errorf("chaos: %w", err)
	}
	if p.proxy, err = newProxy(p.nodes[0].Port()); err != nil {
		p.close()
		return nil, err
	}
	if err := p.waitReplicated(ctx); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// URL is the address the soak's server is given: the proxy's.
func (p *redisPair) URL() string { return p.proxy.URL() }

func (p *redisPair) waitReplicated(ctx context.Context) error {
	rdb := p.nodes[p.primary].Client()
	defer rdb.Close()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		pipe := rdb.Pipeline()
		pipe.Set(wctx, "chaos:sync", "1", time.Minute)
		acked := pipe.Do(wctx, "WAIT", 1, 200)
		_, _ = pipe.Exec(wctx)
		if n, err := acked.Int(); err == nil && n >= 1 {
			return nil
		}
		if err := pool.Sleep(wctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("chaos: the replica did not sync: %w", err)
		}
	}
}

// restartPrimary kills the primary and starts it again on its files after
// down; the proxy keeps pointing at it.
func (p *redisPair) restartPrimary(ctx context.Context, down time.Duration) error {
	return p.nodes[p.primary].Restart(ctx, down)
}

// failover is an unplanned one: the primary dies at once (SIGKILL, with
// whatever it had not replicated), the endpoint is down for `down`, the
// replica is promoted and the endpoint moved to it; the old primary comes
// back as the new one's replica.
func (p *redisPair) failover(ctx context.Context, down time.Duration) error {
	old, next := p.nodes[p.primary], p.nodes[1-p.primary]
	p.proxy.point(0)
	if err := old.Kill(); err != nil {
		return err
	}
	// Done even when ctx ended meanwhile: convergence needs a primary.
	bg := context.WithoutCancel(ctx)
	if err := next.Promote(bg); err != nil {
		return err
	}
	_ = pool.Sleep(ctx, down)
	p.proxy.point(next.Port())
	p.primary = 1 - p.primary
	return old.StartAsReplicaOf(bg, next.Port())
}

func (p *redisPair) close() {
	if p.proxy != nil {
		p.proxy.close()
	}
	for _, n := range p.nodes {
		if n != nil {
			n.Close()
		}
	}
}
