package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/pool"
)

// AgentTokenEnv is the env var through which a sandbox's agent learns its token.
const AgentTokenEnv = "SANDBOX_API_TOKEN"

// executor carries out one pass's actions.
type executor struct {
	r     *Reconciler
	cfg   *pool.Config // the pass's
	fence pool.Fence
	now   time.Time
	rep   *pool.PassReport

	failed      map[string]bool // sandbox ids whose earlier step failed: later steps are skipped
	noCreates   map[string]bool // pools that stop creating for the rest of the pass
	extraFailed map[string]int  // create calls that failed in this pass, per pool
}

// run carries the actions out in order. One failing item is reported and
// the pass goes on; a lost lock or an ended context stops it, and what is
// left is picked up by the next pass.
func (e *executor) run(ctx context.Context, actions []Action) error {
	e.failed, e.noCreates, e.extraFailed = map[string]bool{}, map[string]bool{}, map[string]int{}
	for _, a := range actions {
		if err := ctx.Err(); err != nil {
			e.rep.Errors = append(e.rep.Errors, "pass stopped early: "+err.Error())
			return err
		}
		if a.SandboxID != "" && e.failed[a.SandboxID] {
			continue
		}
		err := e.do(ctx, a)
		if err == nil {
			continue
		}
		if errors.Is(err, pool.ErrNotLeader) {
			e.rep.Errors = append(e.rep.Errors, "lost the leader lock: pass stopped")
			return err
		}
		if a.SandboxID != "" {
			e.failed[a.SandboxID] = true
		}
		if errors.Is(err, pool.ErrStateConflict) {
			// The sandbox moved on since the snapshot (an acquire leased it,
			// a lease was renewed): nothing failed, the next pass sees it as
			// it is now, and this pass takes no further step on it.
			e.r.log.Info("reconcile action skipped: state moved on", "op", string(a.Kind), "pool", a.Pool, "sandbox_id", a.SandboxID)
			continue
		}
		e.rep.Errors = append(e.rep.Errors, fmt.Sprintf("%s pool=%s sandbox=%s app=%s: %v", a.Kind, a.Pool, a.SandboxID, a.AppID, err))
		e.r.log.Warn("reconcile action failed", "op", string(a.Kind), "pool", a.Pool, "sandbox_id", a.SandboxID, "app_id", a.AppID, "err", err)
	}
	return nil
}

func (e *executor) pool(name string, f func(*api.PoolPassReport)) {
	pr := e.rep.Pools[name]
	f(&pr)
	e.rep.Pools[name] = pr
}

func (e *executor) do(ctx context.Context, a Action) error {
	st, f := e.r.store, e.fence
	switch a.Kind {
	case KindCreate:
		return e.create(ctx, a)
	case KindCallCreate:
		return e.callCreate(ctx, a, a.SandboxID)
	case KindAttachApp:
		return st.CreateCalled(ctx, f, a.SandboxID, a.AppID, e.now)
	case KindMarkReady:
		if err := st.MarkReady(ctx, f, a.SandboxID, a.AppID, a.URL, a.WarmDeadline, e.now); err != nil {
			return err
		}
		e.pool(a.Pool, func(p *api.PoolPassReport) { p.MarkedReady++ })
	case KindMarkFailed:
		if err := st.MarkFailed(ctx, f, a.SandboxID, a.Fail); err != nil {
			return err
		}
		e.pool(a.Pool, func(p *api.PoolPassReport) { p.Failed++ })
	case KindMarkDeleting:
		if err := st.MarkDeleting(ctx, f, a.SandboxID, a.Reason, e.now); err != nil {
			return err
		}
		e.pool(a.Pool, func(p *api.PoolPassReport) { countReason(p, a.Reason) })
	case KindDestroy:
		if err := e.r.provider.Delete(ctx, a.AppID); err != nil {
			if derr := st.DeleteAttempted(ctx, f, a.SandboxID, e.now); derr != nil {
				return errors.Join(err, derr)
			}
			return fmt.Errorf("delete app (retried next pass): %w", err)
		}
		if err := st.Forget(ctx, f, a.SandboxID, e.now); err != nil {
			return err
		}
		e.pool(a.Pool, func(p *api.PoolPassReport) { p.Deleted++; p.Forgotten++ })
	case KindForget:
		if err := st.Forget(ctx, f, a.SandboxID, e.now); err != nil {
			return err
		}
		e.pool(a.Pool, func(p *api.PoolPassReport) { p.Forgotten++ })
	case KindAdopt:
		if err := st.Adopt(ctx, f, a.Sandbox, e.now); err != nil {
			return err
		}
		e.pool(a.Pool, func(p *api.PoolPassReport) { p.Orphans++ })
	case KindDeleteOrphanApp:
		if err := e.r.provider.Delete(ctx, a.AppID); err != nil {
			return fmt.Errorf("delete orphan app (retried next pass): %w", err)
		}
		e.pool(a.Pool, func(p *api.PoolPassReport) { p.Orphans++; p.Deleted++ })
	case KindUpdatePool:
		return st.UpdatePool(ctx, f, a.Pool, a.Update, e.now)
	case KindFailClaim:
		if err := st.FailClaim(ctx, f, a.ClaimHash, a.Reason, e.now); err != nil {
			return err
		}
		e.pool(a.Pool, func(p *api.PoolPassReport) { p.Failed++ })
	case KindNoteUntracked:
		return st.NoteUntracked(ctx, f, a.Untracked, a.UntrackedCreating)
	case KindCollectPool:
		collected, err := st.CollectPool(ctx, f, a.Pool)
		if err != nil {
			return err
		}
		if collected {
			e.pool(a.Pool, func(p *api.PoolPassReport) { p.Collected = true })
		}
	default:
		return fmt.Errorf("unknown action kind %q", a.Kind)
	}
	return nil
}

