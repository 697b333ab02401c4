package appplatform

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hotpool/hotpool/internal/pool"
	"golang.org/x/oauth2"
)

// Defaults of godo's retries: three attempts in all, short waits, so a call
// fits a function's deadline; every wait and attempt also stops at ctx.
const (
	DefaultRetryMax     = 2
	DefaultRetryWaitMin = 250 * time.Millisecond
	DefaultRetryWaitMax = 2 * time.Second
	// ListPageSize is App Platform's largest page.
	ListPageSize = 200
	// DefaultHealthTimeout bounds one health request, so an app that accepts
	// the connection and never answers cannot hold a pass until its lock
	// runs out; such an answer is unknown and condemns nothing.
	DefaultHealthTimeout = 5 * time.Second
)

// Options configure a Provider.
type Options struct {
	Token      string // DigitalOcean API token; never logged
	BaseURL    string // API base, e.g. the simulator's; default godo's
	Deployment string // pool.Config.Deployment: app name prefix and ownership env
	Budget     *Budget
	// HTTPClient supplies the transport of API and health calls (default:
	// a clone of http.DefaultTransport); its Timeout, if any, bounds health calls.
	HTTPClient *http.Client
	// HealthTimeout bounds each health request (default DefaultHealthTimeout).
	HealthTimeout time.Duration
	Clock         pool.Clock
	Logger        *slog.Logger

	RetryMax     int           // default DefaultRetryMax; < 0 disables retries
	RetryWaitMin time.Duration // default DefaultRetryWaitMin
	RetryWaitMax time.Duration // default DefaultRetryWaitMax
}

// Provider is a pool.Provider over godo. Safe for concurrent use.
type Provider struct {
	apps       godo.AppsService
	deployment string
	meter      *meter
	health     *http.Client
	healthWait time.Duration
	log        *slog.Logger
}

var _ pool.Provider = (*Provider)(nil)

// New builds a Provider. The godo client is wrapped so that every attempt
// (retries included) passes through the budget and the call counter.
func New(opts Options) (*Provider, error) {
	if opts.Token == "" {
		return nil, errors.New("appplatform: an API token is required")
	}
	if opts.Deployment == "" || len(opts.Deployment) > pool.MaxDeploymentNameLength || pool.ValidateImageName(opts.Deployment) != nil {
		return nil, fmt.Errorf("appplatform: deployment %q must be 1-%d lowercase letters, digits and single dashes", opts.Deployment, pool.MaxDeploymentNameLength)
	}
	if opts.Clock == nil {
		opts.Clock = pool.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = DefaultHealthTimeout
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	var rt http.RoundTripper = base
	healthClient := &http.Client{Transport: base}
	if opts.HTTPClient != nil {
		if opts.HTTPClient.Transport != nil {
			rt = opts.HTTPClient.Transport
		}
		healthClient = &http.Client{Transport: rt, Timeout: opts.HTTPClient.Timeout}
	}
	m := &meter{base: rt, budget: opts.Budget, clock: opts.Clock, log: opts.Logger}

	retryMax, waitMin, waitMax := opts.RetryMax, opts.RetryWaitMin, opts.RetryWaitMax
	if retryMax == 0 {
		retryMax = DefaultRetryMax
	}
	if waitMin <= 0 {
		waitMin = DefaultRetryWaitMin
	}
	if waitMax < waitMin {
		waitMax = max(DefaultRetryWaitMax, waitMin)
	}

	// godo's retry option needs an *oauth2.Transport under its client: it
	// keeps the token source and rebuilds the client around retryablehttp.
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: opts.Token})
	oauthClient := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: m}}
	clientOpts := []godo.ClientOpt{godo.SetUserAgent("hotpool")}
	if opts.BaseURL != "" {
		clientOpts = append(clientOpts, godo.SetBaseURL(strings.TrimSuffix(opts.BaseURL, "/")+"/"))
	}
	if retryMax > 0 {
		clientOpts = append(clientOpts, godo.WithRetryAndBackoffs(godo.RetryConfig{
			RetryMax:     retryMax,
			RetryWaitMin: godo.PtrTo(waitMin.Seconds()),
			RetryWaitMax: godo.PtrTo(waitMax.Seconds()),
		}))
	}
	client, err := godo.New(oauthClient, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("appplatform: godo client: %w", err)
	}
	if retryMax > 0 {
		if err := tuneRetries(client, m, waitMin); err != nil {
			return nil, err
		}
	}
	return &Provider{apps: client.Apps, deployment: opts.Deployment, meter: m, health: healthClient, healthWait: opts.HealthTimeout, log: opts.Logger}, nil
}

// tuneRetries reaches under godo's retry wrapper (oauth2 → retryablehttp) to
// put the meter beneath the retry loop, so each attempt is budgeted and
// counted, and to install hotpool's retry policy and backoff.
func tuneRetries(c *godo.Client, m *meter, waitMin time.Duration) error {
	ot, ok := c.HTTPClient.Transport.(*oauth2.Transport)
	if !ok {
		return errors.New("appplatform: godo's retry client is not an oauth2 transport")
	}
	rrt, ok := ot.Base.(*retryablehttp.RoundTripper)
	if !ok || rrt.Client == nil || rrt.Client.HTTPClient == nil {
		return errors.New("appplatform: godo's retry client is not retryablehttp")
	}
	rc := rrt.Client
	rc.HTTPClient.Transport = m
	rc.CheckRetry = checkRetry(waitMin)
	rc.Backoff = backoff(m.budget != nil, func(d time.Duration) time.Duration {
		if d <= 0 {
			return 0
		}
		return time.Duration(rand.Int64N(int64(d)))
	})
	return nil
}

// Calls is the number of API requests sent so far, retries included.
func (p *Provider) Calls() int64 { return p.meter.calls.Load() }

// Deployment is the deployment whose apps this provider owns.
func (p *Provider) Deployment() string { return p.deployment }
