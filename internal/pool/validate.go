package pool

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

var (
	imageNameRE  = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	envKeyRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	receiverRE   = regexp.MustCompile(`^[\x21-\x7e]{1,200}$`)
	slugRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	digestRE     = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	registryType = map[string]bool{"GHCR": true, "DOCR": true, "DOCKER_HUB": true}
)

// ValidationError lists every violation of a config, each with its path.
type ValidationError struct {
	Problems []string // "pools.python.max_ready: must be >= target_ready (3)"
}

func (e *ValidationError) Error() string {
	return "invalid config:\n  " + strings.Join(e.Problems, "\n  ")
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *ValidationError) Unwrap() error { return ErrInvalidConfig }

type problems []string

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, path+": "+fmt.Sprintf(format, args...))
}

// ValidateImageName says whether an image (pool) name can become part of an
// App Platform app name: lowercase letters, digits and dashes, starting with
// a letter, not ending with a dash, at most MaxImageNameLength characters.
func ValidateImageName(name string) error {
	if len(name) == 0 || len(name) > MaxImageNameLength || !imageNameRE.MatchString(name) || strings.Contains(name, "--") {
		err := fmt.Errorf("image name %q must be 1-%d lowercase letters, digits and single dashes, starting with a letter and not ending with a dash", name, MaxImageNameLength)
		if low := strings.ToLower(name); low != name && ValidateImageName(low) == nil {
			err = fmt.Errorf("%w: image names are lower case (%q)", err, low)
		}
		return err
	}
	return nil
}

