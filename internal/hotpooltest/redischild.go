package hotpooltest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
	"github.com/redis/go-redis/v9"
)

// redisChild is a redis-server process this engine started, on a fixed
// port, with an fsync-always append-only file in a temp dir, so a restart
// keeps every write it acknowledged (without persistence a restart would
// empty the pool state, which is a different experiment).
type redisChild struct {
	bin       string
	dir       string
	port      int
	replicaOf int // the primary's port while this is a replica; 0 for a primary

	mu  sync.Mutex
	cmd *exec.Cmd
}

// startRedisChild starts bin on a free loopback port.
func startRedisChild(ctx context.Context, bin string, replicaOf int) (*redisChild, error) {
	dir, err := os.MkdirTemp("", "hotpool-chaos-redis-")
	if err != nil {
		return nil, fmt.Errorf("chaos: redis dir: %w", err)
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c := &redisChild{bin: bin, dir: dir, port: port, replicaOf: replicaOf}
	if err := c.start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("chaos: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// URL is the child's redis:// URL.
func (c *redisChild) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(c.port) }

func (c *redisChild) start(ctx context.Context) error {
	args := []string{"--port", strconv.Itoa(c.port), "--bind", "127.0.0.1",
		"--dir", c.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--protected-mode", "no", "--loglevel", "warning", "--repl-diskless-sync-delay", "0"}
	if c.replicaOf != 0 {
		// A replica started on the files of a former primary loads them,
		// then takes the primary's data whole: what it alone had is gone.
		args = append(args, "--replicaof", "127.0.0.1", strconv.Itoa(c.replicaOf))
	}
	cmd := exec.Command(c.bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("chaos: start %s: %w", c.bin, err)
	}
	c.mu.Lock()
	c.cmd = cmd
	c.mu.Unlock()
	return c.waitUp(ctx)
}

// waitUp pings until the server answers (it may be replaying its AOF).
func (c *redisChild) waitUp(ctx context.Context) error {
	rdb := c.client()
	defer rdb.Close()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(wctx, 500*time.Millisecond)
		err := rdb.Ping(pctx).Err()
		pcancel()
		if err == nil {
			return nil
		}
		if err := pool.Sleep(wctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("chaos: redis-server on port %d did not come up: %w", c.port, err)
		}
	}
}

func (c *redisChild) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(c.port), MaxRetries: -1})
}

// promote makes a replica the primary (REPLICAOF NO ONE): it keeps what it
// has received, and nothing its primary had not yet sent.
func (c *redisChild) promote(ctx context.Context) error {
	rdb := c.client()
	defer rdb.Close()
	if err := rdb.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		return fmt.Errorf("chaos: promote the replica on port %d: %w", c.port, err)
	}
	c.replicaOf = 0
	return nil
}

// kill ends the child with SIGKILL: no shutdown save, no goodbye to clients,
// as when a node dies.
func (c *redisChild) kill() error {
	c.mu.Lock()
	cmd := c.cmd
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return errors.New("chaos: redis-server is not running")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil
}

// restart kills the child, stays down for down, and starts it again on the
// same port and files.
func (c *redisChild) restart(ctx context.Context, down time.Duration) error {
	if err := c.kill(); err != nil {
		return err
	}
	// Started again even when ctx ended meanwhile: the convergence phase
	// needs its Redis back.
	_ = pool.Sleep(ctx, down)
	return c.start(context.WithoutCancel(ctx))
}

// close kills the child and removes its files.
func (c *redisChild) close() {
	_ = c.kill()
	_ = os.RemoveAll(c.dir)
}

// redisPair is a primary and its replica (--replicaof) behind one proxy,
// as a managed Redis with a standby is: the server knows only the proxy's
// address, and a failover moves it to the promoted replica.
type redisPair struct {
	nodes   [2]*redisChild
	primary int // index of the primary in nodes
	proxy   *proxy
}

// startRedisPair starts a primary, a replica of it and the proxy, and waits
// until the replica acknowledges a write.
func startRedisPair(ctx context.Context, bin string) (*redisPair, error) {
	p := &redisPair{}
	var err error
	if p.nodes[0], err = startRedisChild(ctx, bin, 0); err != nil {
		return nil, err
	}
	if p.nodes[1], err = startRedisChild(ctx, bin, p.nodes[0].port); err != nil {
		p.nodes[0].close()
		return nil, err
	}
	if p.proxy, err = newProxy(p.nodes[0].port); err != nil {
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
	rdb := p.nodes[p.primary].client()
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
	return p.nodes[p.primary].restart(ctx, down)
}

// failover is an unplanned one: the primary dies at once (SIGKILL, with
// whatever it had not replicated), the endpoint is down for `down`, the
// replica is promoted and the endpoint moved to it; the old primary comes
// back as the new one's replica.
func (p *redisPair) failover(ctx context.Context, down time.Duration) error {
	old, next := p.nodes[p.primary], p.nodes[1-p.primary]
	p.proxy.point(0)
	if err := old.kill(); err != nil {
		return err
	}
	// Done even when ctx ended meanwhile: convergence needs a primary.
	bg := context.WithoutCancel(ctx)
	if err := next.promote(bg); err != nil {
		return err
	}
	_ = pool.Sleep(ctx, down)
	p.proxy.point(next.port)
	p.primary = 1 - p.primary
	old.replicaOf = next.port
	return old.start(bg)
}

func (p *redisPair) close() {
	if p.proxy != nil {
		p.proxy.close()
	}
	for _, n := range p.nodes {
		if n != nil {
			n.close()
		}
	}
}
