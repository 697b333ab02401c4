package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hotpool/hotpool/api"
	"github.com/hotpool/hotpool/internal/pool"
)

func (h *Handler) acquire(ctx context.Context, req Request) outcome {
	r, err := DecodeAcquire(req.Body)
	if err != nil {
		return h.fail("acquire", err)
	}
	r.ReceivedAt = req.ReceivedAt
	op := "acquire"
	if r.ClaimID != "" {
		op = "acquire_claim"
	}
	a, err := h.o.Service.Acquire(ctx, r)
	if err != nil {
		o := h.fail(op, err)
		o.pool = r.Image
		return o
	}
	if a.Claim != nil {
		secs := int(a.Claim.RetryAfter / time.Second)
		o := outcome{
			status:  http.StatusAccepted,
			body:    api.AcquireResponse{Claim: &api.Claim{ID: a.Claim.ID, Status: a.Claim.Status, RetryAfterSeconds: secs}},
			headers: map[string]string{"Retry-After": strconv.Itoa(secs)},
			op:      op, pool: a.Claim.Pool, result: "claim",
		}
		if a.Replayed {
			// An idempotent retry of a cold acquire: the same claim.
			o.headers["Idempotent-Replay"] = "true"
			o.result = "replay"
		}
		return o
	}
	o := outcome{status: http.StatusOK, body: acquiredJSON(a), op: op, pool: a.Sandbox.Pool, sandboxID: a.Sandbox.ID, result: "ok", source: string(a.Source)}
	if a.Replayed {
		o.headers = map[string]string{"Idempotent-Replay": "true"}
		o.result = "replay"
	}
	return o
}

func (h *Handler) cancel(ctx context.Context, req Request) outcome {
	id, err := DecodeCancel(req.Body)
	if err != nil {
		return h.fail("cancel", err)
	}
	toPool, err := h.o.Service.CancelClaim(ctx, id)
	if err != nil {
		return h.fail("cancel", err)
	}
	return outcome{
		status: http.StatusOK,
		body:   api.CancelResponse{Claim: api.CancelledClaim{ID: id, Status: "cancelled", SandboxToPool: toPool}},
		op:     "cancel", result: "ok",
	}
}

func (h *Handler) renew(ctx context.Context, req Request) outcome {
	r, err := DecodeRenew(req.Body)
	if err != nil {
		return h.fail("renew", err)
	}
	exp, err := h.o.Service.Renew(ctx, r.SandboxID, r.LeaseToken, r.LeaseSeconds)
	if err != nil {
		o := h.fail("renew", err)
		o.sandboxID = r.SandboxID
		return o
	}
	return outcome{
		status: http.StatusOK,
		body:   api.RenewResponse{SandboxID: r.SandboxID, Lease: api.LeaseExpiry{ExpiresAt: api.Time{Time: exp}}},
		op:     "renew", sandboxID: r.SandboxID, result: "ok",
	}
}

func (h *Handler) release(ctx context.Context, req Request) outcome {
	r, err := DecodeRelease(req.Body)
	if err != nil {
		return h.fail("release", err)
	}
	st, err := h.o.Service.Release(ctx, r.SandboxID, r.LeaseToken)
	if err != nil {
		o := h.fail("release", err)
		o.sandboxID = r.SandboxID
		return o
	}
	return outcome{
		status: http.StatusOK,
		body:   api.ReleaseResponse{SandboxID: r.SandboxID, State: string(st)},
		op:     "release", sandboxID: r.SandboxID, result: "ok",
	}
}

func (h *Handler) metrics(ctx context.Context, req Request) outcome {
	format, err := metricsFormat(req.Query, req.Header("Accept"))
	if err != nil {
		return h.fail("metrics", err)
	}
	snap, err := h.o.Service.Metrics(ctx)
	if err != nil {
		return h.fail("metrics", err)
	}
	doc, text, err := renderMetrics(ctx, snap, h.o.Service.Config(), h.o.Budget, h.o.Clock.Now(), format == "prometheus")
	if err != nil {
		return h.fail("metrics", err)
	}
	if doc.BudgetErr != nil {
		h.o.Logger.WarnContext(ctx, "api budget unreadable; metrics answered without it", slog.String("error", doc.BudgetErr.Error()))
	}
	if text != nil {
		return outcome{status: http.StatusOK, raw: text, ctype: "text/plain; version=0.0.4; charset=utf-8", op: "metrics", result: "ok"}
	}
	return outcome{status: http.StatusOK, body: doc, op: "metrics", result: "ok"}
}

func (h *Handler) reconcile(ctx context.Context, req Request) outcome {
	r, err := DecodeReconcile(req.Body)
	if err != nil {
		return h.fail("reconcile", err)
	}
	return h.reconcileAction(ctx, r)
}

// admin serves the route of one admin action: the body is the action's own
// fields (pool; timeout_seconds), and an action field, if given, must name it.
func (h *Handler) admin(action string) func(context.Context, Request) outcome {
	return func(ctx context.Context, req Request) outcome {
		r, err := DecodeAdmin(req.Body, action)
		if err != nil {
			return h.fail("reconcile_"+action, err)
		}
		return h.reconcileAction(ctx, r)
	}
}

func (h *Handler) reconcileAction(ctx context.Context, r ReconcileRequest) outcome {
	var err error
	op := "reconcile_" + r.Action
	switch r.Action {
	case ActionShutdown, ActionStart:
		var res pool.ShutdownResult
		if r.Action == ActionShutdown {
			res, err = h.o.Service.Shutdown(ctx, r.Pool)
		} else {
			res, err = h.o.Service.Start(ctx, r.Pool)
		}
		if err != nil {
			o := h.fail(op, err)
			o.pool = r.Pool
			return o
		}
		if res.PassErr != nil {
			h.o.Logger.WarnContext(ctx, "pass after shutdown/start failed; the next pass completes it",
				slog.String("op", op), slog.String("error", res.PassErr.Error()))
		}
		return outcome{status: http.StatusOK, body: api.ShutdownResponse{Shutdown: res.Shutdown, Pool: res.Pool}, op: op, pool: r.Pool, result: "ok"}
	case ActionWarmUp:
		st, err := h.o.Service.WarmUp(ctx, time.Duration(r.TimeoutSeconds)*time.Second)
		if err != nil {
			return h.fail(op, err)
		}
		return outcome{status: http.StatusOK, body: st, op: op, result: "ok"}
	}
	run := h.o.Service.Reconcile
	if r.Action == ActionRun {
		run = h.o.Service.Run
	}
	rep, err := run(ctx)
	if err != nil {
		return h.fail(op, err)
	}
	result := "ok"
	if !rep.Leader {
		result = "not_leader"
	}
	return outcome{status: http.StatusOK, body: rep, op: op, result: result}
}

// acquiredJSON is the 200 body of a lease.
func acquiredJSON(a pool.Acquired) api.AcquireResponse {
	sb := a.Sandbox
	return api.AcquireResponse{
		Sandbox: &api.Sandbox{
			ID: sb.ID, Image: sb.Pool, AppID: sb.AppID, URL: sb.URL,
			Region: sb.Region, InstanceSize: sb.InstanceSize,
			CreatedAt: api.Time{Time: sb.CreatedAt}, ReadyAt: api.Time{Time: sb.ReadyAt},
			AgentToken: a.AgentToken,
		},
		Lease:  &api.Lease{Token: a.LeaseToken, ExpiresAt: api.Time{Time: a.ExpiresAt}},
		Source: string(a.Source),
	}
}
