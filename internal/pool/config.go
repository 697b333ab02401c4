package pool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Seed defaults (PoolConfig and SandboxManager of do-app-sandbox).
const (
	DefaultTargetReady          = 0
	DefaultMaxReady             = 10
	DefaultIdleTimeout          = 60 * time.Second
	DefaultScaleDownDelay       = 60 * time.Second
	DefaultCooldownAfterAcquire = 120 * time.Second
	DefaultMaxWarmAge           = 1800 * time.Second
	DefaultHealthCheckInterval  = 60 * time.Second
	DefaultOnEmpty              = OnEmptyCreate
	DefaultCreateRetries        = 3
	DefaultHitRateGoal          = 0.99 // target_ready "auto"
	DefaultMaxConcurrentCreates = 10
	DefaultRegion               = "nyc"
	DefaultInstanceSize         = "apps-s-1vcpu-1gb"
)

// hotpool's own defaults, beyond the seed.
const (
	DefaultDeployment     = "hp"
	DefaultLease          = 900 * time.Second
	DefaultMaxLease       = 24 * time.Hour
	DefaultCreateTimeout  = 10 * time.Minute
	DefaultOrphanGrace    = 5 * time.Minute
	DefaultCircuitOpenFor = 5 * time.Minute
	DefaultRegistryType   = "GHCR"
	DefaultRegistry       = "bikramkgupta"
	DefaultTag            = "latest"
	DefaultHTTPPort       = 8080
	DefaultHealthPath     = "/health"
	// DefaultAPIPerMinute and DefaultAPIPerHour leave 20% headroom under
	// DigitalOcean's 250 requests a minute and 5,000 an hour.
	DefaultAPIPerMinute    = 200
	DefaultAPIPerHour      = 4000
	DefaultWebhookAttempts = 8
	// DefaultMaxDynamicPools bounds the pools default_pool_config may serve at
	// once (each costs a pool record, its metrics and a pass's work).
	DefaultMaxDynamicPools  = 50
	MaxImageNameLength      = 20
	MaxDeploymentNameLength = 8
)

// OnEmpty says what acquire does when a pool has no ready sandbox.
type OnEmpty string

// The two on_empty policies of the seed.
const (
	OnEmptyCreate OnEmpty = "create"
	OnEmptyFail   OnEmpty = "fail"
	// OnEmptyWait is not a config value: an acquire inside its wait_seconds
	// tries with it, and an empty pool answers ErrPoolExhausted without
	// counting a miss; only the last try applies the pool's own on_empty.
	OnEmptyWait OnEmpty = "wait"
)

// PoolConfig is one pool's policy; the names and defaults are the seed's.
type PoolConfig struct {
	// TargetReady is a number, or "auto" (Auto): the pool sizes itself from
	// its acquire rate and its deploy time (AutoTarget), between MinReady and
	// MaxReady.
	TargetReady          int      `json:"target_ready"`
	Auto                 bool     `json:"-"`
	MinReady             int      `json:"min_ready"`
	HitRateGoal          float64  `json:"hit_rate_goal"` // auto: the share of acquires the pool should serve warm
	MaxReady             int      `json:"max_ready"`
	IdleTimeout          Duration `json:"idle_timeout"`
	ScaleDownDelay       Duration `json:"scale_down_delay"`
	CooldownAfterAcquire Duration `json:"cooldown_after_acquire"`
	MaxWarmAge           Duration `json:"max_warm_age"`
	HealthCheckInterval  Duration `json:"health_check_interval"` // 0 disables
	OnEmpty              OnEmpty  `json:"on_empty"`
	CreateRetries        int      `json:"create_retries"`
	// Template describes the App Platform app a sandbox of this pool is. Every
	// field is optional and falls back to the do-app-sandbox service-mode image.
	Template Template `json:"template"`
}

