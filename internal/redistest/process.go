package redistest

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

	"github.com/redis/go-redis/v9"
)

// Process is a redis-server child on a loopback port: the one launcher of
// the tests' servers (Pair) and of the soak's (hotpooltest), which kills,
// restarts and fails it over. It outlives no caller: Close ends it.
type Process struct {
	bin, dir  string
	ownDir    bool // dir is ours to remove
	port      int
	appendOn  bool
	replicaOf int // the primary's port while a replica; 0 for a primary

	mu  sync.Mutex
	cmd *exec.Cmd
}

// ProcessOptions say how to start one.
type ProcessOptions struct {
	// Bin is the redis-server binary; empty looks it up on PATH.
	Bin string
	// Dir holds its files; empty makes a temporary one, removed by Close.
	Dir string
	// AppendOnly keeps an fsync-always append-only file, so a restart keeps
	// every write it acknowledged; off, nothing is persisted.
	AppendOnly bool
	// ReplicaOf is the port of the primary it replicates; 0: a primary.
	ReplicaOf int
}

// ErrNoRedisServer: no redis-server binary on PATH.
var ErrNoRedisServer = errors.New("redistest: redis-server is not on PATH: install it (sudo apt-get install -y redis-server) or run make test")

// StartProcess starts redis-server on a free loopback port and waits until
// it answers.
func StartProcess(ctx context.Context, o ProcessOptions) (*Process, error) {
	if o.Bin == "" {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			return nil, ErrNoRedisServer
		}
		o.Bin = bin
	}
	p := &Process{bin: o.Bin, dir: o.Dir, appendOn: o.AppendOnly, replicaOf: o.ReplicaOf}
	if p.dir == "" {
		dir, err := os.MkdirTemp("", "hotpool-redis-")
		if err != nil {
			return nil, fmt.Errorf("redistest: redis dir: %w", err)
		}
		p.dir, p.ownDir = dir, true
	}
	port, err := freeLoopbackPort()
	if err != nil {
		p.Close()
		return nil, err
	}
	p.port = port
	if err := p.start(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Port is the port it listens on.
func (p *Process) Port() int { return p.port }

// URL is its redis:// URL.
func (p *Process) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(p.port) }

// Client is a new client of it, without retries; the caller closes it.
func (p *Process) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(p.port), MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
}

func (p *Process) start(ctx context.Context) error {
	args := []string{"--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--dir", p.dir, "--save", "",
		"--protected-mode", "no", "--loglevel", "warning",
		// A replica syncs at once rather than after the default 5 s delay.
		"--repl-diskless-sync-delay", "0"}
	if p.appendOn {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if p.replicaOf != 0 {
		// A replica started on the files of a former primary loads them,
		// then takes the primary's data whole: what it alone had is gone.
		args = append(args, "--replicaof", "127.0.0.1", strconv.Itoa(p.replicaOf))
	}
	cmd := exec.Command(p.bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start %s: %w", p.bin, err)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	return p.waitUp(ctx)
}

// waitUp pings until the server answers (it may be replaying its AOF).
func (p *Process) waitUp(ctx context.Context) error {
	rdb := p.Client()
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
		select {
		case <-wctx.Done():
			return fmt.Errorf("redistest: redis-server on port %d did not come up: %w", p.port, wctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Promote makes a replica a primary (REPLICAOF NO ONE): it keeps what it
// has received and gets nothing more, as a failover's promoted replica, or
// a replica cut off by a partition, does.
func (p *Process) Promote(ctx context.Context) error {
	rdb := p.Client()
	defer rdb.Close()
	if err := rdb.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		return fmt.Errorf("redistest: promote the replica on port %d: %w", p.port, err)
	}
	p.replicaOf = 0
	return nil
}

// Kill ends it with SIGKILL: no shutdown save, no goodbye to clients, as
// when a node dies.
func (p *Process) Kill() error {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return errors.New("redistest: redis-server is not running")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil
}

// Restart kills it, stays down for down, and starts it again on the same
// port and files. It is started again even when ctx ends meanwhile: a
// caller past its deadline still needs its Redis back.
func (p *Process) Restart(ctx context.Context, down time.Duration) error {
	if err := p.Kill(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(down):
	}
	return p.start(context.WithoutCancel(ctx))
}

// StartAsReplicaOf starts a killed server again on its files as a replica
// of the one on primaryPort (the old primary after a failover).
func (p *Process) StartAsReplicaOf(ctx context.Context, primaryPort int) error {
	p.replicaOf = primaryPort
	return p.start(ctx)
}

// Close kills it and removes the files it made.
func (p *Process) Close() {
	_ = p.Kill()
	if p.ownDir {
		_ = os.RemoveAll(p.dir)
	}
}
