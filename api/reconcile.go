package api

import "time"

// The actions of POST /reconcile.
const (
	ActionPass     = "pass"
	ActionRun      = "run" // passes while work is in flight, within the deadline (a kick)
	ActionShutdown = "shutdown"
	ActionStart    = "start"
	ActionWarmUp   = "warm_up"
)

// ReconcileRequest is the POST /reconcile body; empty or {} is a pass.
type ReconcileRequest struct {
	Action         string `json:"action,omitempty"`
	Pool           string `json:"pool,omitempty"`            // shutdown/start: "" is the whole manager
	TimeoutSeconds int    `json:"timeout_seconds,omitempty"` // warm_up
}

// PassReport summarises one reconcile pass.
type PassReport struct {
	StartedAt  time.Time                 `json:"started_at"`
	FinishedAt time.Time                 `json:"finished_at"`
	Leader     bool                      `json:"leader"` // false: another pass held the lock; nothing was done
	Pools      map[string]PoolPassReport `json:"pools"`
	APICalls   int                       `json:"api_calls"`
	Errors     []string                  `json:"errors,omitempty"` // one line each; a failed item never stops the pass
}

// Busy reports whether a pass left work that a pass a few seconds later
// would advance: something creating or deleting, or an active pool below
// target whose circuit is closed.
func (r PassReport) Busy() bool {
	for _, p := range r.Pools {
		if p.Creating > 0 || p.Deleting > 0 {
			return true
		}
		if p.Ready < p.Target && !p.Idle && p.Circuit == "closed" {
			return true
		}
	}
	return false
}

// PoolPassReport is what one pass did to one pool.
type PoolPassReport struct {
	Ready       int    `json:"ready"`
	Target      int    `json:"target"`
	Creating    int    `json:"creating"`
	InUse       int    `json:"in_use"`
	Deleting    int    `json:"deleting"`
	Created     int    `json:"created"`
	MarkedReady int    `json:"marked_ready"`
	Failed      int    `json:"failed"`
	Deleted     int    `json:"deleted"`
	Forgotten   int    `json:"forgotten"`
	Reaped      int    `json:"reaped"`
	Expired     int    `json:"expired"`
	ScaledDown  int    `json:"scaled_down"`
	Unhealthy   int    `json:"unhealthy"`
	Orphans     int    `json:"orphans"`
	Idle        bool   `json:"idle"`
	Circuit     string `json:"circuit"` // "closed", or "open: <reason>"
	// Collected: the pool (named in no config's pools) held nothing and was
	// forgotten: its record, counters and metrics are gone until it is used again.
	Collected bool `json:"collected,omitempty"`
}

// ShutdownResponse is the answer of the shutdown and start actions.
type ShutdownResponse struct {
	Shutdown bool   `json:"shutdown"`
	Pool     string `json:"pool,omitempty"` // empty: the whole manager
}

// WarmUpStatus is the answer of the warm_up action, and the details of its
// warm_up_timeout error.
type WarmUpStatus struct {
	Done bool `json:"done"`
	// Capped: done because max_total_sandboxes binds (the targets sum above
	// it) and every sandbox it allows exists.
	Capped bool                  `json:"capped,omitempty"`
	Pools  map[string]WarmUpPool `json:"pools"`
}

// WarmUpPool is one pool's warm-up progress.
type WarmUpPool struct {
	Ready  int `json:"ready"`
	Target int `json:"target"`
}