// Template is the App Platform app template of one image.
type Template struct {
	RegistryType    string            `json:"registry_type,omitempty"` // GHCR, DOCR or DOCKER_HUB
	Registry        string            `json:"registry,omitempty"`
	Repository      string            `json:"repository,omitempty"` // default sandbox-<image>-service
	Tag             string            `json:"tag,omitempty"`
	Digest          string            `json:"digest,omitempty"` // instead of tag
	HTTPPort        int               `json:"http_port,omitempty"`
	HealthCheckPath string            `json:"health_check_path,omitempty"`
	Region          string            `json:"region,omitempty"`        // overrides sandbox_defaults.region
	InstanceSize    string            `json:"instance_size,omitempty"` // overrides sandbox_defaults.instance_size
	Env             map[string]string `json:"env,omitempty"`
}

// SandboxDefaults are the seed's sandbox_defaults.
type SandboxDefaults struct {
	Region       string `json:"region"`
	InstanceSize string `json:"instance_size"`
}

// Durability asks every state change to be acknowledged by Replicas Redis
// replicas within Timeout (Redis WAIT) before an acquire is answered or a
// pass makes the platform call that follows it. Off (Replicas 0) by default:
// then a lease is handed out at most once, except across a failover that
// loses the last writes (Managed Valkey replicates asynchronously).
type Durability struct {
	Replicas int      `json:"replicas"`
	Timeout  Duration `json:"timeout"`
}

// DefaultDurabilityTimeout is durability.timeout's default.
const DefaultDurabilityTimeout = 250 * time.Millisecond

// APIBudget sizes the shared DigitalOcean API rate limiter.
type APIBudget struct {
	PerMinute int `json:"per_minute"`
	PerHour   int `json:"per_hour"`
}

// Webhook is one receiver of signed events.
type Webhook struct {
	URL string `json:"url"`
	// Name is the receiver's name, which every signature and body carry so a
	// receiver can refuse a delivery meant for another. Empty: the URL
	// without its query, fragment and credentials (ReceiverName).
	Name string `json:"name,omitempty"`
	// SecretEnv names the environment variable holding the HMAC secret, so the
	// secret never sits in the config file. Each webhook names its own.
	SecretEnv string `json:"secret_env"`
	// Events filters by event type; empty means all.
	Events []string `json:"events,omitempty"`
}

// ReceiverName is the name w's deliveries are signed for: Name, or the URL
// without its user info, query and fragment, where receivers keep their
// credentials (and with path "/" when it has none), so a receiver can rebuild
// it from its own request.
func (w Webhook) ReceiverName() string {
	if w.Name != "" {
		return w.Name
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		return ""
	}
	path := u.Path
	if path == "" {
		path = "/" // what the request line carries
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}).String()
}

// Config is the whole deployment's configuration: the seed SandboxManager's
// parameters plus what a serverless backend needs.
type Config struct {
	Pools             map[string]*PoolConfig `json:"pools"`
	DefaultPoolConfig *PoolConfig            `json:"default_pool_config,omitempty"`
	// MaxDynamicPools caps the pools default_pool_config serves at once; an
	// acquire that would make one more is refused (ErrTooManyPools). Empty
	// ones are collected by reconcile.
	MaxDynamicPools      int             `json:"max_dynamic_pools"`
	MaxTotalSandboxes    *int            `json:"max_total_sandboxes,omitempty"` // nil: unlimited
	MaxConcurrentCreates int             `json:"max_concurrent_creates"`
	SandboxDefaults      SandboxDefaults `json:"sandbox_defaults"`

	// Deployment names this hotpool: it prefixes every app name and every Redis
	// key, so two deployments can share an account and a Redis.
	Deployment     string   `json:"deployment"`
	DefaultLease   Duration `json:"default_lease"`
	MaxLease       Duration `json:"max_lease"`
	CreateTimeout  Duration `json:"create_timeout"`
	OrphanGrace    Duration `json:"orphan_grace"`
	CircuitOpenFor Duration `json:"circuit_open_for"`
	// Durability: how many Redis replicas must acknowledge each state change
	// before it counts (Redis WAIT). Off (0) by default.
	Durability Durability `json:"durability"`
	// ClockSkewTolerance is the skew between the functions' clocks that
	// reaping and warm expiry allow for (DefaultClockSkewTolerance).
	ClockSkewTolerance Duration  `json:"clock_skew_tolerance"`
	HealthCheckURL     bool      `json:"health_check_url"` // also GET each ready app's health path
	APIBudget          APIBudget `json:"api_budget"`
	Webhooks           []Webhook `json:"webhooks,omitempty"`
	// WebhookMaxAttempts is how many deliveries an event gets before it goes to
	// the dead letter stream.
	WebhookMaxAttempts int `json:"webhook_max_attempts"`
}

