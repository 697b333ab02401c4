// Package redistest connects tests and benchmarks to the real redis-server at
// REDIS_URL (default redis://127.0.0.1:6379), each under its own key prefix.
// When the server is unreachable the test fails with the command that sets
// one up (make test): a Redis test never passes by skipping.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL is the server the tests use.
func URL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379"
}

// Client returns a client of the real server and a fresh key prefix; the
// prefix's keys are deleted when the test ends.
func Client(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	opt, err := redis.ParseURL(URL())
	if err != nil {
		tb.Fatalf("redistest: REDIS_URL %q: %v", URL(), err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		tb.Fatal(Missing(err))
	}
	prefix := Prefix(tb)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, "{hotpool:"+prefix+"}*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		_ = c.Close()
	})
	return c, prefix
}

// Missing is the failure message of a test that cannot reach its Redis: what
// went wrong and the one command that fixes it.
func Missing(err error) string {
	return "redistest: no redis-server at " + URL() + " (" + err.Error() + ").\n" +
		"Run the tests with `make test`: it installs redis-server if needed, starts its own on a free port and sets REDIS_URL.\n" +
		"Or start one yourself (redis-server --port 6379 --save '') and set REDIS_URL=redis://127.0.0.1:6379."
}

// Prefix returns a key prefix unique to this test run.
func Prefix(tb testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}
