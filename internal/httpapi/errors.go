package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/pool"
)

// Errors that only the HTTP layer produces.
var (
	errUnauthorized     = errors.New("missing or wrong bearer token")
	errNotFound         = errors.New("no such route")
	errMethodNotAllowed = errors.New("method not allowed")
)

// Retry-After values, in seconds, of the 503s. A claim's poll interval is
// pool.ClaimRetryAfter.
const (
	retryExhausted   = 5
	retryUnavailable = 2
	retryShutdown    = 30
)

// errorRule is one row of the error→status table.
type errorRule struct {
	err        error
	status     int
	code       string
	retryAfter int  // seconds; 0: no Retry-After
	public     bool // the error's own text is safe and useful to show
}

// errorTable maps every error to its status and stable code: the only place
// that does. The first row whose error matches (errors.Is) wins; anything
// unmatched is an internal error.
var errorTable = []errorRule{
	{pool.ErrInvalidRequest, http.StatusBadRequest, api.CodeInvalidRequest, 0, true},
	{errUnauthorized, http.StatusUnauthorized, api.CodeUnauthorized, 0, true},
	{pool.ErrLeaseMismatch, http.StatusForbidden, api.CodeLeaseMismatch, 0, true},
	{pool.ErrUnknownImage, http.StatusNotFound, api.CodeUnknownImage, 0, true},
	{pool.ErrClaimNotFound, http.StatusNotFound, api.CodeClaimNotFound, 0, true},
	{pool.ErrSandboxNotFound, http.StatusNotFound, api.CodeSandboxNotFound, 0, true},
	{errNotFound, http.StatusNotFound, api.CodeNotFound, 0, true},
	{errMethodNotAllowed, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, 0, true},
	{pool.ErrLeaseExpired, http.StatusConflict, api.CodeLeaseExpired, 0, true},
	{pool.ErrStateConflict, http.StatusConflict, api.CodeStateConflict, 0, true},
	{pool.ErrSandboxCreation, http.StatusBadGateway, api.CodeSandboxCreationFailed, 0, true},
	{pool.ErrPoolShutdown, http.StatusServiceUnavailable, api.CodePoolShutdown, retryShutdown, true},
	// Before pool_exhausted, which it also is.
	{pool.ErrTooManyPools, http.StatusServiceUnavailable, api.CodeTooManyPools, retryExhausted, true},
	{pool.ErrPoolExhausted, http.StatusServiceUnavailable, api.CodePoolExhausted, retryExhausted, true},
	{pool.ErrWarmUpTimeout, http.StatusGatewayTimeout, api.CodeWarmUpTimeout, 0, true},
	// Another pass holds the reconcile lock: transient, like a backend outage.
	{pool.ErrNotLeader, http.StatusServiceUnavailable, api.CodeUnavailable, retryUnavailable, false},
	{pool.ErrUnavailable, http.StatusServiceUnavailable, api.CodeUnavailable, retryUnavailable, false},
}

var internalRule = errorRule{status: http.StatusInternalServerError, code: api.CodeInternal}

// ruleFor finds err's row of the table.
func ruleFor(err error) errorRule {
	for _, r := range errorTable {
		if errors.Is(err, r.err) {
			return r
		}
	}
	return internalRule
}

// message is what the caller reads: the error's own words when they are safe
// (domain errors carry no secrets), fixed words for backend and internal
// failures, whose detail goes to the log only.
func message(r errorRule, err error) string {
	if !r.public {
		switch r.code {
		case api.CodeUnavailable:
			return "a backend (Redis or the platform) cannot be reached; retry later"
		default:
			return "internal error; see the server log with this request's id"
		}
	}
	var f *pool.FieldError
	if errors.As(err, &f) {
		return f.Error()
	}
	var pe *pool.PoolError
	if errors.As(err, &pe) {
		if errors.Is(err, pool.ErrPoolShutdown) {
			return fmt.Sprintf("pool %q is shut down (or the whole manager is): start it again with 'hotpool start %s', or 'hotpool start' for the manager (POST /reconcile {\"action\": \"start\"})", pe.Pool, pe.Pool)
		}
		return fmt.Sprintf("pool %q: %s", pe.Pool, message(r, pe.Err))
	}
	// The domain's sentinels read "pool: …", and the layers below may have
	// prefixed their own names ("redisstate: release: pool: …"); the caller
	// reads the sentinel's words and any context that follows them.
	msg := err.Error()
	if i := strings.Index(msg, "pool: "); i >= 0 {
		msg = msg[i+len("pool: "):]
	}
	return msg
}

// details carries structured context for the errors that have it.
func details(err error) json.RawMessage {
	d := detailsOf(err)
	if d == nil {
		return nil
	}
	b, _ := json.Marshal(d) // maps of strings and ints: cannot fail
	return b
}

func detailsOf(err error) any {
	var w *pool.WarmUpError
	if errors.As(err, &w) {
		return map[string]any{"pools": w.Pools}
	}
	var f *pool.FieldError
	if errors.As(err, &f) {
		return map[string]string{"field": f.Field}
	}
	var pe *pool.PoolError
	if errors.As(err, &pe) {
		return map[string]string{"pool": pe.Pool}
	}
	return nil
}
