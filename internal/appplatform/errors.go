package appplatform

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/digitalocean/godo"
	"github.com/hotpool/hotpool/internal/pool"
)

// Errors of the provider, matched with errors.Is. Those that say nothing
// definite about an app also match pool.ErrProviderUnknown.
var (
	// ErrUnauthorized: the API refused the token (401/403). Unknown for the
	// app: it says nothing about whether the app exists.
	ErrUnauthorized = errors.New("appplatform: token refused")
	// ErrInvalidSpec: the API rejected the app spec (400/422). Definite: a
	// retry of the same spec fails the same way.
	ErrInvalidSpec = errors.New("appplatform: app spec rejected")
	// ErrConflict: an app with this name exists (409), so an earlier create of
	// the same sandbox may have succeeded; List finds it. Unknown.
	ErrConflict = errors.New("appplatform: app name already exists")
	// ErrRateLimited: the API answered 429. Unknown.
	ErrRateLimited = errors.New("appplatform: rate limited")
	// ErrBudget: the shared budget has no room before the call's deadline. Unknown.
	ErrBudget = errors.New("appplatform: api budget exhausted")
	// ErrUnhealthy: the app answered its health path with a failure. Definite.
	ErrUnhealthy = errors.New("appplatform: app unhealthy")
)

// APIError is an error answer of the API, with DigitalOcean's error body.
type APIError struct {
	Op        string // "create", "get", "list", "delete"
	Status    int
	Message   string
	RequestID string
	kind      error // one of the sentinels above, or nil
}

func (e *APIError) Error() string {
	return fmt.Sprintf("appplatform: %s: %d %s (request %s)", e.Op, e.Status, e.Message, e.RequestID)
}

// Unwrap lets errors.Is see the kind and, when the answer is not definite,
// pool.ErrProviderUnknown.
func (e *APIError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if !e.definite() {
		errs = append(errs, pool.ErrProviderUnknown)
	}
	if e.kind == ErrRateLimited {
		// A 429 is answered before the request is processed: nothing happened.
		errs = append(errs, pool.ErrProviderNotSent)
	}
	return errs
}

// definite: only a rejected spec and a 404 say something about the app
// itself; 401/403, 409, 429, 5xx and anything unexpected do not.
func (e *APIError) definite() bool {
	return errors.Is(e.kind, ErrInvalidSpec) || e.Status == http.StatusNotFound
}

// classify turns a godo error into the provider's: an *APIError for an HTTP
// answer, else an unknown transport error.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		e := &APIError{Op: op, Status: er.Response.StatusCode, Message: er.Message, RequestID: er.RequestID}
		switch s := e.Status; {
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			e.kind = ErrUnauthorized
		case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
			e.kind = ErrInvalidSpec
		case s == http.StatusConflict:
			e.kind = ErrConflict
		case s == http.StatusTooManyRequests:
			e.kind = ErrRateLimited
		}
		return e
	}
	if errors.Is(err, ErrBudget) {
		return fmt.Errorf("appplatform: %s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("appplatform: %s: %w (%w)", op, pool.ErrProviderUnknown, err)
	}
	return fmt.Errorf("appplatform: %s: transport: %w (%w)", op, pool.ErrProviderUnknown, err)
}

// errNoApp is a success answer whose body names no app (an empty body, a
// proxy's page): it proves nothing about the app, so it is unknown.
func errNoApp(op string) error {
	return fmt.Errorf("appplatform: %s: the answer names no app: %w", op, pool.ErrProviderUnknown)
}

func isNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}