// Validate reports every violation at once. The error is a *ValidationError
// that wraps ErrInvalidConfig.
func (c *Config) Validate() error {
	var ps problems
	if len(c.Pools) == 0 && c.DefaultPoolConfig == nil {
		ps.add("pools", "at least one pool, or default_pool_config, is required")
	}
	names := c.PoolNames()
	for _, name := range names {
		path := "pools." + name
		badName := ValidateImageName(name)
		if badName != nil {
			ps.add(path, "%v", badName)
		}
		p := c.Pools[name]
		if p == nil {
			ps.add(path, "must be an object")
			continue
		}
		p.validate(path, &ps)
		// A name that is not an image name has no repository to guess at.
		if why := unpublished(name, p.Template); why != "" && badName == nil {
			ps.add(path+".template.repository", "%s", why)
		}
	}
	if c.DefaultPoolConfig != nil {
		c.DefaultPoolConfig.validate("default_pool_config", &ps)
		if c.DefaultPoolConfig.Template.Repository != "" {
			ps.add("default_pool_config.template.repository", "must be empty: each image gets sandbox-<image>-service")
		}
	}
	// A sum of targets above max_total_sandboxes is accepted, as the seed's
	// manager accepts it: the cap binds and the pools share it (Warnings).
	if c.MaxTotalSandboxes != nil && *c.MaxTotalSandboxes < 1 {
		ps.add("max_total_sandboxes", "must be >= 1, or absent for unlimited")
	}
	if c.MaxConcurrentCreates < 1 {
		ps.add("max_concurrent_creates", "must be >= 1")
	}
	if c.SandboxDefaults.Region == "" || !slugRE.MatchString(c.SandboxDefaults.Region) {
		ps.add("sandbox_defaults.region", "must be a region slug such as \"nyc\"")
	}
	if c.SandboxDefaults.InstanceSize == "" || !slugRE.MatchString(c.SandboxDefaults.InstanceSize) {
		ps.add("sandbox_defaults.instance_size", "must be an instance size slug such as \"apps-s-1vcpu-1gb\"")
	}
	if len(c.Deployment) == 0 || len(c.Deployment) > MaxDeploymentNameLength || !imageNameRE.MatchString(c.Deployment) || strings.Contains(c.Deployment, "--") {
		ps.add("deployment", "must be 1-%d lowercase letters, digits and single dashes, starting with a letter", MaxDeploymentNameLength)
	}
	positive := func(path string, d Duration) {
		switch {
		case d < 0:
			ps.add(path, "%s", negativeDuration)
		case d == 0:
			ps.add(path, "must be > 0")
		}
	}
	positive("default_lease", c.DefaultLease)
	positive("max_lease", c.MaxLease)
	positive("create_timeout", c.CreateTimeout)
	positive("circuit_open_for", c.CircuitOpenFor)
	if c.OrphanGrace < 0 {
		ps.add("orphan_grace", "%s", negativeDuration)
	}
	if c.DefaultLease > c.MaxLease {
		ps.add("default_lease", "must be <= max_lease (%v)", c.MaxLease.D())
	}
	if c.APIBudget.PerMinute < 1 || c.APIBudget.PerMinute > 250 {
		ps.add("api_budget.per_minute", "must be 1-250 (DigitalOcean allows 250 a minute)")
	}
	if c.APIBudget.PerHour < 1 || c.APIBudget.PerHour > 5000 {
		ps.add("api_budget.per_hour", "must be 1-5000 (DigitalOcean allows 5,000 an hour)")
	}
	secretEnvs, receivers := map[string]int{}, map[string]int{}
	for i, w := range c.Webhooks {
		path := fmt.Sprintf("webhooks[%d]", i)
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			ps.add(path+".url", "must be an http(s) URL")
		}
		if !envKeyRE.MatchString(w.SecretEnv) {
			ps.add(path+".secret_env", "must name the environment variable that holds the signing secret")
		} else if j, ok := secretEnvs[w.SecretEnv]; ok {
			// One secret for two receivers would let either forge the other's events.
			ps.add(path+".secret_env", "%s is already webhooks[%d]'s secret: give each webhook its own", w.SecretEnv, j)
		} else {
			secretEnvs[w.SecretEnv] = i
		}
		if w.Name != "" && !receiverRE.MatchString(w.Name) {
			ps.add(path+".name", "must be 1-200 visible ASCII characters, without spaces")
		} else if name := w.ReceiverName(); name != "" {
			if j, ok := receivers[name]; ok {
				ps.add(path+".name", "%q already names webhooks[%d]: each receiver needs its own name (set name)", name, j)
			} else {
				receivers[name] = i
			}
		}
		for j, ev := range w.Events {
			if !slices.Contains(EventTypes, ev) {
				ps.add(fmt.Sprintf("%s.events[%d]", path, j), "unknown event type %q (one of %s)", ev, strings.Join(EventTypes, ", "))
			}
		}
	}
	if c.Durability.Replicas < 0 || c.Durability.Replicas > 5 {
		ps.add("durability.replicas", "must be 0-5")
	}
	if c.Durability.Timeout.D() < time.Millisecond || c.Durability.Timeout.D() > 10*time.Second {
		ps.add("durability.timeout", "must be 1ms-10s")
	}
	if c.ClockSkewTolerance < 0 || c.ClockSkewTolerance.D() > 10*time.Minute {
		ps.add("clock_skew_tolerance", "must be 0-10m")
	}
	if c.MaxDynamicPools < 1 || c.MaxDynamicPools > 10000 {
		ps.add("max_dynamic_pools", "must be 1-10000")
	}
	if c.WebhookMaxAttempts < 1 {
		ps.add("webhook_max_attempts", "must be >= 1")
	}
	if len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

// negativeDuration is the one message for a duration below zero, written as
// seconds (-30) or as a Go duration ("-30s") alike.
const negativeDuration = "must not be negative (a duration: seconds, such as 90, or a Go duration, such as \"90s\")"

