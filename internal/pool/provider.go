package pool

import (
	"context"
	"errors"
	"time"
)

// Phase is the provider's classification of an app.
type Phase string

// Every outcome of a platform call falls in one of these.
const (
	PhaseActive     Phase = "active"      // ACTIVE: serving
	PhaseInProgress Phase = "in_progress" // PENDING_BUILD, BUILDING, DEPLOYING, ...
	PhaseFailed     Phase = "failed"      // ERROR or CANCELED: delete it
	PhaseGone       Phase = "gone"        // 404
	PhaseUnknown    Phase = "unknown"     // transport error, 5xx, 429: never counts as failed
)

// ErrProviderUnknown marks an answer that says nothing definite (transport
// error, 5xx, 429, budget exhausted). Callers must look again later, never
// treat it as a failure of the sandbox.
var ErrProviderUnknown = errors.New("pool: platform answer unknown")

// ErrProviderNotSent marks a call that certainly did not act: the shared API
// budget refused it before it was sent, or the platform answered 429 without
// processing it. Such errors also wrap ErrProviderUnknown; a create that was
// not sent is tried again, never counted as a failed attempt.
var ErrProviderNotSent = errors.New("pool: platform call not sent")

// App is one App Platform app this deployment owns.
type App struct {
	ID        string
	Name      string
	SandboxID string // from the app's env (HOTPOOL_SANDBOX_ID), so ownership is provable
	Pool      string // from the app's env (HOTPOOL_POOL)
	URL       string // live URL once ACTIVE
	Phase     Phase
	CreatedAt time.Time
}

// CreateSpec is what Provider.Create needs to create one sandbox app.
type CreateSpec struct {
	SandboxID string
	Pool      string
	Template  Template          // complete: Config.Template resolved the defaults
	Env       map[string]string // extra env (the agent token); never logged
}

// Provider creates and destroys sandbox apps. Errors that are not definite
// wrap ErrProviderUnknown.
type Provider interface {
	Create(ctx context.Context, spec CreateSpec) (App, error)
	Get(ctx context.Context, appID string) (App, error) // Phase gone on 404
	List(ctx context.Context) ([]App, error)            // every app this deployment owns
	Delete(ctx context.Context, appID string) error     // nil on 404
	// Health asks an app's health path; an error wrapping ErrProviderUnknown
	// when the answer is not definite.
	Health(ctx context.Context, app App, path string) error
}
