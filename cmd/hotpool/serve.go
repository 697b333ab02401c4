package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/localserver"
	"github.com/hotpool/hotpool/internal/logging"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/sandboxagent"
)

func init() {
	register(command{name: "serve", summary: "run hotpool locally (embedded Redis, simulated App Platform by default)", run: runServe})
}

// serveDefaultCreateDelay makes a simulated deployment take a few seconds, so
// the local pool behaves like the real one, only faster.
const serveDefaultCreateDelay = 3 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "--config FILE --token T [flags]", stderr)
	addr := fs.String("addr", localserver.DefaultAddr, "listen address (host:port; port 0 picks one)")
	configPath := fs.String("config", "", "config file, JSON or YAML (default: env HOTPOOL_CONFIG)")
	token := fs.String("token", "", "API bearer token (env HOTPOOL_API_TOKEN; prefer the env: flags show in ps)")
	redisURL := fs.String("redis-url", "", "external Redis (env REDIS_URL); empty embeds one in memory")
	provider := fs.String("provider", localserver.ProviderSim, "sim (the simulated App Platform) or digitalocean (real, billed apps; needs DIGITALOCEAN_TOKEN)")
	failRate := fs.Float64("sim-fail-rate", 0, "simulator: share of deployments that fail, 0-1")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	var createDelay, every time.Duration
	addDuration(fs, &createDelay, "sim-create-delay", serveDefaultCreateDelay, "simulator: how long a deployment takes")
	addDuration(fs, &every, "reconcile-every", localserver.DefaultReconcileEvery, "interval of the in-process reconcile loop")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 0 {
		return usageError(stderr, fs, "takes no arguments")
	}
	if *token == "" {
		*token = os.Getenv("HOTPOOL_API_TOKEN")
	}
	*token = strings.TrimSpace(*token)
	if *token == "" {
		return usageError(stderr, fs, "--token (or HOTPOOL_API_TOKEN) is required")
	}
	if *failRate < 0 || *failRate > 1 {
		return usageError(stderr, fs, "--sim-fail-rate must be between 0 and 1")
	}
	if every <= 0 {
		return usageError(stderr, fs, "--reconcile-every must be positive")
	}
	if *redisURL == "" {
		*redisURL = os.Getenv("REDIS_URL")
	}
	// DIGITALOCEAN_TOKEN alone never moves serve to the real platform: a user
	// who deployed and then runs the README's first command stays local.
	doToken := ""
	if *provider == localserver.ProviderDigitalOcean {
		doToken = os.Getenv("DIGITALOCEAN_TOKEN")
	}
	if *configPath == "" && os.Getenv("HOTPOOL_CONFIG") == "" {
		return usageError(stderr, fs, "--config FILE (or HOTPOOL_CONFIG) is required")
	}
	var cfg *pool.Config
	var err error
	if *configPath != "" {
		cfg, err = pool.LoadConfig(*configPath)
	} else {
		cfg, err = pool.ConfigFromEnv()
	}
	if err != nil {
		where := *configPath
		if where == "" {
			where = "HOTPOOL_CONFIG"
		}
		return configProblems(stderr, where, err)
	}
	secret := os.Getenv("HOTPOOL_SECRET")
	var onStop func(context.Context, *localserver.Server)
	if *provider == localserver.ProviderDigitalOcean {
		// Once the reconcile loop has stopped (nothing is created after the
		// list) and before Redis closes (the list spends the API budget kept there).
		onStop = func(ctx context.Context, s *localserver.Server) {
			reportLeftRunning(ctx, s.Provider, cfg.Deployment, stderr)
		}
	}
	var iso sandboxagent.Isolation
	if *provider != localserver.ProviderDigitalOcean {
		iso = sandboxagent.DetectIsolation()
	}
	s, err := localserver.Start(ctx, localserver.Options{
		OnStop: onStop, SandboxIsolation: iso,
		Addr: *addr, Config: cfg, Token: *token, Secret: secret, RedisURL: *redisURL,
		Provider: *provider, DOToken: doToken, DOAPIURL: os.Getenv(appplatform.EnvAPIURL), SimCreateDelay: createDelay, SimFailRate: *failRate,
		ReconcileEvery: every, Logger: logging.New(stderr, logging.ParseLevel(*logLevel)),
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		fmt.Fprintf(stderr, "hotpool serve: %s is already in use (another hotpool serve?): pick a free one with --addr, e.g. --addr 127.0.0.1:8081, and set HOTPOOL_URL to match\n", *addr)
		return exitUnavailable
	}
	if err != nil {
		fmt.Fprintf(stderr, "hotpool serve: %v\n", err)
		return exitUnavailable
	}
	// SIGHUP reloads --config, registered before the first line is printed
	// so that a HUP sent once serve said it listens never kills it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	redisWhere := "embedded (in memory)"
	if *redisURL != "" {
		redisWhere = "external"
		if s.ClearedKeys > 0 {
			redisWhere = fmt.Sprintf("external; %d keys of the previous run cleared, since its simulated apps are gone", s.ClearedKeys)
		}
	}
	platform := "simulated"
	if *provider == localserver.ProviderDigitalOcean {
		platform = "DigitalOcean App Platform"
	}
	fmt.Fprintf(stdout, "hotpool listening on %s (redis: %s, platform: %s, reconcile every %s, every %s while sandboxes deploy or a pool is below target)\n",
		s.BaseURL, redisWhere, platform, every, min(localserver.BusyEvery, every))
	fmt.Fprintf(stdout, "pools: %s\n", describePools(cfg))
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "hotpool serve: warning: %s\n", w)
	}
	switch {
	case *provider == localserver.ProviderDigitalOcean:
	case iso.Isolated():
		fmt.Fprintf(stdout, "sandboxes: %s\n", iso)
	default:
		fmt.Fprintf(stderr, "hotpool serve: WARNING: %s\n", iso)
	}
	if *provider == localserver.ProviderDigitalOcean {
		fmt.Fprintf(stderr, "hotpool serve: WARNING: this server creates real, billed App Platform apps (names %s-*) with DIGITALOCEAN_TOKEN; "+
			"run 'hotpool shutdown' and wait for the deletes before stopping it, or they keep running\n", cfg.Deployment)
	}
	for waiting := true; waiting; {
		select {
		case <-ctx.Done():
			waiting = false
		case <-hup:
			reloadServe(ctx, s, *configPath, stdout, stderr)
		}
	}
	fmt.Fprintln(stdout, "hotpool: stopping")
	_ = s.Close()
	return exitOK
}

