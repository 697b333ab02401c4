package localserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The server's limits (Options override them). A caller without a token
// must not be able to hold the server: every connection ends at a deadline,
// and there are only so many at once.
const (
	// DefaultMaxConns caps open connections; more wait in the kernel's
	// accept queue instead of taking a file descriptor each.
	DefaultMaxConns = 256
	// DefaultReadHeaderTimeout ends a connection whose headers do not
	// arrive: a client dripping them one byte at a time.
	DefaultReadHeaderTimeout = 5 * time.Second
	// readTimeout bounds reading a whole request; bodies are at most 64 KiB.
	readTimeout = 15 * time.Second
	// writeTimeout bounds a handler and its answer: an acquire with
	// wait_seconds holds for up to 25 s.
	writeTimeout = 40 * time.Second
	// idleTimeout ends a keep-alive connection that sends nothing more.
	idleTimeout = 60 * time.Second
	// maxHeaderBytes: the contract's headers are a few hundred bytes.
	maxHeaderBytes = 16 << 10
)

// newHTTPServer is the server with its limits, logging through logger (which
// redacts tokens) rather than the standard logger.
func newHTTPServer(h http.Handler, readHeader time.Duration, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeader,
		ReadTimeout:       max(readTimeout, readHeader),
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// limitListener accepts at most n connections at once; Accept waits for a
// slot. (golang.org/x/net/netutil has the same; it is not a dependency of
// this module, and this is all of it that is needed.)
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func limitConns(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// redisLogger sends go-redis's own messages through the redacting logger.
type redisLogger struct{ log *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.log.WarnContext(ctx, fmt.Sprintf(format, v...), slog.String("op", "redis"))
}

var setRedisLogger sync.Once

// useRedisLogger routes go-redis's process-wide logger once.
func useRedisLogger(logger *slog.Logger) {
	setRedisLogger.Do(func() { redis.SetLogger(redisLogger{logger}) })
}
