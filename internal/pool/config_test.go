package pool

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseConfigAppliesSeedDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"pools": {"python": {"target_ready": 3}}}`))
	require.NoError(t, err)
	p := *c.Pools["python"]
	want := DefaultPool()
	want.TargetReady = 3
	require.Equal(t, want, p)
	require.Equal(t, 10, p.MaxReady)
	require.Equal(t, 60*time.Second, p.IdleTimeout.D())
	require.Equal(t, 60*time.Second, p.ScaleDownDelay.D())
	require.Equal(t, 120*time.Second, p.CooldownAfterAcquire.D())
	require.Equal(t, 1800*time.Second, p.MaxWarmAge.D())
	require.Equal(t, 60*time.Second, p.HealthCheckInterval.D())
	require.Equal(t, OnEmptyCreate, p.OnEmpty)
	require.Equal(t, 3, p.CreateRetries)
	require.Nil(t, c.MaxTotalSandboxes, "absent max_total_sandboxes means unlimited")
	require.Equal(t, -1, c.TotalCap())
	require.Equal(t, 10, c.MaxConcurrentCreates)
	require.Equal(t, SandboxDefaults{Region: "nyc", InstanceSize: "apps-s-1vcpu-1gb"}, c.SandboxDefaults)
	require.Nil(t, c.DefaultPoolConfig)
}

func TestDurationsAcceptSecondsAndGoStrings(t *testing.T) {
	c, err := ParseConfig([]byte(`{"pools": {"python": {"idle_timeout": 90, "scale_down_delay": "2m", "max_warm_age": 1.5, "cooldown_after_acquire": "30"}}}`))
	require.NoError(t, err)
	p := c.Pools["python"]
	require.Equal(t, 90*time.Second, p.IdleTimeout.D())
	require.Equal(t, 2*time.Minute, p.ScaleDownDelay.D())
	require.Equal(t, 1500*time.Millisecond, p.MaxWarmAge.D())
	require.Equal(t, 30*time.Second, p.CooldownAfterAcquire.D())

	_, err = ParseConfig([]byte(`{"pools": {"python": {"idle_timeout": "soon"}}}`))
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.Contains(t, err.Error(), "soon")
	_, err = ParseConfig([]byte(`{"pools": {"python": {"idle_timeout": 1e300}}}`))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// The seed's manager accepts targets that sum above the cap (the cap binds):
// so does hotpool, with a warning.
func TestTargetsAboveTheCapAreAcceptedWithAWarning(t *testing.T) {
	c, err := ParseConfig([]byte(`{"pools": {"python": {"target_ready": 4}, "node": {"target_ready": 3}}, "max_total_sandboxes": 5}`))
	require.NoError(t, err)
	require.Equal(t, []string{"max_total_sandboxes (5) is below the sum of target_ready over pools (7): the pools share the cap, filled round-robin up to it, so some stay below target"}, c.Warnings())
	c, err = ParseConfig([]byte(`{"pools": {"python": {"target_ready": 4}}, "max_total_sandboxes": 4}`))
	require.NoError(t, err)
	require.Empty(t, c.Warnings())
	_, err = ParseConfig([]byte(`{"pools": {"python": {}}, "max_total_sandboxes": 0}`))
	require.ErrorContains(t, err, "max_total_sandboxes: must be >= 1")
}

func TestValidateReportsEveryViolationWithItsPath(t *testing.T) {
	_, err := ParseConfig([]byte(`{
	  "pools": {
	    "python": {"target_ready": 3, "max_ready": 2, "on_empty": "wait", "create_retries": 0},
	    "Bad_Name": {},
	    "ruby": {},
	    "node": {"template": {"tag": "v1", "digest": "sha256:abc", "http_port": 70000, "health_check_path": "health", "env": {"HOTPOOL_SANDBOX_ID": "x", "1BAD": "y"}}}
	  },
	  "max_total_sandboxes": 2,
	  "max_concurrent_creates": 0,
	  "deployment": "way-too-long-prefix"
	}`))
	require.Error(t, err)
	require.ErrorIs(t, err, ErrInvalidConfig)
	var v *ValidationError
	require.True(t, errors.As(err, &v))
	for _, want := range []string{
		"pools.python.max_ready: must be >= target_ready (3)",
		`pools.python.on_empty: must be "create" or "fail", not "wait"`,
		"pools.python.create_retries: must be >= 1",
		"pools.Bad_Name: image name",
		"pools.ruby.template.repository: ghcr.io/bikramkgupta/sandbox-ruby-service does not exist (the SDK publishes node and python)",
		"pools.node.template.digest: give a tag or a digest, not both",
		"pools.node.template.digest: must look like sha256",
		"pools.node.template.http_port: must be 1-65535",
		"pools.node.template.health_check_path: must start with /",
		"pools.node.template.env.HOTPOOL_SANDBOX_ID: HOTPOOL_ variables are reserved",
		"pools.node.template.env.1BAD: is not a valid environment variable name",
		"max_concurrent_creates: must be >= 1",
		"deployment: must be 1-8",
	} {
		found := false
		for _, p := range v.Problems {
			if strings.HasPrefix(p, want) {
				found = true
			}
		}
		require.Truef(t, found, "missing problem %q in:\n%s", want, err)
	}
	require.Len(t, v.Problems, 13, "a sum of targets above the cap is a warning, not a problem; a bad name gets no repository guess")
}

// Each mistake is told once, at the key the user wrote, in one set of words
// however it was written.
func TestConfigMistakesAreToldOnceWhereTheyAre(t *testing.T) {
	problems := func(doc string) []string {
		_, err := ParseConfig([]byte(doc))
		var v *ValidationError
		require.True(t, errors.As(err, &v), "%s: %v", doc, err)
		return v.Problems
	}
	require.Equal(t, []string{"pools.python.max_ready: must be >= 0"},
		problems(`{"pools": {"python": {"target_ready": 3, "max_ready": -2}}}`), "no min_ready problem the user never wrote")
	want := `pools.python.idle_timeout: must not be negative (a duration: seconds, such as 90, or a Go duration, such as "90s")`
	require.Equal(t, []string{want}, problems(`{"pools": {"python": {"idle_timeout": -30}}}`))
	require.Equal(t, []string{want}, problems(`{"pools": {"python": {"idle_timeout": "-30s"}}}`))
	require.Equal(t, problems(`{"pools": {"python": {}}, "default_lease": -30}`), problems(`{"pools": {"python": {}}, "default_lease": "-30s"}`))
	got := problems(`{"pools": {"Python": {"target_ready": 1}}}`)
	require.Len(t, got, 1, "no guess at a repository for a name that is not an image name: %v", got)
	require.Contains(t, got[0], `image names are lower case ("python")`)
}

func TestUnknownFieldsAreRejected(t *testing.T) {
	for _, doc := range []string{
		`{"pools": {"python": {"target_redy": 3}}}`,
		`{"pool": {"python": {}}}`,
		`{"pools": {"python": {"template": {"registy": "x"}}}}`,
		"pools:\n  python:\n    target_redy: 3\n",
	} {
		_, err := ParseConfig([]byte(doc))
		require.ErrorIs(t, err, ErrInvalidConfig, doc)
		require.Contains(t, err.Error(), "unknown key", doc)
	}
}

func TestYAMLConfigMatchesJSON(t *testing.T) {
	j, err := ParseConfig([]byte(`{"pools": {"python": {"target_ready": 2, "idle_timeout": "5m"}}, "max_total_sandboxes": 20}`))
	require.NoError(t, err)
	y, err := ParseConfig([]byte("pools:\n  python:\n    target_ready: 2\n    idle_timeout: 5m\nmax_total_sandboxes: 20\n"))
	require.NoError(t, err)
	require.Equal(t, j, y)
}

func TestImageNamesMustFitAnAppName(t *testing.T) {
	for _, ok := range []string{"python", "node", "py3", "a", "go-1-24", strings.Repeat("a", MaxImageNameLength)} {
		require.NoError(t, ValidateImageName(ok), ok)
	}
	for _, bad := range []string{"", "Python", "3py", "py_3", "py-", "-py", "py--3", "py.3", strings.Repeat("a", MaxImageNameLength+1), "py 3"} {
		require.Error(t, ValidateImageName(bad), bad)
	}
}

func TestPoolFallsBackToDefaultPoolConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"pools": {"python": {"target_ready": 3}}}`))
	require.NoError(t, err)
	_, err = c.Pool("ruby")
	require.ErrorIs(t, err, ErrUnknownImage)

	c, err = ParseConfig([]byte(`{"pools": {"python": {"target_ready": 3}}, "default_pool_config": {"target_ready": 1}}`))
	require.NoError(t, err)
	_, err = c.Pool("ruby")
	require.ErrorIs(t, err, ErrUnknownImage, "the SDK publishes no sandbox-ruby-service")
	require.ErrorContains(t, err, "name the pool's own image")
	p, err := c.Pool("node")
	require.NoError(t, err, "a published image")
	require.Equal(t, 1, p.TargetReady)

	c, err = ParseConfig([]byte(`{"pools": {"python": {"target_ready": 3}}, "default_pool_config": {"target_ready": 1, "template": {"registry": "acme"}}}`))
	require.NoError(t, err)
	p, err = c.Pool("ruby")
	require.NoError(t, err)
	require.Equal(t, 1, p.TargetReady)
	_, err = c.Pool("Ruby!")
	require.ErrorIs(t, err, ErrUnknownImage, "a default pool is only made for a valid image name")
	p, err = c.Pool("python")
	require.NoError(t, err)
	require.Equal(t, 3, p.TargetReady)
}

