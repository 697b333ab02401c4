package api

import "encoding/json"

// The stable error codes of the contract: the "code" of every error body.
const (
	CodeInvalidRequest        = "invalid_request"
	CodeUnauthorized          = "unauthorized"
	CodeLeaseMismatch         = "lease_mismatch"
	CodeUnknownImage          = "unknown_image"
	CodeClaimNotFound         = "claim_not_found"
	CodeSandboxNotFound       = "sandbox_not_found"
	CodeNotFound              = "not_found"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeLeaseExpired          = "lease_expired"
	CodeStateConflict         = "state_conflict"
	CodeSandboxCreationFailed = "sandbox_creation_failed"
	CodePoolShutdown          = "pool_shutdown"
	CodeTooManyPools          = "too_many_pools"
	CodePoolExhausted         = "pool_exhausted"
	CodeWarmUpTimeout         = "warm_up_timeout"
	CodeUnavailable           = "unavailable"
	CodeInternal              = "internal"
)

// Codes lists every code above, for the tests of both sides.
var Codes = []string{
	CodeInvalidRequest, CodeUnauthorized, CodeLeaseMismatch, CodeUnknownImage,
	CodeClaimNotFound, CodeSandboxNotFound, CodeNotFound, CodeMethodNotAllowed,
	CodeLeaseExpired, CodeStateConflict, CodeSandboxCreationFailed, CodePoolShutdown,
	CodeTooManyPools, CodePoolExhausted, CodeWarmUpTimeout, CodeUnavailable, CodeInternal,
}

// ErrorBody is the one error shape of the contract.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an error's code, human words and structured context:
// {"field": …} for an invalid request, {"pool": …} for a refusal in one
// pool, {"pools": {name: {ready, target}}} for a warm-up that timed out.
type ErrorDetail struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details,omitempty"`
}
