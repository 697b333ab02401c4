package redisstate

import (
	"fmt"

	"github.com/hotpool/hotpool/internal/pool"
)

// Script return codes (lib.lua defines the same numbers).
const (
	codeOK             = 0
	codeNotFound       = 1
	codeExhausted      = 2
	codeShutdown       = 3
	codeLeaseMismatch  = 4
	codeLeaseExpired   = 5
	codeNotLeader      = 6
	codeCreationFailed = 7
	codeWrongState     = 8
	codeBadArgument    = 9
	codeLeaseReleased  = 10
	codeTooManyPools   = 11
)

var (
	// ErrInvalidArgument: a Store method got arguments it cannot use (an empty
	// id, a non-positive TTL, an unknown reason). A caller bug, never a state.
	// It wraps pool.ErrInternal, so the API answers 500, not "unavailable".
	ErrInvalidArgument = fmt.Errorf("redisstate: invalid argument (%w)", pool.ErrInternal)
	// ErrInternal: a script answered something this package does not know; a
	// bug, or scripts and code from different versions.
	ErrInternal = fmt.Errorf("redisstate: unexpected script reply (%w)", pool.ErrInternal)
)

// codeErr maps a script's return code to a domain error; the one place that
// does. detail is the script's second value, when it gave one.
func codeErr(op string, code int64, detail string) error {
	var base error
	switch code {
	case codeOK:
		return nil
	case codeNotFound:
		base = pool.ErrSandboxNotFound
	case codeExhausted:
		base = pool.ErrPoolExhausted
	case codeShutdown:
		base = pool.ErrPoolShutdown
	case codeLeaseMismatch:
		base = pool.ErrLeaseMismatch
	case codeLeaseExpired:
		base = pool.ErrLeaseExpired
	case codeLeaseReleased:
		base = pool.ErrLeaseReleased
	case codeTooManyPools:
		base = pool.ErrTooManyPools
	case codeNotLeader:
		base = pool.ErrNotLeader
	case codeCreationFailed:
		base = pool.ErrSandboxCreation
	case codeWrongState:
		base = pool.ErrStateConflict
	case codeBadArgument:
		base = ErrInvalidArgument
	default:
		return fmt.Errorf("%w: %s: code %d", ErrInternal, op, code)
	}
	if detail != "" {
		return fmt.Errorf("redisstate: %s: %w (%s)", op, base, detail)
	}
	return fmt.Errorf("redisstate: %s: %w", op, base)
}
