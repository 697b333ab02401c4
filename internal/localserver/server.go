package localserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/appsim"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/reconcile"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/sandboxagent"
	"github.com/hotpool/hotpool/internal/stack"
)

// Providers.
const (
	ProviderSim          = "sim"
	ProviderDigitalOcean = "digitalocean"
)

// Defaults of the local server.
const (
	DefaultAddr           = "127.0.0.1:8080"
	DefaultReconcileEvery = 5 * time.Second
	// BusyEvery is the pause between passes while sandboxes are being created
	// or deleted: short, so a local pool refills seconds after its apps deploy.
	BusyEvery = time.Second
	// simToken is the bearer token between the provider and the in-process
	// simulator; nothing outside the process can reach either with it.
	simToken = "hotpool-local-simulator"
)

// Options configure a local server. Config and Token are required.
type Options struct {
	Addr   string // host:port; "127.0.0.1:0" picks a free port
	Config *pool.Config
	Token  string // the API bearer token
	// Secret keys the derived tokens (agent tokens, idempotent leases);
	// empty uses Token.
	Secret string
	// RedisURL selects an external Redis; empty embeds miniredis.
	RedisURL string
	// KeyPrefix overrides the Redis key prefix (default Config.Deployment),
	// so tests can share one Redis.
	KeyPrefix string
	// OnStop, when set, runs as the server stops: after the HTTP server and
	// the reconcile loop have, before Redis and the platform close.
	OnStop func(ctx context.Context, s *Server)
	// Provider is ProviderSim (default) or ProviderDigitalOcean (needs DOToken).
	Provider string
	DOToken  string
	// DOAPIURL overrides the DigitalOcean API base URL of ProviderDigitalOcean
	// (HOTPOOL_DO_API_URL); empty is DigitalOcean's.
	DOAPIURL string
	// SimCreateDelay, SimFailRate and SimSeed shape the simulator's deployments.
	SimCreateDelay time.Duration
	SimFailRate    float64
	SimSeed        uint64
	// SandboxIsolation confines the simulated sandboxes' commands (zero:
	// the host's shell); serve passes sandboxagent.DetectIsolation().
	SandboxIsolation sandboxagent.Isolation
	// ReconcileEvery is the loop's interval (default 5s); negative disables
	// the loop (tests that drive passes through POST /reconcile).
	ReconcileEvery time.Duration
	Logger         *slog.Logger // default: discard
	Clock          pool.Clock   // default: the system clock
	// MaxConns caps open connections (default DefaultMaxConns);
	// ReadHeaderTimeout ends a connection whose headers do not arrive
	// (default DefaultReadHeaderTimeout).
	MaxConns          int
	ReadHeaderTimeout time.Duration
	// Getenv reads webhooks' secret_env variables; default os.Getenv.
	Getenv func(string) string
}

// Server is a running local hotpool.
type Server struct {
	BaseURL string // http://127.0.0.1:port
	// ClearedKeys counts the keys of this deployment an external Redis held
	// from an earlier run with the simulated platform, deleted at start.
	ClearedKeys int
	Redis       *redis.Client
	Mini        *miniredis.Miniredis // nil with an external Redis
	Sim         *appsim.Server       // nil with the real platform
	Provider    *appplatform.Provider
	Store       *redisstate.Store
	// Reconciler runs every pass, under the current config (Reload sets it).
	Reconciler *reconcile.Reconciler

	// front is what serves requests: the config, and the service and
	// handler built on it. Reload swaps it whole, so a request runs under
	// one config from start to end.
	front    atomic.Pointer[front]
	reloadMu sync.Mutex
	opts     Options
	stack    *stack.Stack // the backends; Reload builds a new front on them

	http    *http.Server
	log     *slog.Logger
	done    chan struct{}
	stopCtx context.CancelFunc
	once    sync.Once
	closeMu sync.Mutex
	closers []func() error
}

// Start builds everything and serves until ctx ends or Close is called.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Config == nil {
		return nil, errors.New("localserver: a config is required")
	}
	o.Token = strings.TrimSpace(o.Token)
	if o.Token == "" {
		return nil, errors.New("localserver: an API token is required (a blank one would close the API)")
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = pool.SystemClock{}
	}
	if o.ReconcileEvery == 0 {
		o.ReconcileEvery = DefaultReconcileEvery
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = o.Config.Deployment
	}
	switch {
	case o.Secret == "" && o.Provider == ProviderDigitalOcean:
		// Real sandboxes outlive the process: their agent tokens must be
		// derivable again after a restart.
		return nil, fmt.Errorf("localserver: %w", pool.CheckSecret(""))
	case o.Secret == "":
		// Simulated sandboxes die with the process, so a fresh random secret
		// each run is enough (and never the API token).
		o.Secret = pool.NewToken() + pool.NewToken()
	default:
		if err := pool.CheckSecret(o.Secret); err != nil {
			return nil, fmt.Errorf("localserver: %w", err)
		}
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	s := &Server{log: o.Logger, done: make(chan struct{}), opts: o}
	if err := s.build(ctx, o); err != nil {
		s.closeAll()
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("localserver: listen on %s: %w", o.Addr, err)
	}
	s.BaseURL = "http://" + ln.Addr().String()
	ln = limitConns(ln, o.MaxConns)
	s.http = newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.front.Load().handler.ServeHTTP(w, r)
	}), o.ReadHeaderTimeout, o.Logger)
	useRedisLogger(o.Logger)
	loopCtx, stop := context.WithCancel(ctx)
	s.stopCtx = stop
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", slog.String("error", err.Error()))
		}
	}()
	if o.ReconcileEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Reconciler.Run(loopCtx, o.ReconcileEvery, min(BusyEvery, o.ReconcileEvery), nil, func(rep pool.PassReport, err error) {
				s.onPass(loopCtx, rep, err)
			})
		}()
	}
	go func() {
		<-loopCtx.Done()
		// Graceful: in-flight requests finish (bounded), then the backends close.
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(loopCtx), 10*time.Second)
		defer cancel()
		_ = s.http.Shutdown(shutCtx)
		wg.Wait()
		if f := s.front.Load(); f != nil {
			// Latency samples still being written need Redis open.
			_ = f.service.Flush(shutCtx)
		}
		if o.OnStop != nil {
			o.OnStop(shutCtx, s)
		}
		s.closeAll()
		close(s.done)
	}()
	return s, nil
}

