package reconcile

import (
	"time"

	"github.com/hotpool/hotpool/internal/pool"
)

// Kind names what an Action does.
type Kind string

// The actions a pass can take. Each is one Store write or one provider call
// (Create and Destroy are a short fixed sequence of both).
const (
	// Create reserves capacity for a new sandbox (Store.Reserve), then calls
	// Provider.Create and records the app id (Store.CreateCalled). The executor
	// mints the sandbox id.
	KindCreate Kind = "create"
	// CallCreate calls Provider.Create for a creating record that has none yet:
	// a cold claim reserved by acquire, or a pass that died after Reserve.
	KindCallCreate Kind = "call_create"
	// AttachApp records the app id of a creating record whose app was found in
	// the provider's list by sandbox id (a crash between Create and CreateCalled).
	KindAttachApp Kind = "attach_app"
	// MarkReady moves creating to ready (or to its cold claim).
	KindMarkReady Kind = "mark_ready"
	// MarkFailed moves creating to deleting and counts a failed attempt.
	KindMarkFailed Kind = "mark_failed"
	// MarkDeleting moves ready or in_use (or, on shutdown, creating) to
	// deleting with a reason.
	KindMarkDeleting Kind = "mark_deleting"
	// Destroy deletes the app (Provider.Delete; a 404 confirms) and then drops
	// the record (Store.Forget); a failed delete is counted and retried next pass.
	KindDestroy Kind = "destroy"
	// Forget drops a deleting record whose app the provider's list proves gone.
	KindForget Kind = "forget"
	// Adopt records an orphan app (one Redis does not know) as deleting.
	KindAdopt Kind = "adopt"
	// DeleteOrphanApp deletes an owned app no record can be written for: a
	// second app of a known sandbox id, or one that carries no sandbox id.
	KindDeleteOrphanApp Kind = "delete_orphan_app"
	// UpdatePool writes the pass's bookkeeping for a pool.
	KindUpdatePool Kind = "update_pool"
	// CollectPool forgets a pool no config names (default_pool_config's, or
	// one removed from the config) once nothing is left of it.
	KindCollectPool Kind = "collect_pool"
	// NoteUntracked records the apps a full list found with no record, inside
	// their orphan grace (Untracked, UntrackedCreating), which acquire and
	// Reserve then count against the caps.
	KindNoteUntracked Kind = "note_untracked"
	// FailClaim fails a cold claim (ClaimHash) that can make no further
	// attempt, with Reason, so its caller's poll ends.
	KindFailClaim Kind = "fail_claim"
)

// Action is one step of a pass. Only the fields of its Kind are set.
type Action struct {
	Kind      Kind
	Pool      string
	SandboxID string
	AppID     string
	URL       string
	// Reason is the delete reason (pool.Reason*) of MarkDeleting, MarkFailed,
	// Adopt, Destroy, Forget and DeleteOrphanApp.
	Reason       string
	WarmDeadline time.Time       // MarkReady
	Fail         pool.FailParams // MarkFailed
	Attempt      int             // Create: the slot's attempt number, 1-based
	// Failures is the pool's consecutive failures so far (Create and
	// CallCreate), from which the executor computes FailureParams when the
	// create call fails definitely.
	Failures  int
	ClaimHash string       // Create: a cold claim's retry
	Sandbox   pool.Sandbox // Adopt
	// Untracked and UntrackedCreating: NoteUntracked's counts.
	Untracked, UntrackedCreating int
	Update                       pool.PoolUpdate // UpdatePool
	// Spec is what Provider.Create gets, except the sandbox id (Create) and the
	// secret env, which the executor adds.
	Spec pool.CreateSpec
	// Deadline is the create deadline of a Create's reservation.
	Deadline time.Time
}

// HealthAnswer is the answer of one app's health path.
type HealthAnswer int

// Only HealthFailed condemns a sandbox; HealthUnknown never does.
const (
	HealthUnknown HealthAnswer = iota
	HealthOK
	HealthFailed
)

// Observation is everything one pass knows: Redis's snapshot, the provider's
// list of apps (or, in a partial pass, the apps it fetched one by one), and
// the health answers the executor collected.
type Observation struct {
	State pool.Observed
	// Apps is the provider's list when ListOK; when Partial, the definite
	// answers of Provider.Get for GetTargets (an app that answered 404 has
	// PhaseGone). Meaningless when neither is set.
	Apps []pool.App
	// ListOK is false when the list call failed or was not made: then
	// nothing is condemned, forgotten or adopted on the basis of what the
	// list would have said.
	ListOK bool
	// Unconfirmed names the records (by sandbox id) that a full list lacked
	// but whose Get gave no definite answer: not proven absent.
	Unconfirmed map[string]bool
	// Partial is set when the pass did not list (ListReason answered ""):
	// Apps holds only the fetched creating apps. The planner then treats no
	// record as gone unless its own Get answered gone, computes no orphans
	// and checks no health; it still fills, marks ready, fails, reaps,
	// expires, scales down, destroys and shuts down.
	Partial bool
	// Health holds /health answers by sandbox id, for the sandboxes that
	// HealthTargets named; absent means unknown.
	Health map[string]HealthAnswer
}
