package hotpooltest

import (
	"io"
	"log/slog"
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Defaults of a soak.
const (
	DefaultDuration        = 2 * time.Minute
	DefaultClients         = 8
	DefaultConvergeTimeout = 2 * time.Minute
	// DefaultKillPassEvery is how often a reconcile pass is started and
	// cancelled a few milliseconds in.
	DefaultKillPassEvery = 1500 * time.Millisecond
	// simCreateDelay is how long a simulated deployment takes: short, so a
	// soak of minutes sees hundreds of sandboxes come and go.
	simCreateDelay = 400 * time.Millisecond
	// abandonRate is the share of acquires whose holder never releases, so
	// lease reaping runs; abandonedLease is their (short) lease.
	// soakDurabilityTimeout is how long a state change waits for the
	// replica in the soak's own config.
	soakDurabilityTimeout = 500 * time.Millisecond
	abandonRate           = 0.1
	abandonedLease        = 2 * time.Second
	// heldLease bounds a lease the client lost track of (its request timed
	// out after the server answered): it is reaped within this.
	heldLease = 10 * time.Second
)

// SoakOptions shape one soak. The zero value runs the default soak.
type SoakOptions struct {
	// Duration is the fault phase; convergence and the checks follow it.
	Duration time.Duration
	// Clients is the number of concurrent clients (acquire → work → release).
	Clients int
	// Seed makes the workload and the fault schedule repeatable (the Go
	// scheduler and the network still vary between runs).
	Seed uint64
	// RedisServer is the redis-server binary to run as a child (and kill and
	// restart); "" looks for redis-server on PATH. When none is found, Redis
	// restarts are skipped: RedisURL (if set and reachable) or an embedded
	// miniredis is used.
	RedisServer string
	// NoRedisChild skips the child even when a binary exists.
	NoRedisChild bool
	// RedisURL is the fallback Redis when no child runs.
	RedisURL string
	// RestartEvery is the pause between Redis restarts (default Duration/4).
	RestartEvery time.Duration
	// KillPassEvery is the pause between killed reconcile passes.
	KillPassEvery time.Duration
	// NoFailover keeps the replica from being promoted: Redis is only
	// restarted. Failovers also need the config's durability (the soak's own
	// config has it).
	NoFailover bool
	// NoConfigChanges keeps the config as it is for the whole soak (by
	// default it is changed at a quarter of the fault phase and restored at
	// 60 %).
	NoConfigChanges bool
	// NoFlush skips emptying the deployment's Redis keys once, midway
	// through the fault phase (a failover to an empty replica, a FLUSHALL).
	NoFlush bool
	// ConvergeTimeout bounds the convergence phase.
	ConvergeTimeout time.Duration
	// Config overrides the soak's pool config (SoakConfig).
	Config *pool.Config
	// Progress receives one line per phase; nil discards them.
	Progress io.Writer
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger

	defaultConfig bool // Config was nil: the soak's own, which it may tune
}

func (o *SoakOptions) fill() error {
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Clients <= 0 {
		o.Clients = DefaultClients
	}
	if o.RestartEvery <= 0 {
		o.RestartEvery = max(o.Duration/4, 3*time.Second)
	}
	if o.KillPassEvery <= 0 {
		o.KillPassEvery = DefaultKillPassEvery
	}
	if o.ConvergeTimeout <= 0 {
		o.ConvergeTimeout = DefaultConvergeTimeout
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Config == nil {
		cfg, err := SoakConfig()
		if err != nil {
			return err
		}
		o.Config, o.defaultConfig = cfg, true
	}
	return o.Config.Validate()
}

// defaultConfig is the soak's deployment: a pool that cold-starts on empty
// and one that fails fast, short timeouts so recovery fits a soak, scale-down
// off (idle_timeout 0) so "back at target" is well defined, and the API
// budget at DigitalOcean's real limits.
const defaultConfig = `{
  "deployment": "chaos",
  "pools": {
    "python": {"target_ready": 4, "max_ready": 8, "on_empty": "create", "idle_timeout": 0,
               "max_warm_age": "10m", "health_check_interval": "2s", "create_retries": 3},
    "node":   {"target_ready": 2, "max_ready": 4, "on_empty": "fail", "idle_timeout": 0,
               "max_warm_age": "10m", "health_check_interval": "2s", "create_retries": 3}
  },
  "max_total_sandboxes": 10,
  "max_concurrent_creates": 6,
  "create_timeout": "15s",
  "orphan_grace": "3s",
  "circuit_open_for": "2s",
  "clock_skew_tolerance": "1s",
  "health_check_url": true,
  "default_lease": "10s",
  "max_lease": "10m",
  "api_budget": {"per_minute": 250, "per_hour": 5000}
}`

// SoakConfig is the soak's pool config.
func SoakConfig() (*pool.Config, error) { return pool.ParseConfig([]byte(defaultConfig)) }
