package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/hotpooltest"
	"github.com/hotpool/hotpool/internal/pool"
)

func init() {
	register(command{name: "chaos", summary: "soak the local server under platform faults, Redis restarts and killed passes; check convergence", run: runChaos})
}

// quietRedis drops go-redis's own log lines: while the soak kills Redis,
// "failed to dial" is the expected outcome, and the report counts it.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("chaos", "[--duration 2m] [--clients N] [--seed S] [flags]", stderr)
	clients := fs.Int("clients", hotpooltest.DefaultClients, "concurrent clients")
	seed := fs.Uint64("seed", 1, "seed of the workload and the fault schedule")
	configPath := fs.String("config", "", "pool config (default: the soak's own two pools)")
	redisServer := fs.String("redis-server", "", "redis-server binary to run as primary and replica, kill, restart and fail over (default: from PATH)")
	noChild := fs.Bool("no-redis-child", false, "do not start redis-server (no restarts or failovers; REDIS_URL or embedded)")
	noFailover := fs.Bool("no-failover", false, "restart the primary only; never promote the replica")
	noFlush := fs.Bool("no-flush", false, "never empty the deployment's Redis keys midway")
	noConfig := fs.Bool("no-config-changes", false, "keep the config for the whole soak (by default it is changed at 25 % and restored at 60 %)")
	var duration, converge, restartEvery time.Duration
	addDuration(fs, &duration, "duration", hotpooltest.DefaultDuration, "length of the fault phase")
	addDuration(fs, &converge, "converge-timeout", hotpooltest.DefaultConvergeTimeout, "how long convergence may take after the faults stop")
	addDuration(fs, &restartEvery, "restart-every", 0, "pause between Redis faults, failovers and restarts in turn (default: a quarter of --duration)")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 0 {
		return usageError(stderr, fs, "takes no arguments")
	}
	if duration <= 0 || converge <= 0 || restartEvery < 0 {
		return usageError(stderr, fs, "durations must be positive")
	}
	if *clients < 1 || *clients > 1000 {
		return usageError(stderr, fs, "--clients must be 1-1000")
	}
	o := hotpooltest.SoakOptions{
		Duration: duration, Clients: *clients, Seed: *seed, RedisServer: *redisServer, NoRedisChild: *noChild,
		NoFailover: *noFailover, NoFlush: *noFlush, NoConfigChanges: *noConfig,
		RedisURL: os.Getenv("REDIS_URL"), RestartEvery: restartEvery, ConvergeTimeout: converge, Progress: stdout,
	}
	if *configPath != "" {
		cfg, err := pool.LoadConfig(*configPath)
		if err != nil {
			return fail(stderr, err)
		}
		o.Config = cfg
	}
	redis.SetLogger(quietRedis{})
	rep, err := hotpooltest.Soak(ctx, o)
	if rep != nil {
		rep.Print(stdout)
	}
	if err != nil {
		if errors.Is(err, hotpooltest.ErrViolation) {
			fmt.Fprintf(stderr, "hotpool chaos: FAILED: %s\n", oneLine(err.Error()))
			return exitError
		}
		return fail(stderr, err)
	}
	fmt.Fprintln(stdout, "chaos: OK")
	return exitOK
}
