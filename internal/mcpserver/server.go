// Package mcpserver is hotpool as Model Context Protocol tools: an LLM
// agent acquires a sandbox, runs commands and reads and writes files in it,
// and gives it back, or runs a snippet of code in one call (run_code).
//
// It reaches a hotpool deployment through the Go client, like any other
// caller. The lease and agent tokens stay in this process's memory: a model
// sees sandbox ids only, and every sandbox still held when the session ends
// is released.
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hotpool/hotpool/client"
)

// Defaults of Options.
const (
	DefaultImage     = "python"
	DefaultOutputCap = 64 << 10 // bytes kept of each output stream (the tail)
	DefaultMaxHold   = time.Hour
	DefaultMaxFiles  = 500
	DefaultReadCap   = 256 << 10
	// renewBefore: a held lease is renewed once it has less than this left.
	renewBefore = 2 * time.Minute
)

// Options configure a Server.
type Options struct {
	Client       *client.Client
	DefaultImage string // the pool sandbox_acquire and run_code use when the model names none
	// Lease is the lease asked for when the model gives none (0: the
	// deployment's default_lease).
	Lease time.Duration
	// MaxHold caps how long this server keeps a sandbox alive by renewing
	// its lease: past it the lease runs out as it would for an abandoned
	// caller, so a forgotten server does not hold sandboxes forever.
	MaxHold time.Duration
	// RenewEvery is how often held leases are checked for renewal (default 30 s).
	RenewEvery time.Duration
	// OutputCap is how many bytes of each of stdout and stderr a tool result
	// keeps (the tail), so a chatty command cannot flood the model's context.
	OutputCap int
	Logger    *slog.Logger
	Version   string
}

// held is a sandbox this server leased for the model.
type held struct {
	sb         *client.Sandbox
	acquiredAt time.Time
}

// Server is the MCP server. Its tools run concurrently; the held sandboxes
// are guarded by mu.
type Server struct {
	o   Options
	srv *mcp.Server
	log *slog.Logger

	mu   sync.Mutex
	held map[string]*held
}

// New builds the server and its tools.
func New(o Options) *Server {
	if o.DefaultImage == "" {
		o.DefaultImage = DefaultImage
	}
	if o.MaxHold <= 0 {
		o.MaxHold = DefaultMaxHold
	}
	if o.RenewEvery <= 0 {
		o.RenewEvery = 30 * time.Second
	}
	if o.OutputCap <= 0 {
		o.OutputCap = DefaultOutputCap
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	s := &Server{o: o, log: o.Logger, held: map[string]*held{}}
	s.srv = mcp.NewServer(&mcp.Implementation{Name: "hotpool", Version: o.Version}, &mcp.ServerOptions{
		Instructions: "hotpool hands out pre-warmed, single-use Linux sandboxes in milliseconds. " +
			"For a one-off snippet call run_code. For a longer task call sandbox_acquire, then sandbox_exec, " +
			"sandbox_write_file, sandbox_read_file and sandbox_list_files with its sandbox_id, and sandbox_release when done. " +
			"Files live under /workspace (the default working directory), /home/sandbox and /tmp. " +
			"hotpool_pools lists the images you can ask for.",
	})
	s.addTools()
	return s
}

// MCP is the underlying SDK server (for tests and other transports).
func (s *Server) MCP() *mcp.Server { return s.srv }

// Run serves one session on t (stdio for hotpool mcp) until the client
// disconnects or ctx ends, renewing held leases meanwhile; then it releases
// every sandbox it still holds, and logs which.
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go s.renewLoop(rctx)
	err := s.srv.Run(rctx, t)
	s.ReleaseAll(context.WithoutCancel(ctx))
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // a signal: a clean end
	}
	return err
}

// ReleaseAll releases every sandbox the server holds and returns their ids.
func (s *Server) ReleaseAll(ctx context.Context) []string {
	s.mu.Lock()
	all := make([]*held, 0, len(s.held))
	for _, h := range s.held {
		all = append(all, h)
	}
	s.held = map[string]*held{}
	s.mu.Unlock()
	ids := make([]string, 0, len(all))
	for _, h := range all {
		rctx, cancel := context.WithTimeout(ctx, client.ReleaseTimeout)
		_, err := h.sb.Release(rctx)
		cancel()
		if err != nil && !errors.Is(err, client.ErrLeaseExpired) && !errors.Is(err, client.ErrSandboxNotFound) {
			s.log.Warn("mcp: release on exit failed", "sandbox", h.sb, "err", err)
			continue
		}
		ids = append(ids, h.sb.ID)
	}
	slices.Sort(ids)
	if len(all) > 0 {
		s.log.Info("mcp: released the sandboxes still held on exit", "count", len(ids), "sandboxes", strings.Join(ids, ","))
	}
	return ids
}

// Held lists the ids of the sandboxes the server holds.
func (s *Server) Held() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.held))
	for id := range s.held {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// renewLoop keeps held leases alive, each up to MaxHold after its acquire.
func (s *Server) renewLoop(ctx context.Context) {
	tick := time.NewTicker(s.o.RenewEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.renewDue(ctx, time.Now())
		}
	}
}

// renewDue renews each held lease that ends within renewBefore (or two
// check intervals), for at most what is left of its MaxHold.
func (s *Server) renewDue(ctx context.Context, now time.Time) {
	s.mu.Lock()
	var due []*held
	for _, h := range s.held {
		if h.sb.LeaseExpiresAt.Sub(now) < max(renewBefore, 2*s.o.RenewEvery) {
			due = append(due, h)
		}
	}
	s.mu.Unlock()
	for _, h := range due {
		left := h.acquiredAt.Add(s.o.MaxHold).Sub(now)
		if left <= 0 {
			continue // past its hold: the lease runs out as an abandoned one would
		}
		d := s.o.Lease
		if d <= 0 || d > left {
			d = left
		}
		if d < time.Second {
			d = time.Second
		}
		if err := h.sb.Renew(ctx, d); err != nil {
			s.log.Warn("mcp: renew failed", "sandbox", h.sb, "err", err)
			if errors.Is(err, client.ErrLeaseExpired) || errors.Is(err, client.ErrSandboxNotFound) {
				s.forget(h.sb.ID)
			}
			continue
		}
		s.log.Debug("mcp: renewed", "sandbox", h.sb, "until", h.sb.LeaseExpiresAt)
	}
}

func (s *Server) keep(sb *client.Sandbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[sb.ID] = &held{sb: sb, acquiredAt: time.Now()}
}

func (s *Server) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, id)
}

// sandbox finds a held sandbox by the id the model gives.
func (s *Server) sandbox(id string) (*client.Sandbox, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.held[id]; ok {
		return h.sb, nil
	}
	ids := make([]string, 0, len(s.held))
	for k := range s.held {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	have := "none"
	if len(ids) > 0 {
		have = strings.Join(ids, ", ")
	}
	return nil, &toolError{code: "unknown_sandbox", msg: fmt.Sprintf("this server holds no sandbox %q (it holds: %s)", id, have),
		next: "use a sandbox_id that sandbox_acquire returned and that was not released, or call sandbox_acquire"}
}