func TestTemplateDefaultsFollowTheServiceModeImages(t *testing.T) {
	c, err := ParseConfig([]byte(`{"pools": {"python": {}, "node": {"template": {"registry_type": "DOCR", "repository": "mine", "digest": "sha256:` + strings.Repeat("a", 64) + `", "region": "ams", "env": {"A": "1"}}}}}`))
	require.NoError(t, err)
	py := c.Template("python", *c.Pools["python"])
	require.Equal(t, Template{RegistryType: "GHCR", Registry: DefaultRegistry, Repository: "sandbox-python-service", Tag: "latest",
		HTTPPort: 8080, HealthCheckPath: "/health", Region: "nyc", InstanceSize: "apps-s-1vcpu-1gb"}, py)
	node := c.Template("node", *c.Pools["node"])
	require.Equal(t, "DOCR", node.RegistryType)
	require.Empty(t, node.Registry, "DOCR takes the account's registry")
	require.Equal(t, "mine", node.Repository)
	require.Empty(t, node.Tag, "a digest replaces the default tag")
	require.Equal(t, "ams", node.Region)
	require.Equal(t, map[string]string{"A": "1"}, node.Env)
}

func TestGlobalCapEqualToTargetIsValid(t *testing.T) {
	// The seed's real cap was max_total_sandboxes-1, so a pool whose
	// target equals the cap never filled. Here a cap equal to the sum is valid.
	c, err := ParseConfig([]byte(`{"pools": {"python": {"target_ready": 5}}, "max_total_sandboxes": 5}`))
	require.NoError(t, err)
	require.Equal(t, 5, c.TotalCap())
}

func TestLoadConfigFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hotpool.yaml")
	require.NoError(t, os.WriteFile(path, []byte("pools:\n  python:\n    target_ready: 2\n"), 0o600))
	c, err := LoadConfig(path)
	require.NoError(t, err)
	require.Equal(t, 2, c.Pools["python"].TargetReady)

	_, err = LoadConfig(filepath.Join(dir, "missing.json"))
	require.ErrorIs(t, err, ErrInvalidConfig)

	t.Setenv("HOTPOOL_CONFIG", `{"pools": {"node": {"target_ready": 1}}}`)
	c, err = ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, 1, c.Pools["node"].TargetReady)

	t.Setenv("HOTPOOL_CONFIG", "@"+path)
	c, err = ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, 2, c.Pools["python"].TargetReady)

	t.Setenv("HOTPOOL_CONFIG", "")
	_, err = ConfigFromEnv()
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestExampleConfigIsValid(t *testing.T) {
	c, err := LoadConfig("../../examples/config.json")
	require.NoError(t, err)
	require.NotEmpty(t, c.Pools)
}

func TestEmptyAndTrailingDocumentsAreRejected(t *testing.T) {
	for _, doc := range []string{"", "   ", `{"pools": {"python": {}}} {}`, `[1,2]`, `null`} {
		_, err := ParseConfig([]byte(doc))
		require.ErrorIs(t, err, ErrInvalidConfig, doc)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"pools": {"python": {"target_ready": 3}}}`))
	f.Add([]byte("pools:\n  python:\n    target_ready: 2\n"))
	f.Add([]byte(`{"pools": {"python": {"idle_timeout": "1m", "template": {"env": {"A": "b"}}}}, "max_total_sandboxes": 3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidConfig)
			return
		}
		// Whatever parses must validate and name only valid pools.
		require.NoError(t, c.Validate())
		for name := range c.Pools {
			require.NoError(t, ValidateImageName(name))
		}
	})
}

func TestWebhookFiltersNameKnownEvents(t *testing.T) {
	_, err := ParseConfig([]byte(`{"pools": {"python": {}}, "webhooks": [{"url": "https://example.test/h", "secret_env": "HOOK_SECRET", "events": ["sandbox.ready", "sandbox.redy"]}]}`))
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.Contains(t, err.Error(), `webhooks[0].events[1]: unknown event type "sandbox.redy"`)
	require.NotContains(t, err.Error(), "events[0]")

	_, err = ParseConfig([]byte(`{"pools": {"python": {}}, "webhooks": [{"url": "ftp://x", "secret_env": "lower-case"}]}`))
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.Contains(t, err.Error(), "webhooks[0].url: must be an http(s) URL")
	require.Contains(t, err.Error(), "webhooks[0].secret_env")
}

