// Package stack is hotpool's one composition root: it assembles the object
// graph every entry point serves with, in one order (Redis client → Store
// and API budget → platform → Reconciler → webhook delivery → Service →
// HTTP handler). The functions (fnenv), the local server (localserver) and
// the simulation harness differ only in the Options they pass: where Redis
// and the platform are, which clock runs, and the Service's hooks.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/hotpool/hotpool/internal/appplatform"
	"github.com/hotpool/hotpool/internal/events"
	"github.com/hotpool/hotpool/internal/httpapi"
	"github.com/hotpool/hotpool/internal/pool"
	"github.com/hotpool/hotpool/internal/reconcile"
	"github.com/hotpool/hotpool/internal/redisstate"
)

// Options say where the backends are and how the pieces are hooked up.
// Config, Redis and Clock are required.
type Options struct {
	Config *pool.Config // validated
	Redis  *redis.Client
	// KeyPrefix is the Redis key prefix; empty is Config.Deployment.
	KeyPrefix string
	Clock     pool.Clock
	// ReconcileClock is the reconciler's clock; nil is Clock (the harness
	// skews it, to model a reconcile host whose clock is off).
	ReconcileClock pool.Clock
	// Secret keys the derived tokens (agent tokens, idempotent leases).
	Secret string
	// Token is the HTTP API's bearer token; empty builds no Handler (the
	// harness drives the Service directly).
	Token string
	// Logger is every piece's log; nil leaves each piece's default.
	Logger *slog.Logger
	// NewProvider builds the platform over the shared API budget; nil builds
	// no Reconciler (a function without DIGITALOCEAN_TOKEN serves the API
	// only). WrapProvider, when set, wraps what it built (fault injection).
	NewProvider  func(*appplatform.Budget) (pool.Provider, error)
	WrapProvider func(pool.Provider) pool.Provider
	// ReconcilerOptions follow the secrets and logger options given here.
	ReconcilerOptions []reconcile.Option
	// Getenv reads webhooks' secret_env variables; nil is os.Getenv.
	// NoWebhooks delivers none (simulated time cannot wait for a receiver).
	Getenv     func(string) string
	NoWebhooks bool
	// KickReconciler makes the in-process Reconciler's Kick the Service's
	// (the local server's loop); otherwise Service sets its own hooks.
	KickReconciler bool
	// Service, when set, adjusts the Service's options before each Service
	// is built (Build's and every Front's): Kick and Handover of a function,
	// a harness's Sleep and ids. It sets hooks; it makes nothing.
	Service func(*pool.ServiceOptions)
}

// Stack is the assembled graph.
type Stack struct {
	Config     *pool.Config
	Redis      *redis.Client
	Keys       redisstate.Keys
	Store      *redisstate.Store
	Budget     *appplatform.Budget
	Provider   pool.Provider             // nil without NewProvider
	Reconciler *reconcile.Reconciler     // nil without NewProvider
	Secrets    pool.Secrets              // derived from Options.Secret
	AfterPass  func(ctx context.Context) // webhook delivery; nil without webhooks
	Service    *pool.Service
	Handler    *httpapi.Handler // nil without Options.Token

	o Options
}

// Build assembles the graph. It dials nothing: go-redis connects on the first
// command, the platform client on the first call.
func Build(o Options) (*Stack, error) {
	if o.Config == nil || o.Redis == nil || o.Clock == nil {
		return nil, errors.New("stack: Build needs a Config, a Redis client and a Clock")
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = o.Config.Deployment
	}
	if o.ReconcileClock == nil {
		o.ReconcileClock = o.Clock
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	cfg := o.Config
	s := &Stack{Config: cfg, Redis: o.Redis, Keys: redisstate.NewKeys(o.KeyPrefix), Secrets: pool.NewSecrets(o.Secret), o: o}
	s.Store = redisstate.New(o.Redis, o.KeyPrefix, redisstate.WithClockSkewTolerance(cfg.ClockSkewTolerance.D()),
		redisstate.WithDurability(cfg.Durability.Replicas, cfg.Durability.Timeout.D()))
	var err error
	s.Budget, err = appplatform.NewBudget(appplatform.BudgetOptions{
		Redis: o.Redis, Key: s.Keys.Budget(), Limits: cfg.APIBudget, Clock: o.Clock,
	})
	if err != nil {
		return nil, err
	}
	if o.NewProvider != nil {
		if s.Provider, err = o.NewProvider(s.Budget); err != nil {
			return nil, err
		}
		pv := s.Provider
		if o.WrapProvider != nil {
			pv = o.WrapProvider(pv)
		}
		ropts := []reconcile.Option{reconcile.WithSecrets(s.Secrets)}
		if o.Logger != nil {
			ropts = append(ropts, reconcile.WithLogger(o.Logger))
		}
		s.Reconciler = reconcile.New(s.Store, pv, cfg, o.ReconcileClock, append(ropts, o.ReconcilerOptions...)...)
	}
	if len(cfg.Webhooks) > 0 && !o.NoWebhooks {
		logger := o.Logger
		if logger == nil {
			logger = slog.Default()
		}
		d := events.NewDeliverer(o.Redis, o.KeyPrefix, cfg.Webhooks, o.Getenv, nil, o.Clock, logger,
			events.WithMaxAttempts(cfg.WebhookMaxAttempts))
		s.AfterPass = d.Run
	}
	s.Service, s.Handler, err = s.Front(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Front builds the Service and Handler that serve requests under cfg, over
// this stack's backends: Build's own, and a reload's (the backends stay).
func (s *Stack) Front(cfg *pool.Config) (*pool.Service, *httpapi.Handler, error) {
	o := s.o
	so := pool.ServiceOptions{Store: s.Store, Config: cfg, Clock: o.Clock, Secrets: s.Secrets, AfterPass: s.AfterPass, Logger: o.Logger}
	if s.Reconciler != nil {
		so.Reconciler = s.Reconciler
		if o.KickReconciler {
			so.Kick = s.Reconciler.Kick
		}
	}
	if o.Service != nil {
		o.Service(&so)
	}
	svc, err := pool.NewService(so)
	if err != nil {
		return nil, nil, fmt.Errorf("stack: %w", err)
	}
	var h *httpapi.Handler
	if o.Token != "" {
		h = httpapi.New(httpapi.Options{Service: svc, Token: o.Token, Logger: o.Logger, Clock: o.Clock, Budget: s.Budget})
	}
	return svc, h, nil
}
