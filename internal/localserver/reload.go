package localserver

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/hotpool/hotpool/internal/httpapi"
	"github.com/hotpool/hotpool/internal/pool"
)

// front is one config and what serves requests under it.
type front struct {
	cfg     *pool.Config
	service *pool.Service
	handler *httpapi.Handler
}

// ErrReloadNeedsRestart: the new config changes a setting that the
// backends (Redis keys, the store, the API budget, webhook delivery) were
// built with; a restart applies it.
var ErrReloadNeedsRestart = errors.New("localserver: this config change needs a restart")

func (s *Server) newFront(cfg *pool.Config) (*front, error) {
	svc, h, err := s.stack.Front(cfg)
	if err != nil {
		return nil, fmt.Errorf("localserver: %w", err)
	}
	return &front{cfg: cfg, service: svc, handler: h}, nil
}

// Config is the config the server runs under now.
func (s *Server) Config() *pool.Config { return s.front.Load().cfg }

// Service is the service requests run on now.
func (s *Server) Service() *pool.Service { return s.front.Load().service }

// Handler is the HTTP API handler requests run on now.
func (s *Server) Handler() *httpapi.Handler { return s.front.Load().handler }

// Reload puts a new config in force without a restart, as a redeploy of
// the functions does: requests that arrive afterwards run under it (those
// in flight finish under the old one), the next reconcile pass plans with
// it, and every pool it names is active. A pool it no longer names is
// retired by the passes: its claims fail and its sandboxes are deleted.
//
// Settings the backends were built with are refused, naming each
// (ErrReloadNeedsRestart): the deployment, durability, clock skew
// tolerance, the API budget and the webhooks.
func (s *Server) Reload(ctx context.Context, cfg *pool.Config) error {
	if cfg == nil {
		return errors.New("localserver: reload: a config is required")
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("localserver: reload: %w", err)
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.Config()
	fixed := []struct {
		name     string
		old, new any
	}{
		{"deployment", old.Deployment, cfg.Deployment},
		{"durability", old.Durability, cfg.Durability},
		{"clock_skew_tolerance", old.ClockSkewTolerance, cfg.ClockSkewTolerance},
		{"api_budget", old.APIBudget, cfg.APIBudget},
		{"webhooks", old.Webhooks, cfg.Webhooks},
		{"webhook_max_attempts", old.WebhookMaxAttempts, cfg.WebhookMaxAttempts},
	}
	var changed []string
	for _, f := range fixed {
		if !reflect.DeepEqual(f.old, f.new) {
			changed = append(changed, f.name)
		}
	}
	if len(changed) > 0 {
		return fmt.Errorf("%w: %v changed", ErrReloadNeedsRestart, changed)
	}
	f, err := s.newFront(cfg)
	if err != nil {
		return err
	}
	if err := s.Store.Activate(ctx, cfg.PoolNames(), s.opts.Clock.Now()); err != nil {
		return fmt.Errorf("localserver: reload: redis: %w", err)
	}
	s.Reconciler.SetConfig(cfg)
	s.front.Store(f)
	s.Reconciler.Kick() // the new targets are filled now, not at the next interval
	s.log.Info("config reloaded", "op", "reload", "pools", len(cfg.Pools))
	return nil
}