// DefaultPool returns a PoolConfig holding the seed's defaults.
func DefaultPool() PoolConfig {
	return PoolConfig{
		TargetReady:          DefaultTargetReady,
		MaxReady:             DefaultMaxReady,
		IdleTimeout:          Duration(DefaultIdleTimeout),
		ScaleDownDelay:       Duration(DefaultScaleDownDelay),
		CooldownAfterAcquire: Duration(DefaultCooldownAfterAcquire),
		MaxWarmAge:           Duration(DefaultMaxWarmAge),
		HealthCheckInterval:  Duration(DefaultHealthCheckInterval),
		OnEmpty:              DefaultOnEmpty,
		CreateRetries:        DefaultCreateRetries,
		HitRateGoal:          DefaultHitRateGoal,
	}
}

// DefaultConfig returns a Config with every default and no pools.
func DefaultConfig() Config {
	return Config{
		Pools:                map[string]*PoolConfig{},
		MaxConcurrentCreates: DefaultMaxConcurrentCreates,
		SandboxDefaults:      SandboxDefaults{Region: DefaultRegion, InstanceSize: DefaultInstanceSize},
		Deployment:           DefaultDeployment,
		DefaultLease:         Duration(DefaultLease),
		MaxLease:             Duration(DefaultMaxLease),
		CreateTimeout:        Duration(DefaultCreateTimeout),
		OrphanGrace:          Duration(DefaultOrphanGrace),
		CircuitOpenFor:       Duration(DefaultCircuitOpenFor),
		ClockSkewTolerance:   Duration(DefaultClockSkewTolerance),
		Durability:           Durability{Timeout: Duration(DefaultDurabilityTimeout)},
		APIBudget:            APIBudget{PerMinute: DefaultAPIPerMinute, PerHour: DefaultAPIPerHour},
		WebhookMaxAttempts:   DefaultWebhookAttempts,
		MaxDynamicPools:      DefaultMaxDynamicPools,
	}
}

// UnmarshalJSON fills absent fields with the seed's defaults and rejects
// unknown fields.
func (p *PoolConfig) UnmarshalJSON(b []byte) error {
	type plain PoolConfig
	v := plain(DefaultPool())
	// target_ready "auto": decoded as 0, with Auto set.
	var probe struct {
		TargetReady json.RawMessage `json:"target_ready"`
	}
	auto := false
	if json.Unmarshal(b, &probe) == nil && string(bytes.TrimSpace(probe.TargetReady)) == `"auto"` {
		auto = true
		b = autoRE.ReplaceAll(b, []byte(`"target_ready":0`))
	}
	if err := strictDecode(b, &v); err != nil {
		return err
	}
	*p = PoolConfig(v)
	p.Auto = auto
	return nil
}

// autoRE finds target_ready's "auto" in a pool's JSON.
var autoRE = regexp.MustCompile(`"target_ready"\s*:\s*"auto"`)

// UnmarshalJSON fills absent fields with defaults and rejects unknown fields.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	v := plain(DefaultConfig())
	if err := strictDecode(b, &v); err != nil {
		return err
	}
	*c = Config(v)
	return nil
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// ParseConfig reads a JSON or YAML document, applies defaults and validates
// it. Every error wraps ErrInvalidConfig.
func ParseConfig(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty document", ErrInvalidConfig)
	}
	// Every problem at once: the document's shape first (keys, kinds), then
	// the rules over what remains.
	clean, problems := lintConfig(data)
	if clean == nil {
		return nil, &ValidationError{Problems: problems}
	}
	var c Config
	if err := strictDecode(clean, &c); err != nil {
		// The lint passes nothing the decoder refuses; this is its safety net.
		return nil, &ValidationError{Problems: append(problems, err.Error())}
	}
	if err := c.Validate(); err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		problems = append(problems, ve.Problems...)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return &c, nil
}

// LoadConfig reads the config file at path (JSON or YAML).
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	return ParseConfig(data)
}

