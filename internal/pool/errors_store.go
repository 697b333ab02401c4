package pool

import "errors"

// ErrStateConflict: a Store transition found the sandbox in a state it does
// not apply to (MarkReady of a record already deleting, MarkDeleting of a live
// lease, an id reserved twice). The transition changed nothing; a reconcile
// pass logs it and moves on, the next pass sees the current state.
var ErrStateConflict = errors.New("pool: sandbox is not in the state the transition needs")