func (p *PoolConfig) validate(path string, ps *problems) {
	if p.TargetReady < 0 {
		ps.add(path+".target_ready", "must be >= 0, or \"auto\"")
	}
	// Against a max_ready that is itself wrong, min_ready's range means
	// nothing: max_ready's own problem is the one to report.
	if p.MinReady < 0 || (p.MaxReady >= 0 && p.MinReady > p.MaxReady) {
		ps.add(path+".min_ready", "must be 0 to max_ready (%d)", p.MaxReady)
	}
	if p.HitRateGoal <= 0 || p.HitRateGoal >= 1 {
		ps.add(path+".hit_rate_goal", "must be between 0 and 1 (such as 0.99)")
	}
	if p.MaxReady < 0 {
		ps.add(path+".max_ready", "must be >= 0")
	} else if p.MaxReady < p.TargetReady {
		ps.add(path+".max_ready", "must be >= target_ready (%d)", p.TargetReady)
	}
	nonNegative := func(field string, d Duration) {
		if d < 0 {
			ps.add(path+"."+field, "%s", negativeDuration)
		}
	}
	nonNegative("idle_timeout", p.IdleTimeout)
	nonNegative("scale_down_delay", p.ScaleDownDelay)
	nonNegative("cooldown_after_acquire", p.CooldownAfterAcquire)
	nonNegative("health_check_interval", p.HealthCheckInterval)
	if p.MaxWarmAge <= 0 {
		ps.add(path+".max_warm_age", "must be > 0")
	}
	if p.OnEmpty != OnEmptyCreate && p.OnEmpty != OnEmptyFail {
		ps.add(path+".on_empty", "must be \"create\" or \"fail\", not %q", p.OnEmpty)
	}
	if p.CreateRetries < 1 {
		ps.add(path+".create_retries", "must be >= 1")
	}
	p.Template.validate(path+".template", ps)
}

func (t *Template) validate(path string, ps *problems) {
	if t.RegistryType != "" && !registryType[t.RegistryType] {
		ps.add(path+".registry_type", "must be GHCR, DOCR or DOCKER_HUB, not %q", t.RegistryType)
	}
	if t.Tag != "" && t.Digest != "" {
		ps.add(path+".digest", "give a tag or a digest, not both")
	}
	if t.Digest != "" && !digestRE.MatchString(t.Digest) {
		ps.add(path+".digest", "must look like sha256:<64 hex digits>")
	}
	if t.HTTPPort < 0 || t.HTTPPort > 65535 {
		ps.add(path+".http_port", "must be 1-65535")
	}
	if t.HealthCheckPath != "" && !strings.HasPrefix(t.HealthCheckPath, "/") {
		ps.add(path+".health_check_path", "must start with /")
	}
	if t.Region != "" && !slugRE.MatchString(t.Region) {
		ps.add(path+".region", "must be a region slug")
	}
	if t.InstanceSize != "" && !slugRE.MatchString(t.InstanceSize) {
		ps.add(path+".instance_size", "must be an instance size slug")
	}
	keys := make([]string, 0, len(t.Env))
	for k := range t.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case !envKeyRE.MatchString(k):
			ps.add(path+".env."+k, "is not a valid environment variable name")
		case strings.HasPrefix(k, "HOTPOOL_"):
			ps.add(path+".env."+k, "HOTPOOL_ variables are reserved: hotpool sets them to prove ownership")
		}
	}
}

// IsValidation reports whether err is a config validation error.
func IsValidation(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}

// Warnings are what a valid config may not mean: today, a sum of
// target_ready above max_total_sandboxes, which the cap binds (the pools share
// it, filled round-robin, so some stay below target and a warm-up ends when
// the cap is reached).
func (c *Config) Warnings() []string {
	var out []string
	if cp := c.TotalCap(); cp >= 0 {
		sum := 0
		for _, p := range c.Pools {
			if p != nil {
				sum += p.TargetReady
			}
		}
		if sum > cp {
			out = append(out, fmt.Sprintf("max_total_sandboxes (%d) is below the sum of target_ready over pools (%d): the pools share the cap, filled round-robin up to it, so some stay below target", cp, sum))
		}
	}
	return out
}