// ConfigFromEnv reads HOTPOOL_CONFIG: the document itself (JSON or YAML), or
// "@path" to read a file.
func ConfigFromEnv() (*Config, error) {
	v := os.Getenv("HOTPOOL_CONFIG")
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%w: HOTPOOL_CONFIG is not set", ErrInvalidConfig)
	}
	if strings.HasPrefix(v, "@") {
		return LoadConfig(v[1:])
	}
	return ParseConfig([]byte(v))
}

// PublishedImages are the images the do-app-sandbox SDK publishes in the
// default registry (ghcr.io/bikramkgupta/sandbox-<image>-service): any other
// name there points at a repository that does not exist.
var PublishedImages = []string{"node", "python"}

// defaultRepository reports whether t leaves the image to the default
// registry's sandbox-<image>-service naming.
func (t Template) defaultRepository() bool {
	return t.Repository == "" && (t.RegistryType == "" || t.RegistryType == DefaultRegistryType) &&
		(t.Registry == "" || t.Registry == DefaultRegistry)
}

// unpublished is the problem with image when it takes the default repository
// and the SDK publishes no such image; "" when there is none.
func unpublished(image string, t Template) string {
	if !t.defaultRepository() || slices.Contains(PublishedImages, image) {
		return ""
	}
	return fmt.Sprintf("ghcr.io/%s/sandbox-%s-service does not exist (the SDK publishes %s): name the pool's own image with template.registry and template.repository",
		DefaultRegistry, image, strings.Join(PublishedImages, " and "))
}

// Pool returns the policy for image: its own, or default_pool_config.
// ErrUnknownImage when there is neither, or the name is not a valid image.
func (c *Config) Pool(image string) (PoolConfig, error) {
	if p, ok := c.Pools[image]; ok && p != nil {
		return *p, nil
	}
	if c.DefaultPoolConfig == nil {
		return PoolConfig{}, fmt.Errorf("%w: %q: the pools are %s; add it to pools, or set default_pool_config", ErrUnknownImage, image, strings.Join(c.PoolNames(), ", "))
	}
	if err := ValidateImageName(image); err != nil {
		return PoolConfig{}, fmt.Errorf("%w: %v", ErrUnknownImage, err)
	}
	if why := unpublished(image, c.DefaultPoolConfig.Template); why != "" {
		return PoolConfig{}, fmt.Errorf("%w: %q: %s", ErrUnknownImage, image, why)
	}
	return *c.DefaultPoolConfig, nil
}

// Dynamic reports whether image's pool is served by default_pool_config (or
// by nothing, once removed from the config) rather than named in pools.
func (c *Config) Dynamic(image string) bool {
	p, ok := c.Pools[image]
	return !ok || p == nil
}

// Template returns the complete app template of image: the pool's template
// over the do-app-sandbox service-mode defaults and sandbox_defaults.
func (c *Config) Template(image string, p PoolConfig) Template {
	t := p.Template
	if t.RegistryType == "" {
		t.RegistryType = DefaultRegistryType
	}
	if t.Registry == "" && t.RegistryType != "DOCR" {
		t.Registry = DefaultRegistry
	}
	if t.Repository == "" {
		t.Repository = "sandbox-" + image + "-service"
	}
	if t.Tag == "" && t.Digest == "" {
		t.Tag = DefaultTag
	}
	if t.HTTPPort == 0 {
		t.HTTPPort = DefaultHTTPPort
	}
	if t.HealthCheckPath == "" {
		t.HealthCheckPath = DefaultHealthPath
	}
	if t.Region == "" {
		t.Region = c.SandboxDefaults.Region
	}
	if t.InstanceSize == "" {
		t.InstanceSize = c.SandboxDefaults.InstanceSize
	}
	return t
}

// TotalCap is max_total_sandboxes, or -1 for unlimited.
func (c *Config) TotalCap() int {
	if c.MaxTotalSandboxes == nil {
		return -1
	}
	return *c.MaxTotalSandboxes
}

// PoolNames returns the configured pool names, sorted.
func (c *Config) PoolNames() []string {
	names := slices.Sorted(maps.Keys(c.Pools))
	return names
}