// reloadServe reads the config file again and puts it in force (SIGHUP).
// A config that does not load or that changes what needs a restart is
// refused with its reasons, and the running one stays.
func reloadServe(ctx context.Context, s *localserver.Server, path string, stdout, stderr io.Writer) {
	if path == "" {
		fmt.Fprintln(stderr, "hotpool serve: SIGHUP: nothing to reload: the config comes from HOTPOOL_CONFIG, which a running process cannot see change; restart to change it")
		return
	}
	cfg, err := pool.LoadConfig(path)
	if err != nil {
		configProblems(stderr, path, err)
		fmt.Fprintln(stderr, "hotpool serve: SIGHUP: the running config stays")
		return
	}
	if err := s.Reload(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "hotpool serve: SIGHUP: %v; the running config stays\n", err)
		return
	}
	fmt.Fprintf(stdout, "config reloaded from %s; pools: %s\n", path, describePools(cfg))
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "hotpool serve: warning: %s\n", w)
	}
}

// reportLeftRunning says exactly which of this deployment's App Platform
// apps a stopping real-platform server leaves running (billed), from a fresh
// list; when the list fails it says how to find them.
func reportLeftRunning(ctx context.Context, p pool.Provider, deployment string, stderr io.Writer) {
	apps, err := p.List(ctx)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "hotpool serve: could not list the App Platform apps left running (%v); "+
			"list them with 'doctl apps list' (names %s-*) and start the server again to shut the pools down (hotpool shutdown)\n", err, deployment)
	case len(apps) == 0:
		fmt.Fprintf(stderr, "hotpool serve: no App Platform app of deployment %s is left running\n", deployment)
	default:
		sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
		fmt.Fprintf(stderr, "hotpool serve: %d App Platform apps of deployment %s are left running (billed until deleted; "+
			"start the server again and run 'hotpool shutdown', or 'doctl apps delete ID'):\n", len(apps), deployment)
		for _, a := range apps {
			fmt.Fprintf(stderr, "  %s  id %s  pool %s  %s\n", a.Name, a.ID, a.Pool, a.Phase)
		}
	}
}

// describePools is one line: "python target_ready=3 max_ready=10 on_empty=create; …".
func describePools(cfg *pool.Config) string {
	var parts []string
	for _, n := range cfg.PoolNames() {
		p := cfg.Pools[n]
		target := strconv.Itoa(p.TargetReady)
		if p.Auto {
			target = fmt.Sprintf("auto (%d-%d)", p.MinReady, p.MaxReady)
		}
		parts = append(parts, fmt.Sprintf("%s target_ready=%s max_ready=%d on_empty=%s", n, target, p.MaxReady, p.OnEmpty))
	}
	if cfg.DefaultPoolConfig != nil {
		parts = append(parts, fmt.Sprintf("(any other image) target_ready=%d on_empty=%s", cfg.DefaultPoolConfig.TargetReady, cfg.DefaultPoolConfig.OnEmpty))
	}
	return strings.Join(parts, "; ")
}