func countReason(p *api.PoolPassReport, reason string) {
	switch reason {
	case pool.ReasonLeaseExpired:
		p.Reaped++
	case pool.ReasonExpired:
		p.Expired++
	case pool.ReasonScaleDown:
		p.ScaledDown++
	case pool.ReasonUnhealthy:
		p.Unhealthy++
	}
}

// create reserves a new sandbox (its record exists before any platform
// call) and creates its app. A refused reservation (a cap reached by a
// concurrent acquire's claim, or a shutdown) ends the pool's creates for
// this pass without being an error.
func (e *executor) create(ctx context.Context, a Action) error {
	if e.noCreates[a.Pool] {
		return nil
	}
	pc, err := e.cfg.Pool(a.Pool)
	if err != nil {
		return err
	}
	id := e.r.newID()
	err = e.r.store.Reserve(ctx, e.fence, pool.ReserveParams{
		Pool: a.Pool, SandboxID: id, Caps: pool.CapsFor(e.cfg, pc), Attempt: a.Attempt, ClaimHash: a.ClaimHash,
		Region: a.Spec.Template.Region, InstanceSize: a.Spec.Template.InstanceSize,
		CreateDeadline: a.Deadline, Now: e.now,
	})
	switch {
	case errors.Is(err, pool.ErrPoolExhausted), errors.Is(err, pool.ErrPoolShutdown):
		e.noCreates[a.Pool] = true
		e.r.log.Info("reservation refused", "op", "reserve", "pool", a.Pool, "err", err)
		return nil
	case errors.Is(err, pool.ErrSandboxNotFound) && a.ClaimHash != "":
		return nil // the claim was served, failed or expired since the snapshot
	case err != nil:
		return fmt.Errorf("reserve: %w", err)
	}
	return e.callCreate(ctx, a, id)
}

// callCreate sends Provider.Create for a reserved sandbox. An unknown answer
// records that the call went out (the app may exist: the list will tell); a
// definite refusal is a failed attempt, backed off like any other.
func (e *executor) callCreate(ctx context.Context, a Action, id string) error {
	spec := a.Spec
	spec.SandboxID = id
	if e.r.secrets != nil {
		spec.Env = map[string]string{AgentTokenEnv: e.r.secrets.AgentToken(id)}
	}
	app, err := e.r.provider.Create(ctx, spec)
	if err == nil {
		if err := e.r.store.CreateCalled(ctx, e.fence, id, app.ID, e.now); err != nil {
			return fmt.Errorf("app %s created but not recorded (found by sandbox id next pass): %w", app.ID, err)
		}
		e.pool(a.Pool, func(p *api.PoolPassReport) { p.Created++ })
		return nil
	}
	e.noCreates[a.Pool] = true
	if errors.Is(err, pool.ErrProviderNotSent) {
		// Nothing reached the platform (budget refused, or 429): the record
		// stays reserved with no call recorded, so the next pass sends it
		// again; no failed attempt, no backoff, no circuit.
		return fmt.Errorf("create not sent (sent again next pass): %w", err)
	}
	if errors.Is(err, pool.ErrProviderUnknown) {
		if cerr := e.r.store.CreateCalled(ctx, e.fence, id, "", e.now); cerr != nil {
			return errors.Join(err, cerr)
		}
		return fmt.Errorf("create (outcome unknown, resolved from the list): %w", err)
	}
	pc, perr := e.cfg.Pool(a.Pool)
	if perr != nil {
		return errors.Join(err, perr)
	}
	e.extraFailed[a.Pool]++
	fp := FailureParams(e.cfg, pc, a.Failures+e.extraFailed[a.Pool], id, pool.ReasonCreateFailed, err.Error(), e.now)
	if ferr := e.r.store.MarkFailed(ctx, e.fence, id, fp); ferr != nil {
		return errors.Join(err, ferr)
	}
	e.pool(a.Pool, func(p *api.PoolPassReport) { p.Failed++ })
	return fmt.Errorf("create refused: %w", err)
}
