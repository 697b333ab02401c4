package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process a test started: a primary, or a replica
// of one (--replicaof), for failover tests. It is killed when the test ends.
type Server struct {
	tb   testing.TB
	Port int
	p    *Process
}

// Pair starts a primary and a replica of it on free loopback ports, without
// persistence, and waits until the replica is in sync. A test without
// redis-server on its PATH fails with the command that installs it.
func Pair(tb testing.TB) (primary, replica *Server) {
	tb.Helper()
	primary = start(tb, 0)
	replica = start(tb, primary.Port)
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

func start(tb testing.TB, replicaOf int) *Server {
	tb.Helper()
	p, err := StartProcess(context.Background(), ProcessOptions{Dir: tb.TempDir(), ReplicaOf: replicaOf})
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(p.Close)
	return &Server{tb: tb, Port: p.Port(), p: p}
}

// Client is a new client of the server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := s.p.Client()
	s.tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Partition cuts a replica off its primary (REPLICAOF NO ONE): it keeps what
// it has and receives nothing more, as across a partition, and it stands
// ready as the primary a failover promotes. The primary's WAIT then counts
// no replica.
func (s *Server) Partition(ctx context.Context) error { return s.p.Promote(ctx) }

// Kill ends the process at once, with whatever it has not replicated.
func (s *Server) Kill() {
	if err := s.p.Kill(); err != nil {
		s.tb.Fatalf("redistest: kill redis-server %d: %v", s.Port, err)
	}
}