// Each webhook has its own secret and its own receiver name: a shared
// secret would let either receiver forge events to the other, and a shared
// name would let a signature for one pass at the other.
func TestWebhooksHaveTheirOwnSecretsAndNames(t *testing.T) {
	ok, err := ParseConfig([]byte(`{"pools": {"python": {}}, "webhooks": [
		{"url": "https://a.example.test/h?key=k", "secret_env": "A_SECRET"},
		{"url": "https://b.example.test", "secret_env": "B_SECRET", "name": "billing"},
		{"url": "https://b.example.test", "secret_env": "C_SECRET"}]}`))
	require.NoError(t, err)
	require.Equal(t, "https://a.example.test/h", ok.Webhooks[0].ReceiverName(), "no query: receivers keep credentials there")
	require.Equal(t, "billing", ok.Webhooks[1].ReceiverName())
	require.Equal(t, "https://b.example.test/", ok.Webhooks[2].ReceiverName(), "the path a request line carries")

	_, err = ParseConfig([]byte(`{"pools": {"python": {}}, "webhooks": [
		{"url": "https://a.example.test/h", "secret_env": "HOOK_SECRET"},
		{"url": "https://b.example.test/h", "secret_env": "HOOK_SECRET"},
		{"url": "https://c.example.test/h", "secret_env": "C_SECRET", "name": "https://a.example.test/h"},
		{"url": "https://d.example.test/h", "secret_env": "D_SECRET", "name": "two words"}]}`))
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.Contains(t, err.Error(), "webhooks[1].secret_env: HOOK_SECRET is already webhooks[0]'s secret: give each webhook its own")
	require.Contains(t, err.Error(), `webhooks[2].name: "https://a.example.test/h" already names webhooks[0]`)
	require.Contains(t, err.Error(), "webhooks[3].name: must be 1-200 visible ASCII characters")
	require.NotContains(t, err.Error(), "  webhooks[0].", "the first of each pair is not the one at fault")
}

// Five different mistakes, in JSON and in YAML: five problems, each with its
// path, in the same words for both (line numbers aside), and no Go type name.
func TestConfigProblemsAreAllReportedWithPaths(t *testing.T) {
	jsonDoc := `{
  "pools": {
    "python": {"max_redy": 4, "target_ready": "three", "idle_timeout": "5 minutes"},
    "node": {"targt_ready": 1},
    "python": {}
  },
  "max_total_sandboxes": 50
}`
	yamlDoc := `pools:
  python:
    max_redy: 4
    target_ready: three
    idle_timeout: 5 minutes
  node:
    targt_ready: 1
  python: {}
max_total_sandboxes: 50
`
	want := []string{
		"pools.python.max_redy: unknown key (did you mean max_ready?)",
		`pools.python.target_ready: want a whole number, got "three"`,
		`pools.python.idle_timeout: want a duration: seconds (90) or a Go duration ("90s", "5m"), got "5 minutes"`,
		"pools.node.targt_ready: unknown key (did you mean target_ready?)",
		"pools.python: duplicate key (first at line N)",
	}
	lines := regexp.MustCompile(`line \d+`)
	for name, doc := range map[string]string{"json": jsonDoc, "yaml": yamlDoc} {
		_, err := ParseConfig([]byte(doc))
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, name)
		var got []string
		for _, p := range ve.Problems {
			got = append(got, lines.ReplaceAllString(p, "line N"))
			require.NotContains(t, p, "Go struct", name)
			require.NotContains(t, p, "unmarshal", name)
		}
		require.Equal(t, want, got, name)
	}
}

func TestConfigSyntaxErrorsSayWhere(t *testing.T) {
	_, err := ParseConfig([]byte("{\n  \"pools\": {\"python\": {\"target_ready\": 3,}}\n}"))
	require.ErrorContains(t, err, "line 2, column 42: '}' looking for beginning of object key string")
	_, err = ParseConfig([]byte("pools:\n  python:\n    target_ready: 3\n   max_ready: 4\n"))
	// YAML's parser names the line where it gave up (here the mapping's).
	require.Regexp(t, `invalid config:\n  line \d+: did not find expected key`, err.Error())
	require.NotContains(t, err.Error(), "yaml:")
}
