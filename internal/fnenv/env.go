package fnenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/httpapi"
	"github.com/hotpool/hotpool/internal/logging"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/reconcile"
	"github.com/hotpool/hotpool/internal/redisstate"
	"github.com/hotpool/hotpool/internal/stack"
)

// The environment a function reads (project.yml and docs/lambda.md set it).
const (
	EnvAPIToken = "HOTPOOL_API_TOKEN" // the bearer token of the HTTP API
	EnvRedisURL = "REDIS_URL"         // redis:// or rediss:// (Managed Valkey)
	// EnvRedisPassword, when set, is the password of REDIS_URL, so the URL
	// itself can be a plain setting and the password a secret (AWS template).
	EnvRedisPassword = "REDIS_PASSWORD"
	EnvDOToken       = "DIGITALOCEAN_TOKEN" // App Platform API token (reconcile)
	EnvConfig        = "HOTPOOL_CONFIG"     // the config document, or @path
	EnvSecret        = "HOTPOOL_SECRET"     // keys derived tokens; default the API token
	EnvLogLevel      = "HOTPOOL_LOG_LEVEL"  // debug, info, warn, error
)

// App is everything one function instance serves with.
type App struct {
	Config     *pool.Config
	Redis      *redis.Client
	Service    *pool.Service
	Reconciler *reconcile.Reconciler
	Handler    *httpapi.Handler
	Logger     *slog.Logger
	// AfterPass delivers the events a pass appended to the configured
	// webhooks; nil when none is configured.
	AfterPass func(ctx context.Context)
	// kicker asks the reconcile function for a run after an acquire or a
	// release left work (nil: HOTPOOL_KICK_URL=off).
	kicker *kicker
}

// KicksSent waits (at most a second) until the kicks this App started have
// written their requests: a function calls it before it answers, since the
// platform may freeze the process once the answer is out.
func (a *App) KicksSent() {
	if a != nil && a.kicker != nil {
		a.kicker.Sent()
	}
}

// Getenv reads one variable; os.Getenv in production, a map in tests.
type Getenv func(string) string

// Build wires an App from the environment. It dials nothing: go-redis
// connects on the first command, godo on the first call.
func Build(getenv Getenv, logOut io.Writer) (*App, error) {
	logger := logging.New(logOut, logging.ParseLevel(getenv(EnvLogLevel)))
	token := strings.TrimSpace(getenv(EnvAPIToken))
	if token == "" {
		return nil, fmt.Errorf("%s is not set (or blank)", EnvAPIToken)
	}
	secret := getenv(EnvSecret)
	if err := pool.CheckSecret(secret); err != nil {
		return nil, err
	}
	cfg, err := configFrom(getenv)
	if err != nil {
		return nil, err
	}
	rawURL := getenv(EnvRedisURL)
	if rawURL == "" {
		return nil, fmt.Errorf("%s is not set", EnvRedisURL)
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// The URL holds the password: never repeat it.
		return nil, fmt.Errorf("%s does not parse as redis://[user:pass@]host:port[/db]", EnvRedisURL)
	}
	if pw := getenv(EnvRedisPassword); pw != "" {
		opt.Password = pw
	}
	rdb := redis.NewClient(opt)
	app := &App{Config: cfg, Redis: rdb, Logger: logger,
		kicker: newKicker(getenv, token, rdb, redisstate.NewKeys(cfg.Deployment).Kick(), logger)}
	so := stack.Options{
		Config: cfg, Redis: rdb, Clock: pool.SystemClock{}, Secret: secret, Token: token, Logger: logger, Getenv: getenv,
	}
	if k := app.kicker; k != nil {
		so.Service = func(so *pool.ServiceOptions) { so.Kick, so.Handover = k.Kick, k.Handover }
	}
	// The HTTP functions never call the platform; only a reconcile needs the
	// DigitalOcean token, so its absence disables reconcile, not the API.
	if doToken := getenv(EnvDOToken); doToken != "" {
		so.NewProvider = func(budget *appplatform.Budget) (pool.Provider, error) {
			return appplatform.New(appplatform.Options{
				Token: doToken, BaseURL: getenv(appplatform.EnvAPIURL), Deployment: cfg.Deployment, Budget: budget, Clock: so.Clock, Logger: logger,
			})
		}
	}
	st, err := stack.Build(so)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	app.Service, app.Handler, app.AfterPass, app.Reconciler = st.Service, st.Handler, st.AfterPass, st.Reconciler
	return app, nil
}

func configFrom(getenv Getenv) (*pool.Config, error) {
	v := getenv(EnvConfig)
	if v == "" {
		return nil, fmt.Errorf("%w: %s is not set", pool.ErrInvalidConfig, EnvConfig)
	}
	if len(v) > 1 && v[0] == '@' {
		return pool.LoadConfig(v[1:])
	}
	return pool.ParseConfig([]byte(v))
}

// Lazy builds the App on first use and keeps it for the container's life. A
// failed build is not kept: the next request tries again (Redis may be back,
// a fixed environment redeployed).
type Lazy struct {
	getenv Getenv
	logOut io.Writer
	mu     sync.Mutex
	app    *App
	builds int
}

// NewLazy reads the process environment and logs to stderr.
func NewLazy() *Lazy { return NewLazyEnv(os.Getenv, os.Stderr) }

// NewLazyEnv reads the environment through getenv and logs to logOut.
func NewLazyEnv(getenv Getenv, logOut io.Writer) *Lazy { return &Lazy{getenv: getenv, logOut: logOut} }

// Get returns the App, building it if no build has succeeded yet.
func (l *Lazy) Get() (*App, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.app != nil {
		return l.app, nil
	}
	l.builds++
	app, err := Build(l.getenv, l.logOut)
	if err != nil {
		return nil, err
	}
	l.app = app
	return app, nil
}

// fallback answers while the App cannot be built: it still checks the token
// first (read straight from the environment), then says unavailable, so a
// broken deployment never leaks whether a request would have been valid.
func (l *Lazy) fallback(err error) *httpapi.Handler {
	logger := logging.New(l.logOut, logging.ParseLevel(l.getenv(EnvLogLevel)))
	logger.Error("function not configured", slog.String("op", "init"), slog.String("error", err.Error()))
	return httpapi.New(httpapi.Options{Token: l.getenv(EnvAPIToken), Logger: logger})
}

// Handler is the App's handler, or the fallback when it cannot be built.
func (l *Lazy) Handler() (*httpapi.Handler, *App) {
	app, err := l.Get()
	if err != nil {
		return l.fallback(err), nil
	}
	return app.Handler, app
}

// errNoReconciler: a cron invocation in a deployment without DIGITALOCEAN_TOKEN.
var errNoReconciler = errors.New("reconcile needs " + EnvDOToken)

// Cron runs the scheduled trigger's work (Service.Run, as a kick's POST
// /reconcile {"action":"run"} does): passes every few seconds while
// something is moving, until shortly before the function's own deadline
// (pool.RunBudgetFor), so it answers before the platform kills it and the
// next trigger finds the lock free.
func (l *Lazy) Cron(ctx context.Context) (pool.PassReport, error) {
	app, err := l.Get()
	if err != nil {
		return pool.PassReport{}, err
	}
	if app.Reconciler == nil {
		return pool.PassReport{}, errNoReconciler
	}
	// The reconciler logs each pass itself; Run delivers webhooks after, and
	// may hand its work over (a kick) before the function answers.
	rep, err := app.Service.Run(ctx)
	app.KicksSent()
	return rep, err
}
