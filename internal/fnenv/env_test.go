package fnenv

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hotpool/hotpool/internal/redistest"
)

const token = "fn-test-token"

// secret is a HOTPOOL_SECRET of the length pool.CheckSecret asks.
const secret = "fn-test-secret-fn-test-secret-0123456789"

type envMap map[string]string

// deployment is a fresh deployment name (at most 8 characters, as config
// validation requires) on the test Redis; its keys are deleted afterwards.
func deployment(t *testing.T) string {
	rdb, prefix := redistest.Client(t)
	dep := prefix[:8]
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, "{hotpool:"+dep+"}*").Result()
		if err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return dep
}

func (m envMap) get(k string) string { return m[k] }

func TestBuildRefusesAnIncompleteEnvironment(t *testing.T) {
	full := envMap{EnvAPIToken: token, EnvSecret: secret, EnvRedisURL: "redis://127.0.0.1:6379", EnvConfig: `{"pools":{"python":{"target_ready":1}}}`}
	_, err := Build(full.get, io.Discard)
	require.NoError(t, err, "a complete environment builds without dialing anything")

	for _, k := range []string{EnvAPIToken, EnvSecret, EnvRedisURL, EnvConfig} {
		e := envMap{}
		for kk, v := range full {
			e[kk] = v
		}
		delete(e, k)
		_, err := Build(e.get, io.Discard)
		require.ErrorContains(t, err, k)
	}
	bad := envMap{EnvAPIToken: token, EnvSecret: secret, EnvRedisURL: "redis://:s3cret-pass@[::1", EnvConfig: full[EnvConfig]}
	// A blank token would close the API; a short secret is guessable.
	blank := envMap{EnvAPIToken: "   ", EnvSecret: secret, EnvRedisURL: "redis://127.0.0.1:6379", EnvConfig: full[EnvConfig]}
	_, err = Build(blank.get, io.Discard)
	require.ErrorContains(t, err, EnvAPIToken)
	short := envMap{EnvAPIToken: token, EnvSecret: "short", EnvRedisURL: "redis://127.0.0.1:6379", EnvConfig: full[EnvConfig]}
	_, err = Build(short.get, io.Discard)
	require.ErrorContains(t, err, "HOTPOOL_SECRET is 5 bytes: it must be at least 32")
	require.NotContains(t, err.Error(), "short")
	_, err = Build(bad.get, io.Discard)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret-pass")
}

// webEvent is a DigitalOcean web: raw event.
func webEvent(method, path, auth, body string) map[string]any {
	h := map[string]any{}
	if auth != "" {
		h["authorization"] = "Bearer " + auth
	}
	return map[string]any{"http": map[string]any{"method": method, "path": path, "headers": h, "body": body}}
}

func TestLazyRetriesAFailedBuildAndKeepsASuccessfulOne(t *testing.T) {
	prefix := deployment(t)
	env := envMap{EnvAPIToken: token, EnvSecret: secret}
	l := &Lazy{getenv: env.get, logOut: io.Discard}
	ctx := context.Background()

	// Not configured yet: the token is still checked first, then 503.
	resp := l.DO(ctx, "metrics", webEvent("GET", "", "", ""))
	require.Equal(t, 401, resp["statusCode"])
	resp = l.DO(ctx, "metrics", webEvent("GET", "", token, ""))
	require.Equal(t, 503, resp["statusCode"])
	require.Equal(t, 2, l.builds, "each request retries the build")

	env[EnvRedisURL] = redistest.URL()
	env[EnvConfig] = `{"deployment":"` + prefix + `","pools":{"python":{"target_ready":1}}}`
	for range 3 {
		resp = l.DO(ctx, "metrics", webEvent("GET", "", token, ""))
		require.Equal(t, 200, resp["statusCode"], resp["body"])
	}
	require.Equal(t, 3, l.builds, "built once, then kept")
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp["body"].(string)), &doc))
	require.Contains(t, doc["pools"], "python")

	// A sub-path reaches the same function: /acquire/renew through "acquire".
	resp = l.DO(ctx, "acquire", webEvent("POST", "/renew", token, `{"sandbox_id":"nope","lease_token":"x"}`))
	require.Equal(t, 404, resp["statusCode"], resp["body"])

	// A non-web event can carry no token.
	resp = l.DO(ctx, "acquire", map[string]any{"image": "python"})
	require.Equal(t, 401, resp["statusCode"])

	// The cron event without DIGITALOCEAN_TOKEN says why it did nothing.
	resp = l.DO(ctx, "reconcile", map[string]any{})
	require.Equal(t, false, resp["body"].(map[string]any)["ok"])
	require.Contains(t, resp["body"].(map[string]any)["error"], EnvDOToken)
}

func TestColdStartDialsNothingBeforeTheFirstRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	env := envMap{EnvAPIToken: token, EnvSecret: secret, EnvRedisURL: "redis://" + ln.Addr().String(), EnvConfig: `{"pools":{"python":{}}}`, EnvDOToken: "do-token"}
	l := &Lazy{getenv: env.get, logOut: io.Discard}
	app, err := l.Get()
	require.NoError(t, err)
	require.NotNil(t, app.Reconciler, "DIGITALOCEAN_TOKEN wires reconcile")
	// A request without the token is refused before any backend is touched.
	resp := l.DO(context.Background(), "acquire", webEvent("POST", "", "", `{"image":"python"}`))
	require.Equal(t, 401, resp["statusCode"])
	require.Zero(t, accepted.Load(), "building the app and refusing a request dialed Redis")

	// The first authorised request is the first to dial.
	resp = l.DO(context.Background(), "metrics", webEvent("GET", "", token, ""))
	require.Equal(t, 503, resp["statusCode"], "the listener is not a Redis")
	require.Eventually(t, func() bool { return accepted.Load() > 0 }, 5*time.Second, 10*time.Millisecond)
}

// REDIS_PASSWORD is the URL's password when set, so the URL can be a plain
// setting and the password a secret.
func TestRedisPasswordJoinsTheURL(t *testing.T) {
	env := envMap{EnvAPIToken: token, EnvSecret: secret, EnvRedisURL: "rediss://default@cache.example:6379", EnvConfig: `{"pools":{"python":{}}}`,
		EnvRedisPassword: "s3cret"}
	app, err := Build(env.get, io.Discard)
	require.NoError(t, err)
	defer app.Redis.Close()
	require.Equal(t, "s3cret", app.Redis.Options().Password)
	require.Equal(t, "default", app.Redis.Options().Username)
	require.NotNil(t, app.Redis.Options().TLSConfig, "rediss:// keeps TLS")
}