// build wires Redis, the store, the platform, the reconciler, the service and
// the handler.
func (s *Server) build(ctx context.Context, o Options) error {
	if o.RedisURL == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("localserver: embedded redis: %w", err)
		}
		s.Mini = m
		s.addCloser(func() error { m.Close(); return nil })
		s.Redis = redis.NewClient(&redis.Options{Addr: m.Addr()})
	} else {
		opt, err := redis.ParseURL(o.RedisURL)
		if err != nil {
			// The URL may hold a password: say what is wrong without echoing it.
			return errors.New("localserver: the Redis URL does not parse (want redis://[user:pass@]host:port[/db])")
		}
		s.Redis = redis.NewClient(opt)
	}
	s.addCloser(s.Redis.Close)
	if o.RedisURL != "" && (o.Provider == "" || o.Provider == ProviderSim) {
		// The simulated platform starts empty with every process, so what an
		// external Redis remembers of this deployment names apps that no
		// longer exist: the first acquire would hand out a dead sandbox.
		// The simulator's state and Redis's go together.
		n, err := clearDeployment(ctx, s.Redis, redisstate.NewKeys(o.KeyPrefix).Tag())
		if err != nil {
			return fmt.Errorf("localserver: redis: %w", err)
		}
		s.ClearedKeys = n
	}
	so := stack.Options{
		Config: o.Config, Redis: s.Redis, KeyPrefix: o.KeyPrefix, Clock: o.Clock, Secret: o.Secret,
		Token: o.Token, Logger: o.Logger, Getenv: o.Getenv, KickReconciler: true,
	}
	popts := appplatform.Options{Deployment: o.Config.Deployment, Clock: o.Clock, Logger: o.Logger}
	switch o.Provider {
	case "", ProviderSim:
		s.Sim = appsim.New(appsim.Options{Token: simToken, CreateDelay: o.SimCreateDelay, FailRate: o.SimFailRate, Seed: o.SimSeed, Clock: o.Clock, Isolation: o.SandboxIsolation})
		base, err := s.Sim.Start()
		if err != nil {
			return fmt.Errorf("localserver: %w", err)
		}
		s.addCloser(s.Sim.Close)
		popts.Token, popts.BaseURL = simToken, base+"/"
	case ProviderDigitalOcean:
		if o.DOToken == "" {
			return errors.New("localserver: provider digitalocean needs DIGITALOCEAN_TOKEN")
		}
		popts.Token, popts.BaseURL = o.DOToken, o.DOAPIURL
	default:
		return fmt.Errorf("localserver: provider %q: want %s or %s", o.Provider, ProviderSim, ProviderDigitalOcean)
	}
	so.NewProvider = func(budget *appplatform.Budget) (pool.Provider, error) {
		popts.Budget = budget
		return appplatform.New(popts)
	}
	st, err := stack.Build(so)
	if err != nil {
		return fmt.Errorf("localserver: %w", err)
	}
	s.stack, s.Store, s.Reconciler = st, st.Store, st.Reconciler
	s.Provider = st.Provider.(*appplatform.Provider) // what NewProvider built
	if err := s.Store.Preload(ctx); err != nil {
		return fmt.Errorf("localserver: redis: %w", err)
	}
	// Starting the server is the seed's start(): every configured pool is
	// active and fills, even one that went idle while an external Redis kept
	// its state from an earlier run. Shut-down pools stay shut down.
	if err := s.Store.Activate(ctx, o.Config.PoolNames(), o.Clock.Now()); err != nil {
		return fmt.Errorf("localserver: redis: %w", err)
	}
	s.front.Store(&front{cfg: o.Config, service: st.Service, handler: st.Handler})
	return nil
}

// onPass follows each pass of the loop (the reconciler logs the pass
// itself): a pass that could not run is logged, then webhooks are delivered.
func (s *Server) onPass(ctx context.Context, _ pool.PassReport, err error) {
	if err != nil {
		s.log.Warn("reconcile pass failed", slog.String("op", "reconcile"), slog.String("error", err.Error()))
	}
	if s.stack.AfterPass != nil {
		s.stack.AfterPass(ctx)
	}
}

func (s *Server) addCloser(f func() error) {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.closers = append(s.closers, f)
}

// closeAll closes the backends in reverse order of opening.
func (s *Server) closeAll() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
	s.closers = nil
}

// Close stops the server gracefully and waits until everything is closed.
func (s *Server) Close() error {
	s.once.Do(func() { s.stopCtx() })
	<-s.done
	return nil
}

// Done is closed once the server has stopped (ctx ended, or Close).
func (s *Server) Done() <-chan struct{} { return s.done }

// clearDeployment deletes every key under a deployment's hash tag.
func clearDeployment(ctx context.Context, rdb *redis.Client, tag string) (int, error) {
	n := 0
	iter := rdb.Scan(ctx, 0, tag+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := rdb.Del(ctx, batch...).Err()
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}
