package chaos

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
	bin  string
	dir  string
	port int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// startRedisChild starts bin on a free loopback port.
func startRedisChild(ctx context.Context, bin string) (*redisChild, error) {
	dir, err := os.MkdirTemp("", "hotpool-chaos-redis-")
	if err != nil {
		return nil, fmt.Errorf("chaos: redis dir: %w", err)
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c := &redisChild{bin: bin, dir: dir, port: port}
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
	cmd := exec.Command(c.bin,
		"--port", strconv.Itoa(c.port), "--bind", "127.0.0.1",
		"--dir", c.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--protected-mode", "no", "--loglevel", "warning")
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
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(c.port), MaxRetries: -1})
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
