package redistest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process a test started: a primary, or a replica
// of one (--replicaof), for failover tests. It is killed when the test ends.
type Server struct {
	tb   testing.TB
	Port int
	cmd  *exec.Cmd
}

// Pair starts a primary and a replica of it on free loopback ports, without
// persistence, and waits until the replica is in sync. A test without
// redis-server on its PATH fails with the command that installs it.
func Pair(tb testing.TB) (primary, replica *Server) {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redistest: redis-server is not on PATH (%v): install it (sudo apt-get install -y redis-server) or run make test", err)
	}
	primary = start(tb, bin)
	replica = start(tb, bin, "--replicaof", "127.0.0.1", strconv.Itoa(primary.Port))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		// In sync once a write on the primary is acknowledged by it.
		pc := primary.Client()
		info, err := pc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "state=online") {
			pipe := pc.Pipeline()
			pipe.Set(ctx, "redistest:sync", "1", time.Minute)
			acked := pipe.Do(ctx, "WAIT", 1, 500)
			_, _ = pipe.Exec(ctx)
			if n, err := acked.Int(); err == nil && n == 1 {
				return primary, replica
			}
		}
		if ctx.Err() != nil {
			tb.Fatalf("redistest: the replica did not sync with its primary: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func start(tb testing.TB, bin string, extra ...string) *Server {
	tb.Helper()
	port := freePort(tb)
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--loglevel", "warning", "--dir", tb.TempDir(),
		// A replica syncs at once rather than after the default 5 s delay.
		"--repl-diskless-sync-delay", "0"}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("redistest: start redis-server: %v", err)
	}
	s := &Server{tb: tb, Port: port, cmd: cmd}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := s.Client()
	for c.Ping(ctx).Err() != nil {
		if ctx.Err() != nil {
			tb.Fatalf("redistest: redis-server on %d did not answer", port)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

// Client is a new client of the server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port), MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	s.tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Partition cuts a replica off its primary (REPLICAOF NO ONE): it keeps what
// it has and receives nothing more, as across a partition, and it stands
// ready as the primary a failover promotes. The primary's WAIT then counts
// no replica.
func (s *Server) Partition(ctx context.Context) error {
	return s.Client().Do(ctx, "REPLICAOF", "NO", "ONE").Err()
}

// Kill ends the process at once, with whatever it has not replicated.
func (s *Server) Kill() {
	s.signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
}

func (s *Server) signal(sig os.Signal) {
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("redistest: signal %v to redis-server %d: %v", sig, s.Port, err)
	}
}

func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
