package pool

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Errors the service adds to the domain's: they are about requests, not state.
var (
	// ErrInvalidRequest: a request field is missing, of the wrong type or out
	// of range. A *FieldError names the field.
	ErrInvalidRequest = errors.New("pool: invalid request")
	// ErrClaimNotFound: a cold claim id that never existed or has expired.
	ErrClaimNotFound = errors.New("pool: claim not found")
)

// FieldError is an invalid request field; it wraps ErrInvalidRequest.
type FieldError struct {
	Field  string // the JSON name, "lease_seconds"; "body" for the whole document
	Reason string // "must be between 1 and 86400"
}

// Error reads "lease_seconds: must be between 1 and 86400".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidRequest) true.
func (e *FieldError) Unwrap() error { return ErrInvalidRequest }

// InvalidField builds a *FieldError.
func InvalidField(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// WarmUpError is a warm-up that ran out of time; it wraps ErrWarmUpTimeout and
// names each pool's ready/target.
type WarmUpError struct {
	Pools map[string]WarmUpPool
}

// Error names every pool still short of its target.
func (e *WarmUpError) Error() string {
	names := make([]string, 0, len(e.Pools))
	for n, p := range e.Pools {
		if p.Ready < p.Target {
			names = append(names, fmt.Sprintf("%s %d/%d", n, p.Ready, p.Target))
		}
	}
	sort.Strings(names)
	return "warm-up timed out: " + strings.Join(names, ", ")
}

// Unwrap makes errors.Is(err, ErrWarmUpTimeout) true.
func (e *WarmUpError) Unwrap() error { return ErrWarmUpTimeout }

// PoolError names the pool an acquire was refused in; it wraps the domain
// error, so errors.Is still matches ErrPoolExhausted and the rest.
type PoolError struct {
	Pool string
	Err  error
}

// Error reads `pool "python": pool exhausted (empty)`.
func (e *PoolError) Error() string { return fmt.Sprintf("pool %q: %v", e.Pool, e.Err) }

// Unwrap gives the domain error.
func (e *PoolError) Unwrap() error { return e.Err }

// inPool names the pool on the refusals a caller acts on per pool; outages
// and bugs are not about the pool and stay as they are.
func inPool(name string, err error) error {
	if errors.Is(err, ErrPoolExhausted) || errors.Is(err, ErrPoolShutdown) {
		return &PoolError{Pool: name, Err: err}
	}
	return err
}
