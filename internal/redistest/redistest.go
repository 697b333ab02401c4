// Package redistest connects tests and benchmarks to the real redis-server at
// REDIS_URL (default redis://127.0.0.1:6379), each under its own key prefix.
// When the server is unreachable it skips in one line, except under CI=true,
// where it fails: CI must never pass by skipping.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
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
		msg := "redistest: no redis-server at " + URL() + " (" + err.Error() + "); start one or set REDIS_URL"
		if strings.EqualFold(os.Getenv("CI"), "true") {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
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

// Prefix returns a key prefix unique to this test run.
func Prefix(tb testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}
